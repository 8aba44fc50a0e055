package team

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/newsroom-dev/newsroom/model"
)

// Structured selection: with SelectorConfig.StructuredOutput the selector
// asks for the next speaker with a strict JSON schema whose one property,
// speaker, is an enum of this turn's candidates, so the service's
// constrained decoding cannot name nobody, two agents, or one who may not
// speak now. An answer that still does not parse (a model that ignores the
// format) goes through the text parser, and a deployment that refuses the
// format with 400 gets the text protocol from then on.

// SpeakerFormatName names the selector's schema.
const SpeakerFormatName = "next_speaker"

// speakerFormat is the response format of one selection: the speaker, one
// of the candidates.
func speakerFormat(candidates []string) *model.ResponseFormat {
	enum, _ := json.Marshal(candidates)
	schema := `{"type":"object","properties":{"speaker":{"type":"string","description":"The role that speaks next.","enum":` +
		string(enum) + `}},"required":["speaker"],"additionalProperties":false}`
	return &model.ResponseFormat{Name: SpeakerFormatName, Description: "The next role to play.", Schema: json.RawMessage(schema), Strict: true}
}

// parseSpeaker reads a structured selection; ok is false when the answer
// is not the object asked for or names no candidate.
func parseSpeaker(content string, candidates []string) (string, bool) {
	var v struct {
		Speaker string `json:"speaker"`
	}
	if json.Unmarshal([]byte(strings.TrimSpace(content)), &v) != nil || !slices.Contains(candidates, v.Speaker) {
		return "", false
	}
	return v.Speaker, true
}

// refusedFormat reports whether err is the service refusing the format
// (400 naming response_format or json_schema).
func refusedFormat(err error) bool {
	var me *model.Error
	if !errors.As(err, &me) || me.StatusCode != 400 {
		return false
	}
	m := strings.ToLower(me.Message)
	return strings.Contains(m, "response_format") || strings.Contains(m, "json_schema") || strings.Contains(m, "text.format")
}
