package termination_test

import (
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/termination"
)

func msgs(pairs ...string) []agent.Message {
	var out []agent.Message
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, agent.Message{Source: pairs[i], Content: pairs[i+1]})
	}
	return out
}

func TestConditions(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		cond termination.Condition
		st   termination.State
		want bool
	}{
		{"text mention fires on the newest message", termination.TextMention("TERMINATE"),
			termination.State{Messages: msgs("PlanningAgent", "done. TERMINATE")}, true},
		{"text mention ignores older messages", termination.TextMention("TERMINATE"),
			termination.State{Messages: msgs("a", "TERMINATE", "b", "go on")}, false},
		{"text mention respects sources", termination.TextMention("TERMINATE", "PlanningAgent"),
			termination.State{Messages: msgs("News_Reporter", "TERMINATE")}, false},
		{"no messages means the task alone never stops a run", termination.TextMention("TERMINATE"),
			termination.State{}, false},
		{"verdict on the last line approves", termination.Verdict("APPROVE", "News_Editor"),
			termination.State{Messages: msgs("News_Editor", "Good work.\n\nAPPROVE")}, true},
		{"verdict with label and emphasis approves", termination.Verdict("APPROVE"),
			termination.State{Messages: msgs("News_Editor", "Fine.\n**Verdict: APPROVE.**")}, true},
		{"a refusal that mentions the word does not approve", termination.Verdict("APPROVE"),
			termination.State{Messages: msgs("News_Editor", "I do not APPROVE yet.")}, false},
		{"the word before the last line does not approve", termination.Verdict("APPROVE"),
			termination.State{Messages: msgs("News_Editor", "APPROVE\nbut fix the lead first.\nREVISE")}, false},
		{"verdict from another source does not count", termination.Verdict("APPROVE", "News_Editor"),
			termination.State{Messages: msgs("News_Reporter", "APPROVE")}, false},
		{"max messages below the cap", termination.MaxMessages(3), termination.State{Messages: msgs("a", "1", "b", "2")}, false},
		{"max messages at the cap", termination.MaxMessages(2), termination.State{Messages: msgs("a", "1", "b", "2")}, true},
		{"token usage total", termination.TokenUsage(termination.TokenLimits{Total: 100}),
			termination.State{Usage: model.Usage{PromptTokens: 60, CompletionTokens: 40}}, true},
		{"token usage under the limit", termination.TokenUsage(termination.TokenLimits{Total: 100, Completion: 50}),
			termination.State{Usage: model.Usage{PromptTokens: 60, CompletionTokens: 39}}, false},
		{"completion token limit", termination.TokenUsage(termination.TokenLimits{Completion: 10}),
			termination.State{Usage: model.Usage{CompletionTokens: 10}}, true},
		{"cost limit", termination.MaxCost(0.01), termination.State{Usage: model.Usage{CostUSD: 0.011}}, true},
		{"source match", termination.SourceMatch("Headline_Generator"),
			termination.State{Messages: msgs("Headline_Generator", "1. x")}, true},
		{"timeout not yet", termination.Timeout(time.Minute), termination.State{Started: t0, Now: t0.Add(59 * time.Second)}, false},
		{"timeout reached", termination.Timeout(time.Minute), termination.State{Started: t0, Now: t0.Add(time.Minute)}, true},
		{"or fires when one fires", termination.Or(termination.MaxMessages(10), termination.TextMention("X")),
			termination.State{Messages: msgs("a", "X")}, true},
		{"and needs all", termination.And(termination.MaxMessages(1), termination.TextMention("X")),
			termination.State{Messages: msgs("a", "Y")}, false},
		{"and fires when all fire", termination.And(termination.MaxMessages(1), termination.TextMention("X")),
			termination.State{Messages: msgs("a", "X")}, true},
		{"empty and never fires", termination.And(), termination.State{Messages: msgs("a", "X")}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reason, got := c.cond.Check(&c.st)
			if got != c.want {
				t.Fatalf("Check = %v (%q), want %v", got, reason, c.want)
			}
			if got && reason == "" {
				t.Fatal("a firing condition must give a reason")
			}
		})
	}
}

func TestExternal_StopsAfterStop(t *testing.T) {
	e := termination.NewExternal()
	if _, ok := e.Check(&termination.State{}); ok {
		t.Fatal("fired before Stop")
	}
	e.Stop("cancelled by user")
	if r, ok := e.Check(&termination.State{}); !ok || r != "cancelled by user" {
		t.Fatalf("after Stop: %q %v", r, ok)
	}
}

func TestDeadline_OrTakesEarliestAndAndLatest(t *testing.T) {
	t0 := time.Unix(0, 0)
	or := termination.Or(termination.Timeout(time.Minute), termination.MaxMessages(3), termination.Timeout(time.Second))
	d, ok := or.(termination.Deadliner).Deadline(t0)
	if !ok || !d.Equal(t0.Add(time.Second)) {
		t.Fatalf("or deadline = %v %v, want +1s", d, ok)
	}
	and := termination.And(termination.Timeout(time.Minute), termination.Timeout(time.Second))
	d, ok = and.(termination.Deadliner).Deadline(t0)
	if !ok || !d.Equal(t0.Add(time.Minute)) {
		t.Fatalf("and deadline = %v %v, want +1m", d, ok)
	}
	if _, ok := termination.And(termination.Timeout(time.Minute), termination.MaxMessages(2)).(termination.Deadliner).Deadline(t0); ok {
		t.Fatal("and with a condition without deadline must have none")
	}
}

func TestEvaluate_TellsDoneFromCaps(t *testing.T) {
	approve := termination.Done(termination.Verdict("APPROVE", "News_Editor"))
	cases := []struct {
		name     string
		cond     termination.Condition
		st       termination.State
		stop     bool
		done     bool
		reasonOK string
	}{
		{"an approval marked done is done", termination.Or(approve, termination.MaxMessages(10)),
			termination.State{Messages: msgs("News_Editor", "ok\nAPPROVE")}, true, true, "verdict APPROVE from News_Editor"},
		{"a cap is not done", termination.Or(approve, termination.MaxMessages(1)),
			termination.State{Messages: msgs("News_Editor", "fix it\nREVISE")}, true, false, "max messages reached (1)"},
		{"the first stopping condition decides, as in Check", termination.Or(termination.MaxMessages(1), approve),
			termination.State{Messages: msgs("News_Editor", "ok\nAPPROVE")}, true, false, "max messages reached (1)"},
		{"an unmarked condition is never done", termination.Verdict("APPROVE"),
			termination.State{Messages: msgs("News_Editor", "ok\nAPPROVE")}, true, false, "verdict APPROVE from News_Editor"},
		{"no stop is not done", termination.Or(approve),
			termination.State{Messages: msgs("News_Editor", "fix\nREVISE")}, false, false, ""},
		{"and is done when one part is", termination.And(approve, termination.MaxMessages(1)),
			termination.State{Messages: msgs("News_Editor", "ok\nAPPROVE")}, true, true, "verdict APPROVE from News_Editor and max messages reached (1)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := termination.Evaluate(c.cond, &c.st)
			if out.Stop != c.stop || out.Done != c.done || out.Reason != c.reasonOK {
				t.Fatalf("Evaluate = %+v, want stop=%v done=%v reason=%q", out, c.stop, c.done, c.reasonOK)
			}
			if r, ok := c.cond.Check(&c.st); ok != out.Stop || r != out.Reason {
				t.Fatalf("Check = %q %v, differs from Evaluate %+v", r, ok, out)
			}
		})
	}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	if d, ok := termination.Done(termination.Timeout(time.Minute)).(termination.Deadliner); !ok {
		t.Fatal("Done hides the deadline of the condition it marks")
	} else if at, ok := d.Deadline(t0); !ok || !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Deadline = %v %v, want %v", at, ok, t0.Add(time.Minute))
	}
}

func TestEvaluateCaps_LeavesOutWhatMeansDone(t *testing.T) {
	mention := termination.Done(termination.TextMention("APPROVE"))
	note := termination.State{Messages: msgs("News_Editor", "ok\nAPPROVE", "Editor_in_Chief", "APPROVE it once the lead names the street.")}
	cases := []struct {
		name   string
		cond   termination.Condition
		stop   bool
		reason string
	}{
		{"a condition marked done does not stop", termination.Or(mention, termination.MaxMessages(10)), false, ""},
		{"a cap after it still stops", termination.Or(mention, termination.MaxMessages(2)), true, "max messages reached (2)"},
		{"an unmarked condition still stops", termination.TextMention("APPROVE"), true, `text mention: "APPROVE" from Editor_in_Chief`},
		{"and with a part marked done does not stop", termination.And(mention, termination.MaxMessages(2)), false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := termination.EvaluateCaps(c.cond, &note)
			if out.Stop != c.stop || out.Done || out.Reason != c.reason {
				t.Fatalf("EvaluateCaps = %+v, want stop=%v reason=%q, never done", out, c.stop, c.reason)
			}
		})
	}
}
