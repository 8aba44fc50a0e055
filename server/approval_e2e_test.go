package server

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/newsroom-dev/newsroom/store"
)

// TestE2E_SignInAndDecideOnTheWaitingRun signs an editor-in-chief in through
// the test issuer (authorization code flow with PKCE in a real browser),
// finds the waiting run first in the history, sends it back with a note
// using the keyboard, and approves the revision.
func TestE2E_SignInAndDecideOnTheWaitingRun(t *testing.T) {
	// The issuer's certificate is made by the test: the browser may not know it.
	ctx := browser(t, chromedp.Flag("ignore-certificate-errors", true))
	e, iss, logs := oidcEnv(t, Config{RequireApproval: true})
	iss.SetUser(map[string]any{"sub": "s-carol", "oid": "oid-carol", "name": "Carol Chief", "roles": []string{"editor-in-chief"}})
	older := e.create(e.user, `{"task":"Facts: The library opens on Sunday.","approval":"none"}`)
	e.waitFinished(e.user, older.ID)
	v := e.create(e.user, `{"task":"Facts: The city council approved a bike lane on Main Street on Tuesday."}`)
	e.waitStatus(e.user, v.ID, store.StatusAwaitingApproval)

	must(t, "sign in", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#who")),
	))
	if got := text(t, ctx, "#who"); got != "Carol Chief · editor-in-chief" {
		t.Fatalf("signed in as %q", got)
	}
	if eval[bool](t, ctx, `document.cookie.includes('newsroom_session')`) {
		t.Fatal("the session cookie is readable by scripts (must be HttpOnly)")
	}
	waitFor(t, ctx, "the history", `document.querySelectorAll('.history-item').length >= 2`)
	if first := eval[string](t, ctx, `document.querySelector('.history-item').dataset.id`); first != v.ID {
		t.Fatalf("the first run in the history is %s, want the waiting %s", first, v.ID)
	}

	must(t, "open the waiting run", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(".history-item")),
		chromedp.WaitVisible(chromedp.CSS("#decision")),
	))
	if !eval[bool](t, ctx, `!document.getElementById('article-wrap').hidden && document.getElementById('article').textContent.length > 50`) {
		t.Fatal("the article is not shown with the decision panel")
	}
	checkA11y(t, ctx, axeSource(t), "decision panel")

	// Keyboard only: type the note, tab to "Send back with a note", press Enter.
	const note = "Say when construction starts."
	must(t, "send it back", chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS("#decision-note")),
		chromedp.SendKeys(chromedp.CSS("#decision-note"), note),
		chromedp.Focus(chromedp.CSS("#revise")),
		chromedp.KeyEvent("\r"),
	))
	waitFor(t, ctx, "the note in the conversation", `[...document.querySelectorAll('#stream li.msg')].some(li => li.textContent.includes(`+"`"+note+"`"+`))`)
	// The decision is recorded at once, by the signed-in person.
	rec := e.get(e.admin, v.ID)
	if len(rec.Approval.Decisions) != 1 || rec.Approval.Decisions[0].Decision != "revise" || rec.Approval.Decisions[0].Note != note || rec.Approval.Decisions[0].By != "oidc:oid-carol" {
		t.Fatalf("recorded decisions %+v, want one revise by oidc:oid-carol with the note", rec.Approval.Decisions)
	}
	// The page follows the revision live: the reporter's new draft and the
	// editor's new review come after the note, and only then does the run
	// wait again, with the panel open.
	live := `(() => {
		const msgs = [...document.querySelectorAll('#stream li.msg')];
		const i = msgs.findIndex(li => li.textContent.includes(` + "`" + note + "`" + `));
		const after = msgs.slice(i + 1).map(li => li.querySelector('.raw-name').textContent);
		return i >= 0 && after.join() === 'News_Reporter,News_Editor' &&
			document.getElementById('run-status').textContent === 'awaiting_approval' && !document.getElementById('decision').hidden;
	})()`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](live, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		page := eval[string](t, ctx, `JSON.stringify({status: document.getElementById('run-status').textContent, panel: !document.getElementById('decision').hidden,
			msgs: [...document.querySelectorAll('#stream li.msg')].map(li => li.querySelector('.raw-name').textContent)})`)
		got := e.get(e.admin, v.ID)
		var srv []string
		for _, m := range got.Messages {
			srv = append(srv, m.Source)
		}
		t.Fatalf("the page does not show the revision waiting again: %v\npage %s\nserver %s %v", err, page, got.Status, srv)
	}
	if got := reporterNoteRequests(e.emu, note); got != 1 {
		t.Fatalf("%d reporter prompts end with the note, want 1", got)
	}

	must(t, "approve", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#approve"))))
	waitFor(t, ctx, "the approved run", `document.getElementById('run-status').textContent === 'succeeded'`)
	got := e.get(e.admin, v.ID)
	if got.Status != store.StatusSucceeded || len(got.Approval.Decisions) != 2 || got.Approval.Decisions[1].By != "oidc:oid-carol" {
		t.Fatalf("run %s decisions %+v", got.Status, got.Approval.Decisions)
	}
	if strings.Contains(logs.String(), "newsroom_session=") {
		t.Fatal("a cookie reached the logs")
	}

	// A reporter's key on the page: a waiting run shows that it waits, with no panel.
	w := e.create(e.user, `{"task":"Facts: A bridge reopened."}`)
	e.waitStatus(e.user, w.ID, store.StatusAwaitingApproval)
	must(t, "sign out and use a reporter's key", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#sign-out")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem('newsroom.apiKey', '`+e.user+`')`),
		chromedp.Navigate(e.ts.URL+"/?as=reporter#run="+w.ID),
		chromedp.WaitVisible(chromedp.CSS("#waiting-note")),
	))
	if eval[bool](t, ctx, `!document.getElementById('decision').hidden`) {
		t.Fatal("the decision panel is shown to a reporter")
	}
}
