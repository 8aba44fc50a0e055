package emulator

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/newsroom-dev/newsroom/model"
)

// Structured outputs, for chat completions' response_format json_schema and
// the Responses API's text.format json_schema: the schema is checked as the
// service checks it (a strict schema must close every object with
// additionalProperties false and list every property as required), and the
// answer is the persona's reply poured into the schema, so it is JSON valid
// against it: an enum takes the value the persona's text names (the
// selector's speaker), a string the persona's first line when it is named
// like a headline or a single choice, else its whole text, a list of
// strings the remaining lines (the headline writer's alternatives).

// jsonSchemaFormat is the json_schema object of a request's format.
type jsonSchemaFormat struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Strict      *bool           `json:"strict"`
}

var schemaName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// checkFormatSchema returns the service's message for a json_schema format it
// refuses, or "".
func checkFormatSchema(f *jsonSchemaFormat, strict bool) string {
	if !schemaName.MatchString(f.Name) {
		return "Invalid 'name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
	}
	var root map[string]any
	if len(f.Schema) == 0 || json.Unmarshal(f.Schema, &root) != nil {
		return "Invalid schema for response_format '" + f.Name + "': schema must be a JSON Schema object."
	}
	if t, _ := root["type"].(string); t != "object" {
		return "Invalid schema for response_format '" + f.Name + "': schema must be a JSON Schema of 'type: \"object\"', got 'type: \"" + t + "\"'."
	}
	if !strict {
		return ""
	}
	if p := strictProblem(root, nil); p != "" {
		return "Invalid schema for response_format '" + f.Name + "': " + p
	}
	return ""
}

// strictProblem checks the strict-mode rules on s and the schemas inside it.
func strictProblem(s map[string]any, path []string) string {
	ctx := "In context=(" + contextOf(path) + "), "
	if t, _ := s["type"].(string); t == "object" || s["properties"] != nil {
		if ap, ok := s["additionalProperties"].(bool); !ok || ap {
			return ctx + "'additionalProperties' is required to be supplied and to be false."
		}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !slices.Contains(req, any(k)) {
				return ctx + "'required' is required to be supplied and to be an array including every key in properties. Missing '" + k + "'."
			}
		}
		for _, k := range keys {
			if sub, ok := props[k].(map[string]any); ok {
				if p := strictProblem(sub, append(slices.Clone(path), "properties", k)); p != "" {
					return p
				}
			}
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		if p := strictProblem(items, append(slices.Clone(path), "items")); p != "" {
			return p
		}
	}
	for _, key := range []string{"$defs", "definitions"} {
		defs, _ := s[key].(map[string]any)
		for name, d := range defs {
			if sub, ok := d.(map[string]any); ok {
				if p := strictProblem(sub, append(slices.Clone(path), key, name)); p != "" {
					return p
				}
			}
		}
	}
	for _, key := range []string{"anyOf"} {
		list, _ := s[key].([]any)
		for i, d := range list {
			if sub, ok := d.(map[string]any); ok {
				if p := strictProblem(sub, append(slices.Clone(path), key, strconv.Itoa(i))); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

func contextOf(path []string) string {
	q := make([]string, len(path))
	for i, p := range path {
		q[i] = "'" + p + "'"
	}
	return strings.Join(q, ", ")
}

// structuredReply is the persona's reply as a JSON value of the schema.
func structuredReply(msgs []model.Message, schema json.RawMessage) string {
	var root map[string]any
	_ = json.Unmarshal(schema, &root)
	text := personaReply(msgs)
	f := filler{text: text, lines: replyLines(text), defs: root}
	b, _ := json.Marshal(f.value(root, ""))
	return string(b)
}

// filler pours a persona's text into a schema.
type filler struct {
	text  string
	lines []string
	defs  map[string]any
}

var listMarker = regexp.MustCompile(`^\s*(\d+[.)]|[-*•])\s*`)

// replyLines are the text's non-empty lines without list numbers or bullets.
func replyLines(text string) []string {
	var out []string
	for l := range strings.SplitSeq(text, "\n") {
		l = strings.Trim(strings.TrimSpace(listMarker.ReplaceAllString(l, "")), `"`)
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// oneLine reports whether a property of that name holds one short choice.
func oneLine(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"headline", "title", "speaker", "name", "choice"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func (f *filler) value(s map[string]any, name string) any {
	if ref, ok := s["$ref"].(string); ok {
		key := ref[strings.LastIndex(ref, "/")+1:]
		for _, k := range []string{"$defs", "definitions"} {
			if defs, ok := f.defs[k].(map[string]any); ok {
				if d, ok := defs[key].(map[string]any); ok {
					return f.value(d, name)
				}
			}
		}
		return nil
	}
	if enum, ok := s["enum"].([]any); ok && len(enum) > 0 {
		return f.pick(enum)
	}
	if anyOf, ok := s["anyOf"].([]any); ok && len(anyOf) > 0 {
		if sub, ok := anyOf[0].(map[string]any); ok {
			return f.value(sub, name)
		}
	}
	t, _ := s["type"].(string)
	if ts, ok := s["type"].([]any); ok {
		for _, x := range ts { // the first type that is not null
			if t, _ = x.(string); t != "null" {
				break
			}
		}
	}
	switch t {
	case "object":
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		for k, p := range props {
			if sub, ok := p.(map[string]any); ok {
				out[k] = f.value(sub, k)
			}
		}
		return out
	case "array":
		items, _ := s["items"].(map[string]any)
		return f.list(s, items)
	case "string":
		if oneLine(name) && len(f.lines) > 0 {
			return f.lines[0]
		}
		return f.text
	case "integer", "number":
		return len(f.lines)
	case "boolean":
		return true
	case "null":
		return nil
	}
	return f.text
}

// pick is the enum value the text names first, else the first one.
func (f *filler) pick(enum []any) any {
	best, at := enum[0], -1
	lower := strings.ToLower(f.text)
	for _, v := range enum {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if i := strings.Index(lower, strings.ToLower(s)); i >= 0 && (at < 0 || i < at) {
			best, at = v, i
		}
	}
	return best
}

// list is an array of the lines after the first, bounded by minItems and
// maxItems.
func (f *filler) list(s, items map[string]any) []any {
	lines := f.lines
	if len(lines) > 1 {
		lines = lines[1:] // the first line went to the headline or choice
	}
	out := []any{}
	for _, l := range lines {
		if t, _ := items["type"].(string); t == "string" || items == nil {
			out = append(out, l)
		} else {
			sub := filler{text: l, lines: []string{l}, defs: f.defs}
			out = append(out, sub.value(items, ""))
		}
	}
	if n, ok := s["maxItems"].(float64); ok && len(out) > int(n) {
		out = out[:int(n)]
	}
	if n, ok := s["minItems"].(float64); ok {
		for len(out) < int(n) {
			out = append(out, f.text)
		}
	}
	return out
}

// checkChatSchema checks a chat request's response_format json_schema:
// the model must support it, and its schema must be one the service takes.
func (s *Server) checkChatSchema(c *call) string {
	f := c.req.ResponseFormat
	if f == nil || f.Type != "json_schema" {
		return ""
	}
	if !model.SupportsStructuredOutputs(s.cfg.ModelName) {
		return "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model. Learn more about supported models at the Structured Outputs guide: https://platform.openai.com/docs/guides/structured-outputs"
	}
	if f.JSONSchema == nil {
		return "Missing required parameter: 'response_format.json_schema'."
	}
	return checkFormatSchema(f.JSONSchema, f.JSONSchema.Strict != nil && *f.JSONSchema.Strict)
}
