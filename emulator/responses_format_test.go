package emulator

import (
	"encoding/json"
	"strings"
	"testing"
)

func schemaFormat(name string, strict bool, schema string) map[string]any {
	return map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": name, "strict": strict, "schema": json.RawMessage(schema)}}
}

const headlineSchema = `{"type":"object","properties":{"headline":{"type":"string"},"alternatives":{"type":"array","items":{"type":"string"}}},"required":["headline","alternatives"],"additionalProperties":false}`

func TestChat_StructuredOutput(t *testing.T) {
	r := mustStart(t, Config{APIKey: testKey}, Options{})
	key := map[string]string{"api-key": testKey}
	t.Run("the headline writer's schema", func(t *testing.T) {
		msgs := []msg{{Role: "system", Content: "You are Headline_Generator."}, {Role: "user", Name: "user", Content: testTask}}
		resp, data := do(t, r, reqOpts{path: azurePath, headers: key, body: chatBody(msgs, map[string]any{"response_format": schemaFormat("headlines", true, headlineSchema)})})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, data)
		}
		var h struct {
			Headline     string   `json:"headline"`
			Alternatives []string `json:"alternatives"`
		}
		content := decode[wireCompletion](t, data).Choices[0].Message.Content
		if err := json.Unmarshal([]byte(content), &h); err != nil || h.Headline == "" || len(h.Alternatives) != 2 || strings.HasPrefix(h.Headline, "1.") {
			t.Errorf("content %s: %+v %v", content, h, err)
		}
	})
	t.Run("the selector's schema picks a candidate as the persona would", func(t *testing.T) {
		prompt := "The following roles are available:\nPlanningAgent: plans\nNews_Reporter: writes\n\nRead the following conversation. Then select the next role from [PlanningAgent, News_Reporter] to play. Only return the role.\n\n" +
			"user: write\n\nPlanningAgent: 1. News_Reporter : draft\n\nRead the above conversation. Then select the next role from [PlanningAgent, News_Reporter] to play. Only return the role."
		schema := `{"type":"object","properties":{"speaker":{"type":"string","enum":["PlanningAgent","News_Reporter"]}},"required":["speaker"],"additionalProperties":false}`
		resp, data := do(t, r, reqOpts{path: azurePath, headers: key, body: chatBody([]msg{{Role: "system", Content: prompt}},
			map[string]any{"response_format": schemaFormat("next_speaker", true, schema)})})
		if content := decode[wireCompletion](t, data).Choices[0].Message.Content; resp.StatusCode != 200 || content != `{"speaker":"News_Reporter"}` {
			t.Errorf("status %d, content %s", resp.StatusCode, content)
		}
	})
	for _, tc := range []struct{ name, schema, want string }{
		{"an open object", `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`,
			"Invalid schema for response_format 'f': In context=(), 'additionalProperties' is required to be supplied and to be false."},
		{"a property not required", `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"required":["a"],"additionalProperties":false}`,
			"Invalid schema for response_format 'f': In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'b'."},
		{"a nested open object", `{"type":"object","properties":{"a":{"type":"object","properties":{}}},"required":["a"],"additionalProperties":false}`,
			"Invalid schema for response_format 'f': In context=('properties', 'a'), 'additionalProperties' is required to be supplied and to be false."},
		{"a root that is not an object", `{"type":"array","items":{"type":"string"}}`,
			`Invalid schema for response_format 'f': schema must be a JSON Schema of 'type: "object"', got 'type: "array"'.`},
	} {
		t.Run("strict refuses "+tc.name, func(t *testing.T) {
			resp, data := do(t, r, reqOpts{path: azurePath, headers: key, body: chatBody(simpleMsgs(), map[string]any{"response_format": schemaFormat("f", true, tc.schema)})})
			e := decode[errorBody](t, data).Error
			if resp.StatusCode != 400 || e.Message != tc.want || e.Param == nil || *e.Param != "response_format" || e.Code != nil {
				t.Errorf("status %d: %s", resp.StatusCode, data)
			}
		})
	}
	t.Run("a model without structured outputs refuses json_schema", func(t *testing.T) {
		old := mustStart(t, Config{APIKey: testKey, ModelName: "gpt-4o-2024-05-13"}, Options{})
		resp, data := do(t, old, reqOpts{path: azurePath, headers: key, body: chatBody(simpleMsgs(), map[string]any{"response_format": schemaFormat("headlines", true, headlineSchema)})})
		if resp.StatusCode != 400 || !strings.Contains(string(data), "'response_format' of type 'json_schema' is not supported with this model") {
			t.Errorf("status %d: %s", resp.StatusCode, data)
		}
	})
}
