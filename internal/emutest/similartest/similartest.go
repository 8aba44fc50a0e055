// Package similartest is the similarity guard every backend of the
// similarity cache must pass, against the real emulator: a paraphrase hits,
// a changed figure never does, and a failing embeddings deployment never
// fails a call.
package similartest

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/similar"
	"github.com/newsroom-dev/newsroom/model/provider"
)

// Tasks: a task, a paraphrase of it with the same facts, and the same task
// with one changed figure.
const (
	Task       = `Facts: The city council approved a new bike lane on Main Street on Tuesday. Construction starts in March and costs 2.1 million dollars.`
	Paraphrase = `Facts: On Tuesday the city council approved a new bike lane on Main Street; construction, which starts in March, costs 2.1 million dollars.`
	Changed    = `Facts: The city council approved a new bike lane on Main Street on Tuesday. Construction starts in March and costs 2.4 million dollars.`
)

func request(agent, task string) *model.Request {
	return &model.Request{MaxTokens: 300, Meta: model.Meta{Agent: agent, Purpose: model.PurposeReply},
		Messages: []model.Message{{Role: model.RoleSystem, Content: "You are a news reporter."}, {Role: model.RoleUser, Content: task}}}
}

// Guard runs the guard on a store and an index (each test gets fresh ones:
// namespace is new per call).
func Guard(t *testing.T, store cache.Store, index similar.Index) {
	// The default deployment is a GPT-5 one; "another deployment" is a
	// GPT-4o mini one, as a second deployment of a resource would be.
	em, chat := emutest.Start(t, emulator.Config{Deployments: map[string]string{"gpt-4o-mini": "gpt-4o-mini-2024-07-18"}}, "gpt-5", nil)
	emb, err := provider.New(provider.Config{Kind: provider.KindAzure, Endpoint: em.URL, Deployment: "text-embedding-3-small",
		APIKey: emutest.Key, HTTPClient: em.Client()})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var results []string
	var asides []error
	var charged model.Usage // what OnEmbeddingCost was told
	var looked int          // the embedding tokens OnLookup was told
	// text-embedding-3-small's price, $0.02 per 1M tokens.
	price := func(u model.Usage) float64 { return float64(u.PromptTokens) * 0.02 / 1e6 }
	cfg := similar.Config{Store: store, Index: index, Embedder: emb, Threshold: 0.9,
		Namespace: t.Name(),
		OnLookup: func(r string, u model.Usage) {
			mu.Lock()
			results = append(results, r)
			looked += u.PromptTokens
			mu.Unlock()
			if u.PromptTokens == 0 {
				t.Errorf("a lookup reported no embedding tokens")
			}
		},
		OnStepAside:    func(err error) { mu.Lock(); asides = append(asides, err); mu.Unlock() },
		PriceEmbedding: price,
		OnEmbeddingCost: func(_ context.Context, u model.Usage) {
			mu.Lock()
			charged = charged.Add(u)
			mu.Unlock()
		},
		OnError: func(op string, err error) { t.Errorf("cache %s: %v", op, err) }}
	c := similar.Wrap(chat, cfg)
	chats := func() int {
		n := 0
		for _, r := range em.Requests() {
			if strings.HasSuffix(r.Path, "/chat/completions") {
				n++
			}
		}
		return n
	}
	ctx := context.Background()
	last := func() string { mu.Lock(); defer mu.Unlock(); return results[len(results)-1] }

	first, err := c.Complete(ctx, request("News_Reporter", Task))
	if err != nil || first.Cached || chats() != 1 || last() != similar.ResultMiss {
		t.Fatalf("first call: cached %v, err %v, %d model calls, lookup %s", first != nil && first.Cached, err, chats(), last())
	}
	// The chat client here prices nothing: the call's cost is its embedding.
	if u := first.Usage; u.EmbeddingTokens == 0 || u.EmbeddingUSD <= 0 || u.CostUSD != u.EmbeddingUSD || u.PromptTokens == 0 {
		t.Errorf("a miss's usage %+v lacks its embedding's tokens and cost", u)
	}

	t.Run("a paraphrase with the same facts hits", func(t *testing.T) {
		var streamed string
		req := request("News_Reporter", Paraphrase)
		req.OnDelta = func(d model.Delta) { streamed += d.Text }
		resp, err := c.Complete(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Cached || resp.Similarity < 0.9 || resp.Content != first.Content || chats() != 1 || last() != similar.ResultHit {
			t.Errorf("cached %v similarity %.4f, same answer %v, %d model calls, lookup %s: want a similar hit",
				resp.Cached, resp.Similarity, resp.Content == first.Content, chats(), last())
		}
		if streamed != resp.Content || resp.Usage.TotalTokens() != 0 || resp.Usage.SavedTokens == 0 {
			t.Errorf("streamed %d bytes of %d, usage %+v", len(streamed), len(resp.Content), resp.Usage)
		}
		if u := resp.Usage; u.EmbeddingTokens == 0 || u.CostUSD != u.EmbeddingUSD || u.CostUSD != price(model.Usage{PromptTokens: u.EmbeddingTokens}) {
			t.Errorf("a hit's usage %+v: want the embedding's tokens and price as its whole cost", u)
		}
		if resp.Usage.SavedUSD != first.Usage.CostUSD-first.Usage.EmbeddingUSD {
			t.Errorf("a hit saved $%g, want the first answer's own cost $%g (not its embedding)", resp.Usage.SavedUSD, first.Usage.CostUSD-first.Usage.EmbeddingUSD)
		}
	})
	t.Run("one changed figure never hits", func(t *testing.T) {
		resp, err := c.Complete(ctx, request("News_Reporter", Changed))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Cached || chats() != 2 || last() != similar.ResultRefused {
			t.Errorf("cached %v, %d model calls, lookup %s: want a refusal by fingerprint and a model call", resp.Cached, chats(), last())
		}
	})
	t.Run("another agent never hits", func(t *testing.T) {
		resp, err := c.Complete(ctx, request("News_Editor", Task))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Cached || chats() != 3 {
			t.Errorf("cached %v, %d model calls", resp.Cached, chats())
		}
	})
	t.Run("every embedding is charged", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		// Four lookups so far (task, paraphrase, changed, other agent).
		if charged.EmbeddingTokens != looked || charged.EmbeddingUSD <= 0 || charged.CostUSD != charged.EmbeddingUSD {
			t.Errorf("charged %+v for lookups that embedded %d tokens", charged, looked)
		}
		if n := len(results); n != 4 {
			t.Errorf("%d lookups, want 4", n)
		}
	})
	// The paraphrase hits with the first call's parameters (above); with any
	// one of them changed it must not: the bucket holds the system prompt,
	// the deployment and every generation parameter.
	for _, tc := range []struct {
		name   string
		change func(*model.Request)
	}{
		{"another system prompt", func(r *model.Request) { r.Messages[0].Content = "You are a sports reporter." }},
		{"another temperature", func(r *model.Request) { v := 0.2; r.Temperature = &v }},
		{"another max_tokens", func(r *model.Request) { r.MaxTokens = 301 }},
		{"another deployment", func(r *model.Request) { r.Model = "gpt-4o-mini" }},
	} {
		t.Run(tc.name+" never hits", func(t *testing.T) {
			before := chats()
			req := request("News_Reporter", Paraphrase)
			tc.change(req)
			resp, err := c.Complete(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Cached || resp.Similarity != 0 || chats() != before+1 || last() != similar.ResultMiss {
				t.Errorf("cached %v (similarity %.3f), %d new model calls, lookup %s: want a miss and a model call",
					resp.Cached, resp.Similarity, chats()-before, last())
			}
		})
	}
	t.Run("a call refused after its lookup carries the embedding on its error", func(t *testing.T) {
		// The budget below the cache refuses the call (a one-token run
		// budget): the lookup's embedding was paid and charged, so the
		// error must carry it for the run's totals.
		refusing := similar.Wrap(budget.Wrap(chat, budget.Config{Tracker: budget.NewTracker(budget.Run{MaxTokens: 1})}), cfg)
		mu.Lock()
		before := charged
		mu.Unlock()
		resp, err := refusing.Complete(ctx, request("News_Reporter", `Facts: The harbour ferry adds a 6:15 sailing from May 2.`))
		if !errors.Is(err, budget.ErrExceeded) || resp != nil {
			t.Fatalf("want the budget's refusal, got %v, %v", resp, err)
		}
		mu.Lock()
		paid := model.Usage{EmbeddingTokens: charged.EmbeddingTokens - before.EmbeddingTokens,
			EmbeddingUSD: charged.EmbeddingUSD - before.EmbeddingUSD, CostUSD: charged.CostUSD - before.CostUSD}
		mu.Unlock()
		u, agent, _ := model.Spent(err)
		if u.EmbeddingTokens == 0 || u.EmbeddingTokens != paid.EmbeddingTokens || u.CostUSD != u.EmbeddingUSD ||
			math.Abs(u.EmbeddingUSD-paid.EmbeddingUSD) > 1e-12 || agent != "News_Reporter" {
			t.Errorf("the error carries %+v of %q; the budgets were charged %+v", u, agent, paid)
		}
	})
	t.Run("a failing embeddings deployment steps aside once", func(t *testing.T) {
		em.Force(emulator.ForcedFault{Fault: emulator.Fault503})
		for range 2 {
			// The chat route fails too under a forced fault; the call's
			// own error is the model's, never the embeddings'.
			_, _ = c.Complete(ctx, request("News_Reporter", Paraphrase))
		}
		em.Force(emulator.ForcedFault{})
		resp, err := c.Complete(ctx, request("News_Reporter", Paraphrase))
		if err != nil || resp.Cached {
			t.Errorf("after stepping aside: cached %v err %v, want a plain model answer", resp != nil && resp.Cached, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(asides) != 1 {
			t.Errorf("stepped aside %d times, want once", len(asides))
		}
	})
}
