package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/model"
)

// toolConversation is a conversation after one round of two parallel calls.
func toolConversation() *model.Request {
	return &model.Request{
		Messages: []model.Message{
			{Role: model.RoleUser, Name: "user", Content: "Write about https://a.test/x and https://b.test/y"},
			{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{
				{ID: "call_1", Name: "fetch_url", Arguments: `{"url":"https://a.test/x"}`},
				{ID: "call_2", Name: "fetch_url", Arguments: `{"url":"https://b.test/y"}`},
			}},
			{Role: model.RoleTool, ToolCallID: "call_1", Content: `{"title":"A"}`},
			{Role: model.RoleTool, ToolCallID: "call_2", Name: "ignored", Content: `{"title":"B"}`},
		},
		Tools: []model.Tool{{Name: "fetch_url", Description: "Fetch a web page.",
			Parameters: json.RawMessage(`{"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}`)}},
		ToolChoice: model.ToolChoiceAuto,
	}
}

func TestClient_Complete_SendsToolsAndToolMessagesInAzureFormat(t *testing.T) {
	srv := newRecorder(t, false, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Done [1] [2]."}}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}`))
	})
	c, err := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(context.Background(), toolConversation()); err != nil {
		t.Fatal(err)
	}
	got := srv.only(t).Body
	wantMessages := []any{
		map[string]any{"role": "user", "name": "user", "content": "Write about https://a.test/x and https://b.test/y"},
		map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{
			map[string]any{"id": "call_1", "type": "function", "function": map[string]any{"name": "fetch_url", "arguments": `{"url":"https://a.test/x"}`}},
			map[string]any{"id": "call_2", "type": "function", "function": map[string]any{"name": "fetch_url", "arguments": `{"url":"https://b.test/y"}`}},
		}},
		map[string]any{"role": "tool", "tool_call_id": "call_1", "content": `{"title":"A"}`},
		map[string]any{"role": "tool", "tool_call_id": "call_2", "content": `{"title":"B"}`},
	}
	if diff := cmp.Diff(wantMessages, got["messages"]); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	wantTools := []any{map[string]any{"type": "function", "function": map[string]any{
		"name": "fetch_url", "description": "Fetch a web page.",
		"parameters": map[string]any{"type": "object", "properties": map[string]any{"url": map[string]any{"type": "string"}}, "required": []any{"url"}},
	}}}
	if diff := cmp.Diff(wantTools, got["tools"]); diff != "" {
		t.Errorf("tools (-want +got):\n%s", diff)
	}
	if got["tool_choice"] != "auto" {
		t.Errorf("tool_choice = %v, want auto", got["tool_choice"])
	}
}

func TestClient_Complete_NamedToolChoiceIsAnObject(t *testing.T) {
	srv := newRecorder(t, false, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"ok"}}]}`))
	})
	c, _ := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
	req := toolConversation()
	req.ToolChoice = "fetch_url"
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "function", "function": map[string]any{"name": "fetch_url"}}
	if diff := cmp.Diff(want, srv.only(t).Body["tool_choice"]); diff != "" {
		t.Errorf("tool_choice (-want +got):\n%s", diff)
	}
}

func TestClient_Complete_RejectsToolMessageWithoutCallID(t *testing.T) {
	c, _ := New(Config{Endpoint: "http://127.0.0.1:1", Deployment: "dep", APIKey: "k"})
	_, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleTool, Content: "x"}}})
	if err == nil {
		t.Fatal("a tool message without tool_call_id was sent")
	}
}

func TestClient_Complete_DecodesParallelToolCalls(t *testing.T) {
	srv := newRecorder(t, false, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[` +
			`{"id":"call_a","type":"function","function":{"name":"fetch_url","arguments":"{\"url\":\"https://a.test/\"}"}},` +
			`{"id":"call_b","type":"function","function":{"name":"read_feed","arguments":"{\"url\":\"https://b.test/feed\"}"}}]}}],` +
			`"usage":{"prompt_tokens":50,"completion_tokens":30,"total_tokens":80}}`))
	})
	c, _ := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
	resp, err := c.Complete(context.Background(), toolConversation())
	if err != nil {
		t.Fatal(err)
	}
	want := []model.ToolCall{
		{ID: "call_a", Name: "fetch_url", Arguments: `{"url":"https://a.test/"}`},
		{ID: "call_b", Name: "read_feed", Arguments: `{"url":"https://b.test/feed"}`},
	}
	if diff := cmp.Diff(want, resp.ToolCalls); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
	if resp.FinishReason != "tool_calls" || resp.Content != "" || resp.Usage.CompletionTokens != 30 {
		t.Errorf("response %+v", resp)
	}
}

func TestClient_Complete_AssemblesStreamedToolCallsInOrder(t *testing.T) {
	// Azure streams a call's id and name first, then its arguments in
	// fragments; the fragments of two parallel calls may interleave.
	const head = `{"id":"c9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":`
	const tail = `,"finish_reason":null}]}`
	events := []string{
		chunkAzureFilter,
		head + `{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"fetch_url","arguments":""}}]}` + tail,
		head + `{"tool_calls":[{"index":0,"function":{"arguments":"{\"ur"}}]}` + tail,
		head + `{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"fetch_url","arguments":""}}]}` + tail,
		head + `{"tool_calls":[{"index":0,"function":{"arguments":"l\": \"https://a.test/\"}"}}]}` + tail,
		head + `{"tool_calls":[{"index":1,"function":{"arguments":"{\"url\": \"https://b.test/\"}"}}]}` + tail,
		`{"id":"c9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		`{"id":"c9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":40,"completion_tokens":22,"total_tokens":62}}`,
		"[DONE]",
	}
	srv := newRecorder(t, false, func(w http.ResponseWriter, _ *http.Request) { sse(w, events...) })
	c, _ := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
	var deltas []model.Delta
	req := toolConversation()
	req.OnDelta = func(d model.Delta) { deltas = append(deltas, d) }
	resp, err := c.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.ToolCall{
		{ID: "call_a", Name: "fetch_url", Arguments: `{"url": "https://a.test/"}`},
		{ID: "call_b", Name: "fetch_url", Arguments: `{"url": "https://b.test/"}`},
	}
	if diff := cmp.Diff(want, resp.ToolCalls); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
	if resp.FinishReason != "tool_calls" || len(deltas) != 0 || resp.Usage.TotalTokens() != 62 {
		t.Errorf("finish %q, %d text deltas, usage %+v", resp.FinishReason, len(deltas), resp.Usage)
	}
}
