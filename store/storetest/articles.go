package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// articleTests are the conformance tests of store.Articles; Run runs them.
var articleTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"FinishRun publishes the run's article in the same write", testPublishOnFinish},
	{"ResolveWaitingPublish publishes with the decision, or not at all", testPublishOnResolve},
	{"PutArticle adds versions in order and refuses a stale one", testArticleVersions},
	{"ListArticles pages newest first and filters by desk and status", testListArticles},
}

func sampleArticle(id, runID, desk string, at time.Time) *store.Article {
	return &store.Article{ID: id, Slug: "harbour-" + id, RunID: runID, Desk: desk, Headline: "Harbour reopens",
		Body: "The harbour reopened on Monday [1].", Byline: "News_Reporter", Version: 1, Status: store.ArticlePublished,
		Sources:     []store.ArticleSource{{ID: 1, URL: "https://news.example/harbour", Title: "Harbour"}},
		Approval:    store.ArticleApproval{Required: true, By: "key:eic", At: at, Decisions: []team.Decision{{Decision: team.DecisionApprove, By: "key:eic", At: at}}},
		PublishedAt: at, UpdatedAt: at, Corrections: []store.Correction{},
		Provenance: store.Provenance{DigitalSourceType: store.DigitalSourceTypeTrained, Models: []string{"gpt-4o"},
			Approvals: []store.VersionApproval{{Version: 1, By: "key:eic", At: at}}}}
}

func testPublishOnFinish(t *testing.T, s store.Store) {
	ctx := context.Background()
	run := mustCreate(t, s, &store.Run{Task: "t", Team: "roundrobin"})
	c := mustClaim(t, s, run.ID)
	art := sampleArticle("a-"+run.ID, run.ID, "roundrobin", base)
	done := *run
	done.Status, done.Article, done.Publish = store.StatusSucceeded, "# Harbour", art
	if _, err := s.FinishRun(ctx, c, &done, finalEvent("verdict", "")); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetArticle(ctx, art.ID)
	if err != nil || got.Headline != "Harbour reopens" || got.Version != 1 || got.Provenance.DigitalSourceType != store.DigitalSourceTypeTrained ||
		len(got.Sources) != 1 || got.Approval.By != "key:eic" || !got.PublishedAt.Equal(base) {
		t.Fatalf("GetArticle = %+v, %v", got, err)
	}
	for name, get := range map[string]func() (*store.Article, error){
		"by slug": func() (*store.Article, error) { return s.ArticleBySlug(ctx, art.Slug) },
		"by run":  func() (*store.Article, error) { return s.ArticleOfRun(ctx, run.ID) },
	} {
		if a, err := get(); err != nil || a.ID != art.ID {
			t.Errorf("%s: %+v, %v", name, a, err)
		}
	}

	// A finish that fails (the run is finished already) publishes nothing.
	other := *run
	other.Status, other.Publish = store.StatusSucceeded, sampleArticle("b-"+run.ID, run.ID, "roundrobin", base)
	if _, err := s.FinishRun(ctx, c, &other, finalEvent("verdict", "")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second FinishRun: %v, want ErrConflict", err)
	}
	if _, err := s.GetArticle(ctx, other.Publish.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the article of a failed finish: %v, want ErrNotFound", err)
	}
	for name, err := range map[string]error{
		"unknown id":   second(s.GetArticle(ctx, "nope")),
		"unknown slug": second(s.ArticleBySlug(ctx, "nope")),
		"unknown run":  second(s.ArticleOfRun(ctx, "nope")),
		"no versions":  second(s.ArticleVersions(ctx, "nope")),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func testPublishOnResolve(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := waiting(t, s)
	decided := []team.Event{{Type: team.EventApprovalDecided, Decision: &team.Decision{Decision: team.DecisionApprove, By: "eic"}},
		{Type: team.EventRunFinished, StopReason: team.StopApproved}}
	art := sampleArticle("a-"+r.ID, r.ID, "roundrobin", base)
	if err := s.ResolveWaitingPublish(ctx, r.ID, decided, store.StatusSucceeded, team.StopApproved, art); err != nil {
		t.Fatal(err)
	}
	if a, err := s.ArticleOfRun(ctx, r.ID); err != nil || a.ID != art.ID {
		t.Fatalf("ArticleOfRun = %+v, %v", a, err)
	}
	// A replayed decision changes nothing and publishes nothing.
	again := sampleArticle("b-"+r.ID, r.ID, "roundrobin", base)
	if err := s.ResolveWaitingPublish(ctx, r.ID, decided, store.StatusSucceeded, team.StopApproved, again); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("replayed decision: %v, want ErrConflict", err)
	}
	if _, err := s.GetArticle(ctx, again.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the replay's article: %v, want ErrNotFound", err)
	}
	// A publication that cannot be written (its slug is taken) leaves the
	// run waiting: the decision and the publication are one write.
	w := waiting(t, s)
	clash := sampleArticle("c-"+w.ID, w.ID, "roundrobin", base)
	clash.Slug = art.Slug
	if err := s.ResolveWaitingPublish(ctx, w.ID, decided, store.StatusSucceeded, team.StopApproved, clash); err == nil {
		t.Fatal("a publication under a taken slug succeeded")
	}
	if got, err := s.GetRun(ctx, w.ID); err != nil || got.Status != store.StatusAwaitingApproval {
		t.Fatalf("after the failed publication the run is %+v, %v; want it still waiting", got, err)
	}
	if evs, err := s.Events(ctx, w.ID, 0); err != nil || len(evs) != 1 {
		t.Fatalf("after the failed publication the run has %d events (%v), want its 1", len(evs), err)
	}
}

func testArticleVersions(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := sampleArticle("versions", "run-1", "roundrobin", base)
	if err := s.PutArticle(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.PutArticle(ctx, sampleArticle("versions", "run-1", "roundrobin", base)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second version 1: %v, want ErrConflict", err)
	}
	v2 := *a
	v2.Version, v2.Body, v2.UpdatedAt = 2, a.Body+"\n\n*Correction:* the date.", base.Add(time.Hour)
	v2.Corrections = []store.Correction{{Version: 2, Note: "the date", By: "eic", At: base.Add(time.Hour)}}
	if err := s.PutArticle(ctx, &v2); err != nil {
		t.Fatal(err)
	}
	stale := v2 // another writer that read version 1 too
	if err := s.PutArticle(ctx, &stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a stale version 2: %v, want ErrConflict", err)
	}
	ghost := v2
	ghost.ID = "ghost"
	if err := s.PutArticle(ctx, &ghost); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("version 2 of an unknown article: %v, want ErrNotFound", err)
	}
	got, err := s.GetArticle(ctx, a.ID)
	if err != nil || got.Version != 2 || len(got.Corrections) != 1 || !got.PublishedAt.Equal(base) || !got.UpdatedAt.Equal(base.Add(time.Hour)) {
		t.Fatalf("current version %+v, %v", got, err)
	}
	vs, err := s.ArticleVersions(ctx, a.ID)
	if err != nil || len(vs) != 2 || vs[0].Version != 1 || vs[0].Body != a.Body || vs[1].Version != 2 || vs[1].Body != v2.Body {
		t.Fatalf("versions %+v, %v", vs, err)
	}
	if err := s.PutArticle(ctx, &store.Article{ID: "x"}); err == nil {
		t.Fatal("an article without a slug, version and status was stored")
	}
}

func testListArticles(t *testing.T, s store.Store) {
	ctx := context.Background()
	var want []string
	for i := range 7 {
		desk := "roundrobin"
		if i%3 == 0 {
			desk = "selector"
		}
		a := sampleArticle(fmt.Sprintf("list-%d", i), fmt.Sprintf("run-%d", i), desk, base.Add(time.Duration(i)*time.Minute))
		if i == 4 {
			a.Status = store.ArticleRetracted
		}
		if err := s.PutArticle(ctx, a); err != nil {
			t.Fatal(err)
		}
		want = append([]string{a.ID}, want...)
	}
	var got []string
	cursor, pages := "", 0
	for {
		page, next, err := s.ListArticles(ctx, store.ArticleListOptions{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, a := range page {
			got = append(got, a.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
		t.Fatalf("pages %d: %v, want %v", pages, got, want)
	}
	sel, _, err := s.ListArticles(ctx, store.ArticleListOptions{Desk: "selector"})
	if err != nil || len(sel) != 3 {
		t.Fatalf("desk filter: %d articles, %v", len(sel), err)
	}
	ret, _, err := s.ListArticles(ctx, store.ArticleListOptions{Status: store.ArticleRetracted})
	if err != nil || len(ret) != 1 || ret[0].ID != "list-4" {
		t.Fatalf("status filter: %+v, %v", ret, err)
	}
	if _, _, err := s.ListArticles(ctx, store.ArticleListOptions{Cursor: "garbage!"}); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("a foreign cursor: %v, want ErrBadCursor", err)
	}
}
