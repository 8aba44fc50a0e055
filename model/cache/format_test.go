package cache_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/memory"
)

func TestKey_ResponseFormatAndReasoningEffort(t *testing.T) {
	base := func() *model.Request {
		return &model.Request{Model: "gpt-5-mini", Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}}
	}
	plain := cache.Key("ns", base())
	structured := base()
	structured.ResponseFormat = &model.ResponseFormat{Name: "a", Strict: true, Schema: json.RawMessage(`{"type":"object"}`)}
	other := base()
	other.ResponseFormat = &model.ResponseFormat{Name: "a", Strict: true, Schema: json.RawMessage(`{"type":"object","properties":{}}`)}
	effort := base()
	effort.ReasoningEffort = "low"
	keys := map[string]string{"plain": plain, "structured": cache.Key("ns", structured), "other schema": cache.Key("ns", other), "effort": cache.Key("ns", effort)}
	seen := map[string]string{}
	for name, k := range keys {
		if prev, dup := seen[k]; dup {
			t.Errorf("%s and %s share a key", name, prev)
		}
		seen[k] = name
	}
}

func TestClient_ToolCallAnswersReplayTheirReasoning(t *testing.T) {
	reasoning := json.RawMessage(`[{"type":"reasoning","id":"rs_1","encrypted_content":"gAAA"}]`)
	calls := 0
	next := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		calls++
		return &model.Response{FinishReason: "tool_calls", Reasoning: reasoning, Usage: model.Usage{PromptTokens: 5, CompletionTokens: 9, Requests: 1},
			ToolCalls: []model.ToolCall{{ID: "call_1", Name: "fetch_url", Arguments: `{}`, ItemID: "fc_1"}}}, nil
	})
	c := cache.Wrap(next, cache.Config{Store: memory.New(memory.Config{})})
	req := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "fetch"}}, Tools: []model.Tool{{Name: "fetch_url"}}}
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	hit, err := c.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || !hit.Cached || string(hit.Reasoning) != string(reasoning) || len(hit.ToolCalls) != 1 || hit.ToolCalls[0].ItemID != "fc_1" {
		t.Errorf("hit %+v after %d calls", hit, calls)
	}
}
