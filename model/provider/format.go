package provider

import (
	"encoding/json"

	"github.com/newsroom-dev/newsroom/model"
)

// Structured outputs: a request's model.ResponseFormat is sent as chat
// completions' response_format {"type":"json_schema","json_schema":{...}}
// and as the Responses API's text.format {"type":"json_schema", ...} (the
// same fields, one level up).

// wireJSONSchema is the json_schema object of response_format.
type wireJSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema"`
	Strict      bool            `json:"strict"`
}

// chatFormat is the response_format of a chat completions request: the
// request's schema, else json_object in JSON mode, else none.
func chatFormat(req *model.Request) *wireFormat {
	switch f := req.ResponseFormat; {
	case f != nil:
		return &wireFormat{Type: "json_schema", JSONSchema: &wireJSONSchema{Name: f.Name, Description: f.Description, Schema: f.Schema, Strict: f.Strict}}
	case req.JSONMode:
		return &wireFormat{Type: "json_object"}
	}
	return nil
}

// textFormat is the Responses API's text.format.
type textFormat struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// responsesFormat is the text.format of a Responses API request (nil: plain text).
func responsesFormat(req *model.Request) *textFormat {
	switch f := req.ResponseFormat; {
	case f != nil:
		strict := f.Strict
		return &textFormat{Type: "json_schema", Name: f.Name, Description: f.Description, Schema: f.Schema, Strict: &strict}
	case req.JSONMode:
		return &textFormat{Type: "json_object"}
	}
	return nil
}
