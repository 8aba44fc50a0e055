package team_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

// A run with the grounding check on that ends before its team's work was
// done (here the message cap) yields the check of its final article, once,
// just before run_finished: a program reading the stream (the CLI, the
// service) has it without checking anything itself.
func TestRun_ACappedRunYieldsItsFinalArticlesCheck(t *testing.T) {
	s := newScript().queue("Reporter", "Draft with 4.2 million").queue("Editor", "REVISE")
	tm := approvalTeam(t, s, 2)
	var checked [][]agent.Message
	check := func(msgs []agent.Message, m team.Material) team.Grounding {
		checked = append(checked, msgs)
		return team.Grounding{Checked: 1, Unsupported: []string{"4.2 million"}, Author: "Reporter"}
	}
	const task = "Facts: The council met on Tuesday."
	var events []team.Event
	res, err := team.Collect(task, team.Checkpoint{}, tm.Stream(context.Background(), task, team.WithGrounding(check)), func(e team.Event) {
		events = append(events, e)
	})
	if err != nil {
		t.Fatal(err)
	}
	tail := types(events)[len(types(events))-3:]
	if diff := cmp.Diff([]team.EventType{team.EventMessage, team.EventGrounding, team.EventRunFinished}, tail); diff != "" {
		t.Fatalf("last events (-want +got):\n%s", diff)
	}
	if len(checked) != 1 || len(checked[0]) != 2 || res.Grounding == nil || res.Grounding.Unsupported[0] != "4.2 million" {
		t.Fatalf("checks of %v, result grounding %+v: want one check of the final two messages", checked, res.Grounding)
	}
	if termination.KindOf(res.StopReason) != termination.KindMaxMessages {
		t.Fatalf("stop %q, want the message cap (a final check does not make a grounding stop)", res.StopReason)
	}
}

// A run whose check already ran, or that pauses for approval, or that has
// no grounding check, yields no final check; a run without material says
// it was skipped.
func TestRun_TheFinalCheckComesOnlyWhenNoneRan(t *testing.T) {
	count := func(es []team.Event) int {
		n := 0
		for _, e := range es {
			if e.Type == team.EventGrounding {
				n++
			}
		}
		return n
	}
	clean := func([]agent.Message, team.Material) team.Grounding { return team.Grounding{Checked: 1} }
	const facts = "Facts: The council met on Tuesday."
	for _, tc := range []struct {
		name  string
		task  string
		opts  []team.RunOption
		want  int
		skips bool
	}{
		{"approved by the team: the check of the done work", facts, []team.RunOption{team.WithGrounding(clean)}, 1, false},
		{"paused for approval", facts, []team.RunOption{team.WithGrounding(clean), team.WithApproval(true)}, 1, false},
		{"no grounding", facts, nil, 0, false},
		{"capped without material", "Write about the bridge.", []team.RunOption{team.WithGrounding(clean)}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript().queue("Reporter", "Draft").queue("Editor", "APPROVE")
			max := 10
			if tc.skips {
				s = newScript().queue("Reporter", "Draft").queue("Editor", "REVISE")
				max = 2
			}
			var events []team.Event
			res, err := team.Collect(tc.task, team.Checkpoint{}, approvalTeam(t, s, max).Stream(context.Background(), tc.task, tc.opts...),
				func(e team.Event) { events = append(events, e) })
			if err != nil {
				t.Fatal(err)
			}
			if got := count(events); got != tc.want {
				t.Fatalf("%d grounding events, want %d: %v", got, tc.want, types(events))
			}
			if tc.skips && (res.Grounding == nil || res.Grounding.Skipped != "no sources") {
				t.Fatalf("grounding %+v, want skipped for want of sources", res.Grounding)
			}
		})
	}
}
