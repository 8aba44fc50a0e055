package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/model"
)

func sse(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("x-request-id", "stream-req-9")
	for _, e := range events {
		fmt.Fprintf(w, "data: %s\n\n", e)
		w.(http.Flusher).Flush()
	}
}

const (
	chunkRole   = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`
	chunkHello  = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}`
	chunkWorld  = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":", world."},"finish_reason":null}]}`
	chunkFinish = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`
	chunkUsage  = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":4,"total_tokens":24,"prompt_tokens_details":{"cached_tokens":16}}}`
	// Azure's first chunk carries only prompt filter results.
	chunkAzureFilter = `{"id":"","object":"","created":0,"model":"","choices":[],"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}`
)

func streamingRequest(deltas *[]model.Delta) *model.Request {
	return &model.Request{
		Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}},
		OnDelta:  func(d model.Delta) { *deltas = append(*deltas, d) },
	}
}

func TestClient_Complete_StreamingAssemblesResponse(t *testing.T) {
	srv := newRecorder(t, false, func(w http.ResponseWriter, _ *http.Request) {
		sse(w, chunkAzureFilter, chunkRole, chunkHello, chunkWorld, chunkFinish, chunkUsage, "[DONE]")
	})
	c, err := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	var deltas []model.Delta
	resp, err := c.Complete(context.Background(), streamingRequest(&deltas))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]model.Delta{{Text: "Hello"}, {Text: ", world."}}, deltas); diff != "" {
		t.Errorf("deltas (-want +got):\n%s", diff)
	}
	want := &model.Response{ID: "c1", Model: "gpt-4o-mini", Content: "Hello, world.", FinishReason: "stop",
		Usage: model.Usage{PromptTokens: 20, CompletionTokens: 4, CachedPromptTokens: 16, Requests: 1}}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	got := srv.only(t)
	if got.Body["stream"] != true {
		t.Errorf("stream = %v", got.Body["stream"])
	}
	if diff := cmp.Diff(map[string]any{"include_usage": true}, got.Body["stream_options"]); diff != "" {
		t.Errorf("stream_options (-want +got):\n%s", diff)
	}
}

func TestClient_Complete_StreamCut(t *testing.T) {
	tests := []struct {
		name   string
		handle http.HandlerFunc
	}{
		{"ends without finish reason or DONE", func(w http.ResponseWriter, _ *http.Request) {
			sse(w, chunkRole, chunkHello)
		}},
		{"connection dropped mid-way", func(w http.ResponseWriter, _ *http.Request) {
			sse(w, chunkRole, chunkHello)
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = buf.Flush()
				_ = conn.Close()
			}
		}},
		{"malformed chunk", func(w http.ResponseWriter, _ *http.Request) {
			sse(w, chunkRole, chunkHello, `{"id": "c1", "choices": [`)
		}},
		{"error event in the stream", func(w http.ResponseWriter, _ *http.Request) {
			sse(w, chunkRole, chunkHello, `{"error":{"code":"server_error","message":"The server had an error"}}`)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRecorder(t, false, tc.handle)
			c, err := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
			if err != nil {
				t.Fatal(err)
			}
			var deltas []model.Delta
			resp, err := c.Complete(context.Background(), streamingRequest(&deltas))
			if !errors.Is(err, model.ErrStreamCut) {
				t.Fatalf("err = %v (resp %+v), want ErrStreamCut", err, resp)
			}
			var me *model.Error
			if !errors.As(err, &me) {
				t.Fatalf("err %T is not a *model.Error", err)
			}
			if len(deltas) == 0 || deltas[0].Text != "Hello" {
				t.Errorf("deltas before the cut = %v", deltas)
			}
		})
	}
}

func TestClient_Complete_StreamContentFilterEventIsNotACut(t *testing.T) {
	srv := newRecorder(t, false, func(w http.ResponseWriter, _ *http.Request) {
		sse(w, chunkRole, `{"error":{"code":"content_filter","message":"filtered","innererror":{"content_filter_result":{"violence":{"filtered":true,"severity":"high"}}}}}`)
	})
	c, _ := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
	var deltas []model.Delta
	_, err := c.Complete(context.Background(), streamingRequest(&deltas))
	var me *model.Error
	if !errors.As(err, &me) || me.Code != "content_filter" || errors.Is(err, model.ErrStreamCut) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(me.Message, "violence") {
		t.Errorf("message %q does not name the category", me.Message)
	}
}

func TestClient_Complete_StreamingHTTPError(t *testing.T) {
	srv := newRecorder(t, false, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("retry-after-ms", "1500")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"error":{"code":"429","message":"Rate limit is exceeded."}}`)
	})
	c, _ := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
	var deltas []model.Delta
	_, err := c.Complete(context.Background(), streamingRequest(&deltas))
	var me *model.Error
	if !errors.As(err, &me) || me.StatusCode != 429 || me.Code != "429" || me.RetryAfter.Milliseconds() != 1500 {
		t.Fatalf("err = %#v", err)
	}
	if errors.Is(err, model.ErrStreamCut) {
		t.Error("an HTTP error before the stream is not a stream cut")
	}
}

func TestClient_Complete_StreamCancelledContext(t *testing.T) {
	block := make(chan struct{})
	srv := newRecorder(t, false, func(w http.ResponseWriter, r *http.Request) {
		sse(w, chunkRole, chunkHello)
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	defer close(block)
	c, _ := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
	ctx, cancel := context.WithCancel(context.Background())
	req := &model.Request{
		Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}},
		OnDelta: func(d model.Delta) {
			if d.Text == "Hello" {
				cancel()
			}
		},
	}
	_, err := c.Complete(ctx, req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if errors.Is(err, model.ErrStreamCut) {
		t.Error("a cancelled call is not a stream cut (it must not be retried)")
	}
}

func TestClient_Complete_FilteredAnswerIsAContentFilterError(t *testing.T) {
	const results = `"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"high"}}`
	tests := []struct {
		name   string
		stream bool
		handle http.HandlerFunc
	}{
		{"non-streaming", false, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o",
				"choices":[{"index":0,"finish_reason":"content_filter","message":{"role":"assistant","content":""},`+results+`}],
				"usage":{"prompt_tokens":5,"completion_tokens":0,"total_tokens":5}}`)
		}},
		{"streaming", true, func(w http.ResponseWriter, _ *http.Request) {
			sse(w, chunkRole, chunkHello,
				`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"content_filter",`+results+`}]}`,
				chunkUsage, "[DONE]")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRecorder(t, false, tc.handle)
			c, _ := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
			req := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}}
			if tc.stream {
				req.OnDelta = func(model.Delta) {}
			}
			_, err := c.Complete(context.Background(), req)
			var me *model.Error
			if !errors.As(err, &me) || me.Code != "content_filter" || errors.Is(err, model.ErrStreamCut) {
				t.Fatalf("err = %v", err)
			}
			if !strings.Contains(me.Message, "[content filter: violence]") {
				t.Errorf("message %q does not name exactly the filtered category", me.Message)
			}
		})
	}
}

func TestClient_Complete_RequestTimeout(t *testing.T) {
	tests := []struct {
		name   string
		stream bool
		check  func(error) bool
	}{
		{"stalled before the answer", false, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"stalled mid-stream", true, func(err error) bool { return errors.Is(err, model.ErrStreamCut) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := newRecorder(t, false, func(w http.ResponseWriter, r *http.Request) {
				if tc.stream {
					sse(w, chunkRole, chunkHello)
				}
				select { // a server that stalls; released when the test ends
				case <-release:
				case <-r.Context().Done():
				}
				if !tc.stream {
					okJSON(w, r)
				}
			})
			defer close(release)
			c, _ := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k", RequestTimeout: 50 * time.Millisecond})
			req := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}}
			if tc.stream {
				req.OnDelta = func(model.Delta) {}
			}
			_, err := c.Complete(context.Background(), req)
			var me *model.Error
			if !errors.As(err, &me) || !tc.check(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
