package team_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

// recording passes calls to a client and keeps the requests and answers.
type recording struct {
	next model.Client
	mu   sync.Mutex
	reqs []*model.Request
	outs []string
	errs []error
}

func (r *recording) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := r.next.Complete(ctx, req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs, r.errs = append(r.reqs, req), append(r.errs, err)
	if resp != nil {
		r.outs = append(r.outs, resp.Content)
	} else {
		r.outs = append(r.outs, "")
	}
	return resp, err
}

// emulatedSelector is a selector whose model is the emulator as modelName.
func emulatedSelector(t *testing.T, modelName string) *recording {
	t.Helper()
	em, err := emulator.Start(emulator.Config{ModelName: modelName}, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = em.Close() })
	c, err := provider.New(provider.Config{Endpoint: em.URL, Deployment: "selector", APIKey: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	return &recording{next: c}
}

// plannedTeam is a selector team led by PlanningAgent, the planner the
// emulator's selection persona follows.
func plannedTeam(t *testing.T, s *script, cfg team.SelectorConfig) team.Team {
	t.Helper()
	cfg.Participants = assistants(t, s, "PlanningAgent", "News_Reporter", "News_Editor")
	if cfg.Client == nil {
		cfg.Client = s
	}
	cfg.Termination = termination.Or(termination.TextMention("TERMINATE"), termination.MaxMessages(10))
	tm, err := team.NewSelector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func planScript() *script {
	return newScript().
		queue("PlanningAgent", "1. News_Reporter : Draft the article.\n2. News_Editor : Review it.").
		queue("News_Reporter", "The bridge reopened on Monday.").
		queue("News_Editor", "Looks good. TERMINATE")
}

func selectionEvents(t *testing.T, tm team.Team) (speakers []string, events []team.Event) {
	t.Helper()
	for e, err := range tm.Stream(context.Background(), "Facts: The bridge reopened on Monday.") {
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == team.EventSpeakerSelected {
			speakers, events = append(speakers, e.Speaker), append(events, e)
		}
	}
	return speakers, events
}

func TestSelector_StructuredSpeakerIsAnEnumOfTheCandidates(t *testing.T) {
	rec := emulatedSelector(t, "gpt-4o-2024-11-20")
	speakers, events := selectionEvents(t, plannedTeam(t, planScript(), team.SelectorConfig{Client: rec, StructuredOutput: true}))
	if diff := cmp.Diff([]string{"PlanningAgent", "News_Reporter", "News_Editor"}, speakers); diff != "" {
		t.Fatalf("speakers (-want +got):\n%s", diff)
	}
	for _, e := range events {
		if e.Attempts != 1 || e.Fallback {
			t.Errorf("selection %+v: want one structured call", e)
		}
	}
	wantCandidates := [][]string{{"PlanningAgent", "News_Reporter", "News_Editor"}, {"News_Reporter", "News_Editor"}, {"PlanningAgent", "News_Editor"}}
	for i, req := range rec.reqs {
		f := req.ResponseFormat
		if f == nil || f.Name != team.SpeakerFormatName || !f.Strict {
			t.Fatalf("selection %d asked %+v", i, f)
		}
		var s struct {
			Properties struct {
				Speaker struct {
					Enum []string `json:"enum"`
				} `json:"speaker"`
			} `json:"properties"`
			Required             []string `json:"required"`
			AdditionalProperties bool     `json:"additionalProperties"`
		}
		if err := json.Unmarshal(f.Schema, &s); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Properties.Speaker.Enum, wantCandidates[i]) || !slices.Equal(s.Required, []string{"speaker"}) || s.AdditionalProperties {
			t.Errorf("selection %d schema %s", i, f.Schema)
		}
		if want := `{"speaker":"` + speakers[i] + `"}`; rec.outs[i] != want {
			t.Errorf("selection %d answered %s, want %s", i, rec.outs[i], want)
		}
	}
}

func TestSelector_TextFallbackWhereTheDeploymentRefusesTheSchema(t *testing.T) {
	rec := emulatedSelector(t, "gpt-4o-2024-05-13") // before structured outputs
	speakers, _ := selectionEvents(t, plannedTeam(t, planScript(), team.SelectorConfig{Client: rec, StructuredOutput: true}))
	if diff := cmp.Diff([]string{"PlanningAgent", "News_Reporter", "News_Editor"}, speakers); diff != "" {
		t.Fatalf("speakers (-want +got):\n%s", diff)
	}
	if len(rec.reqs) != 4 || rec.reqs[0].ResponseFormat == nil || rec.errs[0] == nil || !strings.Contains(rec.errs[0].Error(), "json_schema") {
		t.Fatalf("first call %+v: %v; want the schema refused", rec.reqs[0].ResponseFormat, rec.errs[0])
	}
	for i, req := range rec.reqs[1:] {
		if req.ResponseFormat != nil || rec.errs[i+1] != nil {
			t.Errorf("call %d after the refusal: format %+v, error %v; want text", i+1, req.ResponseFormat, rec.errs[i+1])
		}
	}
}

func TestSelector_StructuredAnswerThatDoesNotParseGoesToTheTextParser(t *testing.T) {
	s := planScript().queue("selector", "PlanningAgent", `{"speaker": "News_Reporter"}`, "I pick News_Editor.")
	speakers, events := selectionEvents(t, plannedTeam(t, s, team.SelectorConfig{StructuredOutput: true}))
	if diff := cmp.Diff([]string{"PlanningAgent", "News_Reporter", "News_Editor"}, speakers); diff != "" {
		t.Fatalf("speakers (-want +got):\n%s", diff)
	}
	for _, e := range events {
		if e.Attempts != 1 || e.Fallback {
			t.Errorf("selection %+v", e)
		}
	}
	t.Run("without StructuredOutput no schema is sent", func(t *testing.T) {
		s := planScript().queue("selector", "PlanningAgent", "News_Reporter", "News_Editor")
		selectionEvents(t, plannedTeam(t, s, team.SelectorConfig{}))
		for _, c := range s.calls {
			if c.ResponseFormat != nil {
				t.Errorf("%s asked for %+v", c.Meta.Agent, c.ResponseFormat)
			}
		}
	})
}
