package team_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

// runToCheckpoint runs a stream to its end and folds its events into the
// checkpoint it continues from, as a store does.
func runToCheckpoint(t *testing.T, tm team.Team, from team.Checkpoint, opts ...team.RunOption) (team.Checkpoint, *team.Result, []team.Event, error) {
	t.Helper()
	cp := from
	var events []team.Event
	res, err := team.Collect("the task", from, tm.Stream(context.Background(), "the task", opts...), func(e team.Event) {
		events = append(events, e)
		cp.Apply(e)
	})
	return cp, res, events, err
}

func approvalTeam(t *testing.T, s *script, max int) team.Team {
	t.Helper()
	tm, err := team.NewRoundRobin(team.RoundRobinConfig{
		Participants: assistants(t, s, "Reporter", "Editor"),
		Termination:  termination.Or(termination.Done(termination.Verdict("APPROVE", "Editor")), termination.MaxMessages(max)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func types(es []team.Event) []team.EventType {
	var out []team.EventType
	for _, e := range es {
		if e.Type != team.EventDelta {
			out = append(out, e.Type)
		}
	}
	return out
}

func TestApproval_PausesReviseContinuesApproveEnds(t *testing.T) {
	s := newScript().queue("Reporter", "Draft one", "Draft two").queue("Editor", "Good.\nAPPROVE", "Better.\nAPPROVE")
	tm := approvalTeam(t, s, 10)
	at := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)

	cp, res, events, err := runToCheckpoint(t, tm, team.Checkpoint{}, team.WithApproval(true))
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != team.StopAwaitingApproval || !cp.Awaiting {
		t.Fatalf("stop %q awaiting %v, want a pause", res.StopReason, cp.Awaiting)
	}
	want := []team.EventType{team.EventRunStarted, team.EventSpeakerSelected, team.EventMessage, team.EventSpeakerSelected,
		team.EventMessage, team.EventApprovalRequested, team.EventRunFinished}
	if diff := cmp.Diff(want, types(events)); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if r := events[len(events)-2].Reason; r != "verdict APPROVE from Editor" {
		t.Fatalf("approval requested with reason %q", r)
	}

	// Resuming without a decision costs nothing and still waits.
	calls := len(s.calls)
	cp2, res, _, err := runToCheckpoint(t, tm, cp, team.WithApproval(true), team.WithCheckpoint(cp))
	if err != nil || res.StopReason != team.StopAwaitingApproval || !cp2.Awaiting || len(s.calls) != calls {
		t.Fatalf("resume without a decision: stop %q err %v awaiting %v, %d new calls", res.StopReason, err, cp2.Awaiting, len(s.calls)-calls)
	}

	// Send it back: the note is a message from the editor-in-chief, the
	// reporter sees it in its next prompt, and the team pauses again.
	revise := team.Decision{Decision: team.DecisionRevise, Note: "Name the council member.", By: "key:k1", At: at}
	cp, res, _, err = runToCheckpoint(t, tm, cp, team.WithApproval(true), team.WithCheckpoint(cp), team.WithDecision(revise))
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != team.StopAwaitingApproval || !cp.Awaiting {
		t.Fatalf("after revise: stop %q awaiting %v", res.StopReason, cp.Awaiting)
	}
	if diff := cmp.Diff([]string{"Reporter", "Editor", team.EditorInChief, "Reporter", "Editor"}, sources(cp.Messages)); diff != "" {
		t.Fatalf("messages (-want +got):\n%s", diff)
	}
	reporter := s.calls[2]
	if reporter.Meta.Agent != "Reporter" {
		t.Fatalf("third call by %s", reporter.Meta.Agent)
	}
	last := reporter.Messages[len(reporter.Messages)-1]
	if !cmp.Equal(last, model.Message{Role: model.RoleUser, Name: team.EditorInChief, Content: "Name the council member."}) {
		t.Fatalf("reporter's prompt ends with %+v, want the editor-in-chief's note", last)
	}

	approve := team.Decision{Decision: team.DecisionApprove, By: "alice@example.com", At: at.Add(time.Hour)}
	cp, res, _, err = runToCheckpoint(t, tm, cp, team.WithApproval(true), team.WithCheckpoint(cp), team.WithDecision(approve))
	if err != nil || res.StopReason != team.StopApproved || cp.Awaiting {
		t.Fatalf("approve: stop %q err %v awaiting %v", res.StopReason, err, cp.Awaiting)
	}
	if diff := cmp.Diff([]team.Decision{revise, approve}, res.Decisions); diff != "" {
		t.Fatalf("decisions (-want +got):\n%s", diff)
	}
	if len(s.calls) != 4 {
		t.Fatalf("%d model calls, want 4", len(s.calls))
	}

	// A replayed decision on the finished run is refused.
	_, _, _, err = runToCheckpoint(t, tm, cp, team.WithApproval(true), team.WithCheckpoint(cp), team.WithDecision(approve))
	if !errors.Is(err, team.ErrNotAwaitingApproval) {
		t.Fatalf("replayed decision: err %v", err)
	}
}

func TestApproval_Reject(t *testing.T) {
	s := newScript().queue("Reporter", "Draft").queue("Editor", "APPROVE")
	tm := approvalTeam(t, s, 10)
	cp, _, _, err := runToCheckpoint(t, tm, team.Checkpoint{}, team.WithApproval(true))
	if err != nil {
		t.Fatal(err)
	}
	cp, res, _, err := runToCheckpoint(t, tm, cp, team.WithApproval(true), team.WithCheckpoint(cp),
		team.WithDecision(team.Decision{Decision: team.DecisionReject, Note: "Not news.", By: "eic"}))
	if err != nil || res.StopReason != team.StopRejected || len(cp.Decisions) != 1 || cp.Decisions[0].At.IsZero() {
		t.Fatalf("reject: stop %q err %v decisions %+v", res.StopReason, err, cp.Decisions)
	}
}

func TestApproval_BadDecisionsLeaveTheRunWaiting(t *testing.T) {
	s := newScript().queue("Reporter", "Draft").queue("Editor", "APPROVE")
	tm := approvalTeam(t, s, 10)
	cp, _, _, err := runToCheckpoint(t, tm, team.Checkpoint{}, team.WithApproval(true))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		d    team.Decision
		want error
	}{
		{"a revision without a note", team.Decision{Decision: team.DecisionRevise, Note: "  "}, team.ErrNoteRequired},
		{"an unknown decision", team.Decision{Decision: "publish"}, team.ErrBadDecision},
	} {
		t.Run(c.name, func(t *testing.T) {
			after, _, _, err := runToCheckpoint(t, tm, cp, team.WithApproval(true), team.WithCheckpoint(cp), team.WithDecision(c.d))
			if !errors.Is(err, c.want) || !after.Awaiting || len(after.Messages) != len(cp.Messages) {
				t.Fatalf("err %v awaiting %v, want %v and the run intact", err, after.Awaiting, c.want)
			}
		})
	}
}

func TestApproval_NotRequiredEndsOnTheVerdict(t *testing.T) {
	s := newScript().queue("Reporter", "Draft").queue("Editor", "APPROVE")
	_, res, _, err := runToCheckpoint(t, approvalTeam(t, s, 10), team.Checkpoint{})
	if err != nil || res.StopReason != "verdict APPROVE from Editor" {
		t.Fatalf("stop %q err %v", res.StopReason, err)
	}
}

func TestApproval_SelectorPausesOnTerminate(t *testing.T) {
	s := newScript().
		queue("selector", "Reporter", "Planner").
		queue("Reporter", "Draft").
		queue("Planner", "Done.\nTERMINATE")
	tm, err := team.NewSelector(team.SelectorConfig{
		Participants: assistants(t, s, "Planner", "Reporter"),
		Client:       s,
		Termination:  termination.Or(termination.Done(termination.TextMention("TERMINATE", "Planner")), termination.MaxMessages(20)),
	})
	if err != nil {
		t.Fatal(err)
	}
	cp, res, _, err := runToCheckpoint(t, tm, team.Checkpoint{}, team.WithApproval(true))
	if err != nil || res.StopReason != team.StopAwaitingApproval || !cp.Awaiting {
		t.Fatalf("stop %q err %v", res.StopReason, err)
	}
}

func TestApproval_WaitingDoesNotCountAgainstTheTimeout(t *testing.T) {
	s := newScript().queue("Reporter", "Draft", "Draft 2").queue("Editor", "APPROVE", "APPROVE")
	tm, err := team.NewRoundRobin(team.RoundRobinConfig{
		Participants: assistants(t, s, "Reporter", "Editor"),
		Termination: termination.Or(termination.Done(termination.Verdict("APPROVE", "Editor")),
			termination.Timeout(10*time.Minute)),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The run's deadline is a real context deadline taken from the clock, so
	// the clock starts at the real time (a fixed date goes stale).
	now := time.Now()
	clock := func() time.Time { return now }
	cp, _, _, err := runToCheckpoint(t, tm, team.Checkpoint{}, team.WithApproval(true), team.WithClock(clock))
	if err != nil || !cp.Awaiting {
		t.Fatalf("no pause: %v", err)
	}
	now = now.Add(48 * time.Hour) // the editor-in-chief reads it two days later
	cp, res, _, err := runToCheckpoint(t, tm, cp, team.WithApproval(true), team.WithClock(clock), team.WithCheckpoint(cp),
		team.WithDecision(team.Decision{Decision: team.DecisionRevise, Note: "Shorter.", By: "eic"}))
	if err != nil || res.StopReason != team.StopAwaitingApproval || len(cp.Messages) != 5 {
		t.Fatalf("after two days of waiting: stop %q err %v, %d messages; want the team to go on and pause again",
			res.StopReason, err, len(cp.Messages))
	}
}

// TestApproval_TheTimeoutCountsTheWorkOfEveryLeg checks that a run's
// timeout is a cap on the time it worked, over all its legs: the legs add
// up (a revision does not get a fresh window), the wait between them does
// not count.
func TestApproval_TheTimeoutCountsTheWorkOfEveryLeg(t *testing.T) {
	s := newScript().queue("Reporter", "Draft", "Draft 2").queue("Editor", "APPROVE", "APPROVE")
	tm, err := team.NewRoundRobin(team.RoundRobinConfig{
		Participants: assistants(t, s, "Reporter", "Editor"),
		Termination: termination.Or(termination.Done(termination.Verdict("APPROVE", "Editor")),
			termination.Timeout(8*time.Minute)),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every look at the clock is a minute later: a leg works several minutes.
	now := time.Now()
	clock := func() time.Time { now = now.Add(time.Minute); return now }
	cp, _, _, err := runToCheckpoint(t, tm, team.Checkpoint{}, team.WithApproval(true), team.WithClock(clock))
	if err != nil || !cp.Awaiting {
		t.Fatalf("no pause: %v", err)
	}
	first := cp.Worked
	if first <= 0 || first >= 8*time.Minute {
		t.Fatalf("the first leg worked %s; the test needs 0 < it < 8m", first)
	}
	now = now.Add(48 * time.Hour)
	cp, res, _, err := runToCheckpoint(t, tm, cp, team.WithApproval(true), team.WithClock(clock), team.WithCheckpoint(cp),
		team.WithDecision(team.Decision{Decision: team.DecisionRevise, Note: "Shorter.", By: "eic"}))
	if err != nil {
		t.Fatal(err)
	}
	// The second leg alone would fit in 8 minutes, as the first did; both
	// together do not: the run waits again, capped by the timeout.
	if res.StopReason != team.StopAwaitingApproval || !strings.HasPrefix(cp.Capped, "timeout after 8m0s") {
		t.Fatalf("second leg: stop %q after %s of work; want the timeout of the two legs together", res.StopReason, cp.Worked)
	}
	if cp.Worked < 8*time.Minute || cp.Worked > 8*time.Minute+2*first {
		t.Fatalf("worked %s: want the legs' work (over 8m), not the 48h wait", cp.Worked)
	}
}

// TestApproval_RevisionResumedFromTheStoreGoesOnFromTheNote decides a
// revision the way a service does (team.Decide's events folded into the
// stored checkpoint, then a resume without WithDecision) and checks that
// only a verdict the team gives after the note pauses the run again: not the
// approval the note answers, nor the note itself when it mentions the word.
func TestApproval_RevisionResumedFromTheStoreGoesOnFromTheNote(t *testing.T) {
	cases := []struct {
		name string
		done termination.Condition
	}{
		{"the editor's verdict", termination.Verdict("APPROVE", "Editor")},
		{"a text mention from anyone, which the note makes", termination.TextMention("APPROVE")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScript().queue("Reporter", "Draft one", "Draft two").queue("Editor", "Good.\nAPPROVE", "Better.\nAPPROVE")
			tm, err := team.NewRoundRobin(team.RoundRobinConfig{
				Participants: assistants(t, s, "Reporter", "Editor"),
				Termination:  termination.Or(termination.Done(c.done), termination.MaxMessages(10)),
			})
			if err != nil {
				t.Fatal(err)
			}
			cp, res, _, err := runToCheckpoint(t, tm, team.Checkpoint{}, team.WithApproval(true))
			if err != nil || res.StopReason != team.StopAwaitingApproval {
				t.Fatalf("first pause: stop %q err %v", res.StopReason, err)
			}
			d := team.Decision{Decision: team.DecisionRevise, Note: "APPROVE it once the lead names the street.", By: "eic"}
			events, stop, err := team.Decide(cp, d, time.Now())
			if err != nil || stop != "" {
				t.Fatalf("Decide: stop %q err %v", stop, err)
			}
			for _, e := range events {
				cp.Apply(e)
			}
			cp, res, _, err = runToCheckpoint(t, tm, cp, team.WithApproval(true), team.WithCheckpoint(cp))
			if err != nil || res.StopReason != team.StopAwaitingApproval || !cp.Awaiting {
				t.Fatalf("after the revision: stop %q err %v awaiting %v", res.StopReason, err, cp.Awaiting)
			}
			if diff := cmp.Diff([]string{"Reporter", "Editor", team.EditorInChief, "Reporter", "Editor"}, sources(cp.Messages)); diff != "" {
				t.Fatalf("messages (-want +got):\n%s", diff)
			}
			if len(s.calls) != 4 {
				t.Fatalf("%d model calls, want 4", len(s.calls))
			}
		})
	}
}

func TestCheckpoint_WorkedCountsLegsNotGaps(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	msg := &agent.Message{Source: "Reporter", Content: "x"}
	var cp team.Checkpoint
	for _, e := range []team.Event{
		{Type: team.EventRunStarted, Time: at(0)},
		{Type: team.EventMessage, Time: at(3 * time.Second), Message: msg},
		// the instance died; another resumed the run an hour later
		{Type: team.EventRunStarted, Time: at(time.Hour), Resumed: true},
		{Type: team.EventMessage, Time: at(time.Hour + 2*time.Second), Message: msg},
		{Type: team.EventApprovalRequested, Time: at(time.Hour + 4*time.Second)},
		{Type: team.EventApprovalDecided, Time: at(3 * time.Hour), Decision: &team.Decision{Decision: team.DecisionRevise, Note: "n"}},
		{Type: team.EventRunStarted, Time: at(3*time.Hour + time.Second), Resumed: true},
		{Type: team.EventRunFinished, Time: at(3*time.Hour + 2*time.Second)},
	} {
		cp.Apply(e)
	}
	if cp.Worked != 8*time.Second {
		t.Fatalf("worked %s, want 8s (3s + 4s + 1s: the crash and the wait left out)", cp.Worked)
	}
}

// TestApproval_TheMessageCapEndsARevisedRun checks that a revision does not
// get a fresh message cap: the messages of every leg count, the
// editor-in-chief's note included, and the cap pauses the run again (capped)
// rather than ending it.
func TestApproval_TheMessageCapEndsARevisedRun(t *testing.T) {
	s := newScript().queue("Reporter", "Draft", "Draft 2", "Draft 3").queue("Editor", "APPROVE", "Better.\nAPPROVE")
	tm := approvalTeam(t, s, 4)
	cp, _, _, err := runToCheckpoint(t, tm, team.Checkpoint{}, team.WithApproval(true))
	if err != nil || !cp.Awaiting || len(cp.Messages) != 2 || cp.Capped != "" {
		t.Fatalf("first leg: err %v awaiting %v capped %q, %d messages", err, cp.Awaiting, cp.Capped, len(cp.Messages))
	}
	// The second leg alone (note, draft, review: 3 messages) would fit in
	// the cap of 4, as the first did; both together do not.
	cp, res, _, err := runToCheckpoint(t, tm, cp, team.WithApproval(true), team.WithCheckpoint(cp),
		team.WithDecision(team.Decision{Decision: team.DecisionRevise, Note: "Shorter.", By: "eic"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != team.StopAwaitingApproval || cp.Capped != "max messages reached (4)" {
		t.Fatalf("second leg: stop %q capped %q after %d messages; want a pause on the cap of the whole run", res.StopReason, cp.Capped, len(cp.Messages))
	}
	if diff := cmp.Diff([]string{"Reporter", "Editor", team.EditorInChief, "Reporter"}, sources(cp.Messages)); diff != "" {
		t.Fatalf("messages (-want +got):\n%s", diff)
	}
}

// TestApproval_TheGroundingGateComesFirst checks that a run whose article
// makes unsupported claims does not pause for a person: the grounding check
// sends it back to the writer first, and only the clean article waits for
// the editor-in-chief.
func TestApproval_TheGroundingGateComesFirst(t *testing.T) {
	s := newScript().queue("Reporter", "Draft with a made-up figure", "Draft from the facts").queue("Editor", "APPROVE", "APPROVE")
	tm := approvalTeam(t, s, 10)
	checks := 0
	check := func(msgs []agent.Message, _ team.Material) team.Grounding {
		checks++
		if checks == 1 {
			return team.Grounding{Checked: 2, Unsupported: []string{"a made-up figure"}, Author: "Reporter"}
		}
		return team.Grounding{Checked: 2, Author: "Reporter"}
	}
	// A task of facts is material to check against.
	const task = "Facts: The council met on Tuesday."
	var cp team.Checkpoint
	var events []team.Event
	res, err := team.Collect(task, cp, tm.Stream(context.Background(), task, team.WithApproval(true), team.WithGrounding(check)), func(e team.Event) {
		events = append(events, e)
		cp.Apply(e)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != team.StopAwaitingApproval || !cp.Awaiting || checks != 2 {
		t.Fatalf("stop %q awaiting %v after %d checks; want a pause after the second, clean check", res.StopReason, cp.Awaiting, checks)
	}
	var got []string
	for _, e := range events {
		switch e.Type {
		case team.EventGrounding:
			got = append(got, fmt.Sprintf("grounding(%d unsupported)", len(e.Grounding.Unsupported)))
		case team.EventMessage:
			got = append(got, "message from "+e.Message.Source)
		case team.EventApprovalRequested:
			got = append(got, "approval requested")
		}
	}
	want := []string{"message from Reporter", "message from Editor", "grounding(1 unsupported)", "message from " + team.GroundingCheck,
		"message from Reporter", "message from Editor", "grounding(0 unsupported)", "approval requested"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}
