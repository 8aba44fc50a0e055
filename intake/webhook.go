package intake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Webhook headers.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>" under the source's secret>"; several v1 entries are
	// allowed (a secret being rotated).
	SignatureHeader = "Newsroom-Signature"
	// DeliveryHeader names a delivery (its identity); without it the
	// identity is a hash of the body.
	DeliveryHeader = "Newsroom-Delivery"
)

// Errors of a delivery's signature.
var (
	ErrNoSignature  = errors.New("intake: no Newsroom-Signature header")
	ErrBadSignature = errors.New("intake: the signature does not match")
	ErrStale        = errors.New("intake: the signature's timestamp is outside the tolerance window")
)

// Sign returns the Newsroom-Signature value of body at t under secret.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a Newsroom-Signature header against body: one of its v1
// MACs must match, and its timestamp be within tolerance of now (either
// way), so a captured delivery cannot be replayed later.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if header == "" {
		return ErrNoSignature
	}
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix seconds>,v1=<hex>", ErrBadSignature)
	}
	want := []byte(mac(secret, ts, body))
	ok := false
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			ok = true
		}
	}
	if !ok {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}

// Assignment is a JSON assignment, from a queue message or a webhook body:
// a task written out, or an item's fields for the source's template.
type Assignment struct {
	ID         string    `json:"id"`
	Task       string    `json:"task"`
	Desk       string    `json:"desk"`
	Sources    []string  `json:"sources"`
	Title      string    `json:"title"`
	Summary    string    `json:"summary"`
	Link       string    `json:"link"`
	Published  time.Time `json:"published"`
	Categories []string  `json:"categories"`
	Body       string    `json:"body"`
}

// ParseMessage turns a message (a queue message's text, a webhook body) into
// an item with identity id: a JSON object is an assignment, anything else
// plain text (the item's Body). A JSON object with unknown fields or of the
// wrong types is an error, as it is meant as an assignment.
func ParseMessage(id string, body []byte) (Item, error) {
	text := strings.TrimSpace(string(body))
	if !strings.HasPrefix(text, "{") {
		if text == "" {
			return Item{}, errors.New("intake: empty message")
		}
		return Item{ID: id, Body: text}, nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	var a Assignment
	if err := dec.Decode(&a); err != nil {
		return Item{}, fmt.Errorf("intake: not a valid assignment: %w", err)
	}
	it := Item{ID: id, Title: a.Title, Summary: a.Summary, Link: a.Link, Published: a.Published,
		Categories: a.Categories, Body: a.Body, Desk: a.Desk, Sources: a.Sources}
	if a.ID != "" {
		it.ID = a.ID
	}
	if a.Task != "" {
		// A task written out is the task, whatever the template.
		it.Body, it.Title, it.Summary = a.Task, "", ""
		it.Task = a.Task
	}
	return it, nil
}

// BodyIdentity is the identity of a delivery without an id: its body's hash.
func BodyIdentity(body []byte) string {
	h := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(h[:16])
}
