package provider

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/model"
)

// sseServer answers every request with the given events.
func sseServer(t *testing.T, events ...string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range events {
			typ := e[len(`{"type":"`) : strings.Index(e[len(`{"type":"`):], `"`)+len(`{"type":"`)]
			_, _ = w.Write([]byte("event: " + typ + "\ndata: " + e + "\n\n"))
		}
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{Kind: KindOpenAI, BaseURL: srv.URL + "/v1", Model: "m", API: APIResponses})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func streamed(c *Client) (*model.Response, string, error) {
	var b strings.Builder
	req := reporterRequest()
	req.OnDelta = func(d model.Delta) { b.WriteString(d.Text) }
	resp, err := c.Complete(context.Background(), req)
	return resp, b.String(), err
}

func TestResponsesStream_ItemsFromTheDoneEvents(t *testing.T) {
	c := sseServer(t,
		`{"type":"response.created","response":{"id":"resp_1","status":"in_progress","output":[]}}`,
		`{"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"fetch_url","arguments":""}}`,
		`{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"{\"url\":"}`,
		`{"type":"response.output_item.done","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"fetch_url","arguments":"{\"url\":\"https://a.test/\"}"}}`,
		`{"type":"response.completed","response":{"id":"resp_1","model":"gpt-5-mini","status":"completed","output":[],"usage":{"input_tokens":10,"output_tokens":30,"output_tokens_details":{"reasoning_tokens":20}}}}`)
	resp, text, err := streamed(c)
	if err != nil {
		t.Fatal(err)
	}
	if text != "" || resp.FinishReason != "tool_calls" || len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Arguments != `{"url":"https://a.test/"}` ||
		resp.ToolCalls[0].ItemID != "fc_1" || resp.Usage.ReasoningTokens != 20 || resp.Usage.CompletionTokens != 30 || resp.Model != "gpt-5-mini" {
		t.Errorf("answer %+v", resp)
	}
}

func TestResponsesStream_Failures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []string
		code   string
		cut    bool
	}{
		{"an error event", []string{`{"type":"response.output_text.delta","delta":"Hi"}`,
			`{"type":"error","code":"server_error","message":"The server had an error.","param":null}`}, "server_error", true},
		{"a failed response", []string{`{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"boom"}}}`}, "server_error", true},
		{"no terminal event", []string{`{"type":"response.output_text.delta","delta":"Hi"}`}, "", true},
		{"a filtered answer", []string{`{"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":"content_filter"},"output":[]}}`}, "content_filter", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := streamed(sseServer(t, tc.events...))
			var me *model.Error
			if !errors.As(err, &me) || me.Code != tc.code || errors.Is(err, model.ErrStreamCut) != tc.cut {
				t.Errorf("error = %v (code %q), want code %q, cut %v", err, me.Code, tc.code, tc.cut)
			}
		})
	}
	t.Run("an incomplete answer is cut at its length", func(t *testing.T) {
		resp, text, err := streamed(sseServer(t, `{"type":"response.output_text.delta","delta":"Half"}`,
			`{"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[{"type":"message","content":[{"type":"output_text","text":"Half"}]}]}}`))
		if err != nil || resp.FinishReason != "length" || resp.Content != "Half" || text != "Half" {
			t.Errorf("answer %+v, %v", resp, err)
		}
	})
}
