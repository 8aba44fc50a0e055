package main

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/eval"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
	"github.com/newsroom-dev/newsroom/tool"
)

// evalRunner runs eval cases through the same model stack, tools and desks
// as `newsroom run`.
type evalRunner struct {
	stack   *modelStack
	tools   *toolSetup
	flags   *toolFlags
	specs   map[string]*desk.Spec // by variant desk name
	timeout time.Duration
}

var _ eval.Runner = (*evalRunner)(nil)

// applyReasoningEffort sets a variant's reasoning effort for every agent
// and the selector of the desk (empty keeps the desk's own); desk.New
// checks it against the deployment's model.
func applyReasoningEffort(c desk.Config, effort string) desk.Config {
	if effort != "" {
		c.ReasoningEffort = effort
	}
	return c
}

// reasoningTokensOf is the hidden reasoning tokens of a run's usage.
func reasoningTokensOf(u model.Usage) int { return u.ReasoningTokens }

// Run writes one case's article on one variant.
func (r *evalRunner) Run(ctx context.Context, v eval.Variant, c *eval.Case) (eval.Output, error) {
	spec := r.specs[v.Desk]
	srcs, err := r.sources(ctx, c)
	if err != nil {
		return eval.Output{}, err
	}
	cfg := desk.Config{Spec: spec, Client: r.stack.RunClient(0, 0), Model: cmp.Or(v.Deployment, r.stack.Info.Deployment),
		Profile: r.stack.Profile, ModelName: r.stack.Info.ModelName,
		Extra: termination.Timeout(r.timeout)}
	tm, err := desk.New(applyReasoningEffort(r.tools.deskConfig(cfg, r.flags), v.ReasoningEffort))
	if err != nil {
		return eval.Output{}, fmt.Errorf("%w: %w", errConfig, err)
	}
	opts := append([]team.RunOption{team.WithStreaming(true), team.WithRunID(newRunID())}, r.tools.Options...)
	if len(srcs) > 0 {
		opts = append(opts, team.WithSources(srcs))
	}
	start := time.Now()
	var ttft time.Duration
	res, runErr := team.Collect(c.Task, team.Checkpoint{}, tm.Stream(ctx, c.Task, opts...), func(e team.Event) {
		if e.Type == team.EventDelta && ttft == 0 && e.Delta != "" {
			ttft = time.Since(start)
		}
	})
	if ctx.Err() != nil {
		return eval.Output{}, context.Cause(ctx)
	}
	a := spec.ArticleOf(res.Messages)
	headline, body := eval.SplitHeadline(a.Body, a.Headlines)
	o := eval.Output{Article: eval.Article{Headline: headline, Body: body}, StopReason: res.StopReason,
		Approved: editorApproved(res.Messages), Grounded: res.Grounding == nil || len(res.Grounding.Unsupported) == 0, Messages: len(res.Messages),
		Calls: res.Usage.Requests, PromptTokens: res.Usage.PromptTokens, CompletionTokens: res.Usage.CompletionTokens,
		ReasoningTokens: reasoningTokensOf(res.Usage), CostUSD: model.RoundUSD(res.Usage.CostUSD),
		Wall: time.Since(start), TTFT: ttft, Err: runErr}
	for _, s := range res.Sources {
		o.Sources = append(o.Sources, eval.Source{ID: s.ID, Text: s.Text})
	}
	return o, nil
}

// sources are a case's documents: files as they are, URLs fetched.
func (r *evalRunner) sources(ctx context.Context, c *eval.Case) ([]*tool.Source, error) {
	var out []*tool.Source
	var urls []string
	for _, d := range c.Documents {
		if d.URL != "" {
			urls = append(urls, d.URL)
			continue
		}
		out = append(out, tool.NewSource(d.Name, d.Name, d.Text, time.Now()))
	}
	if len(urls) > 0 {
		docs, err := r.tools.Fetcher.Sources(ctx, urls)
		if err != nil {
			return nil, fmt.Errorf("%w: case %s: %w", errConfig, c.Name, err)
		}
		out = append(out, docs...)
	}
	return out, nil
}

// editorApproved reports whether the desk's editor approved the article:
// its last message ends with the line APPROVE (the selector and graph
// desks go on to headlines after that, and stop for another reason).
func editorApproved(msgs []agent.Message) bool {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Source != desk.Editor {
			continue
		}
		lines := strings.Split(strings.TrimSpace(msgs[i].Content), "\n")
		return strings.TrimSpace(lines[len(lines)-1]) == "APPROVE"
	}
	return false
}
