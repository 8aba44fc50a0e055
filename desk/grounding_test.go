package desk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

// inventUntilTold makes the emulator's reporter add a figure no source has
// to every draft until the grounding check has sent it back.
func inventUntilTold(next model.Client) model.Client {
	return model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
		resp, err := next.Complete(ctx, req)
		if err != nil || req.Meta.Agent != desk.Reporter || resp.Content == "" {
			return resp, err
		}
		for _, m := range req.Messages {
			if strings.Contains(m.Content, "appear neither in the task nor in any source") {
				return resp, err
			}
		}
		c := *resp
		c.Content = strings.TrimRight(resp.Content, "\n") + "\n\nThe works cost 4.2 million dollars."
		return &c, nil
	})
}

// The selector desk's end is the planner's TERMINATE: the grounding gate
// holds it as it holds the editor's APPROVE, and sends the claim back to
// the reporter.
func TestDesk_GroundingHoldsAPlannersTerminate(t *testing.T) {
	t.Parallel()
	_, c := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
	tm, err := desk.New(desk.Config{Team: desk.Selector, Client: inventUntilTold(c)})
	if err != nil {
		t.Fatal(err)
	}
	task := "Facts: The city council approved a new bike lane on Main Street on Tuesday. Construction starts in March."
	var events []team.Event
	res, err := team.Collect(task, team.Checkpoint{}, tm.Stream(context.Background(), task), func(e team.Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	held := -1
	for i, m := range res.Messages {
		if m.Source == team.GroundingCheck {
			held = i
			break
		}
	}
	var sources []string
	for _, m := range res.Messages {
		sources = append(sources, m.Source)
	}
	if held < 1 {
		t.Fatalf("no %s message: %s", team.GroundingCheck, strings.Join(sources, ","))
	}
	before := res.Messages[held-1]
	if before.Source != "PlanningAgent" || !strings.Contains(before.Content, "TERMINATE") {
		t.Fatalf("the check followed %s, not the planner's TERMINATE: %s", before.Source, strings.Join(sources, ","))
	}
	if !strings.Contains(res.Messages[held].Content, "4.2 million") {
		t.Fatalf("feedback %q does not list the invented figure", res.Messages[held].Content)
	}
	if held+1 >= len(res.Messages) || res.Messages[held+1].Source != desk.Reporter {
		t.Fatalf("after the check the reporter did not speak: %s", strings.Join(sources, ","))
	}
	if termination.KindOf(res.StopReason) != termination.KindVerdict || res.Grounding == nil || len(res.Grounding.Unsupported) != 0 ||
		count(events, team.EventGrounding) < 2 {
		t.Fatalf("stop %q, grounding %+v, %d checks; want a second TERMINATE standing", res.StopReason, res.Grounding, count(events, team.EventGrounding))
	}
}

// A desk whose file says grounding: false runs no check at all: no
// grounding event during the run, no message sent back, the approval of an
// invented figure stands.
func TestDesk_GroundingFalseInTheFileRunsNoCheck(t *testing.T) {
	t.Parallel()
	task := "Facts: The bridge reopened on Monday."
	for _, tc := range []struct {
		name   string
		file   string
		checks bool
	}{
		{"grounding: false", strings.Replace(metro, "termination:", "grounding: false\ntermination:", 1), false},
		{"grounding: true", strings.Replace(metro, "termination:", "grounding: true\ntermination:", 1), true},
		{"the default", metro, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := desk.Parse("metro.yaml", []byte(tc.file), desk.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			client := model.ClientFunc(func(_ context.Context, req *model.Request) (*model.Response, error) {
				text := "APPROVE"
				if req.Meta.Agent == "Metro_Writer" {
					text = "Bridge Reopens\n\nThe bridge reopened on Monday. Repairs cost 4.2 million dollars."
				}
				return &model.Response{Content: text, FinishReason: "stop", Usage: model.Usage{Requests: 1}}, nil
			})
			tm, err := desk.New(desk.Config{Spec: s, Client: client, MaxMessages: 6})
			if err != nil {
				t.Fatal(err)
			}
			var events []team.Event
			res, err := team.Collect(task, team.Checkpoint{}, tm.Stream(context.Background(), task), func(e team.Event) { events = append(events, e) })
			if err != nil {
				t.Fatal(err)
			}
			feedback := 0
			for _, m := range res.Messages {
				if m.Source == team.GroundingCheck {
					feedback++
				}
			}
			if !tc.checks {
				if n := count(events, team.EventGrounding); n != 0 || feedback != 0 || res.Grounding != nil || len(res.Messages) != 2 ||
					termination.KindOf(res.StopReason) != termination.KindVerdict {
					t.Fatalf("%d grounding events, %d messages from %s, grounding %+v, %d messages, stop %q; want no check and the approval standing",
						n, feedback, team.GroundingCheck, res.Grounding, len(res.Messages), res.StopReason)
				}
				if s.FinalGrounding(task, res.Messages) != nil {
					t.Fatal("the final check of a capped run's output runs although the file turns grounding off")
				}
				return
			}
			if count(events, team.EventGrounding) == 0 || feedback == 0 || termination.KindOf(res.StopReason) != termination.KindGrounding {
				t.Fatalf("%d grounding events, %d messages from %s, stop %q; want the approval held until the cap",
					count(events, team.EventGrounding), feedback, team.GroundingCheck, res.StopReason)
			}
		})
	}
}
