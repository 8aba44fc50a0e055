package modelstack_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest/similartest"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/modelstack"
)

// TestBuild_SimilarityCacheOnPostgres: NEWSROOM_CACHE=postgres keeps the
// answers and the similarity vectors in the database; a second instance on
// it answers a paraphrase from the first's answer, and a changed figure
// never hits.
func TestBuild_SimilarityCacheOnPostgres(t *testing.T) {
	t.Parallel()
	dsn := testsvc.Postgres(t)
	em := startEmulator(t, emulator.Config{APIKey: "right"})
	stack := func() model.Client {
		cfg := azure(em, "right")
		cfg.Cache, cfg.DatabaseURL = config.CachePostgres, config.Secret(dsn)
		cfg.CacheSimilarity, cfg.EmbeddingsDeployment = 0.9, "text-embedding-3-small"
		c, err := mustBuild(t, modelstack.Options{Config: cfg}).Client("")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	req := func(task string) *model.Request {
		return &model.Request{MaxTokens: 300, Meta: model.Meta{Agent: "News_Reporter", Purpose: model.PurposeReply},
			Messages: []model.Message{{Role: model.RoleSystem, Content: "You are a news reporter."}, {Role: model.RoleUser, Content: task}}}
	}
	ctx := context.Background()
	first, err := stack().Complete(ctx, req(similartest.Task))
	if err != nil || first.Cached {
		t.Fatalf("first call: cached %v, %v", first != nil && first.Cached, err)
	}
	other := stack()
	para, err := other.Complete(ctx, req(similartest.Paraphrase))
	if err != nil || !para.Cached || para.Similarity < 0.9 || para.Content != first.Content {
		t.Errorf("a paraphrase on another instance: cached %v similarity %.3f same answer %v, %v; want a similar hit",
			para != nil && para.Cached, para.Similarity, para != nil && para.Content == first.Content, err)
	}
	changed, err := other.Complete(ctx, req(similartest.Changed))
	if err != nil || changed.Cached {
		t.Errorf("one changed figure: cached %v, %v; want a model call", changed != nil && changed.Cached, err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var answers, vectors int
	if err := conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM response_cache), (SELECT count(*) FROM similar_vectors)").Scan(&answers, &vectors); err != nil {
		t.Fatal(err)
	}
	if answers != 2 || vectors != 2 {
		t.Errorf("%d answers and %d vectors in PostgreSQL, want 2 of each (the task and the changed task)", answers, vectors)
	}
}

// TestBuild_EmbeddingCostCountsInTheRun: the similarity cache's embeddings
// are priced into each call's cost, and the run's budget counts them
// although the budget middleware sits below the similarity cache: a hit
// costs its embedding, never nothing.
func TestBuild_EmbeddingCostCountsInTheRun(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Config{APIKey: "right"})
	cfg := azure(em, "right")
	cfg.Cache = config.CacheMemory
	cfg.CacheSimilarity, cfg.EmbeddingsDeployment = 0.9, "text-embedding-3-small"
	c, err := mustBuild(t, modelstack.Options{Config: cfg}).Client("")
	if err != nil {
		t.Fatal(err)
	}
	tr := budget.NewTracker(budget.Run{MaxUSD: 10})
	ctx := budget.WithTracker(context.Background(), tr)
	req := func(task string) *model.Request {
		return &model.Request{MaxTokens: 300, Meta: model.Meta{Agent: "News_Reporter", Purpose: model.PurposeReply},
			Messages: []model.Message{{Role: model.RoleUser, Content: task}}}
	}
	var total model.Usage
	for i, task := range []string{similartest.Task, similartest.Paraphrase} {
		resp, err := c.Complete(ctx, req(task))
		if err != nil {
			t.Fatal(err)
		}
		u := resp.Usage
		if u.EmbeddingTokens == 0 || u.EmbeddingUSD <= 0 {
			t.Errorf("call %d: usage %+v has no embedding", i, u)
		}
		if i == 1 && (!resp.Cached || u.CostUSD != u.EmbeddingUSD) {
			t.Errorf("the paraphrase: cached %v, cost $%g, embedding $%g; want a hit costing its embedding", resp.Cached, u.CostUSD, u.EmbeddingUSD)
		}
		if i == 0 && u.CostUSD <= u.EmbeddingUSD {
			t.Errorf("the first call cost $%g, no more than its embedding $%g", u.CostUSD, u.EmbeddingUSD)
		}
		total = total.Add(u)
	}
	if spent, _ := tr.Spent(); model.RoundUSD(spent) != model.RoundUSD(total.CostUSD) {
		t.Errorf("the run's budget counted $%.9f, its calls cost $%.9f (embeddings $%.9f)", spent, total.CostUSD, total.EmbeddingUSD)
	}
}
