// Package storeutil holds what the SQL backends of package store share:
// ids, the clock's precision, page limits, the opaque list cursor, the JSON
// encoding of a run's usage and events, the rows written for new runs and
// keys, and the reading of result rows (any driver's, see Scanner and Rows).
// The SQL statements and each backend's error prefix stay in the backends.
package storeutil

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// Page sizes of ListRuns.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// NewID returns a random, URL-safe id (26 base32 characters, 130 bits).
func NewID() string { return strings.ToLower(rand.Text()) }

// Time returns t in UTC at microsecond precision, the precision both SQL
// backends keep, so a value read back equals the value written.
func Time(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Now is the current time at the backends' precision.
func Now() time.Time { return Time(time.Now()) }

// Limit applies ListOptions.Limit's rules: 0 (or less) means DefaultLimit,
// more than MaxLimit means MaxLimit.
func Limit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// EncodeCursor returns the opaque cursor pointing after the run created at t
// with the given id (keyset paging on created_at, id).
func EncodeCursor(t time.Time, id string) string {
	raw := strconv.FormatInt(t.UnixMicro(), 10) + ":" + id
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor reverses EncodeCursor; a cursor it did not make gives
// store.ErrBadCursor.
func DecodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", store.ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(raw), ":")
	if !ok || id == "" {
		return time.Time{}, "", store.ErrBadCursor
	}
	us, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, "", store.ErrBadCursor
	}
	return time.UnixMicro(us).UTC(), id, nil
}

// PrepareRun returns the row to insert for a new run: a copy of r with the id,
// status and times filled in when they are zero and its text made storable
// (see Text).
func PrepareRun(r *store.Run) *store.Run {
	c := *r
	for _, p := range []*string{&c.ID, &c.Owner, &c.IdempotencyKey, &c.Task, &c.Team, &c.StopReason, &c.Error, &c.Article} {
		*p = Text(*p)
	}
	if c.ID == "" {
		c.ID = NewID()
	}
	if c.Status == "" {
		c.Status = store.StatusQueued
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = Now()
	}
	c.CreatedAt = Time(c.CreatedAt)
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c.UpdatedAt = Time(c.UpdatedAt)
	if !c.FinishedAt.IsZero() {
		c.FinishedAt = Time(c.FinishedAt)
	}
	return &c
}

// Finished returns the finished time UpdateRun stores for r, at the
// backends' precision: r.FinishedAt, or now for a finished run without one,
// or zero.
func Finished(r *store.Run, now time.Time) time.Time {
	if r.FinishedAt.IsZero() {
		if !r.Status.Finished() {
			return time.Time{}
		}
		return Time(now)
	}
	return Time(r.FinishedAt)
}

// Page cuts runs, read with a limit of limit+1, to the page of at most limit
// runs and returns the cursor of the next page ("" when this is the last).
func Page(runs []*store.Run, limit int) ([]*store.Run, string) {
	if len(runs) <= limit {
		return runs, ""
	}
	runs = runs[:limit]
	last := runs[limit-1]
	return runs, EncodeCursor(last.CreatedAt, last.ID)
}

// PrepareKey returns the row to insert for a new key: a copy of k with the
// id (random) and CreatedAt (now) filled in when they are zero, its text made
// storable (see Text) and its times at the backends' precision.
func PrepareKey(k *store.Key) store.Key {
	c := *k
	if c.ID == "" {
		c.ID = NewID()
	}
	c.ID, c.Name, c.Hash, c.Role = Text(c.ID), Text(c.Name), Text(c.Hash), Text(c.Role)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = Now()
	}
	c.CreatedAt = Time(c.CreatedAt)
	if !c.RevokedAt.IsZero() {
		c.RevokedAt = Time(c.RevokedAt)
	}
	return c
}

// Usage encodes a run's usage and per-agent usage as JSON (per-agent is nil
// when empty).
func Usage(u model.Usage, per map[string]model.Usage) (usage, perAgent []byte, err error) {
	usage, err = json.Marshal(u)
	if err != nil {
		return nil, nil, fmt.Errorf("encode usage: %w", err)
	}
	if len(per) > 0 {
		if perAgent, err = json.Marshal(per); err != nil {
			return nil, nil, fmt.Errorf("encode per-agent usage: %w", err)
		}
	}
	return usage, JSON(perAgent), nil
}

// DecodeUsage fills r's usage from the JSON columns.
func DecodeUsage(r *store.Run, usage, perAgent []byte) error {
	if len(usage) > 0 {
		if err := json.Unmarshal(usage, &r.Usage); err != nil {
			return fmt.Errorf("decode usage of run %s: %w", r.ID, err)
		}
	}
	if len(perAgent) > 0 && string(perAgent) != "null" {
		if err := json.Unmarshal(perAgent, &r.PerAgent); err != nil {
			return fmt.Errorf("decode per-agent usage of run %s: %w", r.ID, err)
		}
	}
	return nil
}

// Options encodes a run's options for its options column: nil (NULL) for
// the default.
func Options(o store.RunOptions) ([]byte, error) {
	if o.IsZero() {
		return nil, nil
	}
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("encode run options: %w", err)
	}
	return JSON(b), nil
}

// DecodeOptions fills r's options from the options column.
func DecodeOptions(r *store.Run, options []byte) error {
	if len(options) == 0 || string(options) == "null" {
		return nil
	}
	if err := json.Unmarshal(options, &r.Options); err != nil {
		return fmt.Errorf("decode options of run %s: %w", r.ID, err)
	}
	return nil
}

// EncodeEvent encodes an event's payload (see JSON for NUL characters).
func EncodeEvent(e team.Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", e.Type, err)
	}
	return JSON(b), nil
}

// Text makes s storable in every backend: PostgreSQL's text refuses NUL
// bytes and invalid UTF-8, which SQLite would keep, so both become U+FFFD in
// every backend alike.
func Text(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}

// JSON rewrites the escape \u0000 (a NUL character, which PostgreSQL's JSONB
// refuses) in encoding/json output to \ufffd, in place. Everything else is
// left alone: json.Marshal already replaced invalid UTF-8.
func JSON(b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] == 'u' && i+5 < len(b) && string(b[i+2:i+6]) == "0000" {
			copy(b[i+2:i+6], "fffd")
		}
		i++ // skip the escaped character, so \\u0000 (a backslash, then text) stays
	}
	return b
}

// DecodeEvent decodes a stored event.
func DecodeEvent(seq int64, payload []byte) (store.Event, error) {
	ev := store.Event{Seq: seq}
	if err := json.Unmarshal(payload, &ev.Event); err != nil {
		return store.Event{}, fmt.Errorf("decode event %d: %w", seq, err)
	}
	return ev, nil
}
