package modelstack_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache/similar/similartest"
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
