package server

import (
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
)

// storeSourcedRun stores, as the run's executor would, a finished run that
// read three documents: an https page, and two whose URLs (and a title) are
// hostile. The javascript: one is stored first: the run shows sources by
// number. It returns the run's id.
func storeSourcedRun(t *testing.T, e *env) string {
	t.Helper()
	at := time.Now().UTC()
	safe := tool.NewSource("https://news.example/council?x=1", "Council approves cycle lanes", "The council approved cycle lanes.", at)
	safe.ID = 1
	alert := tool.NewSource("javascript:alert(1)", "Alerting source", "text", at)
	alert.ID = 2
	flag := tool.NewSource("javascript:window.__pwned='href'", `<img src=x onerror="window.__pwned='title'">Evil`, "text", at)
	flag.ID = 3
	call := agent.ToolExchange{ID: "call_1", Name: "fetch_url", Arguments: `{"url":"https://news.example/council?x=1"}`}
	result := call
	result.Result, result.SourceID = `{"title":"Council approves cycle lanes","text":"The council approved cycle lanes."}`, 1
	article := "# Cycle Lanes Approved\n\nThe council approved cycle lanes on Main Street [1]."
	return storeFinishedRun(t, e, at, article, []team.Event{
		{Type: team.EventRunStarted, Task: task},
		{Type: team.EventSource, Source: alert},
		{Type: team.EventToolCall, Speaker: desk.Reporter, Tool: &call},
		{Type: team.EventToolResult, Speaker: desk.Reporter, Tool: &result, Source: safe},
		{Type: team.EventSource, Source: flag},
		{Type: team.EventMessage, Message: &agent.Message{Source: desk.Reporter, Content: article, ToolCalls: []agent.ToolExchange{result}, Time: at}},
		{Type: team.EventRunFinished, StopReason: "verdict APPROVE from News_Editor"},
	})
}

func TestServer_RunShowsItsSources(t *testing.T) {
	e := newEnv(t, envOpts{noStart: true})
	id := storeSourcedRun(t, e)
	got := e.get(e.user, id)
	if len(got.Sources) != 3 {
		t.Fatalf("sources = %+v, want 3", got.Sources)
	}
	want := map[int]string{1: "https://news.example/council?x=1", 2: "javascript:alert(1)", 3: "javascript:window.__pwned='href'"}
	for _, s := range got.Sources {
		if want[s.ID] != s.URL || s.Title == "" || s.Hash == "" || s.FetchedAt.IsZero() {
			t.Errorf("source %+v, want id %d with url %q, a title, hash and fetch time", s, s.ID, want[s.ID])
		}
	}
	_, body := e.do("GET", "/v1/runs/"+id, e.user, "")
	var raw struct {
		Sources []map[string]any `json:"sources"`
	}
	mustJSON(t, body, &raw)
	if _, ok := raw.Sources[0]["text"]; ok {
		t.Errorf("a source's JSON carries its text: %v", raw.Sources[0])
	}
	// A run without sources has no "sources" field; the list has none.
	_, list := e.do("GET", "/v1/runs", e.user, "")
	var runs RunList
	mustJSON(t, list, &runs)
	for _, r := range runs.Runs {
		if len(r.Sources) != 0 {
			t.Errorf("the run list carries sources: %+v", r.Sources)
		}
	}
}

func TestE2E_SourcesBelowTheArticleAndInert(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOpts{noStart: true})
	id := storeSourcedRun(t, e)

	// A javascript: URL that ran would open a dialog: note it and dismiss it.
	var mu sync.Mutex
	var dialogs []string
	must(t, "listen", chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			mu.Lock()
			dialogs = append(dialogs, d.Message)
			mu.Unlock()
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	}))
	openRun(t, ctx, e, id)
	waitFor(t, ctx, "the sources", `!document.getElementById('sources-wrap').hidden && document.querySelectorAll('#run-sources li').length === 3`)
	waitFor(t, ctx, "the tool line", `document.querySelector('#stream li.tool .tool-result') && document.querySelector('#stream li.tool .tool-result').textContent !== ''`)

	// Below the article, before the conversation.
	inOrder(t, ctx, "finished run with sources", "#article", "#sources-wrap", ".stream-wrap")
	if a, s := boxOf(t, ctx, "#article"), boxOf(t, ctx, "#sources-wrap"); s.Top < a.Bottom {
		t.Errorf("sources (top %.0f) overlap the article (bottom %.0f)", s.Top, a.Bottom)
	}
	if got := eval[[]string](t, ctx, `[...document.querySelectorAll('#run-sources li')].map(li => li.dataset.id)`); len(got) != 3 || got[0] != "1" || got[1] != "2" || got[2] != "3" {
		t.Errorf("sources in order %v, want 1, 2, 3", got)
	}

	// The https source is a link, opened without opener or referrer.
	type link struct{ Href, Rel, Text, Host string }
	l := eval[link](t, ctx, `(() => { const li = document.querySelector('#run-sources li[data-id="1"]'); const a = li.querySelector('a');
		return a ? {Href: a.href, Rel: a.rel, Text: a.textContent, Host: li.querySelector('.source-host').textContent} : {}; })()`)
	if l.Href != "https://news.example/council?x=1" || l.Rel != "noopener noreferrer" || l.Text != "Council approves cycle lanes" || l.Host != "news.example" {
		t.Errorf("https source = %+v, want a link to it with rel noopener noreferrer, its title and host", l)
	}

	// The javascript: sources are text, not links, anywhere on the page.
	if n := eval[int](t, ctx, `document.querySelectorAll('a[href^="javascript:" i], #run-sources li[data-id="2"] a, #run-sources li[data-id="3"] a').length`); n != 0 {
		t.Errorf("%d javascript: sources became links", n)
	}
	if got := text(t, ctx, `#run-sources li[data-id="2"]`); got != "[2] Alerting source javascript:alert(1)" {
		t.Errorf("javascript: source shown as %q", got)
	}
	if got := text(t, ctx, `#run-sources li[data-id="3"] .source-title`); got != `<img src=x onerror="window.__pwned='title'">Evil` {
		t.Errorf("hostile title shown as %q, want its text", got)
	}
	must(t, "click the inert sources", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#run-sources li[data-id="2"] .source-title`)),
		chromedp.Click(chromedp.CSS(`#run-sources li[data-id="3"] .source-title`)),
	))
	if got := eval[string](t, ctx, `location.pathname + location.hash`); got != "/#run="+id {
		t.Errorf("clicking an inert source navigated to %q", got)
	}
	checkNotExecuted(t, ctx)
	if n := eval[int](t, ctx, `document.querySelectorAll('#run-sources img, #run-sources [onerror]').length`); n != 0 {
		t.Errorf("a source title became %d elements", n)
	}
	mu.Lock()
	if len(dialogs) != 0 {
		t.Errorf("a javascript: URL ran: dialogs %q", dialogs)
	}
	mu.Unlock()

	// The tool call is one compact line of text: who, tool, arguments, result.
	if got := eval[string](t, ctx, `document.querySelector('#stream li.tool').textContent`); got != `Reporter called fetch_url {"url":"https://news.example/council?x=1"} → {"title":"Council approves cycle lanes","text":"The council approved cycle lanes."}` {
		t.Errorf("tool line = %q", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#stream li.tool').length`); n != 1 {
		t.Errorf("tool lines = %d, want 1 (call and result on one line)", n)
	}
	checkA11y(t, ctx, axeSource(t), "run with sources")
}
