package provider

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
