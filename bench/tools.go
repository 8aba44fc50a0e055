package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/httpx"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// ToolsConfig configures the tools benchmark.
type ToolsConfig struct {
	// Replies is how many reporter replies to time on each side; 0 means 500.
	Replies int
}

// ToolsReport is the cost of a tool round trip in the framework.
type ToolsReport struct {
	Benchmark string `json:"benchmark"`
	Replies   int    `json:"replies"`
	// PlainUsPerReply is a reporter reply without tools: one model call.
	PlainUsPerReply float64 `json:"plain_us_per_reply"`
	// ToolUsPerReply is a reporter reply whose task names a URL: a model
	// call that asks for fetch_url, the fetch, a model call with the result.
	ToolUsPerReply float64 `json:"tool_us_per_reply"`
	// RoundTripUs is ToolUsPerReply - PlainUsPerReply: what one tool round
	// (the extra model call, the fetch, events and source bookkeeping) adds.
	RoundTripUs float64 `json:"round_trip_us"`
	// FetchUs is the time inside fetch_url during those replies (GET of a
	// 2 KB page from a loopback server through the guard, readability, the
	// token cut).
	FetchUs float64 `json:"fetch_us"`
	// LoopUs is RoundTripUs - FetchUs: the extra model call (with the
	// page in its prompt) and the loop's own work (events, sources).
	LoopUs float64 `json:"loop_us"`
	// GuardedToolUsPerReply is ToolUsPerReply with the protection of
	// untrusted input on, as a desk runs it: the URL's provenance checked
	// before the fetch, the result inside the run's boundaries, the
	// system prompt's guidance on spotlit text. GuardUsPerReply is what
	// it adds, measured against the same reply without it, the two
	// interleaved.
	GuardedToolUsPerReply float64 `json:"guarded_tool_us_per_reply"`
	GuardUsPerReply       float64 `json:"guard_us_per_reply"`
	// CheckNsPerCall and SpotlightNsPerCall time the two steps alone, per
	// tool call (a run that has seen 50 URLs; the bench page's JSON result).
	CheckNsPerCall     float64 `json:"check_ns_per_call"`
	SpotlightNsPerCall float64 `json:"spotlight_ns_per_call"`
	// PromptTokensPerReply and GuardedPromptTokensPerReply are the prompt
	// tokens of the two model calls of a reply with one fetch, without and
	// with the protection; BoundaryTokens what the markers add to one
	// result, GuidanceTokens what the prompt guidance adds to one call.
	PromptTokensPerReply        int    `json:"prompt_tokens_per_reply"`
	GuardedPromptTokensPerReply int    `json:"guarded_prompt_tokens_per_reply"`
	BoundaryTokens              int    `json:"boundary_tokens"`
	GuidanceTokens              int    `json:"guidance_tokens"`
	Note                        string `json:"note"`
}

const benchPage = `<html><head><title>Harbour plan approved</title></head><body><article><h1>Harbour plan approved</h1>
<p>The city council approved the harbour plan on Tuesday by 7 votes to 2. The plan costs 14.5 million euros over three years.</p>
<p>Mayor Ana Ruiz said the work would start in the spring and that the harbour would stay open throughout the works.</p>
<p>The opposition asked for a public consultation before the first contracts are signed, which the council accepted.</p>
<p>Residents will be able to comment on the plans at the town hall and online until the end of next month.</p></article></body></html>`

// Tools times reporter replies with and without one fetch_url round trip,
// against a zero-latency in-process emulator (no response cache) and a
// loopback page server.
func Tools(ctx context.Context, c ToolsConfig) (*ToolsReport, error) {
	if c.Replies <= 0 {
		c.Replies = 500
	}
	em, err := emulator.Start(emulator.Config{APIKey: apiKey}, emulator.Options{})
	if err != nil {
		return nil, err
	}
	defer em.Close()
	p, err := newStack(stackConfig{url: em.URL, httpClient: httpx.NewClient(httpx.Options{}),
		quota: ratelimit.LimiterConfig{RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 30}})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	page := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(benchPage))
	})}}
	page.Start()
	defer page.Close()
	fetcher := web.New(web.Config{Allow: []string{l.Addr().String()}})
	url := "http://" + l.Addr().String() + "/harbour"

	timed := &timedTool{Tool: fetcher.FetchURL()}
	reporter, err := agent.NewAssistant(agent.Config{Name: emulator.Reporter, SystemPrompt: reporterPrompt,
		Client: p, Model: Deployment, MaxTokens: 1000, Tools: []tool.Tool{timed}})
	if err != nil {
		return nil, err
	}
	plain := []agent.Message{{Source: agent.SourceUser, Content: Tasks[0]}}
	withURL := []agent.Message{{Source: agent.SourceUser, Content: "Write about " + url}}
	timeReplies := func(history []agent.Message, wantTools int) (time.Duration, error) {
		return timeWith(ctx, reporter, history, wantTools, c.Replies)
	}
	// Warm up connections and caches of both paths.
	if _, err := timeReplies(withURL, 1); err != nil {
		return nil, err
	}
	plainD, err := timeReplies(plain, 0)
	if err != nil {
		return nil, err
	}
	timed.total.Store(0)
	toolD, err := timeReplies(withURL, 1)
	if err != nil {
		return nil, err
	}
	fetchD := time.Duration(timed.total.Load())
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(c.Replies) }
	r := &ToolsReport{Benchmark: "tools", Replies: c.Replies, PlainUsPerReply: us(plainD), ToolUsPerReply: us(toolD), FetchUs: us(fetchD),
		Note: "the full model stack without a response cache, against the in-process emulator at zero latency; the page is served on loopback, so the fetch is the guard, HTTP, readability and the token cut, not the network"}
	r.RoundTripUs = r.ToolUsPerReply - r.PlainUsPerReply
	r.LoopUs = r.RoundTripUs - r.FetchUs
	if err := guardCost(ctx, r, p, timed, url, withURL, c.Replies); err != nil {
		return nil, err
	}
	return r, nil
}

// timeWith times n replies of a to history, each with wantTools calls.
func timeWith(ctx context.Context, a *agent.Assistant, history []agent.Message, wantTools, n int) (time.Duration, error) {
	start := time.Now()
	for range n {
		m, err := agent.Reply(ctx, a, agent.Turn{History: history})
		if err != nil {
			return 0, err
		}
		if len(m.ToolCalls) != wantTools || (wantTools > 0 && m.ToolCalls[0].IsError) {
			return 0, fmt.Errorf("bench tools: a reply made %d tool calls (want %d): %+v", len(m.ToolCalls), wantTools, m.ToolCalls)
		}
	}
	return time.Since(start), nil
}

// timedTool sums the time spent inside a tool's calls.
type timedTool struct {
	tool.Tool
	total atomic.Int64
}

func (t *timedTool) Call(ctx context.Context, args json.RawMessage) (tool.Result, error) {
	start := time.Now()
	r, err := t.Tool.Call(ctx, args)
	t.total.Add(int64(time.Since(start)))
	return r, err
}
