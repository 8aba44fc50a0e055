package console

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/team"
)

// TestLive_ShowsWhoIsWorkingAndErasesItBeforeTheAnswer drives the status
// line with explicit ticks.
func TestLive_ShowsWhoIsWorkingAndErasesItBeforeTheAnswer(t *testing.T) {
	var b bytes.Buffer
	p := New(&b)
	stop := p.Live(time.Hour) // the ticker never fires: the test ticks
	t0 := time.Now()
	p.Handle(team.Event{Type: team.EventRunStarted, Task: "Write about the fair."})
	p.tick(t0.Add(1500 * time.Millisecond))
	if got := b.String(); !strings.HasSuffix(got, "\r\x1b[K⠋ choosing the next speaker… 1s") {
		t.Fatalf("before a speaker is chosen: %q", got)
	}
	p.Handle(team.Event{Type: team.EventSpeakerSelected, Speaker: "News_Reporter"})
	p.tick(time.Now().Add(3 * time.Second))
	if got := b.String(); !strings.HasSuffix(got, "\r\x1b[K⠙ News_Reporter is writing… 3s") {
		t.Fatalf("while the reporter's call is in flight: %q", got)
	}
	b.Reset()
	p.Handle(team.Event{Type: team.EventDelta, Speaker: "News_Reporter", Delta: "Hello"})
	if got := b.String(); got != "\r\x1b[K---------- News_Reporter ----------\nHello" {
		t.Fatalf("the status line is not erased before the answer: %q", got)
	}
	b.Reset()
	p.tick(time.Now())
	if b.Len() != 0 {
		t.Fatalf("drawn over streamed text: %q", b.String())
	}
	p.Handle(team.Event{Type: team.EventMessage, Speaker: "News_Reporter", Message: &agent.Message{Source: "News_Reporter", Content: "Hello"}})
	p.Handle(team.Event{Type: team.EventSpeakerSelected, Speaker: "Fact_Checker"})
	p.Handle(team.Event{Type: team.EventSpeakerSelected, Speaker: "News_Editor"})
	b.Reset()
	p.tick(time.Now())
	if got := b.String(); !strings.Contains(got, "Fact_Checker, News_Editor are writing…") {
		t.Fatalf("two speakers at once: %q", got)
	}
	p.Handle(team.Event{Type: team.EventRunFinished, StopReason: "done"})
	b.Reset()
	p.tick(time.Now())
	stop()
	if b.Len() != 0 {
		t.Fatalf("a status line after the run finished: %q", b.String())
	}
}

func TestPrinter_WithoutLiveDrawsNoStatusLine(t *testing.T) {
	var b bytes.Buffer
	p := New(&b)
	p.Handle(team.Event{Type: team.EventRunStarted, Task: "x"})
	p.Handle(team.Event{Type: team.EventSpeakerSelected, Speaker: "News_Reporter"})
	p.tick(time.Now())
	if strings.ContainsAny(b.String(), "\r\x1b") {
		t.Fatalf("escape codes without Live: %q", b.String())
	}
}
