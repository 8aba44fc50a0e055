package ratelimit

import (
	"context"
	"errors"
	"hash/maphash"
	"net/http"
	"sync"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tokenizer"
)

// DefaultCompletionEstimate is the completion tokens assumed for a request
// that does not set MaxTokens.
const DefaultCompletionEstimate = 1000

// Config configures the limiter middleware.
type Config struct {
	// Limiter is the process's shared limiter. Nil means a new one with
	// the default quota, which is only right when this middleware is the
	// process's only way to the service.
	Limiter *Limiter
	// Deployment is the bucket key of requests whose Model is empty: the
	// provider's default deployment. Requests that name a Model use it.
	Deployment string
	// DefaultCompletionEstimate is the completion tokens reserved for a
	// request whose MaxTokens is 0, until its usage is known (at most what
	// the quota leaves after the prompt). Zero means
	// DefaultCompletionEstimate (1000). Setting MaxTokens on requests makes
	// the reservation exact and lets more calls run at once.
	DefaultCompletionEstimate int
	// CountPrompt returns a request's prompt tokens. Nil counts with the
	// tokenizer of the request's model (package tokenizer), as the service
	// bills them.
	CountPrompt func(req *model.Request) int
	// Shared, when set, is the quota every instance of the service shares
	// (e.g. ratelimit/redisquota): after this process's limiter admits a
	// call, the call also waits for room in the shared windows, so N
	// instances together stay within the deployment's RPM and TPM before
	// the service's own headers tell them. Nil means this process alone.
	Shared SharedQuota
}

// SharedQuota admits calls against windows shared by several processes.
type SharedQuota interface {
	// Acquire waits until deployment has room for one request of tokens,
	// or ctx ends.
	Acquire(ctx context.Context, deployment string, tokens int) error
}

// SharedSettler is a SharedQuota that also corrects what a call holds once
// the service has answered, as the process's own limiter does: without it
// the shared token window keeps every call's estimate (its prompt plus a
// guessed completion), several times what calls use, and admits far fewer
// than the quota.
type SharedSettler interface {
	SharedQuota
	// AcquireSettle is Acquire, returning a function to call once with the
	// tokens the call used, or with 0 when the service did not count it
	// (it refused the call before doing the work).
	AcquireSettle(ctx context.Context, deployment string, tokens int) (settle func(used int), err error)
}

// Client waits for room in the quota before each call of the Client it wraps.
type Client struct {
	next     model.Client
	cfg      Config
	counters sync.Map // model name → *counter
}

var _ model.Client = (*Client)(nil)

// New returns the quota limiter middleware. Each call reserves one request
// and its estimated tokens (its prompt, counted with the tokenizer, plus
// MaxTokens or Config.DefaultCompletionEstimate), waiting for room first;
// afterwards the reservation is settled with the usage the service reports.
// A 429 that still gets through gives the reservation back and pauses the
// deployment for every caller until the service's Retry-After.
func New(cfg Config) model.Middleware {
	return func(next model.Client) model.Client { return Wrap(next, cfg) }
}

// Wrap returns a Client that limits the calls of next.
func Wrap(next model.Client, cfg Config) *Client {
	if cfg.Limiter == nil {
		cfg.Limiter = NewLimiter(LimiterConfig{})
	}
	if cfg.DefaultCompletionEstimate <= 0 {
		cfg.DefaultCompletionEstimate = DefaultCompletionEstimate
	}
	return &Client{next: next, cfg: cfg}
}

// Complete waits for quota, then calls the wrapped client.
func (c *Client) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	deployment := req.Model
	if deployment == "" {
		deployment = c.cfg.Deployment
	}
	prompt, err := c.countPrompt(req)
	if err != nil {
		return nil, err
	}
	completion := req.MaxTokens
	if completion <= 0 {
		// A guess, not the request's own bound: never let it alone make
		// the call too large for the quota.
		tpm := c.cfg.Limiter.Quota(deployment).TokensPerMinute
		completion = max(min(c.cfg.DefaultCompletionEstimate, tpm-prompt), 0)
	}
	res, err := c.cfg.Limiter.Acquire(ctx, deployment, prompt+completion)
	if err != nil {
		return nil, err
	}
	settleShared := func(int) {}
	if c.cfg.Shared != nil {
		if ss, ok := c.cfg.Shared.(SharedSettler); ok {
			settleShared, err = ss.AcquireSettle(ctx, deployment, prompt+completion)
		} else {
			err = c.cfg.Shared.Acquire(ctx, deployment, prompt+completion)
		}
		if err != nil {
			res.Cancel()
			return nil, err
		}
	}
	resp, err := c.next.Complete(ctx, req)
	if err != nil {
		var me *model.Error
		if errors.As(err, &me) && me.StatusCode != 0 {
			// The service answered with an error status before doing the
			// work, so it did not count the call against the quota.
			res.Cancel()
			settleShared(0)
			if me.StatusCode == http.StatusTooManyRequests {
				c.cfg.Limiter.Pause(deployment, me.RetryAfter)
			}
		}
		// A broken connection or a cut stream: the service counted the
		// call, and what it used is unknown, so the estimate stays.
		return nil, err
	}
	used := resp.Usage.TotalTokens()
	if used == 0 && !resp.Cached {
		// No usage reported (a stream without its usage chunk): count it.
		used = prompt
		if tok, err := c.tokenizer(req.Model); err == nil {
			used += tok.Count(resp.Content)
		} else {
			used += completion
		}
	}
	res.Settle(used)
	settleShared(used)
	return resp, nil
}

func (c *Client) countPrompt(req *model.Request) (int, error) {
	if c.cfg.CountPrompt != nil {
		return c.cfg.CountPrompt(req), nil
	}
	ct, err := c.counter(req.Model)
	if err != nil {
		return 0, err
	}
	n := ct.count(req.Messages)
	if len(req.Tools) > 0 {
		n += model.ToolTokens(ct.tok.Count, req.Tools)
	}
	return n, nil
}

// tokenizer returns the model's tokenizer.
func (c *Client) tokenizer(name string) (*tokenizer.Tokenizer, error) {
	ct, err := c.counter(name)
	if err != nil {
		return nil, err
	}
	return ct.tok, nil
}

// counter returns the model's prompt counter, cached here so the hot path
// takes no shared lock.
func (c *Client) counter(name string) (*counter, error) {
	if ct, ok := c.counters.Load(name); ok {
		return ct.(*counter), nil
	}
	tok, err := tokenizer.ForModel(name)
	if err != nil {
		return nil, err
	}
	ct, _ := c.counters.LoadOrStore(name, &counter{
		tok:  tok,
		base: model.PromptTokens(tok.Count, nil),
		seen: make(map[uint64]int),
		seed: maphash.MakeSeed(),
	})
	return ct.(*counter), nil
}

// maxCountedMessages bounds a counter's memory of messages; when it is
// full it starts over.
const maxCountedMessages = 8192

// counter counts prompts with one tokenizer and remembers each message's
// tokens: a conversation resends its whole history on every turn, and
// tokenizing is by far the middleware's largest cost. The chat accounting
// is a sum over messages (model.PromptTokens), so the parts add up.
// Messages are remembered by a 64-bit hash, not as keys, so the cache holds
// no message text: its memory is bounded by maxCountedMessages alone, not
// by the size of the articles it has seen. A collision (about one in 2^64
// per pair) would only skew an estimate the limiter reconciles anyway.
type counter struct {
	tok  *tokenizer.Tokenizer
	base int // the tokens of an empty prompt (the reply priming)
	seed maphash.Seed

	mu   sync.Mutex
	seen map[uint64]int
}

// key hashes a message's role, name and content.
func (ct *counter) key(m model.Message) uint64 {
	var h maphash.Hash
	h.SetSeed(ct.seed)
	_, _ = h.WriteString(string(m.Role))
	_ = h.WriteByte(0)
	_, _ = h.WriteString(m.Name)
	_ = h.WriteByte(0)
	_, _ = h.WriteString(m.Content)
	_ = h.WriteByte(0)
	_, _ = h.WriteString(m.ToolCallID)
	for _, tc := range m.ToolCalls {
		_ = h.WriteByte(0)
		_, _ = h.WriteString(tc.ID)
		_ = h.WriteByte(0)
		_, _ = h.WriteString(tc.Name)
		_ = h.WriteByte(0)
		_, _ = h.WriteString(tc.Arguments)
	}
	return h.Sum64()
}

func (ct *counter) count(msgs []model.Message) int {
	n := ct.base
	for _, m := range msgs {
		k := ct.key(m)
		ct.mu.Lock()
		v, ok := ct.seen[k]
		ct.mu.Unlock()
		if !ok {
			one := [1]model.Message{m}
			v = model.PromptTokens(ct.tok.Count, one[:]) - ct.base
			ct.mu.Lock()
			if len(ct.seen) >= maxCountedMessages {
				clear(ct.seen)
			}
			ct.seen[k] = v
			ct.mu.Unlock()
		}
		n += v
	}
	return n
}
