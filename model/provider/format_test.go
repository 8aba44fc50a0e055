package provider

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/model"
)

func TestRequestBody_ResponseFormat(t *testing.T) {
	c, err := New(Config{Endpoint: "https://x.openai.azure.com", Deployment: "gpt-4o", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	schema := json.RawMessage(`{"type":"object","properties":{"speaker":{"type":"string","enum":["A","B"]}},"required":["speaker"],"additionalProperties":false}`)
	req := reporterRequest()
	req.JSONMode = true // the schema takes precedence
	req.ResponseFormat = &model.ResponseFormat{Name: "next_speaker", Description: "who speaks", Schema: schema, Strict: true}
	body, _, err := c.requestBody(req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ResponseFormat map[string]any `json:"response_format"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	_ = json.Unmarshal([]byte(`{"type":"json_schema","json_schema":{"name":"next_speaker","description":"who speaks","strict":true,"schema":`+string(schema)+`}}`), &want)
	if diff := cmp.Diff(want, got.ResponseFormat); diff != "" {
		t.Errorf("response_format (-want +got):\n%s", diff)
	}

	req.ResponseFormat = nil
	body, _, _ = c.requestBody(req)
	got.ResponseFormat = nil
	_ = json.Unmarshal(body, &got)
	if diff := cmp.Diff(map[string]any{"type": "json_object"}, got.ResponseFormat); diff != "" {
		t.Errorf("JSON mode (-want +got):\n%s", diff)
	}
}
