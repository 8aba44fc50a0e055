package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
)

// bodyRecorder keeps the request bodies a client sends.
type bodyRecorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies [][]byte
}

func (b *bodyRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		_ = r.Body.Close()
		b.mu.Lock()
		b.bodies = append(b.bodies, data)
		b.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(data))
	}
	return b.next.RoundTrip(r)
}

func (b *bodyRecorder) body(t *testing.T, i int) map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var m map[string]any
	if err := json.Unmarshal(b.bodies[i], &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var fetchTool = model.Tool{Name: "fetch_url", Description: "Fetch a web page.",
	Parameters: json.RawMessage(`{"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}`)}

func responsesClient(t *testing.T, e *emulator.Running, cfg Config) (*Client, *bodyRecorder) {
	t.Helper()
	hc := trusting(e)
	rec := &bodyRecorder{next: hc.Transport}
	hc.Transport = rec
	cfg.Endpoint, cfg.API, cfg.HTTPClient = e.URL, APIResponses, hc
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestResponses_StreamedToolLoopCarriesReasoning(t *testing.T) {
	e := startEmulator(t, emulator.Config{APIKey: "emu-key", ModelName: "gpt-5-mini"}, true)
	c, wire := responsesClient(t, e, Config{Deployment: "newsroom-gpt5", APIKey: "emu-key"})
	ctx := context.Background()
	req := &model.Request{
		Messages: []model.Message{
			{Role: model.RoleSystem, Content: "You are News_Reporter. You write news articles based on given facts."},
			{Role: model.RoleUser, Name: "user", Content: "Write a short article from https://news.example/fair, where the town fair opened."},
		},
		Tools: []model.Tool{fetchTool}, ReasoningEffort: "low", MaxTokens: 4000,
	}
	var streamed strings.Builder
	req.OnDelta = func(d model.Delta) { streamed.WriteString(d.Text) }
	first, err := c.Complete(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.FinishReason != "tool_calls" || len(first.ToolCalls) != 1 || first.ToolCalls[0].Name != "fetch_url" ||
		!strings.HasPrefix(first.ToolCalls[0].ItemID, "fc_") || len(first.Reasoning) == 0 {
		t.Fatalf("first answer = %+v", first)
	}
	if u := first.Usage; u.ReasoningTokens == 0 || u.CompletionTokens <= u.ReasoningTokens || u.PromptTokens == 0 || u.Requests != 1 {
		t.Errorf("first usage = %+v", u)
	}
	body := wire.body(t, 0)
	if body["store"] != false || body["model"] != "newsroom-gpt5" || body["stream"] != true ||
		body["max_output_tokens"] != 4000.0 || body["reasoning"].(map[string]any)["effort"] != "low" {
		t.Errorf("first request = %v", body)
	}
	if inc, _ := body["include"].([]any); len(inc) != 1 || inc[0] != "reasoning.encrypted_content" {
		t.Errorf("include = %v", body["include"])
	}

	// The next round hands back the reasoning with the call and its result.
	next := *req
	streamed.Reset()
	next.Messages = append(append([]model.Message{}, req.Messages...),
		model.Message{Role: model.RoleAssistant, ToolCalls: first.ToolCalls, Reasoning: first.Reasoning},
		model.Message{Role: model.RoleTool, ToolCallID: first.ToolCalls[0].ID,
			Content: `{"source":1,"title":"Fair opens","text":"The town fair opened on Saturday with 40 stalls and a parade."}`})
	second, err := c.Complete(ctx, &next)
	if err != nil {
		t.Fatal(err)
	}
	if second.FinishReason != "stop" || second.Content == "" || streamed.String() != second.Content || len(second.ToolCalls) != 0 ||
		!strings.Contains(second.Content, "40 stalls") {
		t.Fatalf("second answer = %+v, streamed %q", second, streamed.String())
	}
	input := wire.body(t, 1)["input"].([]any)
	var types []string
	for _, it := range input {
		types = append(types, it.(map[string]any)["type"].(string))
	}
	if got := strings.Join(types, ","); got != "message,message,reasoning,function_call,function_call_output" {
		t.Errorf("input items = %s", got)
	}
	if rs := input[2].(map[string]any); rs["encrypted_content"] == nil || rs["encrypted_content"] == "" {
		t.Errorf("reasoning item sent back without its encrypted content: %v", rs)
	}
	if fc := input[3].(map[string]any); fc["id"] != first.ToolCalls[0].ItemID || fc["call_id"] != first.ToolCalls[0].ID {
		t.Errorf("function call item = %v", fc)
	}
	for _, r := range e.Requests() {
		if r.Path != "/openai/v1/responses" || r.APIVersion != "" || r.Auth != emulator.AuthAPIKey || r.Deployment != "newsroom-gpt5" || r.Status != 200 {
			t.Errorf("recorded %+v", r)
		}
	}
}

func TestResponses_NotStreamedWithEntraBearer(t *testing.T) {
	e := startEmulator(t, emulator.Config{APIKey: "emu-key", ModelName: "gpt-5-mini",
		TokenValidator: func(tok string) bool { return tok == "entra-tok" }}, true)
	cred := &fakeCredential{token: "entra-tok"}
	c, _ := responsesClient(t, e, Config{Deployment: "dep5", Credential: cred})
	resp, err := c.Complete(context.Background(), reporterRequest())
	if err != nil {
		t.Fatal(err)
	}
	if resp.FinishReason != "stop" || !strings.Contains(resp.Content, "40 stalls") || resp.Model != "gpt-5-mini" ||
		resp.Usage.ReasoningTokens == 0 || len(resp.Reasoning) != 0 {
		t.Errorf("answer = %+v", resp)
	}
	if got := e.Requests()[0]; got.Auth != emulator.AuthBearer || got.Path != emulator.ResponsesPath {
		t.Errorf("recorded %+v", got)
	}
	if len(cred.scopes) == 0 || cred.scopes[0][0] != Scope {
		t.Errorf("token scopes = %v", cred.scopes)
	}
}

func TestResponses_ErrorsAreModelErrors(t *testing.T) {
	e := startEmulator(t, emulator.Config{APIKey: "emu-key", ModelName: "gpt-5-mini"}, true)
	c, _ := responsesClient(t, e, Config{Deployment: "dep5", APIKey: "emu-key"})
	t.Run("a parameter the model refuses", func(t *testing.T) {
		req := reporterRequest()
		temp := 0.2
		req.Temperature = &temp
		_, err := c.Complete(context.Background(), req)
		var me *model.Error
		if !errors.As(err, &me) || me.StatusCode != 400 || me.Code != "unsupported_parameter" || !strings.Contains(me.Message, "'temperature'") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("a budget too small for the reasoning", func(t *testing.T) {
		req := reporterRequest()
		req.MaxTokens, req.ReasoningEffort = 16, "high"
		resp, err := c.Complete(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.FinishReason != "length" || resp.Content != "" || resp.Usage.ReasoningTokens != 16 {
			t.Errorf("answer = %+v", resp)
		}
	})
	t.Run("a stream cut before response.completed", func(t *testing.T) {
		e.Force(emulator.ForcedFault{Fault: emulator.FaultCut})
		defer e.Force(emulator.ForcedFault{Fault: emulator.FaultNone})
		req := reporterRequest()
		req.OnDelta = func(model.Delta) {}
		_, err := c.Complete(context.Background(), req)
		if !errors.Is(err, model.ErrStreamCut) {
			t.Errorf("error = %v, want a cut stream", err)
		}
	})
}

func TestResponses_StructuredOutput(t *testing.T) {
	e := startEmulator(t, emulator.Config{APIKey: "emu-key", ModelName: "gpt-5-mini"}, true)
	c, wire := responsesClient(t, e, Config{Deployment: "dep5", APIKey: "emu-key"})
	req := reporterRequest()
	req.Messages[0].Content = "You are Headline_Generator. Write three headlines."
	req.ResponseFormat = &model.ResponseFormat{Name: "headlines", Strict: true, Schema: json.RawMessage(
		`{"type":"object","properties":{"headline":{"type":"string"},"alternatives":{"type":"array","items":{"type":"string"}}},"required":["headline","alternatives"],"additionalProperties":false}`)}
	resp, err := c.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Headline     string   `json:"headline"`
		Alternatives []string `json:"alternatives"`
	}
	if err := json.Unmarshal([]byte(resp.Content), &got); err != nil || got.Headline == "" || len(got.Alternatives) != 2 {
		t.Errorf("answer %q: %+v %v", resp.Content, got, err)
	}
	format := wire.body(t, 0)["text"].(map[string]any)["format"].(map[string]any)
	if format["type"] != "json_schema" || format["name"] != "headlines" || format["strict"] != true || format["schema"] == nil {
		t.Errorf("text.format = %v", format)
	}
}

func TestResponsesBody_SmallBudgetIsRaisedToTheMinimum(t *testing.T) {
	c, err := New(Config{Endpoint: "https://x.openai.azure.com", Deployment: "d", APIKey: "k", API: APIResponses})
	if err != nil {
		t.Fatal(err)
	}
	req := reporterRequest()
	req.MaxTokens = 5
	body, _, err := c.responsesBody(req)
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		MaxOutputTokens int  `json:"max_output_tokens"`
		Store           bool `json:"store"`
	}
	if err := json.Unmarshal(body, &w); err != nil || w.MaxOutputTokens != 16 || w.Store {
		t.Errorf("body %s", body)
	}
	if got := c.responsesURL(); got != "https://x.openai.azure.com/openai/v1/responses" {
		t.Errorf("URL %s", got)
	}
}

func TestResponses_ModelWithoutReasoning(t *testing.T) {
	e := startEmulator(t, emulator.Config{APIKey: "emu-key", ModelName: "gpt-4o-2024-11-20"}, true)
	c, wire := responsesClient(t, e, Config{Deployment: "gpt-4o", APIKey: "emu-key"})
	req := &model.Request{Messages: []model.Message{
		{Role: model.RoleSystem, Content: "You are News_Reporter. You write news articles."},
		{Role: model.RoleUser, Name: "user", Content: "Write a short article from https://news.example/fair."},
	}, Tools: []model.Tool{fetchTool}}
	first, err := c.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.ToolCalls) != 1 || first.Reasoning != nil || first.Usage.ReasoningTokens != 0 {
		t.Fatalf("first answer %+v", first)
	}
	next := *req
	next.Messages = append(append([]model.Message{}, req.Messages...),
		model.Message{Role: model.RoleAssistant, ToolCalls: first.ToolCalls, Reasoning: first.Reasoning},
		model.Message{Role: model.RoleTool, ToolCallID: first.ToolCalls[0].ID, Content: `{"text":"The fair opened with 40 stalls on Saturday."}`})
	second, err := c.Complete(context.Background(), &next)
	if err != nil || second.FinishReason != "stop" || !strings.Contains(second.Content, "40 stalls") {
		t.Fatalf("second answer %+v, %v", second, err)
	}
	fc := wire.body(t, 1)["input"].([]any)[2].(map[string]any)
	if fc["type"] != "function_call" || fc["id"] != nil {
		t.Errorf("a call without reasoning is sent without its item id: %v", fc)
	}
}
