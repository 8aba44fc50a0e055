package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestE2E_PageListsIntakeSources: with an intake file, the history column
// shows each source with the runs it started and what the caps deferred.
func TestE2E_PageListsIntakeSources(t *testing.T) {
	ctx := browser(t)
	axe := axeSource(t)
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	feed := newPressFeed(t)
	for _, g := range []string{"pr-1", "pr-2", "pr-3"} {
		feed.add(g, "Release "+g, clock.now().Add(time.Minute))
	}
	e := newIntakeEnv(t, feed, clock, "", "")
	if err := e.srv.PollFeeds(context.Background()); err != nil {
		t.Fatal(err)
	}
	must(t, "open the page", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#key-input")),
		chromedp.SendKeys(chromedp.CSS("#key-input"), e.user),
		chromedp.Click(chromedp.CSS("#key-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#intake-list li")),
	))
	text := eval[string](t, ctx, `document.getElementById('intake-list').innerText`)
	if !strings.Contains(text, "harbour-press") || !strings.Contains(text, "feed → roundrobin · 2 runs, 1 deferred") || !strings.Contains(text, "wire") {
		t.Errorf("the intake list says %q", text)
	}
	checkA11y(t, ctx, axe, "intake list")
}
