package server

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/team"
)

// storeHeldRun stores, as the run's executor would, a run that reached its
// cap with claims no source supports, one of them hostile markup.
func storeHeldRun(t *testing.T, e *env) string {
	t.Helper()
	at := time.Now().UTC()
	article := "# Bridge Reopens\n\nThe bridge reopened on Monday. Repairs cost 4.2 million dollars."
	hostile := `<img src=x onerror="window.__pwned='claim'">`
	stop := "grounding: unsupported claims remained when the run reached its cap (max messages reached (3))"
	return storeFinishedRun(t, e, at, article, []team.Event{
		{Type: team.EventRunStarted, Task: task},
		{Type: team.EventMessage, Message: &agent.Message{Source: desk.Reporter, Content: article, Time: at}},
		{Type: team.EventGrounding, Grounding: &team.Grounding{Checked: 4, Unsupported: []string{"4.2 million", hostile}, Author: desk.Reporter}},
		{Type: team.EventRunFinished, StopReason: stop},
	})
}

func TestE2E_UnsupportedClaimsShownAsText(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOpts{noStart: true})
	id := storeHeldRun(t, e)
	if g := e.get(e.user, id).Grounding; g == nil || len(g.Unsupported) != 2 || g.Author != desk.Reporter {
		t.Fatalf("GET shows grounding %+v", g)
	}
	openRun(t, ctx, e, id)
	waitFor(t, ctx, "the grounding check", `!document.getElementById('grounding-wrap').hidden && document.querySelectorAll('#grounding-claims li').length === 2`)

	inOrder(t, ctx, "held run", "#article", "#grounding-wrap", ".stream-wrap")
	if got := text(t, ctx, "#grounding-summary"); got != "2 of 4 claims appear neither in the task nor in any source:" {
		t.Errorf("summary = %q", got)
	}
	if got := eval[[]string](t, ctx, `[...document.querySelectorAll('#grounding-claims li')].map(li => li.textContent)`); len(got) != 2 ||
		got[0] != "4.2 million" || got[1] != `<img src=x onerror="window.__pwned='claim'">` {
		t.Errorf("claims shown as %q, want their text", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#grounding-wrap img, #grounding-wrap [onerror]').length`); n != 0 {
		t.Errorf("a claim became %d elements", n)
	}
	checkNotExecuted(t, ctx)
	checkA11y(t, ctx, axeSource(t), "run held by grounding")
}

// TestE2E_SourcesFromTheForm: the new-story form sends source URLs and the
// switches; a bad URL is refused with the field named, a good one is read
// and listed under the article with the run's grounding check.
func TestE2E_SourcesFromTheForm(t *testing.T) {
	ctx := browser(t)
	site := newPressSite(t)
	url := site.url("/press")
	e := newEnv(t, envOpts{fetch: site.fetcher(), cfg: Config{KeyRateLimit: -1}})
	must(t, "fill the form with a bad URL", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem('newsroom.apiKey', '`+e.user+`')`),
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.SendKeys(chromedp.CSS("#task"), "Write about the museum."),
		chromedp.Click(chromedp.CSS("#source-options summary")),
		chromedp.SendKeys(chromedp.CSS("#sources-input"), "javascript:alert(1)"),
		chromedp.Click(chromedp.CSS("#no-tools")),
		chromedp.Click(chromedp.CSS("#submit")),
	))
	waitFor(t, ctx, "the refusal", `document.getElementById('form-error').textContent.includes('sources[0]')`)
	checkA11y(t, ctx, axeSource(t), "form with sources, refused")

	must(t, "submit with the press release", chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById('sources-input').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#sources-input"), url),
		chromedp.Click(chromedp.CSS("#submit")),
	))
	waitFor(t, ctx, "the finished run", `document.getElementById('run-status').textContent === 'succeeded'`)
	waitFor(t, ctx, "its source and check", `document.querySelectorAll('#run-sources li').length === 1 && !document.getElementById('grounding-wrap').hidden`)
	if got := text(t, ctx, `#run-sources li[data-id="1"] .source-title`); got != "Museum reopens" {
		t.Errorf("source shown as %q", got)
	}
	if got := text(t, ctx, "#grounding-summary"); !strings.HasSuffix(got, "claims checked, all found in the task or the sources.") {
		t.Errorf("grounding summary %q", got)
	}
	// A run with the check off says so where the check would be.
	must(t, "submit with the check off", chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById('sources-input').value = ''`),
		chromedp.Click(chromedp.CSS("#no-tools")),
		chromedp.Click(chromedp.CSS("#no-grounding")),
		chromedp.Click(chromedp.CSS("#submit")),
	))
	waitFor(t, ctx, "the run without a check", `document.getElementById('run-status').textContent === 'succeeded' &&
		document.getElementById('grounding-summary').textContent === 'Not checked: the grounding check is off for this run.' &&
		!document.getElementById('grounding-wrap').hidden && document.getElementById('sources-wrap').hidden`)

	_, b := e.do("GET", "/v1/runs", e.user, "")
	var list RunList
	mustJSON(t, b, &list)
	if len(list.Runs) != 2 {
		t.Fatalf("%d runs, want 2", len(list.Runs))
	}
	// Newest first: the run without the check, then the sourced one.
	if o := list.Runs[1].Options; o == nil || o.Tools == nil || *o.Tools || o.Grounding != nil || len(o.Sources) != 1 || o.Sources[0] != url {
		t.Errorf("first run's options %+v, want the source and tools off", o)
	}
	if o := list.Runs[0].Options; o == nil || o.Tools != nil || o.Grounding == nil || *o.Grounding || len(o.Sources) != 0 {
		t.Errorf("second run's options %+v, want grounding off only", o)
	}
}
