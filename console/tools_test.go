package console_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/console"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
)

func TestPrinter_ToolEventsSourcesAndGrounding(t *testing.T) {
	var b bytes.Buffer
	p := console.New(&b)
	src := &tool.Source{ID: 1, URL: "https://example.org/council?x=1", Title: "Council vote"}
	for _, e := range []team.Event{
		{Type: team.EventToolCall, Speaker: "News_Reporter", Tool: &agent.ToolExchange{ID: "c1", Name: "fetch_url", Arguments: `{"url":"https://example.org/council?x=1"}`}},
		{Type: team.EventToolResult, Speaker: "News_Reporter", Tool: &agent.ToolExchange{ID: "c1", Name: "fetch_url", Result: "{}"}, Source: src},
		{Type: team.EventToolResult, Speaker: "News_Reporter", Tool: &agent.ToolExchange{ID: "c2", Name: "fetch_url", Result: `{"error":"web: refused"}`, IsError: true}},
		{Type: team.EventGrounding, Grounding: &team.Grounding{Checked: 9, Unsupported: []string{"4.2 million"}}},
	} {
		p.Handle(e)
	}
	p.Summary(&team.Result{Sources: []tool.Source{*src}, Grounding: &team.Grounding{Checked: 9}}, "")
	for _, want := range []string{
		`[News_Reporter calls fetch_url {"url":"https://example.org/council?x=1"}]`,
		"[fetch_url read source [1] Council vote (example.org)]",
		`[fetch_url failed: {"error":"web: refused"}]`,
		"[grounding: 1 of 9 claims found in no source: 4.2 million]",
		"Grounding: 9 claims checked, all found in the task or the sources",
		"Sources:\n  [1] Council vote (example.org) — https://example.org/council?x=1\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
