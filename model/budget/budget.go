// Package budget stops runs before they spend more than they may: a
// per-run budget in dollars and tokens (a Tracker), and a process-wide daily
// budget in dollars shared by every run (a Daily), with alerts at 80% and
// when it is reached.
//
// The middleware prices the worst case of each call before making it — the
// prompt's tokens counted with the tokenizer plus max_tokens (or a ceiling
// when the request sets none), at the model's input and output prices — and
// refuses the call with a model.StopError when what is spent plus what is in
// flight plus that worst case would cross a budget. A run therefore stops
// before the call that could cross its budget, never after it. After the
// call the real cost and tokens replace the reserved worst case.
//
// Place it above the cost middleware (so it sees Usage.CostUSD) and above the
// response cache. A cached answer costs nothing, but its worst case is still
// checked before the cache is asked, so a run near its budget may stop on a
// call the cache would have answered for free.
package budget

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cost"
	"github.com/newsroom-dev/newsroom/tokenizer"
)

// DefaultCompletionCeiling is the worst-case completion, in tokens, of a
// request that sets no max_tokens, when Config.CompletionCeiling is zero.
const DefaultCompletionCeiling = 4096

// ErrExceeded is wrapped by every StopError of this package.
var ErrExceeded = errors.New("budget: exceeded")

// StopError refuses a call that could cross a budget. It implements
// model.StopError: the run ends gracefully with its reason.
type StopError struct {
	// Scope is "run" or "daily".
	Scope  string
	reason string
}

var _ model.StopError = (*StopError)(nil)

func (e *StopError) Error() string { return e.reason }

// StopReason returns the sentence that explains the stop.
func (e *StopError) StopReason() string { return e.reason }

// Unwrap returns ErrExceeded.
func (e *StopError) Unwrap() error { return ErrExceeded }

// Run is a per-run budget. A zero field means no limit on it.
type Run struct {
	// MaxUSD is the most the run may spend (--budget-usd).
	MaxUSD float64
	// MaxTokens is the most prompt plus completion tokens the run may use
	// (--max-tokens-total).
	MaxTokens int
}

// Tracker tracks one run's spending against its budget. It is safe for
// concurrent use: calls in flight hold their worst case until they finish.
type Tracker struct {
	run Run

	mu             sync.Mutex
	spentUSD       float64
	spentTokens    int
	reservedUSD    float64
	reservedTokens int
}

// NewTracker returns a Tracker for a run with budget r.
func NewTracker(r Run) *Tracker { return &Tracker{run: r} }

// Budget returns the run's budget.
func (t *Tracker) Budget() Run { return t.run }

// Spent returns what the run's finished calls cost.
func (t *Tracker) Spent() (usd float64, tokens int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.spentUSD, t.spentTokens
}

// Add counts usage spent outside the middleware, such as the calls of a
// run being resumed from a checkpoint.
func (t *Tracker) Add(u model.Usage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.spentUSD = cost.Round(t.spentUSD + u.CostUSD)
	t.spentTokens += u.TotalTokens()
}

// ForRun returns next with a new Tracker for budget r travelling in the
// context of each call (WithTracker), for a budget middleware below it
// shared by every run. spent is what the run spent before (a run resumed
// from its checkpoint: a revision, a crash): it counts against r, so every
// leg of a run shares one budget. A zero r returns next as it is.
func ForRun(next model.Client, r Run, spent model.Usage) model.Client {
	if r.MaxUSD <= 0 && r.MaxTokens <= 0 {
		return next
	}
	tr := NewTracker(r)
	tr.Add(spent)
	return model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
		return next.Complete(WithTracker(ctx, tr), req)
	})
}

// reserve holds a call's worst case, or says why it may not be made.
func (t *Tracker) reserve(usd float64, tokens int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.run.MaxUSD > 0 && t.spentUSD+t.reservedUSD+usd > t.run.MaxUSD {
		return &StopError{Scope: "run", reason: fmt.Sprintf(
			"budget: the next call could cost up to %s, which would cross the run budget of %s (%s spent%s)",
			USD(usd), USD(t.run.MaxUSD), USD(t.spentUSD), inFlightUSD(t.reservedUSD))}
	}
	if t.run.MaxTokens > 0 && t.spentTokens+t.reservedTokens+tokens > t.run.MaxTokens {
		return &StopError{Scope: "run", reason: fmt.Sprintf(
			"budget: the next call could use up to %d tokens, which would cross the run budget of %d tokens (%d used%s)",
			tokens, t.run.MaxTokens, t.spentTokens, inFlightTokens(t.reservedTokens))}
	}
	t.reservedUSD += usd
	t.reservedTokens += tokens
	return nil
}

// settle replaces a reserved worst case by what the call really cost.
func (t *Tracker) settle(worstUSD float64, worstTokens int, u model.Usage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reservedUSD = cost.Round(max(t.reservedUSD-worstUSD, 0))
	t.reservedTokens -= worstTokens
	t.spentUSD = cost.Round(t.spentUSD + u.CostUSD)
	t.spentTokens += u.TotalTokens()
}

func inFlightUSD(usd float64) string {
	if usd <= 0 {
		return ""
	}
	return ", up to " + USD(usd) + " in flight"
}

func inFlightTokens(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(", up to %d in flight", n)
}

// USD formats dollars for a stop reason: at most six decimals, at least two
// ($0.05, $0.0123, $12.50).
func USD(usd float64) string {
	r := math.Round(usd*1e6) / 1e6
	if r == 0 && usd != 0 {
		return "$" + strconv.FormatFloat(usd, 'g', 2, 64)
	}
	s := strconv.FormatFloat(r, 'f', -1, 64)
	dot := strings.IndexByte(s, '.')
	switch {
	case dot < 0:
		s += ".00"
	case len(s)-dot == 2:
		s += "0"
	}
	return "$" + s
}

type trackerKey struct{}

// WithTracker returns a context carrying a run's Tracker, for a middleware
// shared by several runs (Config.Tracker nil).
func WithTracker(ctx context.Context, t *Tracker) context.Context {
	return context.WithValue(ctx, trackerKey{}, t)
}

// TrackerFrom returns the Tracker carried by ctx, or nil.
func TrackerFrom(ctx context.Context) *Tracker {
	t, _ := ctx.Value(trackerKey{}).(*Tracker)
	return t
}

// Config configures the budget middleware.
type Config struct {
	// Tracker is the run's budget. Nil means the Tracker carried by each
	// call's context (WithTracker), if any: one middleware can then serve
	// every run of the process.
	Tracker *Tracker
	// Daily is the process-wide daily budget; nil means none.
	Daily *Daily
	// Prices prices the worst case (and calls whose CostUSD the cost
	// middleware did not fill); nil means cost.Default(). A model the table
	// does not know has a worst case of $0: only token budgets bind it.
	Prices *cost.Table
	// Model is the model behind the configured deployment, used to price
	// and count a request whose Model the table does not know. Empty: none.
	Model string
	// CompletionCeiling is the worst-case completion of a request without
	// max_tokens; 0 means DefaultCompletionCeiling (4096).
	CompletionCeiling int
}

// Client is the budget middleware: it holds the next Client.
type Client struct {
	next model.Client
	cfg  Config
}

var _ model.Client = (*Client)(nil)

// New returns the budget middleware.
func New(cfg Config) model.Middleware {
	return func(next model.Client) model.Client { return Wrap(next, cfg) }
}

// Wrap returns next wrapped by the budget middleware.
func Wrap(next model.Client, cfg Config) *Client {
	if cfg.Prices == nil {
		cfg.Prices = cost.Default()
	}
	if cfg.CompletionCeiling <= 0 {
		cfg.CompletionCeiling = DefaultCompletionCeiling
	}
	return &Client{next: next, cfg: cfg}
}

// Complete checks the worst case of req against the budgets, calls the next
// Client if it fits, and counts what the call really cost.
func (c *Client) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	run := c.cfg.Tracker
	if run == nil {
		run = TrackerFrom(ctx)
	}
	if run == nil && c.cfg.Daily == nil {
		return c.next.Complete(ctx, req)
	}

	price, priced := c.price(req.Model)
	worst := c.WorstCase(req)
	worstUSD := 0.0
	if priced {
		worstUSD = price.Cost(worst)
	}
	worstTokens := worst.TotalTokens()

	if run != nil {
		if err := run.reserve(worstUSD, worstTokens); err != nil {
			return nil, err
		}
	}
	var day *reservation
	if c.cfg.Daily != nil {
		var err error
		if day, err = c.cfg.Daily.reserve(ctx, worstUSD); err != nil {
			if run != nil {
				run.settle(worstUSD, worstTokens, model.Usage{})
			}
			return nil, err
		}
	}

	resp, err := c.next.Complete(ctx, req)

	var used model.Usage
	if resp != nil {
		used = resp.Usage
		if used.CostUSD == 0 && !resp.Cached && used.TotalTokens() > 0 {
			// No cost middleware below us: price it ourselves.
			if p, ok := c.price(resp.Model, req.Model); ok {
				used.CostUSD = p.Cost(used)
			}
		}
	}
	if run != nil {
		run.settle(worstUSD, worstTokens, used)
	}
	if c.cfg.Daily != nil {
		c.cfg.Daily.settle(ctx, day, used.CostUSD)
	}
	return resp, err
}

// WorstCase returns the most a request can use: its prompt tokens as the
// tokenizer counts them and max_tokens (or the completion ceiling) of
// completion, none of it from the provider's prompt cache.
func (c *Client) WorstCase(req *model.Request) model.Usage {
	completion := req.MaxTokens
	if completion <= 0 {
		completion = c.cfg.CompletionCeiling
	}
	return model.Usage{PromptTokens: c.promptTokens(req), CompletionTokens: completion}
}

func (c *Client) promptTokens(req *model.Request) int {
	name := req.Model
	if !c.cfg.Prices.Known(name) && c.cfg.Model != "" {
		name = c.cfg.Model
	}
	if tk, err := tokenizer.ForModel(name); err == nil {
		return model.PromptTokens(tk.Count, req.Messages) + model.ToolTokens(tk.Count, req.Tools)
	}
	// No tokenizer: a token is at least one byte, so bytes bound it.
	n := 3
	for _, m := range req.Messages {
		n += 4 + len(m.Role) + len(m.Name) + len(m.Content) + len(m.ToolCallID)
		for _, tc := range m.ToolCalls {
			n += 4 + len(tc.ID) + len(tc.Name) + len(tc.Arguments)
		}
	}
	for _, t := range req.Tools {
		n += 4 + len(t.Name) + len(t.Description) + len(t.Parameters)
	}
	return n
}

// price returns the price of the first known model name, else of the
// configured deployment model.
func (c *Client) price(names ...string) (cost.Price, bool) {
	for _, n := range append(names[:len(names):len(names)], c.cfg.Model) {
		if n == "" {
			continue
		}
		if p, _, ok := c.cfg.Prices.Lookup(n); ok {
			return p, true
		}
	}
	return cost.Price{}, false
}
