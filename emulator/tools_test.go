package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
)

var fetchTool = model.Tool{Name: emulator.ToolFetchURL, Description: "Fetch a web page and return its readable text.",
	Parameters: json.RawMessage(`{"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}`)}

func reporterAsks(task string) []model.Message {
	return []model.Message{
		{Role: model.RoleSystem, Content: "You are News_Reporter, a reporter in a newsroom."},
		{Role: model.RoleUser, Name: "user", Content: task},
	}
}

const twoURLTask = "Write about https://example.org/council and https://example.net/budget."

func TestEmulator_ReporterFetchesEveryURLFirstInParallel(t *testing.T) {
	t.Parallel()
	_, c := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
	ctx := context.Background()
	want := []string{`{"url":"https://example.org/council"}`, `{"url":"https://example.net/budget"}`}
	var plain, streamed *model.Response
	for _, stream := range []bool{false, true} {
		req := &model.Request{Messages: reporterAsks(twoURLTask), Tools: []model.Tool{fetchTool}}
		var deltas int
		if stream {
			req.OnDelta = func(model.Delta) { deltas++ }
		}
		resp, err := c.Complete(ctx, req)
		if err != nil {
			t.Fatalf("stream=%v: %v", stream, err)
		}
		if resp.FinishReason != "tool_calls" || resp.Content != "" || deltas != 0 {
			t.Fatalf("stream=%v: finish %q content %q, %d text deltas", stream, resp.FinishReason, resp.Content, deltas)
		}
		var args []string
		for _, tc := range resp.ToolCalls {
			if tc.Name != emulator.ToolFetchURL || !strings.HasPrefix(tc.ID, "call_") {
				t.Fatalf("call %+v", tc)
			}
			args = append(args, tc.Arguments)
		}
		if diff := cmp.Diff(want, args); diff != "" {
			t.Fatalf("stream=%v: arguments (-want +got):\n%s", stream, diff)
		}
		if resp.Usage.CompletionTokens == 0 || resp.Usage.PromptTokens == 0 {
			t.Fatalf("usage %+v", resp.Usage)
		}
		if stream {
			streamed = resp
		} else {
			plain = resp
		}
	}
	// The same conversation gets the same calls, ids included.
	if diff := cmp.Diff(plain.ToolCalls, streamed.ToolCalls); diff != "" {
		t.Fatalf("streamed calls differ (-plain +streamed):\n%s", diff)
	}
}

func TestEmulator_ReporterWritesFromToolResultsWithCitations(t *testing.T) {
	t.Parallel()
	_, c := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
	ctx := context.Background()
	first, err := c.Complete(ctx, &model.Request{Messages: reporterAsks(twoURLTask), Tools: []model.Tool{fetchTool}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := append(reporterAsks(twoURLTask), model.Message{Role: model.RoleAssistant, ToolCalls: first.ToolCalls},
		model.Message{Role: model.RoleTool, ToolCallID: first.ToolCalls[0].ID,
			Content: `{"source":1,"url":"https://example.org/council","title":"Council vote","text":"The council approved the harbour plan on Tuesday. The vote was 7 to 2 in favour."}`},
		model.Message{Role: model.RoleTool, ToolCallID: first.ToolCalls[1].ID,
			Content: `{"source":2,"url":"https://example.net/budget","title":"Budget","text":"The plan costs 14.5 million euros over three years."}`})
	resp, err := c.Complete(ctx, &model.Request{Messages: msgs, Tools: []model.Tool{fetchTool}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ToolCalls) != 0 || resp.FinishReason != "stop" {
		t.Fatalf("asked again: %+v", resp)
	}
	for _, want := range []string{"The council approved the harbour plan on Tuesday [1].", "The vote was 7 to 2 in favour [1].",
		"costs 14.5 million euros over three years [2]."} {
		if !strings.Contains(resp.Content, want) {
			t.Errorf("article lacks %q:\n%s", want, resp.Content)
		}
	}
	if strings.Contains(strings.SplitN(resp.Content, "\n", 2)[0], "[1]") {
		t.Errorf("title line carries a citation: %q", resp.Content)
	}
}

func TestEmulator_ToolChoiceNoneAndNoURLsAnswerWithText(t *testing.T) {
	t.Parallel()
	_, c := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
	for name, req := range map[string]*model.Request{
		"tool_choice none": {Messages: reporterAsks(twoURLTask), Tools: []model.Tool{fetchTool}, ToolChoice: model.ToolChoiceNone},
		"no URL in task":   {Messages: reporterAsks("Facts: The bridge reopened on Monday."), Tools: []model.Tool{fetchTool}},
		"no tools":         {Messages: reporterAsks(twoURLTask)},
	} {
		resp, err := c.Complete(context.Background(), req)
		if err != nil || len(resp.ToolCalls) != 0 || resp.Content == "" {
			t.Errorf("%s: err %v, calls %d, content %q", name, err, len(resp.ToolCalls), resp.Content)
		}
	}
}

func TestEmulator_RejectsToolMessagesThatAnswerNoCall(t *testing.T) {
	t.Parallel()
	_, c := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
	cases := map[string][]model.Message{
		"tool message without a call before it": append(reporterAsks("Facts: x."), model.Message{Role: model.RoleTool, ToolCallID: "call_x", Content: "{}"}),
		"a call left unanswered": append(reporterAsks("Facts: x."),
			model.Message{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{{ID: "call_a", Name: "fetch_url", Arguments: "{}"}}},
			model.Message{Role: model.RoleUser, Content: "and?"}),
	}
	for name, msgs := range cases {
		_, err := c.Complete(context.Background(), &model.Request{Messages: msgs, Tools: []model.Tool{fetchTool}})
		var me *model.Error
		if !errors.As(err, &me) || me.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: err %v, want a 400", name, err)
		}
	}
}

func TestEmulator_StreamsToolCallDeltasLikeAzure(t *testing.T) {
	t.Parallel()
	run, _ := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
	body, _ := json.Marshal(map[string]any{
		"messages": []map[string]any{{"role": "system", "content": "You are News_Reporter."}, {"role": "user", "name": "user", "content": twoURLTask}},
		"tools":    []map[string]any{{"type": "function", "function": map[string]any{"name": "fetch_url", "parameters": json.RawMessage(fetchTool.Parameters)}}},
		"stream":   true, "stream_options": map[string]any{"include_usage": true},
	})
	req, _ := http.NewRequest(http.MethodPost, run.URL+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", bytes.NewReader(body))
	req.Header.Set("api-key", emutest.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := run.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	type callChunk struct {
		Index    int     `json:"index"`
		ID       *string `json:"id"`
		Type     *string `json:"type"`
		Function struct {
			Name      *string `json:"name"`
			Arguments *string `json:"arguments"`
		} `json:"function"`
	}
	var heads, fragments int
	var finish string
	args := map[int]string{}
	for line := range strings.SplitSeq(string(raw), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var ch struct {
			Choices []struct {
				Delta struct {
					ToolCalls []callChunk `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			t.Fatalf("chunk %s: %v", data, err)
		}
		for _, c := range ch.Choices {
			if c.FinishReason != nil {
				finish = *c.FinishReason
			}
			for _, tc := range c.Delta.ToolCalls {
				if tc.ID != nil {
					heads++
					if tc.Type == nil || *tc.Type != "function" || tc.Function.Name == nil || *tc.Function.Name != "fetch_url" {
						t.Errorf("first piece of call %d lacks type or name: %s", tc.Index, data)
					}
					continue
				}
				fragments++
				args[tc.Index] += *tc.Function.Arguments
			}
		}
	}
	if heads != 2 || fragments < 4 || finish != "tool_calls" || !strings.HasSuffix(string(raw), "data: [DONE]\n\n") {
		t.Fatalf("%d heads, %d argument fragments, finish %q:\n%s", heads, fragments, finish, raw)
	}
	if args[0] != `{"url":"https://example.org/council"}` || args[1] != `{"url":"https://example.net/budget"}` {
		t.Fatalf("assembled arguments %v", args)
	}
}
