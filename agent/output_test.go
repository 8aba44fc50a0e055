package agent_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/newsroom-dev/newsroom/agent"
)

type verdict struct {
	Verdict string  `json:"verdict"`
	Note    string  `json:"note,omitempty"`
	Score   *int    `json:"score"`
	Claims  []claim `json:"claims"`
}

type claim struct {
	Text string `json:"text"`
	OK   bool   `json:"ok,omitempty"`
}

func TestOutputFormat_IsStrict(t *testing.T) {
	f, err := agent.OutputFormat[verdict]("verdict", "The fact check's verdict.")
	if err != nil {
		t.Fatal(err)
	}
	if !f.Strict || f.Name != "verdict" {
		t.Errorf("format %+v", f)
	}
	var s struct {
		Required             []string `json:"required"`
		AdditionalProperties bool     `json:"additionalProperties"`
		Properties           map[string]struct {
			Items struct {
				Required             []string `json:"required"`
				AdditionalProperties *bool    `json:"additionalProperties"`
			} `json:"items"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(f.Schema, &s); err != nil {
		t.Fatal(err)
	}
	slices.Sort(s.Required)
	items := s.Properties["claims"].Items
	slices.Sort(items.Required)
	if !slices.Equal(s.Required, []string{"claims", "note", "score", "verdict"}) || s.AdditionalProperties ||
		!slices.Equal(items.Required, []string{"ok", "text"}) || items.AdditionalProperties == nil || *items.AdditionalProperties {
		t.Errorf("schema %s", f.Schema)
	}
	if _, err := agent.OutputFormat[[]string]("list", ""); err == nil {
		t.Error("a list is not an object answer")
	}
}

func TestParseOutput(t *testing.T) {
	v, err := agent.ParseOutput[verdict](agent.Message{Source: "Fact_Checker",
		Content: `{"verdict":"APPROVED","note":"","score":3,"claims":[{"text":"x","ok":true}]}`})
	if err != nil || v.Verdict != "APPROVED" || v.Score == nil || *v.Score != 3 || len(v.Claims) != 1 || !v.Claims[0].OK {
		t.Errorf("parsed %+v, %v", v, err)
	}
	for _, bad := range []string{"APPROVED", `{"verdict":3,"claims":[],"score":null}`, `{"note":"no verdict"}`} {
		if _, err := agent.ParseOutput[verdict](agent.Message{Source: "Fact_Checker", Content: bad}); !errors.Is(err, agent.ErrOutput) {
			t.Errorf("ParseOutput(%q) = %v, want ErrOutput", bad, err)
		}
	}
}
