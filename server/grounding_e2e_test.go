package server

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// storeHeldRun stores, as the run's executor would, a run that reached its
// cap with claims no source supports, one of them hostile markup.
func storeHeldRun(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	v := e.create(e.user, task)
	c := seize(t, e.st, v.ID)
	at := time.Now().UTC()
	article := "# Bridge Reopens\n\nThe bridge reopened on Monday. Repairs cost 4.2 million dollars."
	hostile := `<img src=x onerror="window.__pwned='claim'">`
	stop := "grounding: unsupported claims remained when the run reached its cap (max messages reached (3))"
	events := []team.Event{
		{Type: team.EventRunStarted, Task: task},
		{Type: team.EventMessage, Message: &agent.Message{Source: desk.Reporter, Content: article, Time: at}},
		{Type: team.EventGrounding, Grounding: &team.Grounding{Checked: 4, Unsupported: []string{"4.2 million", hostile}, Author: desk.Reporter}},
		{Type: team.EventRunFinished, StopReason: stop},
	}
	for _, ev := range events {
		ev.Time = at
		if _, err := e.st.AppendEvent(ctx, c, ev); err != nil {
			t.Fatal(err)
		}
	}
	run, err := e.st.GetRun(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	run.Status, run.StopReason, run.Article, run.FinishedAt = store.StatusSucceeded, stop, article, at
	if err := e.st.UpdateRun(ctx, c, run); err != nil {
		t.Fatal(err)
	}
	return v.ID
}

func TestE2E_UnsupportedClaimsShownAsText(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOpts{noStart: true})
	id := storeHeldRun(t, e)
	if g := e.get(e.user, id).Grounding; g == nil || len(g.Unsupported) != 2 || g.Author != desk.Reporter {
		t.Fatalf("GET shows grounding %+v", g)
	}
	must(t, "open the run", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem('newsroom.apiKey', '`+e.user+`')`),
		chromedp.Navigate(e.ts.URL+"/#run="+id),
		chromedp.Reload(),
	))
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective)); true`))
	must(t, "csp listener", err)
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
