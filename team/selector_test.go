package team_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

func selectorTeam(t *testing.T, s *script, cfg team.SelectorConfig) team.Team {
	t.Helper()
	cfg.Participants = assistants(t, s, "Planner", "News_Reporter", "News_Editor")
	if cfg.Client == nil {
		cfg.Client = s
	}
	if cfg.Termination == nil {
		cfg.Termination = termination.Or(termination.TextMention("TERMINATE"), termination.MaxMessages(10))
	}
	tm, err := team.NewSelector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestSelector_FollowsTheModelsChoiceAndCountsItsUsage(t *testing.T) {
	s := newScript().
		queue("selector", "Planner", "news reporter", "`News_Editor`", "Planner").
		queue("Planner", "1. News_Reporter : draft", "TERMINATE").
		queue("News_Reporter", "article").
		queue("News_Editor", "looks good")
	res, err := team.Run(context.Background(), selectorTeam(t, s, team.SelectorConfig{}), "write")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Planner", "News_Reporter", "News_Editor", "Planner"}, sources(res.Messages)); diff != "" {
		t.Fatalf("speakers (-want +got):\n%s", diff)
	}
	sel := res.PerAgent[team.SelectorSource]
	if sel.Requests != 4 || sel.PromptTokens != 40 {
		t.Fatalf("selector usage %+v, want 4 calls counted", sel)
	}
	if res.Usage.Requests != 8 {
		t.Fatalf("run usage %+v must include the selector's 4 calls", res.Usage)
	}
	// The selection prompt names roles, candidates (the previous speaker excluded) and the history.
	var prompts []string
	for _, c := range s.calls {
		if c.Meta.Agent == "selector" {
			prompts = append(prompts, c.Messages[0].Content)
		}
	}
	if !strings.Contains(prompts[1], "select the next role from [News_Reporter, News_Editor] to play") {
		t.Fatalf("second selection prompt does not exclude the previous speaker:\n%s", prompts[1])
	}
	if !strings.Contains(prompts[1], "Planner: 1. News_Reporter : draft") || !strings.Contains(prompts[1], "user: write") {
		t.Fatalf("selection prompt lacks the history:\n%s", prompts[1])
	}
}

func TestSelector_RetriesWithFeedback(t *testing.T) {
	cases := []struct {
		name     string
		replies  []string
		feedback string
	}{
		{"no name", []string{"I am not sure.", "News_Reporter"}, "No valid name was mentioned"},
		{"two names", []string{"News_Reporter or News_Editor", "News_Reporter"}, "Expected exactly one name"},
		{"repeated speaker", []string{"Planner", "News_Reporter"}, "may not speak twice in a row"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScript().
				queue("Planner", "plan").
				queue("News_Reporter", "TERMINATE").
				queue("selector", append([]string{"Planner"}, c.replies...)...)
			events := []team.Event{}
			for e, err := range selectorTeam(t, s, team.SelectorConfig{}).Stream(context.Background(), "go") {
				if err != nil {
					t.Fatal(err)
				}
				events = append(events, e)
			}
			var second team.Event
			n := 0
			for _, e := range events {
				if e.Type == team.EventSpeakerSelected {
					if n++; n == 2 {
						second = e
					}
				}
			}
			if second.Speaker != "News_Reporter" || second.Attempts != 2 || second.Fallback {
				t.Fatalf("second selection %+v", second)
			}
			retry := s.calls[len(s.calls)-2] // the selector's second attempt for turn two
			last := retry.Messages[len(retry.Messages)-1]
			if retry.Meta.Agent != "selector" || !strings.Contains(last.Content, c.feedback) {
				t.Fatalf("retry feedback %q, want %q", last.Content, c.feedback)
			}
			if retry.Messages[len(retry.Messages)-2].Content != c.replies[0] {
				t.Fatalf("the model's own bad answer must precede the feedback")
			}
		})
	}
}

func TestSelector_FallbackNeverPicksThePreviousSpeaker(t *testing.T) {
	// The model insists on the previous speaker; AutoGen would loop or pick it.
	s := newScript().
		queue("selector", "Planner", "Planner", "Planner", "Planner").
		queue("Planner", "plan").
		queue("News_Reporter", "TERMINATE")
	tm := selectorTeam(t, s, team.SelectorConfig{MaxSelectorAttempts: 3})
	var fallbacks int
	var msgs []agent.Message
	for e, err := range tm.Stream(context.Background(), "go") {
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == team.EventSpeakerSelected && e.Fallback {
			fallbacks++
		}
		if e.Type == team.EventMessage {
			msgs = append(msgs, *e.Message)
		}
	}
	res := team.Result{Messages: msgs}
	if fallbacks != 1 {
		t.Fatalf("%d fallback selections, want 1", fallbacks)
	}
	if diff := cmp.Diff([]string{"Planner", "News_Reporter"}, sources(res.Messages)); diff != "" {
		t.Fatalf("speakers (-want +got):\n%s", diff)
	}
	if got := s.count("selector"); got != 4 {
		t.Fatalf("selector calls = %d, want 1 + 3 attempts", got)
	}
}

func TestSelector_CustomFunctionsOverrideTheModel(t *testing.T) {
	s := newScript().queue("News_Editor", "TERMINATE")
	tm := selectorTeam(t, s, team.SelectorConfig{
		SelectorFunc: func(_ context.Context, h []agent.Message) (string, error) {
			if len(h) == 1 {
				return "News_Editor", nil
			}
			return "", nil
		},
	})
	res, err := team.Run(context.Background(), tm, "go")
	if err != nil {
		t.Fatal(err)
	}
	if sources(res.Messages)[0] != "News_Editor" || s.count("selector") != 0 {
		t.Fatalf("selector function ignored: %v, %d model selections", sources(res.Messages), s.count("selector"))
	}

	// A candidate function leaving one candidate needs no model call.
	s2 := newScript().queue("News_Reporter", "TERMINATE")
	tm2 := selectorTeam(t, s2, team.SelectorConfig{CandidateFunc: func([]agent.Message) []string { return []string{"News_Reporter"} }})
	if _, err := team.Run(context.Background(), tm2, "go"); err != nil {
		t.Fatal(err)
	}
	if s2.count("selector") != 0 {
		t.Fatal("a single candidate must not cost a model call")
	}
}

func TestSelector_ResumesWithTheAlreadySelectedSpeaker(t *testing.T) {
	s := newScript().queue("News_Reporter", "TERMINATE")
	cp := team.Checkpoint{Messages: []agent.Message{{Source: "Planner", Content: "plan"}}, NextSpeaker: "News_Reporter"}
	res, err := team.Run(context.Background(), selectorTeam(t, s, team.SelectorConfig{}), "go", team.WithCheckpoint(cp))
	if err != nil {
		t.Fatal(err)
	}
	if s.count("selector") != 0 {
		t.Fatal("a selection made before the crash must not be made again")
	}
	if diff := cmp.Diff([]string{"Planner", "News_Reporter"}, sources(res.Messages)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
