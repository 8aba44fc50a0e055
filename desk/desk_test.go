package desk_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/model"
)

func TestNew_BuildsBothTeamsWithTheOriginalNames(t *testing.T) {
	c := model.ClientFunc(nil)
	cases := map[string][]string{
		desk.RoundRobin: {"News_Reporter", "News_Editor"},
		desk.Selector:   {"PlanningAgent", "News_Reporter", "News_Editor", "Headline_Generator"},
	}
	for kind, want := range cases {
		t.Run(kind, func(t *testing.T) {
			tm, err := desk.New(desk.Config{Team: kind, Client: c})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range tm.Participants() {
				got = append(got, p.Name())
				if p.Description() == "" {
					t.Errorf("%s has no description", p.Name())
				}
				sp := p.(*agent.Assistant).SystemPrompt()
				if !strings.HasPrefix(sp, "You are "+p.Name()) {
					t.Errorf("%s: system prompt must start with 'You are %s'", p.Name(), p.Name())
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("participants (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := desk.New(desk.Config{Team: "chaos", Client: c}); !errors.Is(err, desk.ErrUnknownTeam) {
		t.Fatalf("unknown team: %v", err)
	}
	if _, err := desk.New(desk.Config{}); err == nil {
		t.Fatal("a team without a client must be refused")
	}
}

func TestArticleOf_TakesTheLastDraftAndHeadlines(t *testing.T) {
	msgs := []agent.Message{
		{Source: desk.Planner, Content: "1. News_Reporter : draft"},
		{Source: desk.Reporter, Content: "First draft"},
		{Source: desk.Editor, Content: "Tighten it.\nREVISE"},
		{Source: desk.Reporter, Content: "Final draft\n\nSecond paragraph."},
		{Source: desk.Headliner, Content: "Here are three:\n1. **Bike lane approved**\n2. \"Main Street gets a lane\"\n3. Work starts in March"},
	}
	a := desk.ArticleOf(msgs)
	if a.Body != "Final draft\n\nSecond paragraph." {
		t.Fatalf("body %q", a.Body)
	}
	if diff := cmp.Diff([]string{"Bike lane approved", "Main Street gets a lane", "Work starts in March"}, a.Headlines); diff != "" {
		t.Fatalf("headlines (-want +got):\n%s", diff)
	}
	want := "# Bike lane approved\n\n- Main Street gets a lane\n- Work starts in March\n\nFinal draft\n\nSecond paragraph.\n"
	if got := a.Markdown(); got != want {
		t.Fatalf("markdown:\n%q\nwant\n%q", got, want)
	}
	if got := desk.ArticleOf(msgs[:2]).Markdown(); got != "First draft\n" {
		t.Fatalf("without headlines: %q", got)
	}
}
