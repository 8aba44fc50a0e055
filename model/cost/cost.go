// Package cost prices model calls: a table of USD prices per 1M tokens per
// model (input, cached input, output), built-in defaults for the GPT-4o,
// GPT-4.1 and GPT-5 families that a JSON file can override, and a middleware
// that fills Response.Usage.CostUSD.
//
// Costs are float64 dollars rounded to 1e-9 (a nano-dollar, far below a
// token's price) so sums and their display are stable: 0.1+0.2 prints as 0.3.
package cost

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/profile"
)

// Price is what a model charges, in USD per 1M tokens.
type Price struct {
	Input       float64 `json:"input"`
	CachedInput float64 `json:"cached_input"`
	Output      float64 `json:"output"`
}

// ErrPrices is wrapped by errors loading a price file.
var ErrPrices = errors.New("cost: bad price file")

// Table maps model names to prices. A name matches a model when it is the
// model itself or a prefix of it followed by "-" (so "gpt-4o" prices
// "gpt-4o-2024-11-20"); the longest matching name wins (so "gpt-4o-mini"
// prices "gpt-4o-mini-2024-07-18"). Matching ignores case. A Table is
// immutable and safe for concurrent use.
type Table struct {
	prices map[string]Price
	// profiles are the model profiles a price file adds (see LoadPrices).
	profiles map[string]profile.Profile
}

// Default returns the table of built-in prices (see prices.go for their
// source and date).
func Default() *Table { return NewTable(defaultPrices()) }

// NewTable returns a table of exactly these prices.
func NewTable(prices map[string]Price) *Table {
	t := &Table{prices: make(map[string]Price, len(prices))}
	for name, p := range prices {
		t.prices[strings.ToLower(name)] = p
	}
	return t
}

// Prices returns a copy of the table's prices by model name.
func (t *Table) Prices() map[string]Price { return maps.Clone(t.prices) }

// Merge returns a table with t's prices overridden and extended by over.
func (t *Table) Merge(over map[string]Price) *Table {
	m := t.Prices()
	for name, p := range over {
		m[strings.ToLower(name)] = p
	}
	return &Table{prices: m}
}

// priceFile is the JSON price file:
//
//	{"models": {"gpt-4o": {"input": 2.5, "cached_input": 1.25, "output": 10}}}
type priceFile struct {
	Models map[string]filePrice `json:"models"`
}

type filePrice struct {
	Input       *float64 `json:"input"`
	CachedInput *float64 `json:"cached_input"`
	Output      *float64 `json:"output"`
	// Reasoning, ReasoningEfforts, Verbosity, ContextWindow and MaxOutput
	// describe a model the built-in profiles do not know (package
	// model/profile); reasoning: true makes its calls carry
	// max_completion_tokens and reasoning_effort, never temperature.
	Reasoning        *bool    `json:"reasoning"`
	ReasoningEfforts []string `json:"reasoning_efforts"`
	Verbosity        bool     `json:"verbosity"`
	ContextWindow    int      `json:"context_window"`
	MaxOutput        int      `json:"max_output"`
}

// LoadPrices reads a JSON price file and merges it over the built-in
// defaults. The file is {"models": {"<model>": {"input": N, "cached_input": N,
// "output": N}}} with USD per 1M tokens; input and output are required,
// cached_input defaults to input. Unknown fields and negative prices are
// errors.
func LoadPrices(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPrices, err)
	}
	defer f.Close()
	t, err := ReadPrices(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ReadPrices is LoadPrices reading from r.
func ReadPrices(r io.Reader) (*Table, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPrices, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var pf priceFile
	if err := dec.Decode(&pf); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPrices, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrPrices)
	}
	over := make(map[string]Price, len(pf.Models))
	profiles := map[string]profile.Profile{}
	for name, fp := range pf.Models {
		if name == "" {
			return nil, fmt.Errorf("%w: empty model name", ErrPrices)
		}
		if fp.Input == nil || fp.Output == nil {
			return nil, fmt.Errorf("%w: model %q needs both input and output prices", ErrPrices, name)
		}
		p := Price{Input: *fp.Input, CachedInput: *fp.Input, Output: *fp.Output}
		if fp.CachedInput != nil {
			p.CachedInput = *fp.CachedInput
		}
		if p.Input < 0 || p.CachedInput < 0 || p.Output < 0 || math.IsNaN(p.Input+p.CachedInput+p.Output) {
			return nil, fmt.Errorf("%w: model %q has a negative price", ErrPrices, name)
		}
		over[name] = p
		if pr, ok, err := fileProfile(name, fp); err != nil {
			return nil, err
		} else if ok {
			profiles[name] = pr
		}
	}
	t := Default().Merge(over)
	t.profiles = profiles
	return t, nil
}

// fileProfile is the profile a price file's entry describes, if it says
// whether the model reasons.
func fileProfile(name string, fp filePrice) (profile.Profile, bool, error) {
	if fp.Reasoning == nil {
		if len(fp.ReasoningEfforts) > 0 || fp.Verbosity || fp.ContextWindow != 0 || fp.MaxOutput != 0 {
			return profile.Profile{}, false, fmt.Errorf("%w: model %q describes its profile but not whether it reasons (add \"reasoning\": true or false)", ErrPrices, name)
		}
		return profile.Profile{}, false, nil
	}
	p := profile.Profile{Reasoning: *fp.Reasoning, Efforts: fp.ReasoningEfforts, Verbosity: fp.Verbosity,
		ContextWindow: fp.ContextWindow, MaxOutput: fp.MaxOutput}
	for _, e := range p.Efforts {
		switch e {
		case profile.EffortNone, profile.EffortMinimal, profile.EffortLow, profile.EffortMedium, profile.EffortHigh:
		default:
			return p, false, fmt.Errorf("%w: model %q: unknown reasoning effort %q (want none, minimal, low, medium or high)", ErrPrices, name, e)
		}
	}
	if p.Reasoning && len(p.Efforts) == 0 {
		p.Efforts = []string{profile.EffortLow, profile.EffortMedium, profile.EffortHigh}
	}
	if p.Reasoning {
		p.DefaultEffort = profile.EffortMedium
		if !slices.Contains(p.Efforts, p.DefaultEffort) {
			p.DefaultEffort = p.Efforts[0]
		}
	}
	return p, true, nil
}

// Profiles returns the model profiles the price file added (nil for the
// built-in table): merge them into the profile table (profile.Table.Merge).
func (t *Table) Profiles() map[string]profile.Profile { return maps.Clone(t.profiles) }

// Lookup returns the price of a model and the table name that matched it.
func (t *Table) Lookup(modelName string) (Price, string, bool) {
	m := strings.ToLower(modelName)
	best := ""
	var price Price
	found := false
	for name, p := range t.prices {
		if len(name) <= len(best) && found {
			continue
		}
		if m == name || (strings.HasPrefix(m, name) && m[len(name)] == '-') {
			best, price, found = name, p, true
		}
	}
	return price, best, found
}

// Known reports whether the table has a price for the model.
func (t *Table) Known(modelName string) bool {
	_, _, ok := t.Lookup(modelName)
	return ok
}

// Cost returns the price of usage at p, rounded to 1e-9 USD: prompt tokens
// not served from the provider's prompt cache at Input, cached prompt tokens
// at CachedInput, completion tokens at Output, all per 1M tokens.
func (p Price) Cost(u model.Usage) float64 {
	cached := min(max(u.CachedPromptTokens, 0), u.PromptTokens)
	usd := float64(u.PromptTokens-cached)*p.Input +
		float64(cached)*p.CachedInput +
		float64(u.CompletionTokens)*p.Output
	return Round(usd / 1e6)
}

// Cost prices usage for a model; ok is false (and the cost 0) when the
// model is unknown.
func (t *Table) Cost(modelName string, u model.Usage) (usd float64, ok bool) {
	p, _, ok := t.Lookup(modelName)
	if !ok {
		return 0, false
	}
	return p.Cost(u), true
}

// Round rounds usd to 1e-9 (a nano-dollar). Sums of rounded costs should be
// rounded again for display.
func Round(usd float64) float64 { return math.Round(usd*1e9) / 1e9 }

// Config configures the cost middleware.
type Config struct {
	// Prices is the price table; nil means Default().
	Prices *Table
	// Model is the model behind the configured deployment (an Azure
	// deployment's name says nothing about its model), used when neither the
	// response's model nor the request's is in the table. Empty: no fallback.
	Model string
	// OnUnknown is called once per model name the table cannot price (those
	// calls cost 0). Nil ignores it.
	OnUnknown func(modelName string)
}

// Client is the cost middleware: it holds the next Client and prices what
// it answers.
type Client struct {
	next   model.Client
	cfg    Config
	warned sync.Map // model name -> struct{}
}

var _ model.Client = (*Client)(nil)

// New returns the cost middleware.
func New(cfg Config) model.Middleware {
	return func(next model.Client) model.Client { return Wrap(next, cfg) }
}

// Wrap returns next wrapped by the cost middleware.
func Wrap(next model.Client, cfg Config) *Client {
	if cfg.Prices == nil {
		cfg.Prices = Default()
	}
	return &Client{next: next, cfg: cfg}
}

// Complete calls the next Client and sets the response's Usage.CostUSD. An
// answer from the response cache costs 0.
func (c *Client) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := c.next.Complete(ctx, req)
	if resp == nil {
		return resp, err
	}
	if resp.Cached {
		resp.Usage.CostUSD = 0
		return resp, err
	}
	p, ok := c.Price(resp.Model, req.Model)
	if !ok {
		c.warn(cmp.Or(resp.Model, req.Model, c.cfg.Model))
		resp.Usage.CostUSD = 0
		return resp, err
	}
	resp.Usage.CostUSD = p.Cost(resp.Usage)
	return resp, err
}

// Price returns the price for a call: the first of the given model names
// (the response's, then the request's) the table knows, else the
// configured deployment model's.
func (c *Client) Price(names ...string) (Price, bool) {
	for _, n := range names {
		if p, _, ok := c.cfg.Prices.Lookup(n); ok && n != "" {
			return p, true
		}
	}
	if p, _, ok := c.cfg.Prices.Lookup(c.cfg.Model); ok && c.cfg.Model != "" {
		return p, true
	}
	return Price{}, false
}

// Known reports whether a call naming this model (or, failing that, the
// configured deployment model) can be priced.
func (c *Client) Known(modelName string) bool {
	_, ok := c.Price(modelName)
	return ok
}

// Prices returns the table the middleware prices with.
func (c *Client) Prices() *Table { return c.cfg.Prices }

func (c *Client) warn(name string) {
	if c.cfg.OnUnknown == nil {
		return
	}
	if _, loaded := c.warned.LoadOrStore(name, struct{}{}); !loaded {
		c.cfg.OnUnknown(name)
	}
}
