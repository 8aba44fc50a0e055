package console_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/console"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
)

func TestPrinter_StreamsTokensUnderOneHeaderPerSpeaker(t *testing.T) {
	var b bytes.Buffer
	p := console.New(&b)
	msg := &agent.Message{Source: "News_Reporter", Content: "Hello world", Usage: model.Usage{PromptTokens: 7, CompletionTokens: 2}}
	for _, e := range []team.Event{
		{Type: team.EventRunStarted, Task: "Write about the fair."},
		{Type: team.EventSpeakerSelected, Speaker: "News_Reporter"},
		{Type: team.EventDelta, Speaker: "News_Reporter", Delta: "Hello"},
		{Type: team.EventDelta, Speaker: "News_Reporter", Delta: " world"},
		{Type: team.EventMessage, Speaker: "News_Reporter", Message: msg},
		{Type: team.EventMessage, Speaker: "News_Editor", Message: &agent.Message{Source: "News_Editor", Content: "APPROVE"}},
		{Type: team.EventRunFinished, StopReason: "verdict APPROVE from News_Editor"},
	} {
		p.Handle(e)
	}
	p.Summary(&team.Result{Messages: []agent.Message{*msg, {}}, StopReason: "verdict APPROVE from News_Editor",
		Usage: model.Usage{PromptTokens: 7, CompletionTokens: 2, CostUSD: 0.0001}, Duration: 1500 * time.Millisecond}, "gpt-4o")
	want := `---------- user ----------
Write about the fair.
---------- News_Reporter ----------
Hello world
[Prompt tokens: 7, Completion tokens: 2]
---------- News_Editor ----------
APPROVE
[Prompt tokens: 0, Completion tokens: 0]
---------- Summary ----------
Number of messages: 3
Finish reason: verdict APPROVE from News_Editor
Total prompt tokens: 7
Total completion tokens: 2
Cost: $0.000100
Model: gpt-4o
Duration: 1.50 seconds
`
	if got := b.String(); got != want {
		t.Fatalf("console output:\n%s\nwant:\n%s", got, want)
	}
	if strings.Count(b.String(), "News_Reporter ----") != 1 {
		t.Fatal("one header per message")
	}
}
