package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/model"
)

func TestSSEDecoder(t *testing.T) {
	long := strings.Repeat("x", 3*sseReaderSize+17)
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr error
	}{
		{"data events", "data: a\n\ndata: b\n\n", []string{"a", "b"}, nil},
		{"crlf, comments and other fields", ": keep-alive\r\nevent: chunk\r\nid: 7\r\ndata: a\r\n\r\n", []string{"a"}, nil},
		{"multi-line data joined by newline", "data: a\ndata: b\n\n", []string{"a\nb"}, nil},
		{"no space after the colon", "data:a\n\n", []string{"a"}, nil},
		{"blank lines without data dispatch nothing", "\n\n: c\n\ndata: a\n\n", []string{"a"}, nil},
		{"a line longer than the buffer", "data: " + long + "\n\ndata: b\n\n", []string{long, "b"}, nil},
		{"an unterminated event is dropped", "data: a\n\ndata: b\n", []string{"a"}, nil},
		{"a cut last line is dropped", "data: a\n\ndata: {\"id", []string{"a"}, nil},
		{"an event over the limit", "data: " + strings.Repeat("y", maxSSEEvent+1) + "\n\n", nil, errSSETooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newSSEDecoder(strings.NewReader(tc.in))
			defer d.release()
			var got []string
			for {
				data, ok := d.next()
				if !ok {
					break
				}
				got = append(got, string(data))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if !errors.Is(d.Err(), tc.wantErr) {
				t.Errorf("err = %v, want %v", d.Err(), tc.wantErr)
			}
		})
	}
}

func TestStreamChunk_ResetClearsReusedChoices(t *testing.T) {
	var ch streamChunk
	if err := jsonUnmarshal(`{"id":"a","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}`, &ch); err != nil {
		t.Fatal(err)
	}
	ch.reset()
	if err := jsonUnmarshal(`{"choices":[{"index":0,"delta":{},"finish_reason":null}]}`, &ch); err != nil {
		t.Fatal(err)
	}
	if ch.ID != "" || ch.Usage != nil || len(ch.Choices) != 1 || ch.Choices[0].FinishReason != "" || ch.Choices[0].Delta.Content != "" {
		t.Errorf("reused chunk kept old fields: %+v", ch)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func TestClient_Complete_StreamReusesTheConnection(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		sse(w, chunkRole, chunkHello, chunkFinish, chunkUsage, "[DONE]")
		// The body's end comes a little after [DONE], in its own packet.
		time.Sleep(20 * time.Millisecond)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, Deployment: "dep", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var deltas []model.Delta
		if _, err := c.Complete(context.Background(), streamingRequest(&deltas)); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("3 streamed calls opened %d connections, want 1", n)
	}
}
