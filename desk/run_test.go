package desk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/team"
)

const task = "Facts: The city council approved a new bike lane on Main Street on Tuesday. Construction starts in March and costs 2.1 million dollars."

func speakers(res *team.Result) []string {
	var out []string
	for _, m := range res.Messages {
		out = append(out, m.Source)
	}
	return out
}

func isSelection(r emulator.RecordedRequest) bool {
	return len(r.Messages) > 0 && strings.Contains(r.Messages[0].Content, "select the next role from")
}

func TestNew_ShippedDesksRunOnTheEmulator(t *testing.T) {
	t.Parallel()
	cases := []struct {
		desk     string
		speakers []string
		stop     string
		selects  int
	}{
		{desk.RoundRobin, []string{"News_Reporter", "News_Editor", "News_Reporter", "News_Editor"}, "verdict APPROVE from News_Editor", 0},
		// Plan-following: the selector model is asked before the plan
		// exists and once it is finished, never in between.
		{desk.Selector, []string{"PlanningAgent", "News_Reporter", "News_Editor", "News_Reporter", "Headline_Generator", "PlanningAgent"},
			`verdict TERMINATE from PlanningAgent`, 2},
		{desk.Investigations, []string{"Researcher", "News_Reporter", "Fact_Checker", "News_Reporter", "Fact_Checker", "News_Editor",
			"Headline_Generator", "Summary_Writer"}, team.StopGraphDone, 0},
	}
	for _, tc := range cases {
		t.Run(tc.desk, func(t *testing.T) {
			t.Parallel()
			em, client := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
			tm, err := desk.New(desk.Config{Team: tc.desk, Client: client})
			if err != nil {
				t.Fatal(err)
			}
			if tm.Name() != tc.desk {
				t.Errorf("team name %q", tm.Name())
			}
			res, err := team.Run(context.Background(), tm, task)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.speakers, speakers(res)); diff != "" {
				t.Errorf("speakers (-want +got):\n%s", diff)
			}
			if res.StopReason != tc.stop {
				t.Errorf("stop %q, want %q", res.StopReason, tc.stop)
			}
			selects := 0
			for _, r := range em.Requests() {
				if isSelection(r) {
					selects++
				}
			}
			if selects != tc.selects || res.PerAgent[team.SelectorSource].Requests != tc.selects {
				t.Errorf("%d selector calls (%d counted), want %d", selects, res.PerAgent[team.SelectorSource].Requests, tc.selects)
			}
			a := desk.ArticleOf(res.Messages)
			if !strings.Contains(a.Body, "According to") && tc.desk != desk.RoundRobin {
				t.Errorf("the article is not the revised draft: %q", a.Body)
			}
		})
	}
}

const custom = `name: sports
kind: selector
agents:
  - name: Sports_Writer
    description: Writes short match reports.
    prompt: |-
      You are Sports_Writer, who writes match reports.
    deployment: gpt-4o
  - name: Copy_Chief
    description: Reviews the report.
    prompt: You are Copy_Chief, who reviews reports.
    deployment: gpt-4o-mini
    max_tokens: 300
termination:
  any:
    - max_messages: 3
selector:
  deployment: selector-small
`

func TestNew_CustomDeskUsesItsPromptsAndDeploymentsOnTheWire(t *testing.T) {
	t.Parallel()
	s, err := desk.Parse("sports.yaml", []byte(custom), desk.LoadOptions{Deployments: []string{"gpt-4o", "gpt-4o-mini", "selector-small"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, override := range []string{"", "selector-override"} {
		// The run's deployment is a GPT-5 one; the desk's gpt-4o and
		// gpt-4o-mini deployments are GPT-4o ones: both families on the wire.
		em, client := emutest.Start(t, emulator.Config{Deployments: map[string]string{
			"gpt-4o": "gpt-4o-2024-11-20", "gpt-4o-mini": "gpt-4o-mini-2024-07-18"}}, "default-deployment", nil)
		tm, err := desk.New(desk.Config{Spec: s, Client: client, SelectorModel: override})
		if err != nil {
			t.Fatal(err)
		}
		res, err := team.Run(context.Background(), tm, task)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) != 3 || res.StopReason != "max messages reached (3)" {
			t.Fatalf("%d messages, stop %q", len(res.Messages), res.StopReason)
		}
		wantSelector := "selector-small"
		if override != "" {
			wantSelector = override
		}
		seen := map[string]string{}
		for _, r := range em.Requests() {
			if isSelection(r) {
				seen["selector"] = r.Deployment
				if !strings.Contains(r.Messages[0].Content, "Sports_Writer: Writes short match reports.") {
					t.Errorf("selector prompt lacks the roles: %q", r.Messages[0].Content)
				}
				continue
			}
			sys := r.Messages[0]
			if sys.Role != "system" {
				t.Fatalf("first message %+v, want the system prompt", sys)
			}
			seen[sys.Content] = r.Deployment
			if strings.HasPrefix(sys.Content, "You are Copy_Chief") && r.MaxTokens != 300 {
				t.Errorf("Copy_Chief max_tokens %d, want 300", r.MaxTokens)
			}
		}
		want := map[string]string{
			"You are Sports_Writer, who writes match reports.": "gpt-4o",
			"You are Copy_Chief, who reviews reports.":         "gpt-4o-mini",
			"selector": wantSelector,
		}
		if diff := cmp.Diff(want, seen); diff != "" {
			t.Errorf("system prompt -> deployment (-want +got):\n%s", diff)
		}
		for _, dep := range []string{"gpt-4o", "gpt-4o-mini", wantSelector} {
			if res.PerDeployment[dep].Requests == 0 {
				t.Errorf("no usage under deployment %s: %v", dep, res.PerDeployment)
			}
		}
		if len(res.PerDeployment) != 3 {
			t.Errorf("usage per deployment %v, want three deployments", res.PerDeployment)
		}
		for _, m := range res.Messages {
			if wantDep := map[string]string{"Sports_Writer": "gpt-4o", "Copy_Chief": "gpt-4o-mini"}[m.Source]; m.Deployment != wantDep {
				t.Errorf("%s answered on %q, want %q", m.Source, m.Deployment, wantDep)
			}
		}
	}
}

// TestNew_ReasoningDeploymentGetsTheReasoningCaps: on a GPT-5 deployment the
// agents that set no max_tokens, and the selector, send the reasoning
// default as max_completion_tokens; on GPT-4o the agents keep the old one.
func TestNew_ReasoningDeploymentGetsTheReasoningCaps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		deployment, modelName string
		agents, selector      int
	}{
		{"gpt-5", emulator.DefaultModelName, desk.DefaultReasoningMaxTokens, desk.DefaultReasoningMaxTokens},
		{"gpt-4o", "gpt-4o-2024-11-20", desk.DefaultMaxTokens, 0},
	} {
		em, client := emutest.Start(t, emulator.Config{ModelName: tc.modelName}, tc.deployment, nil)
		tm, err := desk.New(desk.Config{Team: desk.Selector, Client: client, Model: tc.deployment})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := team.Run(context.Background(), tm, task); err != nil {
			t.Fatal(err)
		}
		selections := 0
		for _, r := range em.Requests() {
			want := tc.agents
			if isSelection(r) {
				want = tc.selector
				selections++
			}
			if r.MaxTokens != want || r.Status != 200 {
				t.Errorf("%s: a request with max tokens %d (status %d), want %d", tc.deployment, r.MaxTokens, r.Status, want)
			}
		}
		if selections == 0 {
			t.Errorf("%s: the selector made no call", tc.deployment)
		}
	}
}
