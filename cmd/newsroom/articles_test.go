package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/sqlite"
	"github.com/newsroom-dev/newsroom/team"
)

// seedArticle stores a published article as the service writes it (its
// first version) in a new database and returns the database's path.
func seedArticle(t *testing.T) (string, *store.Article) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "newsroom.db")
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	a := &store.Article{ID: "art_cli1", Slug: "council-approves-bike-lane-i1", RunID: "run_1", Desk: "roundrobin",
		Headline: "Council approves bike lane", Body: "The council approved a bike lane on Tuesday [1].", Byline: "The roundrobin desk",
		Sources:  []store.ArticleSource{{ID: 1, URL: "https://news.example/council", Title: "Council minutes"}},
		Approval: store.ArticleApproval{Required: true, By: "oidc:oid-carol", At: at, Decisions: []team.Decision{{Decision: team.DecisionApprove, By: "oidc:oid-carol", At: at}}},
		Version:  1, Status: store.ArticlePublished, PublishedAt: at, UpdatedAt: at, Corrections: []store.Correction{},
		Grounding: &team.Grounding{Checked: 3},
		Provenance: store.Provenance{DigitalSourceType: store.DigitalSourceTypeTrained, Models: []string{"gpt-4o"},
			Approvals: []store.VersionApproval{{Version: 1, By: "oidc:oid-carol", At: at}}}}
	if err := st.PutArticle(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return db, a
}

// TestArticles_ListShowCorrectRetractFromTheTerminal works on a stored
// article with the CLI: list shows it, show --provenance prints the whole
// responsibility record, correct and retract write versions 2 and 3, and
// bad input exits 2, an unknown article 1.
func TestArticles_ListShowCorrectRetractFromTheTerminal(t *testing.T) {
	t.Parallel()
	db, a := seedArticle(t)
	code, out, errOut := runCode(t, "articles", "list", "--db", db)
	if code != 0 || !strings.Contains(out, a.ID) || !strings.Contains(out, a.Headline) {
		t.Fatalf("list: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCode(t, "articles", "correct", a.ID, "--db", db, "--note", "The vote was seven to two.", "--by", "local:eic")
	if code != 0 || !strings.Contains(out, "version 2") {
		t.Fatalf("correct: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCode(t, "articles", "show", a.ID, "--db", db, "--provenance")
	if code != 0 {
		t.Fatalf("show: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"# Council approves bike lane", "*Correction, ", "digital source type: " + store.DigitalSourceTypeTrained,
		"models: gpt-4o", "version 1: oidc:oid-carol at 2026-12-01T09:00:00Z", "version 2: local:eic at ",
		"approve by oidc:oid-carol", "Correction (version 2) by local:eic", "Grounding: 3 claims checked, 0 unsupported",
		"[1] https://news.example/council Council minutes", "version 1 (published)", "version 2 (published)"} {
		if !strings.Contains(out, want) {
			t.Errorf("show --provenance lacks %q:\n%s", want, out)
		}
	}
	if code, out, errOut = runCode(t, "articles", "retract", a.ID, "--db", db, "--note", "Annulled."); code != 0 || !strings.Contains(out, "version 3 (retracted)") {
		t.Fatalf("retract: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut = runCode(t, "articles", "list", "--db", db, "--status", "retracted"); code != 0 {
		t.Fatalf("list --status retracted: exit %d %s", code, errOut)
	}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"articles", "correct", a.ID, "--db", db}, 2},                    // no note
		{[]string{"articles", "show", "--db", db}, 2},                             // no id
		{[]string{"articles", "list", "--db", db, "--status", "draft"}, 2},        // bad status
		{[]string{"articles", "show", "art_nope", "--db", db}, 1},                 // unknown
		{[]string{"articles", "correct", a.ID, "--db", db, "--note", "again"}, 1}, // retracted
	} {
		if code, _, errOut := runCode(t, c.args...); code != c.code {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.code, errOut)
		}
	}
}
