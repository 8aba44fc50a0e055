// Package emulator is a local Azure OpenAI chat completions server: it speaks
// the service's wire protocol (routes, api-version, api-key and bearer
// authentication, JSON and server-sent-event responses, error bodies, rate
// limit headers) and answers with deterministic newsroom personas, so the
// whole system runs and is tested without a model.
//
// It also models what makes the real service hard to use well: per-deployment
// RPM/TPM quotas answered with 429 and Retry-After, latency (time to first
// token, tokens per second) and injected faults (5xx, cut streams, stalls,
// malformed chunks, content filter and context length errors), chosen at
// random with a seed or per request by the x-emulator-fault header.
//
// It serves the Responses API of Azure's v1 surface too (responses.go),
// and structured outputs on both (responses_format.go).
//
// A Server is an http.Handler; Start runs one on a loopback port, with a
// self-signed certificate when TLS is asked for.
package emulator

import (
	"crypto/subtle"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tokenizer"
)

// Auth kinds as recorded in RecordedRequest.Auth.
const (
	AuthNone   = "none"
	AuthAPIKey = "api-key"
	AuthBearer = "bearer"
)

// RecordedRequest is what the emulator saw of one request, for tests. It
// never holds the key or token itself.
type RecordedRequest struct {
	Method string
	Path   string
	// APIVersion is the api-version query parameter ("" when absent).
	APIVersion string
	// Deployment is the Azure deployment from the path, or the body's model
	// on the OpenAI-style route.
	Deployment string
	// Auth is how the request authenticated: AuthAPIKey, AuthBearer or AuthNone.
	Auth string
	// The parsed request body (chat completions only).
	Model        string
	Messages     []model.Message
	Stream       bool
	IncludeUsage bool
	// MaxTokens is max_tokens, or max_completion_tokens; 0 when unset.
	MaxTokens int
	// Fault is the fault injected into this request, if any.
	Fault Fault
	// Status is the HTTP status returned.
	Status int
	// Completed is true when the whole answer was written: a stream's final
	// chunk and [DONE] flushed, or a whole body handed to net/http (which
	// sends it when the handler returns). The client could have read the
	// complete result; a fault, a cut or a client gone mid-stream leaves it
	// false.
	Completed bool
	// Answer is the text the answer carried (empty for tool calls and
	// errors), so a test can tell which stored message a call produced.
	Answer string
	// Start and End are when the request arrived and when its answer ended.
	Start, End time.Time
}

// Server is the emulator. It is an http.Handler, safe for concurrent use.
type Server struct {
	cfg   Config
	tok   *tokenizer.Tokenizer
	quota *quotaLimiter

	randMu sync.Mutex
	rand   *rand.Rand
	seq    atomic.Uint64

	recMu    sync.Mutex
	recorded []RecordedRequest
	count    int

	counts textCache[int]
	splits textCache[splitResult]
	cache  *promptCache

	forced atomic.Pointer[ForcedFault]
}

// New returns an emulator with cfg; see Config for the zero values.
func New(cfg Config) *Server {
	if cfg.ModelName == "" {
		cfg.ModelName = DefaultModelName
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxRecorded == 0 {
		cfg.MaxRecorded = defaultMaxRecorded
	}
	if cfg.Faults.Stall <= 0 {
		cfg.Faults.Stall = defaultStall
	}
	return &Server{
		cfg:    cfg,
		tok:    tokenizer.MustForModel(cfg.ModelName),
		quota:  newQuotaLimiter(cfg.Quota),
		rand:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		counts: newTextCache[int](8192),
		splits: newTextCache[splitResult](1024),
		cache:  newPromptCache(),
	}
}

var _ http.Handler = (*Server)(nil)

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := RecordedRequest{Method: r.Method, Path: r.URL.Path, APIVersion: r.URL.Query().Get("api-version"), Auth: AuthNone,
		Start: time.Now()}
	defer func() {
		rec.End = time.Now()
		if rec.Fault == FaultMalformed { // written in full, but not readable
			rec.Completed = false
		}
		s.record(rec)
	}()

	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/openai/deployments/"):
		dep, rest, _ := strings.Cut(strings.TrimPrefix(path, "/openai/deployments/"), "/")
		rec.Deployment = dep
		if dep != "" && rest == "embeddings" && r.Method == http.MethodPost && rec.APIVersion != "" {
			if s.authorize(w, r, &rec, true) {
				s.embeddings(w, r, &rec)
			}
			return
		}
		if dep == "" || rest != "chat/completions" || r.Method != http.MethodPost || rec.APIVersion == "" {
			// Azure answers a missing api-version, like any unknown route, with 404.
			rec.Status = s.notFound(w)
			return
		}
		if !s.authorize(w, r, &rec, true) {
			return
		}
		s.chat(w, r, &rec, true)
	case path == "/openai/v1/chat/completions" || path == "/openai/v1/embeddings":
		// Azure's v1 API: no api-version, the deployment is the body's
		// model, Azure's answers (content filter results, error bodies).
		if r.Method != http.MethodPost {
			rec.Status = s.notFound(w)
			return
		}
		if !s.authorize(w, r, &rec, true) {
			return
		}
		if path == "/openai/v1/embeddings" {
			s.embeddings(w, r, &rec)
			return
		}
		s.chat(w, r, &rec, true)
	case path == "/v1/chat/completions":
		if r.Method != http.MethodPost {
			rec.Status = s.notFound(w)
			return
		}
		if !s.authorize(w, r, &rec, false) {
			return
		}
		s.chat(w, r, &rec, false)
	case path == ResponsesPath || path == "/v1/responses":
		if r.Method != http.MethodPost {
			rec.Status = s.notFound(w)
			return
		}
		if s.authorize(w, r, &rec, path == ResponsesPath) {
			s.responses(w, r, &rec)
		}
	case path == ControlPath:
		if !s.authorize(w, r, &rec, true) {
			return
		}
		s.control(w, r, &rec)
	case path == "/v1/models" || path == "/openai/models" || path == "/openai/v1/models":
		if r.Method != http.MethodGet {
			rec.Status = s.notFound(w)
			return
		}
		if !s.authorize(w, r, &rec, strings.HasPrefix(path, "/openai/models")) {
			return
		}
		rec.Status = http.StatusOK
		s.setIDs(w.Header())
		writeJSON(w, http.StatusOK, s.modelList())
	default:
		rec.Status = s.notFound(w)
	}
}

func (s *Server) notFound(w http.ResponseWriter) int {
	writeJSON(w, http.StatusNotFound, azureError("404", msgNotFound))
	return http.StatusNotFound
}

// authorize checks the api-key header or bearer token; on failure it writes
// the 401 and returns false.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, azure bool) bool {
	key := r.Header.Get("api-key")
	bearer, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case key != "":
		rec.Auth = AuthAPIKey
	case hasBearer:
		rec.Auth = AuthBearer
	}
	if s.cfg.APIKey == "" {
		return true
	}
	ok := false
	switch rec.Auth {
	case AuthAPIKey:
		ok = equal(key, s.cfg.APIKey)
	case AuthBearer:
		ok = equal(bearer, s.cfg.APIKey) || (s.cfg.TokenValidator != nil && s.cfg.TokenValidator(bearer))
	}
	if ok {
		return true
	}
	rec.Status = http.StatusUnauthorized
	if azure {
		writeJSON(w, http.StatusUnauthorized, azureError("401", msgAccessDenied))
	} else {
		writeJSON(w, http.StatusUnauthorized, invalidRequest(strp("invalid_api_key"), "",
			"Incorrect API key provided. The emulator expects the key it was started with."))
	}
	return false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

type modelEntry struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) modelList() any {
	return struct {
		Object string       `json:"object"`
		Data   []modelEntry `json:"data"`
	}{"list", []modelEntry{{ID: s.cfg.ModelName, Object: "model", Created: 1732060800, OwnedBy: "system"}}}
}

func (s *Server) record(rec RecordedRequest) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.count++
	if s.cfg.MaxRecorded < 0 {
		return
	}
	if len(s.recorded) >= s.cfg.MaxRecorded {
		n := copy(s.recorded, s.recorded[len(s.recorded)-s.cfg.MaxRecorded+1:])
		s.recorded = s.recorded[:n]
	}
	s.recorded = append(s.recorded, rec)
}

// Requests returns the recorded requests, oldest first (at most
// Config.MaxRecorded of them).
func (s *Server) Requests() []RecordedRequest {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	out := make([]RecordedRequest, len(s.recorded))
	copy(out, s.recorded)
	return out
}

// Count returns the number of requests served since New or Reset.
func (s *Server) Count() int {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	return s.count
}

// Reset forgets the recorded requests and empties the quota windows.
func (s *Server) Reset() {
	s.recMu.Lock()
	s.recorded, s.count = nil, 0
	s.recMu.Unlock()
	s.quota.reset()
}

// next returns a pseudo-random number from the seeded sequence.
func (s *Server) next() uint64 {
	// splitmix64 over a counter: deterministic per seed, lock-free.
	z := s.seq.Add(1) + s.cfg.Seed*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func (s *Server) completionID() string {
	var b [38]byte
	n := copy(b[:], "chatcmpl-")
	for i := range 29 {
		b[n+i] = base62[s.next()%62]
	}
	return string(b[:])
}

func (s *Server) requestID() string {
	a, b := s.next(), s.next()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", uint32(a>>32), uint16(a>>16), uint16(a)&0xfff, (uint16(b>>48)&0x3fff)|0x8000, b&0xffffffffffff)
}

// setIDs sets the request id headers Azure returns on every answer.
func (s *Server) setIDs(h http.Header) string {
	id := s.requestID()
	h.Set("apim-request-id", id)
	h.Set("x-request-id", id)
	h.Set("x-ms-region", "emulator")
	return id
}

// drawFault picks the random fault for one request, if any.
func (s *Server) drawFault() Fault {
	if len(s.cfg.Faults.Rates) == 0 {
		return FaultNone
	}
	s.randMu.Lock()
	x := s.rand.Float64()
	s.randMu.Unlock()
	for _, f := range faultOrder {
		r := s.cfg.Faults.Rates[f]
		if x < r {
			return f
		}
		x -= r
	}
	return FaultNone
}

// textCache memoises results computed from a text (token counts, token
// pieces): agents resend the same conversation on every turn, and encoding
// is the emulator's main cost. It is bounded; when full it starts over.
type textCache[V any] struct {
	mu  sync.Mutex
	max int
	m   map[string]V
}

func newTextCache[V any](max int) textCache[V] {
	return textCache[V]{max: max, m: make(map[string]V)}
}

func (c *textCache[V]) get(key string, compute func(string) V) V {
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = compute(key)
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = v
	c.mu.Unlock()
	return v
}

func (s *Server) countText(text string) int {
	if len(text) < 16 {
		return s.tok.Count(text)
	}
	return s.counts.get(text, s.tok.Count)
}

// promptTokens is tokenizer.CountMessages with the per-text cache.
func (s *Server) promptTokens(msgs []model.Message) int {
	n := 3
	for _, m := range msgs {
		n += s.messageTokens(m)
	}
	return n
}

func (s *Server) messageTokens(m model.Message) int {
	n := 3 + s.countText(string(m.Role)) + s.countText(m.Content)
	if m.Name != "" {
		n += 1 + s.countText(m.Name)
	}
	for _, tc := range m.ToolCalls {
		n += 3 + s.countText(tc.ID) + s.countText(tc.Name) + s.countText(tc.Arguments)
	}
	if m.ToolCallID != "" {
		n += 1 + s.countText(m.ToolCallID)
	}
	return n
}

// cachedTokens is how many of a prompt's tokens the deployment's prompt
// cache serves (see promptCache).
func (s *Server) cachedTokens(deployment string, msgs []model.Message) int {
	tokens := make([]int, len(msgs))
	for i, m := range msgs {
		tokens[i] = s.messageTokens(m)
	}
	return s.cache.lookup(deployment, msgs, tokens)
}

type splitResult struct {
	pieces []string
	tokens int
}

func (s *Server) split(text string) splitResult {
	return s.splits.get(text, func(t string) splitResult {
		return splitResult{pieces: s.tok.Split(t), tokens: s.tok.Count(t)}
	})
}
