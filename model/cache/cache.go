// Package cache is the response-cache middleware: a model.Client wrapper that
// answers a request it has seen before from a Store instead of calling the
// model, so a rerun never pays twice for the same answer.
//
// The key is a SHA-256 of a canonical JSON of everything that decides the
// answer: the namespace (endpoint and deployment), the model, the messages and
// every generation parameter. Streaming and non-streaming requests share
// entries; a streaming request answered from the cache is replayed through its
// OnDelta in token-sized pieces marked Delta.Cached.
//
// Stores live in sub-packages: cache/memory (in-process LRU), cache/sqlite
// (one file, the default when caching is on), and cache/redis and
// cache/postgres (shared by several instances).
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/newsroom-dev/newsroom/model"
	"golang.org/x/sync/singleflight"
)

// DefaultTTL is how long an entry lives when Config.TTL is zero.
const DefaultTTL = 24 * time.Hour

// Entry is a cached answer.
type Entry struct {
	Content      string `json:"content"`
	Model        string `json:"model,omitempty"`
	FinishReason string `json:"finish_reason,omitempty"`
	// ToolCalls of a tool-call answer, replayed exactly (ids included).
	ToolCalls []model.ToolCall `json:"tool_calls,omitempty"`
	// Reasoning is the tool-call answer's reasoning state (Responses API),
	// replayed with it so the next round hands it back.
	Reasoning json.RawMessage `json:"reasoning,omitempty"`
	// Usage is what the original call used, kept for reference only: a hit
	// reports zero tokens.
	Usage model.Usage `json:"usage"`
	// CreatedAt is when the original answer was stored.
	CreatedAt time.Time `json:"created_at"`
}

// Size is an estimate of the bytes an entry holds, for size-bounded stores.
func (e Entry) Size() int {
	n := len(e.Content) + len(e.Model) + len(e.FinishReason) + len(e.Reasoning) + 96
	for _, tc := range e.ToolCalls {
		n += len(tc.ID) + len(tc.Name) + len(tc.Arguments) + 48
	}
	return n
}

// DecodeEntry decodes an entry a store kept as JSON (json.Marshal of the
// Entry) and returns it as Store.Get does; bytes that do not decode are an
// ErrStore error naming op (e.g. "redis get").
func DecodeEntry(op string, b []byte) (Entry, bool, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, false, fmt.Errorf("%w: %s: corrupt entry: %w", ErrStore, op, err)
	}
	return e, true, nil
}

// EntryTTL is how long Store.Set keeps an entry given ttl: ttl, or
// DefaultTTL when ttl is 0 or less.
func EntryTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return DefaultTTL
	}
	return ttl
}

// Store keeps entries by key. Implementations must be safe for concurrent
// use. A missing or expired entry is (Entry{}, false, nil), not an error.
type Store interface {
	Get(ctx context.Context, key string) (Entry, bool, error)
	Set(ctx context.Context, key string, e Entry, ttl time.Duration) error
}

// ErrStore is wrapped by the errors stores return, so callers (and OnError
// hooks) can tell a store failure from a model failure.
var ErrStore = errors.New("cache: store failed")

// Config configures the cache middleware.
type Config struct {
	// Store holds the entries. A nil Store disables the cache (calls pass
	// straight through), as does Disabled.
	Store Store
	// TTL is how long an entry lives; 0 means DefaultTTL (24h).
	TTL time.Duration
	// Namespace separates entries of different endpoints and deployments
	// that share a store, e.g. "https://x.openai.azure.com|gpt-4o-prod".
	// Empty is a valid namespace of its own.
	Namespace string
	// Disabled turns the cache off (the --no-cache flag).
	Disabled bool
	// OnError is told about store failures, which otherwise degrade to a
	// miss (Get) or to not caching (Set) and never fail the call. op is "get"
	// or "set". Nil ignores them.
	OnError func(op string, err error)
}

// Client is the cache middleware: it holds the next Client.
type Client struct {
	next  model.Client
	cfg   Config
	group singleflight.Group
}

var _ model.Client = (*Client)(nil)

// New returns the cache middleware.
func New(cfg Config) model.Middleware {
	return func(next model.Client) model.Client { return Wrap(next, cfg) }
}

// Wrap returns next wrapped by the cache. With caching disabled it returns next.
func Wrap(next model.Client, cfg Config) model.Client {
	if cfg.Disabled || cfg.Store == nil {
		return next
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	return &Client{next: next, cfg: cfg}
}

// canonical is the part of a request that decides its answer, in a fixed
// field order; its JSON is hashed into the key. Bump V when it changes.
type canonical struct {
	V           int             `json:"v"`
	Namespace   string          `json:"ns"`
	Model       string          `json:"model"`
	Messages    []model.Message `json:"messages"`
	MaxTokens   int             `json:"max_tokens"`
	Temperature *float64        `json:"temperature"`
	TopP        *float64        `json:"top_p"`
	Seed        *int64          `json:"seed"`
	Stop        []string        `json:"stop"`
	JSONMode    bool            `json:"json_mode"`
	// Tools and ToolChoice are left out of a request without tools, so the
	// keys of such requests are what they were before tools existed.
	Tools      []model.Tool `json:"tools,omitempty"`
	ToolChoice string       `json:"tool_choice,omitempty"`
	// ReasoningEffort and Verbosity are left out when unset, for the same reason.
	ReasoningEffort string                `json:"reasoning_effort,omitempty"`
	Verbosity       string                `json:"verbosity,omitempty"`
	ResponseFormat  *model.ResponseFormat `json:"response_format,omitempty"`
}

// Key returns the cache key of req in a namespace: the hex SHA-256 of a
// canonical JSON of the namespace, the model, the messages (role, name,
// content) and every generation parameter. OnDelta and Meta are not part of
// it, so a streaming and a non-streaming request, or two agents asking the
// same thing, share an entry.
func Key(namespace string, req *model.Request) string {
	c := canonical{
		V:           1,
		Namespace:   namespace,
		Model:       req.Model,
		Messages:    req.Messages,
		MaxTokens:   req.MaxTokens,
		Temperature: req.Temperature,
		TopP:        req.TopP,
		Seed:        req.Seed,
		Stop:        req.Stop,
		JSONMode:    req.JSONMode,
		Tools:       req.Tools,
		ToolChoice:  req.ToolChoice,

		ReasoningEffort: req.ReasoningEffort,
		Verbosity:       req.Verbosity,
	}
	c.ReasoningEffort, c.ResponseFormat = req.ReasoningEffort, req.ResponseFormat
	if c.Messages == nil {
		c.Messages = []model.Message{}
	}
	if len(c.Stop) == 0 {
		c.Stop = nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		// Only strings, numbers and bools: Marshal cannot fail (NaN aside,
		// which no service accepts either). Hash the error text so the
		// request is still keyed deterministically.
		b = []byte(err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Complete answers req from the store when it can, otherwise calls the next
// Client and stores a complete answer. Concurrent identical misses share one
// call to the next Client: the first caller streams it live, the others get
// it as a cached answer once it is complete. OnDelta is called in order and
// never after Complete returns, though not always on the caller's goroutine.
func (c *Client) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	key := Key(c.cfg.Namespace, req)
	if e, ok := c.get(ctx, key); ok {
		return c.hit(req, e), nil
	}

	// The leader's call runs in singleflight's goroutine; its deltas pass
	// through a gate this caller closes when it stops waiting, so OnDelta is
	// never called after Complete returned.
	g := &gate{}
	call := req
	if req.OnDelta != nil {
		cp := *req
		cp.OnDelta = func(d model.Delta) { g.pass(req.OnDelta, d) }
		call = &cp
	}
	// led is set only by the closure that runs, which is this caller's own
	// closure only if it leads; the channel receive orders the write before
	// the read below.
	led := false
	ch := c.group.DoChan(key, func() (any, error) {
		led = true
		resp, err := c.next.Complete(ctx, call)
		if err != nil {
			return nil, err
		}
		if storable(resp) {
			c.set(context.WithoutCancel(ctx), key, resp)
		}
		return resp, nil
	})
	// The first caller of a key streams live; a caller that joined an
	// in-flight call waits for it and gets the answer replayed as a cached
	// one (it paid nothing).
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-ctx.Done():
		g.close()
		return nil, ctx.Err()
	}
	if res.Err != nil {
		if !led && isContextErr(res.Err) && ctx.Err() == nil {
			// The leader gave up (its context ended), not the model: ask ourselves.
			return c.next.Complete(ctx, req)
		}
		return nil, res.Err
	}
	resp := res.Val.(*model.Response)
	if led {
		if !res.Shared {
			return resp, nil
		}
		// The result is shared with the followers: hand out a copy.
		r := *resp
		return &r, nil
	}
	return c.hit(req, Entry{Content: resp.Content, Model: resp.Model, FinishReason: resp.FinishReason, ToolCalls: resp.ToolCalls}), nil
}

// gate forwards deltas until it is closed.
type gate struct {
	mu     sync.Mutex
	closed bool
}

func (g *gate) pass(f func(model.Delta), d model.Delta) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		f(d)
	}
}

// close stops the deltas, waiting for one being delivered.
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// storable reports whether resp is a complete answer worth caching.
func storable(resp *model.Response) bool {
	if resp == nil || resp.Cached {
		return false
	}
	return resp.FinishReason == "stop" || resp.FinishReason == "length" || resp.FinishReason == "tool_calls"
}

func (c *Client) get(ctx context.Context, key string) (Entry, bool) {
	e, ok, err := c.cfg.Store.Get(ctx, key)
	if err != nil {
		c.report("get", err)
		return Entry{}, false
	}
	return e, ok
}

func (c *Client) set(ctx context.Context, key string, resp *model.Response) {
	e := Entry{
		Content:      resp.Content,
		Model:        resp.Model,
		FinishReason: resp.FinishReason,
		ToolCalls:    resp.ToolCalls,
		Reasoning:    resp.Reasoning,
		Usage:        resp.Usage,
		CreatedAt:    time.Now().UTC(),
	}
	if err := c.cfg.Store.Set(ctx, key, e, c.cfg.TTL); err != nil {
		c.report("set", err)
	}
}

func (c *Client) report(op string, err error) {
	if c.cfg.OnError != nil {
		c.cfg.OnError(op, err)
	}
}

// hit builds the response for an answer served from the cache and, for a
// streaming request, replays it.
func (c *Client) hit(req *model.Request, e Entry) *model.Response {
	if req.OnDelta != nil {
		replay(req, e)
	}
	return &model.Response{
		Model:        e.Model,
		Content:      e.Content,
		FinishReason: e.FinishReason,
		ToolCalls:    e.ToolCalls,
		Reasoning:    e.Reasoning,
		Usage: model.Usage{Requests: 1, CachedResponses: 1,
			SavedTokens: e.Usage.TotalTokens(), SavedUSD: e.Usage.CostUSD},
		Cached: true,
	}
}

// replay streams a cached answer through OnDelta in token-sized pieces.
func replay(req *model.Request, e Entry) {
	pieces(e.Content, func(p string) { req.OnDelta(model.Delta{Text: p, Cached: true}) })
}

// pieces cuts text the way the GPT byte-pair encoders' pre-tokenizer does
// before merging — a word with its leading space, up to three digits, a run
// of punctuation, a run of whitespace — and calls yield with each, in order.
// Common words are one token each, so the pieces are token-sized; cutting
// with the real tokenizer would cost a millisecond per answer, too slow for
// a cache hit.
func pieces(text string, yield func(string)) {
	for len(text) > 0 {
		n := pieceLen(text)
		yield(text[:n])
		text = text[n:]
	}
}

// pieceLen returns the length in bytes of the first piece of a non-empty s.
func pieceLen(s string) int {
	r, n := utf8.DecodeRuneInString(s)
	if unicode.IsSpace(r) {
		// A whitespace run, leaving a last space to lead the next word.
		end := n
		for end < len(s) {
			r, w := utf8.DecodeRuneInString(s[end:])
			if !unicode.IsSpace(r) {
				break
			}
			end += w
		}
		if end < len(s) && s[end-1] == ' ' { // a word follows
			if end == n { // a lone space leads it
				return n + runLen(s[n:])
			}
			end-- // leave the last space to lead it
		}
		return end
	}
	return runLen(s)
}

// runLen returns the length of the word, number (up to three digits) or
// punctuation run at the start of s, which starts with a non-space.
func runLen(s string) int {
	r, n := utf8.DecodeRuneInString(s)
	class := classOf(r)
	digits := 1
	for n < len(s) {
		r, w := utf8.DecodeRuneInString(s[n:])
		if unicode.IsSpace(r) || classOf(r) != class || (class == classDigit && digits == 3) {
			break
		}
		if class == classDigit {
			digits++
		}
		n += w
	}
	return n
}

const (
	classLetter = iota
	classDigit
	classOther
)

func classOf(r rune) int {
	switch {
	case unicode.IsLetter(r) || unicode.IsMark(r):
		return classLetter
	case unicode.IsNumber(r):
		return classDigit
	default:
		return classOther
	}
}
