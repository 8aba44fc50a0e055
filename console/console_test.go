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

func TestSummary_EmulatedAndCachedRunsSaySo(t *testing.T) {
	var b bytes.Buffer
	p := console.New(&b)
	p.SetEmulated(true)
	p.Summary(&team.Result{Messages: make([]agent.Message, 4), StopReason: "verdict APPROVE from News_Editor",
		Usage: model.Usage{Requests: 4, CachedResponses: 4, SavedTokens: 1568, SavedUSD: 0.00657}}, "offline emulator")
	for _, want := range []string{
		"Cached responses: 4 of 4 model calls\n",
		"Cost: $0.000000 (cached: 1,568 tokens, $0.0066 not spent)\n",
		"Emulated: the offline emulator answered; the cost is what these tokens would cost, not a bill\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

func TestPluralThousandsUSD(t *testing.T) {
	for _, c := range [][2]string{
		{console.Plural(1, "message", "messages"), "1 message"},
		{console.Plural(0, "message", "messages"), "0 messages"},
		{console.Plural(1234, "call", "calls"), "1,234 calls"},
		{console.Thousands(1568), "1,568"},
		{console.Thousands(-1000000), "-1,000,000"},
		{console.USD(0.00657), "$0.0066"},
		{console.USD(0.000012), "$0.000012"},
		{console.USD(12.345), "$12.35"},
		{console.USD(0), "$0.0000"},
	} {
		if c[0] != c[1] {
			t.Errorf("got %q, want %q", c[0], c[1])
		}
	}
}

func TestPrinter_MarksCachedAndSimilarAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		msg  agent.Message
		want string
	}{
		{"a similar hit shows its similarity", agent.Message{Source: "News_Reporter", Content: "The fair opens.", Cached: true, Similarity: 0.98137,
			Usage: model.Usage{PromptTokens: 12, CompletionTokens: 4}},
			"[Prompt tokens: 12, Completion tokens: 4, cached: similar 0.981]\n"},
		{"an exact hit says cached alone", agent.Message{Source: "News_Reporter", Content: "The fair opens.", Cached: true,
			Usage: model.Usage{PromptTokens: 12, CompletionTokens: 4}},
			"[Prompt tokens: 12, Completion tokens: 4, cached]\n"},
		{"a live answer says neither", agent.Message{Source: "News_Reporter", Content: "The fair opens.",
			Usage: model.Usage{PromptTokens: 12, CompletionTokens: 4, CostUSD: 0.00002}},
			"[Prompt tokens: 12, Completion tokens: 4, Cost: $0.000020]\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			console.New(&b).Handle(team.Event{Type: team.EventMessage, Speaker: tc.msg.Source, Message: &tc.msg})
			want := "---------- News_Reporter ----------\nThe fair opens.\n" + tc.want
			if got := b.String(); got != want {
				t.Errorf("console output:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
