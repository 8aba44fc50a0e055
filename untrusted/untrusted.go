// Package untrusted keeps what a run reads (web pages, feeds, MCP servers'
// results and tool descriptions) as data rather than instructions, and ties
// what a fetch may reach to what the run has legitimately seen.
//
// A Run is made for each run of a desk. It holds the run's URL provenance
// (the URLs of the task, of the sources and the links of the documents the
// run fetched, plus the hosts named open) and a random boundary that marks
// every tool result the model sees (Spotlight). The fetch tools find the Run
// in their context (From) and refuse a URL without provenance before any
// connection; a refusal is recorded as an Event the desk turns into a
// security event of the run.
package untrusted

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// EnvOpen is the environment variable with hosts every run may fetch from
// (comma-separated), as --fetch-open and a team file's fetch.open.
const EnvOpen = "NEWSROOM_FETCH_OPEN"

// Kinds of Event: a closed set, so that a metric labelled by kind stays small.
const (
	// KindNoProvenance is a fetch refused because its URL was never seen.
	KindNoProvenance = "no_provenance"
	// KindChangedQuery is a fetch of a known URL whose query or fragment was changed or added.
	KindChangedQuery = "changed_query"
	// KindRedirect is a redirect off-site to a URL without provenance.
	KindRedirect = "redirect_refused"
	// KindBoundary is content that carried the run's boundary or a marker
	// like it; it was neutralised.
	KindBoundary = "boundary_neutralised"
	// KindToolPin is an MCP server whose tools changed since they were pinned.
	KindToolPin = "tool_pin_mismatch"
)

// Kinds lists every Kind, for metrics.
var Kinds = []string{KindNoProvenance, KindChangedQuery, KindRedirect, KindBoundary, KindToolPin}

// Event is something a run's guard refused or neutralised.
type Event struct {
	// Kind is one of Kinds.
	Kind string `json:"kind"`
	// Tool is the tool whose call it was.
	Tool string `json:"tool,omitempty"`
	// URL is the URL concerned, redacted (RedactURL).
	URL string `json:"url,omitempty"`
	// Detail says what happened, for a person.
	Detail string `json:"detail"`
}

// Options configure a Run. The zero value is the strict default: only URLs
// seen by the run, no open host, a boundary from crypto/rand.
type Options struct {
	// Open are hosts any URL of which may be fetched ("wire.example"); a
	// leading "*." also opens its subdomains.
	Open []string
	// Off turns provenance off (fetch: {provenance: off}, --fetch-any): any
	// URL the guard lets through may be fetched. Boundaries stay.
	Off bool
	// Rand is the source of the boundary; nil means crypto/rand.
	Rand io.Reader
}

// Run is the untrusted-input state of one run. It is safe for concurrent use.
type Run struct {
	boundary string
	off      bool
	open     []string

	mu     sync.Mutex
	known  map[string]bool // full normalised URLs
	bare   map[string]bool // normalised URLs without their fragment
	bases  map[string]bool // scheme://host/path of known URLs
	events []Event
}

// New returns a run's state.
func New(o Options) *Run {
	r := o.Rand
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 8)
	if _, err := io.ReadFull(r, b); err != nil {
		panic(fmt.Sprintf("untrusted: no randomness for a boundary: %v", err)) // crypto/rand does not fail
	}
	run := &Run{boundary: hex.EncodeToString(b), off: o.Off, known: map[string]bool{}, bare: map[string]bool{}, bases: map[string]bool{}}
	for _, h := range o.Open {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			run.open = append(run.open, h)
		}
	}
	return run
}

// ParseOpen splits a comma-separated list of open hosts.
func ParseOpen(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Off reports whether provenance is off for the run.
func (r *Run) Off() bool { return r.off }

type ctxKey struct{}

// With returns a context that carries r to the tools.
func With(ctx context.Context, r *Run) context.Context { return context.WithValue(ctx, ctxKey{}, r) }

// From returns the Run of ctx, or nil when the context carries none (a
// fetch outside a run, such as the sources a person gives before it).
func From(ctx context.Context) *Run {
	r, _ := ctx.Value(ctxKey{}).(*Run)
	return r
}

// Report records an event; the desk drains them into the run's stream.
func (r *Run) Report(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Drain returns the events reported since the last Drain.
func (r *Run) Drain() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// ErrNoProvenance is matched (errors.Is) by every *NoProvenanceError.
var ErrNoProvenance = errors.New("untrusted: URL without provenance")

// NoProvenanceError is a URL a run may not fetch.
type NoProvenanceError struct {
	// URL is the URL, redacted.
	URL string
	// Kind is KindNoProvenance, KindChangedQuery or KindRedirect.
	Kind string
}

func (e *NoProvenanceError) Error() string {
	switch e.Kind {
	case KindChangedQuery:
		return "refused: " + e.URL + " has no provenance: its query or fragment differs from the URL this run saw; fetch the URL exactly as the task, a source or a fetched page gave it"
	case KindRedirect:
		return "refused: a redirect to " + e.URL + " leaves the site and the target has no provenance"
	}
	return "refused: " + e.URL + " has no provenance: only URLs that appeared in the task, the sources or the links of a page this run fetched may be fetched"
}

// Is makes errors.Is(err, ErrNoProvenance) true.
func (e *NoProvenanceError) Is(target error) bool { return target == ErrNoProvenance }

// urlRe finds http(s) URLs in free text.
var urlRe = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"'` + "`" + `{}|\\^\[\]]+`)

// URLsIn returns the http(s) URLs written in text, without trailing punctuation.
func URLsIn(text string) []string {
	var out []string
	for _, m := range urlRe.FindAllString(text, -1) {
		m = strings.TrimRight(m, ".,;:!?)»”’")
		out = append(out, m)
	}
	return out
}

// AddText records the URLs written in text (a task, a source message).
func (r *Run) AddText(text string) {
	for _, u := range URLsIn(text) {
		r.AddURL(u)
	}
}

// AddURL records a URL the run has seen; what does not parse as an
// absolute http(s) URL is ignored.
func (r *Run) AddURL(raw string) {
	u, err := normalise(raw)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.known[u.String()] = true
	f := *u
	f.Fragment, f.RawFragment = "", ""
	r.bare[f.String()] = true
	r.bases[base(u)] = true
}

// Known reports whether raw was seen exactly (or is a seen URL without its fragment).
func (r *Run) Known(raw string) bool {
	u, err := normalise(raw)
	if err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.known[u.String()] || (u.Fragment == "" && r.bare[u.String()])
}

// Check returns nil when the run may fetch raw, else a *NoProvenanceError.
// A URL on an open host, a URL seen exactly, and a seen URL without its
// fragment pass; a seen URL with a query or fragment changed or added does
// not.
func (r *Run) Check(raw string) error {
	if r.off {
		return nil
	}
	u, err := normalise(raw)
	if err != nil {
		return &NoProvenanceError{URL: RedactURL(raw), Kind: KindNoProvenance}
	}
	if r.isOpen(u.Hostname()) || r.Known(raw) {
		return nil
	}
	r.mu.Lock()
	changed := r.bases[base(u)]
	r.mu.Unlock()
	if changed {
		return &NoProvenanceError{URL: RedactURL(raw), Kind: KindChangedQuery}
	}
	return &NoProvenanceError{URL: RedactURL(raw), Kind: KindNoProvenance}
}

func (r *Run) isOpen(host string) bool {
	host = strings.ToLower(host)
	for _, h := range r.open {
		if h == host || (strings.HasPrefix(h, "*.") && (strings.HasSuffix(host, h[1:]) || host == h[2:])) {
			return true
		}
	}
	return false
}

// normalise parses an absolute http(s) URL and lowercases its scheme and
// host, drops a default port and gives an empty path "/".
func normalise(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
		return nil, errors.New("not an absolute http(s) URL")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	if u.Path == "" && u.RawPath == "" {
		u.Path = "/"
	}
	return u, nil
}

func base(u *url.URL) string { return u.Scheme + "://" + u.Host + u.EscapedPath() }

// RedactURL returns raw without credentials and with every query value
// replaced, its path cut to 120 bytes: safe for logs and events.
func RedactURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		var keys []string
		for _, kv := range strings.Split(u.RawQuery, "&") {
			k, _, _ := strings.Cut(kv, "=")
			keys = append(keys, k+"=REDACTED")
		}
		u.RawQuery = strings.Join(keys, "&")
	}
	if u.Fragment != "" {
		u.Fragment, u.RawFragment = "REDACTED", ""
	}
	s := u.String()
	if p := u.EscapedPath(); len(p) > 120 {
		s = strings.Replace(s, p, p[:120]+"…", 1)
	}
	return s
}
