package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tokenizer"
	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/untrusted"
)

const reporterPrompt = "You are News_Reporter, a reporter in a newsroom."

// guardCost adds to r what the protection of untrusted input costs a reply
// with one fetch: the same reporter with its fetch_url spotlit, the URL's
// provenance checked (the run has seen it, and 50 other URLs), and the
// prompt guidance, as desks run it.
func guardCost(ctx context.Context, r *ToolsReport, client model.Client, fetch tool.Tool, url string, history []agent.Message, n int) error {
	run := untrusted.New(untrusted.Options{})
	run.AddText(history[0].Content)
	for i := range 50 {
		run.AddURL(fmt.Sprintf("https://example.org/page/%d?id=%d", i, i))
	}
	guarded, err := agent.NewAssistant(agent.Config{Name: emulator.Reporter, SystemPrompt: reporterPrompt + "\n" + untrusted.Prompt,
		Client: client, Model: Deployment, MaxTokens: 1000, Tools: []tool.Tool{desk.Spotlight(fetch, run, false)}})
	if err != nil {
		return err
	}
	plain, err := agent.NewAssistant(agent.Config{Name: emulator.Reporter, SystemPrompt: reporterPrompt,
		Client: client, Model: Deployment, MaxTokens: 1000, Tools: []tool.Tool{fetch}})
	if err != nil {
		return err
	}
	gctx := untrusted.With(ctx, run)
	if _, err := timeWith(gctx, guarded, history, 1, 1); err != nil { // warm-up
		return err
	}
	// Interleaved, so that a busy machine's swings fall on both sides.
	var with, without time.Duration
	for range n {
		d, err := timeWith(ctx, plain, history, 1, 1)
		if err != nil {
			return err
		}
		without += d
		if d, err = timeWith(gctx, guarded, history, 1, 1); err != nil {
			return err
		}
		with += d
	}
	r.GuardedToolUsPerReply = float64(with.Microseconds()) / float64(n)
	r.GuardUsPerReply = float64((with - without).Microseconds()) / float64(n)
	if r.PromptTokensPerReply, err = promptTokens(ctx, plain, history); err != nil {
		return err
	}
	if r.GuardedPromptTokensPerReply, err = promptTokens(gctx, guarded, history); err != nil {
		return err
	}
	// The two steps alone, per call.
	const loops = 20000
	start := time.Now()
	for range loops {
		_ = run.Check(url)
	}
	r.CheckNsPerCall = float64(time.Since(start).Nanoseconds()) / loops
	res, err := fetch.Call(ctx, []byte(`{"url":"`+url+`"}`))
	if err != nil {
		return err
	}
	start = time.Now()
	for range loops {
		_ = run.Spotlight("tool fetch_url "+url, res.Content)
	}
	r.SpotlightNsPerCall = float64(time.Since(start).Nanoseconds()) / loops
	tok := tokenizer.MustForModel("gpt-4o")
	r.BoundaryTokens = tok.Count(run.Spotlight("tool fetch_url "+url, res.Content)) - tok.Count(res.Content)
	r.GuidanceTokens = tok.Count("\n" + untrusted.Prompt)
	_ = run.Drain()
	return nil
}

// promptTokens is the prompt tokens of one reply (its model calls).
func promptTokens(ctx context.Context, a *agent.Assistant, history []agent.Message) (int, error) {
	m, err := agent.Reply(ctx, a, agent.Turn{History: history})
	if err != nil {
		return 0, err
	}
	return m.Usage.PromptTokens, nil
}
