package team_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

// budgetStop is the graceful stop a budget middleware ends a call with.
type budgetStop struct{}

func (budgetStop) Error() string      { return "budget: run budget of $0.01 spent" }
func (budgetStop) StopReason() string { return "budget: run budget of $0.01 spent" }

var _ model.StopError = budgetStop{}

// capTeams builds, for one desk kind, a team whose editor (or planner)
// never gives a verdict newsroom recognises, with cond as its cap.
type capTeam func(t *testing.T, s *script, cap termination.Condition) team.Team

func roundRobinCapTeam(t *testing.T, s *script, cap termination.Condition) team.Team {
	t.Helper()
	tm, err := team.NewRoundRobin(team.RoundRobinConfig{
		Participants: assistants(t, s, "Reporter", "Editor"),
		Termination:  termination.Or(termination.Done(termination.Verdict("APPROVE", "Editor")), cap),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func selectorCapTeam(t *testing.T, s *script, cap termination.Condition) team.Team {
	t.Helper()
	tm, err := team.NewSelector(team.SelectorConfig{
		Participants: assistants(t, s, "Planner", "Reporter", "Editor"),
		Client:       s,
		Termination:  termination.Or(termination.Done(termination.Verdict("TERMINATE", "Planner")), cap),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// neverApproves scripts a desk whose editor always wants more: enough
// answers for any of the caps below.
func neverApproves() *script {
	s := newScript()
	for range 10 {
		s.queue("Reporter", "Draft of the story.").queue("Editor", "Good, but I cannot APPROVE yet.").
			queue("Planner", "Not done; do not TERMINATE.").queue("selector", "Reporter", "Editor")
	}
	return s
}

// TestApproval_ACapPausesARunThatNeedsApproval checks the gate on both
// desks and for every cap: a run that requires approval and whose editor
// never approves does not end at its cap but waits, capped, for a person;
// a revision is refused with ErrCapReached (the run still waits), approve
// ends it approved and reject rejected. Without approval the cap ends the run
// as before.
func TestApproval_ACapPausesARunThatNeedsApproval(t *testing.T) {
	caps := []struct {
		name   string
		cap    termination.Condition
		prep   func(s *script)
		kind   termination.Kind
		noWait bool // the run stops within its first turn
	}{
		{name: "messages", cap: termination.MaxMessages(4), kind: termination.KindMaxMessages},
		{name: "tokens", cap: termination.TokenUsage(termination.TokenLimits{Total: 45}), kind: termination.KindTokenLimit},
		{name: "budget", cap: termination.MaxMessages(40), prep: func(s *script) {
			s.fail["Editor"] = budgetStop{}
		}, kind: termination.KindBudget},
		{name: "timeout", cap: termination.Timeout(time.Hour), prep: func(s *script) {
			s.hang["Editor"] = true
		}, kind: termination.KindTimeout},
	}
	desks := map[string]capTeam{"roundrobin": roundRobinCapTeam, "selector": selectorCapTeam}
	for deskName, build := range desks {
		for _, c := range caps {
			t.Run(deskName+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				s := neverApproves()
				if c.prep != nil {
					c.prep(s)
				}
				tm := build(t, s, c.cap)
				opts := []team.RunOption{team.WithApproval(true)}
				if c.kind == termination.KindTimeout {
					// A clock an hour on after the start: the hung call is
					// interrupted by the run's deadline at once.
					start := time.Now()
					calls := 0
					opts = append(opts, team.WithClock(func() time.Time {
						calls++
						if calls == 1 {
							return start.Add(-time.Hour)
						}
						return time.Now()
					}))
				}
				cp, res, events, err := runToCheckpoint(t, tm, team.Checkpoint{}, opts...)
				if err != nil {
					t.Fatal(err)
				}
				if res.StopReason != team.StopAwaitingApproval || !cp.Awaiting || cp.Capped == "" {
					t.Fatalf("stop %q awaiting %v capped %q; want a capped pause", res.StopReason, cp.Awaiting, cp.Capped)
				}
				if k := termination.KindOf(cp.Capped); k != c.kind {
					t.Fatalf("capped %q is a %s stop, want %s", cp.Capped, k, c.kind)
				}
				req := events[len(events)-2]
				if req.Type != team.EventApprovalRequested || !req.Capped || req.Reason != cp.Capped {
					t.Fatalf("next to last event %+v, want a capped approval_requested", req)
				}
				calls := len(s.calls)

				revise := team.Decision{Decision: team.DecisionRevise, Note: "Shorter.", By: "eic"}
				if _, _, err := team.Decide(cp, revise, time.Now()); !errors.Is(err, team.ErrCapReached) {
					t.Fatalf("Decide(revise) err %v, want ErrCapReached", err)
				}
				after, _, _, err := runToCheckpoint(t, tm, cp, team.WithApproval(true), team.WithCheckpoint(cp), team.WithDecision(revise))
				if !errors.Is(err, team.ErrCapReached) || !after.Awaiting || len(after.Messages) != len(cp.Messages) {
					t.Fatalf("revise: err %v awaiting %v; want ErrCapReached and the run still waiting", err, after.Awaiting)
				}

				for _, d := range []struct{ decision, stop string }{{team.DecisionApprove, team.StopApproved}, {team.DecisionReject, team.StopRejected}} {
					end, res, _, err := runToCheckpoint(t, tm, cp, team.WithApproval(true), team.WithCheckpoint(cp),
						team.WithDecision(team.Decision{Decision: d.decision, By: "eic"}))
					if err != nil || res.StopReason != d.stop || end.Awaiting || end.Capped != "" {
						t.Fatalf("%s: stop %q err %v awaiting %v capped %q", d.decision, res.StopReason, err, end.Awaiting, end.Capped)
					}
				}
				if len(s.calls) != calls {
					t.Fatalf("the decisions made %d model calls", len(s.calls)-calls)
				}
			})
		}
	}
}

// TestApproval_WithoutApprovalACapEndsTheRun checks that runs that do not
// require approval are unchanged: the cap is their stop reason.
func TestApproval_WithoutApprovalACapEndsTheRun(t *testing.T) {
	for name, build := range map[string]capTeam{"roundrobin": roundRobinCapTeam, "selector": selectorCapTeam} {
		t.Run(name, func(t *testing.T) {
			cp, res, events, err := runToCheckpoint(t, build(t, neverApproves(), termination.MaxMessages(4)), team.Checkpoint{})
			if err != nil || res.StopReason != "max messages reached (4)" || cp.Awaiting {
				t.Fatalf("stop %q err %v awaiting %v", res.StopReason, err, cp.Awaiting)
			}
			for _, e := range events {
				if e.Type == team.EventApprovalRequested {
					t.Fatalf("approval requested without approval: %+v", e)
				}
			}
		})
	}
}

// TestApproval_TheGroundingCapPausesARunThatNeedsApproval checks the
// grounding gate's cap: claims still unsupported when the cap comes pause
// the run (capped with the grounding stop), not end it failed.
func TestApproval_TheGroundingCapPausesARunThatNeedsApproval(t *testing.T) {
	s := newScript().queue("Reporter", "Draft with a made-up figure", "Still made up").queue("Editor", "APPROVE", "APPROVE")
	tm := approvalTeam(t, s, 4)
	check := func([]agent.Message, team.Material) team.Grounding {
		return team.Grounding{Checked: 2, Unsupported: []string{"a made-up figure"}, Author: "Reporter"}
	}
	const task = "Facts: The council met on Tuesday."
	var cp team.Checkpoint
	res, err := team.Collect(task, cp, tm.Stream(context.Background(), task, team.WithApproval(true), team.WithGrounding(check)), func(e team.Event) {
		cp.Apply(e)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != team.StopAwaitingApproval || termination.KindOf(cp.Capped) != termination.KindGrounding {
		t.Fatalf("stop %q capped %q; want a pause capped by the grounding gate", res.StopReason, cp.Capped)
	}
}

// TestApproval_ACancelStillEndsARunThatNeedsApproval checks that outside
// stops are not caps: a cancelled run ends, it does not wait.
func TestApproval_ACancelStillEndsARunThatNeedsApproval(t *testing.T) {
	stop := termination.NewExternal()
	stop.Stop("cancelled by user")
	cp, res, _, err := runToCheckpoint(t, roundRobinCapTeam(t, neverApproves(), termination.MaxMessages(10)), team.Checkpoint{},
		team.WithApproval(true), team.WithTermination(stop), team.WithCheckpoint(team.Checkpoint{Messages: []agent.Message{{Source: "Reporter", Content: "Draft"}}}))
	if err != nil || res.StopReason != "cancelled by user" || cp.Awaiting {
		t.Fatalf("stop %q err %v awaiting %v", res.StopReason, err, cp.Awaiting)
	}
}
