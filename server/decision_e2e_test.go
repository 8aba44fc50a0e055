package server

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
)

// storeWaitingSourcedRun stores, as the run's executor would, a run that
// read two documents (an https page and a hostile javascript: URL), wrote
// its article and now waits for a decision. It returns the run's id.
func storeWaitingSourcedRun(t *testing.T, e *env) string {
	t.Helper()
	at := time.Now().UTC()
	safe := tool.NewSource("https://news.example/ferry", "Ferry service resumes", "The ferry resumed service on Monday.", at)
	safe.ID = 1
	hostile := tool.NewSource("javascript:window.__pwned='panel'", "Hostile source", "text", at)
	hostile.ID = 2
	article := "# Ferry Back\n\nThe ferry resumed service on Monday [1]."
	events := []team.Event{
		{Type: team.EventRunStarted, Task: "Facts: The ferry resumed service on Monday."},
		{Type: team.EventSource, Source: safe},
		{Type: team.EventSource, Source: hostile},
		{Type: team.EventMessage, Message: &agent.Message{Source: desk.Reporter, Content: article, Time: at}},
		{Type: team.EventMessage, Message: &agent.Message{Source: desk.Editor, Content: "Clean.\nAPPROVE", Time: at}},
		{Type: team.EventApprovalRequested, Reason: "verdict APPROVE from " + desk.Editor, Index: 2},
		{Type: team.EventRunFinished, StopReason: team.StopAwaitingApproval, Index: 2},
	}
	return storeRunWith(t, e, `{"task":"Facts: The ferry resumed service on Monday.","approval":"required"}`, at, events, func(run *store.Run) {
		run.Status, run.StopReason, run.Article = store.StatusAwaitingApproval, team.StopAwaitingApproval, article
	})
}

// TestE2E_DecisionPanelListsSourcesAndRejects opens a waiting run that read
// documents as an editor-in-chief: the decision panel lists its sources
// (links only for http(s)), and Reject ends the run rejected.
func TestE2E_DecisionPanelListsSourcesAndRejects(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOpts{noStart: true, cfg: Config{KeyRateLimit: -1}})
	eic := e.roleKey(identity.RoleEditorInChief)
	id := storeWaitingSourcedRun(t, e)

	must(t, "open the waiting run", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem('newsroom.apiKey', '`+eic+`')`),
		chromedp.Navigate(e.ts.URL+"/#run="+id),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#decision")),
	))
	listenCSP(t, ctx)
	waitFor(t, ctx, "the panel's sources", `!document.getElementById('decision-sources').hidden && document.querySelectorAll('#sources li').length === 2`)
	type link struct{ Href, Text string }
	if l := eval[link](t, ctx, `(() => { const a = document.querySelector('#sources li[data-id="1"] a'); return a ? {Href: a.href, Text: a.textContent} : {}; })()`); l.Href != "https://news.example/ferry" || l.Text != "Ferry service resumes" {
		t.Errorf("the panel's first source = %+v, want a link to https://news.example/ferry titled \"Ferry service resumes\"", l)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#sources li[data-id="2"] a').length`); n != 0 {
		t.Error("the panel made the javascript: source a link")
	}

	must(t, "reject", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#reject"))))
	waitFor(t, ctx, "the rejected run", `document.getElementById('run-status').textContent === 'rejected' && document.getElementById('decision').hidden`)
	checkNotExecuted(t, ctx)
	got := e.get(e.admin, id)
	if ds := got.Approval.Decisions; got.Status != store.StatusRejected || len(ds) != 1 || ds[0].Decision != "reject" || ds[0].By == "" {
		t.Fatalf("run %s decisions %+v, want rejected with one reject decision", got.Status, ds)
	}
}

// TestE2E_ACappedRunOffersApproveOrRejectOnly opens, as an
// editor-in-chief, a run that its message cap ended before its editor
// approved: the panel says which cap, offers approve and reject but not a
// revision, is axe-clean, and approving it with the keyboard ends it
// succeeded.
func TestE2E_ACappedRunOffersApproveOrRejectOnly(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOpts{noStart: true, cfg: Config{KeyRateLimit: -1}})
	eic := e.roleKey(identity.RoleEditorInChief)
	at := time.Now().UTC()
	article := "# Ferry Back\n\nThe ferry resumed service on Monday."
	const capped = "max messages reached (2)"
	id := storeRunWith(t, e, `{"task":"Facts: The ferry resumed service on Monday.","approval":"required","max_messages":2}`, at, []team.Event{
		{Type: team.EventRunStarted, Task: "Facts: The ferry resumed service on Monday."},
		{Type: team.EventMessage, Message: &agent.Message{Source: desk.Reporter, Content: article, Time: at}},
		{Type: team.EventMessage, Message: &agent.Message{Source: desk.Editor, Content: "Nearly there, but I cannot APPROVE yet.", Time: at}},
		{Type: team.EventApprovalRequested, Reason: capped, Capped: true, Index: 2},
		{Type: team.EventRunFinished, StopReason: team.StopAwaitingApproval, Index: 2},
	}, func(run *store.Run) {
		run.Status, run.StopReason, run.Article = store.StatusAwaitingApproval, team.StopAwaitingApproval, article
	})

	must(t, "open the capped run", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem('newsroom.apiKey', '`+eic+`')`),
		chromedp.Navigate(e.ts.URL+"/#run="+id),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#decision")),
	))
	waitFor(t, ctx, "the cap in the panel", `!document.getElementById('decision-capped').hidden && document.getElementById('decision-capped').textContent.includes('`+capped+`')`)
	if eval[bool](t, ctx, `!document.getElementById('revise').hidden || document.getElementById('approve').hidden || document.getElementById('reject').hidden`) {
		t.Fatal("the capped run's panel does not offer exactly approve and reject")
	}
	checkA11y(t, ctx, axeSource(t), "capped decision panel")

	must(t, "approve with the keyboard", chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS("#approve")),
		chromedp.KeyEvent("\r"),
	))
	waitFor(t, ctx, "the approved run", `document.getElementById('run-status').textContent === 'succeeded'`)
	got := e.get(e.admin, id)
	if ds := got.Approval.Decisions; got.Status != store.StatusSucceeded || len(ds) != 1 || ds[0].Decision != "approve" {
		t.Fatalf("run %s decisions %+v, want succeeded with one approve", got.Status, ds)
	}
}

// TestE2E_PublishedViewCorrectsAndRetracts opens the page as an
// editor-in-chief after an approval: the "Published" view lists the
// article with its versions, is axe-clean, and a correction and then a
// retraction made with the keyboard are stored as versions 2 and 3 and
// shown.
func TestE2E_PublishedViewCorrectsAndRetracts(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1}})
	eic := e.roleKey(identity.RoleEditorInChief)
	id := e.approvedArticle(eic, approvalTask).ArticleID

	must(t, "open the page", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem('newsroom.apiKey', '`+eic+`')`),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#published")),
	))
	waitFor(t, ctx, "the published article", `document.querySelectorAll('#pub-list .pub-item[data-id="`+id+`"]').length === 1`)
	must(t, "open its versions", chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.pub-item[data-id="`+id+`"] summary`))))
	waitFor(t, ctx, "version 1", `document.querySelector('.pub-item[data-id="`+id+`"] .pub-versions').textContent.includes('Version 1')`)
	checkA11y(t, ctx, axeSource(t), "published view")

	const note = "The vote was seven to two."
	sel := `.pub-item[data-id="` + id + `"] `
	must(t, "correct with the keyboard", chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS(sel+"textarea")),
		chromedp.SendKeys(chromedp.CSS(sel+"textarea"), note),
		chromedp.Focus(chromedp.CSS(sel+"button[type=submit]")),
		chromedp.KeyEvent("\r"),
	))
	waitFor(t, ctx, "version 2 on the page", `document.querySelector('`+sel+`').textContent.includes('version 2') && document.querySelector('`+sel+`').textContent.includes('`+note+`')`)
	_, a := e.getArticle(e.admin, id)
	if a.Version != 2 || len(a.Corrections) != 1 || a.Corrections[0].Note != note || a.Corrections[0].By == "" {
		t.Fatalf("after the correction: version %d corrections %+v", a.Version, a.Corrections)
	}

	must(t, "retract", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(sel+"textarea"), "Annulled."),
		chromedp.Click(chromedp.CSS(sel+"button.danger")),
	))
	waitFor(t, ctx, "the retraction on the page", `document.querySelector('`+sel+`').textContent.includes('retracted') && !document.querySelector('`+sel+`form')`)
	if _, a = e.getArticle(e.admin, id); a.Status != store.ArticleRetracted || a.Version != 3 {
		t.Fatalf("after the retraction: %s version %d", a.Status, a.Version)
	}
	checkA11y(t, ctx, axeSource(t), "published view after a retraction")

	// On a phone: nothing wider than the screen, still axe-clean.
	must(t, "phone viewport", chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)))
	if w := eval[int](t, ctx, `Math.ceil(document.getElementById('published').getBoundingClientRect().right)`); w > 390 {
		t.Errorf("phone: the Published view is %dpx wide on a 390px screen", w)
	}
	checkA11y(t, ctx, axeSource(t), "published view, phone")
}
