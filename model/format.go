package model

import (
	"encoding/json"
	"regexp"
	"strings"
)

// ResponseFormat asks for structured output: an answer that is a JSON value
// valid against Schema (the service's response_format json_schema).
//
// With Strict, the service guarantees the answer matches the schema; strict
// schemas must close every object (additionalProperties false) and list
// every property as required, or the service refuses the request with 400.
type ResponseFormat struct {
	// Name identifies the schema ([a-zA-Z0-9_-], at most 64 characters).
	Name string `json:"name"`
	// Description tells the model what the value is for.
	Description string `json:"description,omitempty"`
	// Schema is the JSON Schema of the answer; its root must be an object.
	Schema json.RawMessage `json:"schema"`
	// Strict turns on the service's schema-constrained decoding.
	Strict bool `json:"strict,omitempty"`
}

// datedGPT4o matches a gpt-4o version date, such as gpt-4o-2024-05-13.
var datedGPT4o = regexp.MustCompile(`gpt-4o-(\d{4}-\d{2}-\d{2})`)

// structuredFamilies matches the model families that take json_schema, as
// a whole word of the name: gpt-4o-mini, gpt-4.1, GPT-5, o1 (not o1-mini or
// o1-preview), o3 and o4-mini.
var structuredFamilies = regexp.MustCompile(`(^|[^a-z0-9.])(gpt-5|gpt-4\.1|gpt-4o-mini|o1(-\d{4}-\d{2}-\d{2})?|o3|o4-mini)([^a-z0-9]|$)`)

var unstructuredO1 = regexp.MustCompile(`(^|[^a-z0-9])o1-(mini|preview)`)

// SupportsStructuredOutputs reports whether the named model (or a
// deployment named after its model) accepts response_format json_schema:
// gpt-4o from 2024-08-06 and gpt-4o-mini, the gpt-4.1 and GPT-5 families,
// o1, o3 and o4-mini. An unknown name gets false, so callers keep their
// text protocol for models this table does not know.
func SupportsStructuredOutputs(name string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	switch {
	case unstructuredO1.MatchString(n):
		return false
	case structuredFamilies.MatchString(n):
		return true
	case !strings.Contains(n, "gpt-4o"):
		return false
	}
	if m := datedGPT4o.FindStringSubmatch(n); m != nil {
		return m[1] >= "2024-08-06"
	}
	return true // an undated gpt-4o deployment runs a current version
}
