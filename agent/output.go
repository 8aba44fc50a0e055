package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/newsroom-dev/newsroom/model"
)

// Structured output: an agent whose Config.Output is set asks the model for
// an answer that is JSON valid against a schema (response_format
// json_schema on chat completions, text.format on the Responses API), and
// its message's Content is that JSON. OutputFormat derives the format from a
// Go type the way tool.NewFunc derives a tool's parameters, and
// ParseOutput decodes a message back into the type.

// ErrOutput is wrapped by the errors of ParseOutput.
var ErrOutput = errors.New("agent: the answer is not the structured output asked for")

// OutputFormat returns a strict structured-output format for answers of
// type T (a struct: exported fields with json tags; a `jsonschema:"..."`
// tag describes a field). Strict mode needs every object closed and every
// property required, so fields tagged omitempty are required too: make a
// field that may be absent a pointer, which the schema allows to be null.
// name names the format for the service ([a-zA-Z0-9_-], at most 64).
func OutputFormat[T any](name, description string) (*model.ResponseFormat, error) {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		return nil, fmt.Errorf("agent: output %s: schema: %w", name, err)
	}
	if s.Type != "object" {
		return nil, fmt.Errorf("agent: output %s: the type must be a struct (a JSON object), not %s", name, cmpType(s))
	}
	requireAll(s)
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("agent: output %s: schema: %w", name, err)
	}
	return &model.ResponseFormat{Name: name, Description: description, Schema: raw, Strict: true}, nil
}

// MustOutputFormat is OutputFormat for formats defined at start-up; it
// panics on error.
func MustOutputFormat[T any](name, description string) *model.ResponseFormat {
	f, err := OutputFormat[T](name, description)
	if err != nil {
		panic(err)
	}
	return f
}

func cmpType(s *jsonschema.Schema) string {
	if s.Type != "" {
		return s.Type
	}
	return fmt.Sprint(s.Types)
}

// requireAll lists every property of every object schema in s as required.
func requireAll(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if len(s.Properties) > 0 {
		keys := make([]string, 0, len(s.Properties))
		for k := range s.Properties {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !slices.Contains(s.Required, k) {
				s.Required = append(s.Required, k)
			}
			requireAll(s.Properties[k])
		}
	}
	requireAll(s.Items)
	for _, d := range s.Defs {
		requireAll(d)
	}
	for _, d := range s.AnyOf {
		requireAll(d)
	}
}

// ParseOutput decodes a structured answer, checking it against T's schema
// first: a message that is not the JSON asked for (a model without
// structured outputs, a cut answer) gives an error wrapping ErrOutput.
func ParseOutput[T any](m Message) (T, error) {
	var v T
	s, err := jsonschema.For[T](nil)
	if err != nil {
		return v, fmt.Errorf("agent: output schema: %w", err)
	}
	resolved, err := s.Resolve(nil)
	if err != nil {
		return v, fmt.Errorf("agent: output schema: %w", err)
	}
	var instance any
	if err := json.Unmarshal([]byte(m.Content), &instance); err != nil {
		return v, fmt.Errorf("%w: %s's message is not JSON: %v", ErrOutput, m.Source, err)
	}
	if err := resolved.Validate(instance); err != nil {
		return v, fmt.Errorf("%w: %s's message: %v", ErrOutput, m.Source, err)
	}
	if err := json.Unmarshal([]byte(m.Content), &v); err != nil {
		return v, fmt.Errorf("%w: %s's message: %v", ErrOutput, m.Source, err)
	}
	return v, nil
}
