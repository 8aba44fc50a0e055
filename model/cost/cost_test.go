package cost_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cost"
)

func TestTable_Cost(t *testing.T) {
	// Each want is worked out by hand from the table in prices.go:
	// (prompt-cached)*input + cached*cached_input + completion*output, per 1M.
	tests := []struct {
		name  string
		model string
		usage model.Usage
		want  float64
	}{
		{"gpt-4o with cached prompt tokens", "gpt-4o",
			model.Usage{PromptTokens: 1000, CachedPromptTokens: 200, CompletionTokens: 500},
			0.00725}, // 800*2.50 + 200*1.25 + 500*10 = 7250
		{"a dated gpt-4o-mini matches gpt-4o-mini, not gpt-4o", "gpt-4o-mini-2024-07-18",
			model.Usage{PromptTokens: 12000, CompletionTokens: 800},
			0.00228}, // 12000*0.15 + 800*0.60 = 2280
		{"a dated gpt-4o matches gpt-4o", "gpt-4o-2024-11-20",
			model.Usage{PromptTokens: 100, CompletionTokens: 10},
			0.00035}, // 100*2.50 + 10*10 = 350
		{"gpt-4.1 snapshot", "gpt-4.1-2025-04-14",
			model.Usage{PromptTokens: 3, CompletionTokens: 7},
			0.000062}, // 3*2 + 7*8 = 62
		{"gpt-4.1-nano", "gpt-4.1-nano",
			model.Usage{PromptTokens: 40000, CachedPromptTokens: 20000, CompletionTokens: 1000},
			0.0029}, // 20000*0.10 + 20000*0.025 + 1000*0.40 = 2900
		{"gpt-5-mini", "gpt-5-mini-2025-08-07",
			model.Usage{PromptTokens: 1234, CachedPromptTokens: 1000, CompletionTokens: 56},
			0.0001955}, // 234*0.25 + 1000*0.025 + 56*2 = 195.5
		{"gpt-5-nano with a million prompt tokens", "gpt-5-nano",
			model.Usage{PromptTokens: 1_000_000, CachedPromptTokens: 500_000, CompletionTokens: 100_000},
			0.0675}, // 500000*0.05 + 500000*0.005 + 100000*0.40 = 67500
		{"gpt-5 in upper case", "GPT-5",
			model.Usage{PromptTokens: 2000, CompletionTokens: 1000},
			0.0125}, // 2000*1.25 + 1000*10 = 12500
	}
	table := cost.Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := table.Cost(tt.model, tt.usage)
			if !ok || got != tt.want {
				t.Errorf("Cost(%q) = %v, %v; want %v, true", tt.model, got, ok, tt.want)
			}
		})
	}
}

func TestTable_Known(t *testing.T) {
	table := cost.Default()
	for name, want := range map[string]bool{
		"gpt-4o": true, "gpt-4o-2024-08-06": true, "gpt-4.1-mini": true, "gpt-5-nano-2025-08-07": true,
		"gpt-5.2": true, "o3": true, "o4-mini-2025-04-16": true, "gpt-5-chat": true,
		"gpt-4": false, "gpt-50": false, "gpt-5.9": false, "o1": false, "": false, "newsroom-chat": false,
	} {
		if got := table.Known(name); got != want {
			t.Errorf("Known(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRound(t *testing.T) {
	if got := cost.Round(0.1 + 0.2); got != 0.3 {
		t.Errorf("Round(0.1+0.2) = %v, want 0.3", got)
	}
	if got := cost.Round(1.23456789049e-3); got != 0.001234568 {
		t.Errorf("Round = %v, want 0.001234568", got)
	}
}

func TestReadPrices(t *testing.T) {
	t.Run("merges over the defaults", func(t *testing.T) {
		table, err := cost.ReadPrices(strings.NewReader(`{"models": {
			"gpt-4o": {"input": 5, "cached_input": 2.5, "output": 15},
			"my-model": {"input": 1, "output": 2}}}`))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]cost.Price{
			"gpt-4o":      {Input: 5, CachedInput: 2.5, Output: 15},
			"my-model":    {Input: 1, CachedInput: 1, Output: 2}, // cached_input defaults to input
			"gpt-4o-mini": {Input: 0.15, CachedInput: 0.075, Output: 0.60},
		}
		got := table.Prices()
		for name, p := range want {
			if diff := cmp.Diff(p, got[name]); diff != "" {
				t.Errorf("%s (-want +got):\n%s", name, diff)
			}
		}
		if len(got) != len(cost.Default().Prices())+1 {
			t.Errorf("%d prices, want the defaults plus one", len(got))
		}
	})
	for _, tt := range []struct{ name, json string }{
		{"an unknown top-level field", `{"model": {}}`},
		{"an unknown price field", `{"models": {"x": {"input": 1, "output": 1, "reasoning": 3}}}`},
		{"a missing output price", `{"models": {"x": {"input": 1}}}`},
		{"a negative price", `{"models": {"x": {"input": -1, "output": 1}}}`},
		{"trailing data", `{"models": {}} {}`},
		{"not JSON", `models: {}`},
	} {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			if _, err := cost.ReadPrices(strings.NewReader(tt.json)); !errors.Is(err, cost.ErrPrices) {
				t.Errorf("err = %v, want ErrPrices", err)
			}
		})
	}
}

func TestLoadPrices(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(path, []byte(`{"models": {"gpt-5": {"input": 2, "cached_input": 0.2, "output": 20}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	table, err := cost.LoadPrices(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := table.Cost("gpt-5-2025-08-07", model.Usage{PromptTokens: 1000, CompletionTokens: 100})
	if got != 0.004 { // 1000*2 + 100*20 = 4000
		t.Errorf("overridden gpt-5 cost = %v, want 0.004", got)
	}
	if _, err := cost.LoadPrices(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, cost.ErrPrices) {
		t.Errorf("missing file: err = %v, want ErrPrices", err)
	}
}

// fixed is a next Client answering with a given response.
type fixed struct{ resp model.Response }

func (f fixed) Complete(context.Context, *model.Request) (*model.Response, error) {
	r := f.resp
	return &r, nil
}

func TestClient_Complete(t *testing.T) {
	usage := model.Usage{PromptTokens: 1000, CompletionTokens: 100, Requests: 1}
	tests := []struct {
		name        string
		cfgModel    string
		reqModel    string
		resp        model.Response
		want        float64
		wantUnknown []string
	}{
		{"priced by the response's model", "", "my-deployment",
			model.Response{Model: "gpt-4o-mini-2024-07-18", Usage: usage}, 0.00021, nil}, // 1000*0.15 + 100*0.60 = 210
		{"priced by the request's model when the response names none", "", "gpt-4.1",
			model.Response{Usage: usage}, 0.0028, nil}, // 1000*2 + 100*8 = 2800
		{"priced by the deployment's configured model", "gpt-5-mini", "newsroom-chat",
			model.Response{Model: "newsroom-chat", Usage: usage}, 0.00045, nil}, // 1000*0.25 + 100*2 = 450
		{"a cached answer costs nothing", "", "gpt-4o",
			model.Response{Model: "gpt-4o", Cached: true, Usage: model.Usage{Requests: 1, CachedResponses: 1}}, 0, nil},
		{"an unknown model costs 0 and warns once", "", "llama-3",
			model.Response{Model: "llama-3-70b", Usage: usage}, 0, []string{"llama-3-70b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var unknown []string
			c := cost.Wrap(fixed{tt.resp}, cost.Config{Model: tt.cfgModel, OnUnknown: func(m string) { unknown = append(unknown, m) }})
			for range 2 {
				resp, err := c.Complete(context.Background(), &model.Request{Model: tt.reqModel})
				if err != nil {
					t.Fatal(err)
				}
				if resp.Usage.CostUSD != tt.want {
					t.Errorf("CostUSD = %v, want %v", resp.Usage.CostUSD, tt.want)
				}
			}
			if diff := cmp.Diff(tt.wantUnknown, unknown); diff != "" {
				t.Errorf("OnUnknown calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClient_Complete_PassesErrorsThrough(t *testing.T) {
	boom := errors.New("boom")
	c := cost.Wrap(model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		return nil, boom
	}), cost.Config{})
	if resp, err := c.Complete(context.Background(), &model.Request{}); resp != nil || !errors.Is(err, boom) {
		t.Errorf("got %v, %v; want nil, boom", resp, err)
	}
}

func TestReadPrices_AddsAModelProfile(t *testing.T) {
	tab, err := cost.ReadPrices(strings.NewReader(`{"models": {"gpt-6-mini": {"input": 0.3, "output": 2.4,
		"reasoning": true, "reasoning_efforts": ["minimal", "low", "medium", "high"], "verbosity": true, "context_window": 400000}}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := tab.Profiles()["gpt-6-mini"]
	if !ok || !p.Reasoning || p.DefaultEffort != "medium" || !p.Verbosity || p.ContextWindow != 400000 || !tab.Known("gpt-6-mini") {
		t.Errorf("profile %+v (%v)", p, ok)
	}
	for _, bad := range []string{
		`{"models": {"m": {"input": 1, "output": 1, "reasoning_efforts": ["low"]}}}`,
		`{"models": {"m": {"input": 1, "output": 1, "reasoning": true, "reasoning_efforts": ["extreme"]}}}`,
	} {
		if _, err := cost.ReadPrices(strings.NewReader(bad)); !errors.Is(err, cost.ErrPrices) {
			t.Errorf("ReadPrices(%s) = %v, want ErrPrices", bad, err)
		}
	}
}
