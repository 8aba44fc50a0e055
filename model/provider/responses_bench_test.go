package provider

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/newsroom-dev/newsroom/model"
)

// responsesEvents is a short streamed Responses answer: a reasoning item,
// a message with two text deltas, and response.completed.
var responsesEvents = []string{
	`{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","output":[]}}`,
	`{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}`,
	`{"type":"response.output_item.done","sequence_number":2,"output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[],"encrypted_content":"gAAAA"}}`,
	`{"type":"response.output_item.added","sequence_number":3,"output_index":1,"item":{"id":"msg_1","type":"message","role":"assistant","status":"in_progress","content":[]}}`,
	`{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"Hello"}`,
	`{"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_1","output_index":1,"content_index":0,"delta":" world"}`,
	`{"type":"response.completed","sequence_number":6,"response":{"id":"resp_1","model":"gpt-5-mini","status":"completed","output":[{"id":"rs_1","type":"reasoning","summary":[],"encrypted_content":"gAAAA"},{"id":"msg_1","type":"message","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Hello world","annotations":[]}]}],"usage":{"input_tokens":20,"input_tokens_details":{"cached_tokens":0},"output_tokens":40,"output_tokens_details":{"reasoning_tokens":38},"total_tokens":60}}}`,
}

// BenchmarkClient_CompleteResponsesStreaming is BenchmarkClient_CompleteStreaming
// on the Responses API.
func BenchmarkClient_CompleteResponsesStreaming(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range responsesEvents {
			_, _ = w.Write([]byte("data: " + e + "\n\n"))
		}
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k", API: APIResponses})
	if err != nil {
		b.Fatal(err)
	}
	req := fullRequest()
	req.OnDelta = func(model.Delta) {}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Complete(context.Background(), req)
		if err != nil || resp.Content != "Hello world" {
			b.Fatal(resp, err)
		}
	}
}
