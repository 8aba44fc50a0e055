package emulator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testKey     = "test-key-123"
	testVersion = "2024-10-21"
	azurePath   = "/openai/deployments/gpt-4o/chat/completions?api-version=" + testVersion
	testTask    = "Write a short news article about: The city of Springfield opened a new public library on Monday. " +
		"The library cost $12 million and holds 80,000 books. Mayor Jane Smith said it will serve 50,000 residents. " +
		"Construction took two years."
)

// fakeClock is a settable clock for quota tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func mustStart(t testing.TB, cfg Config, opts Options) *Running {
	t.Helper()
	r, err := Start(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

type msg struct {
	Role    string `json:"role"`
	Name    string `json:"name,omitempty"`
	Content string `json:"content"`
}

type reqOpts struct {
	method  string
	path    string
	headers map[string]string
	body    any
}

func do(t testing.TB, r *Running, o reqOpts) (*http.Response, []byte) {
	t.Helper()
	if o.method == "" {
		o.method = http.MethodPost
	}
	var body io.Reader
	switch b := o.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	req, err := http.NewRequest(o.method, r.URL+o.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range o.headers {
		req.Header.Set(k, v)
	}
	resp, err := r.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func chatBody(msgs []msg, extra map[string]any) map[string]any {
	b := map[string]any{"messages": msgs}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func simpleMsgs() []msg {
	return []msg{{Role: "system", Content: "You are a helpful assistant."}, {Role: "user", Content: "Say hello."}}
}

type wireCompletion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason         string          `json:"finish_reason"`
		ContentFilterResults json.RawMessage `json:"content_filter_results"`
	} `json:"choices"`
	Usage struct {
		PromptTokens            int `json:"prompt_tokens"`
		CompletionTokens        int `json:"completion_tokens"`
		TotalTokens             int `json:"total_tokens"`
		CompletionTokensDetails struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
	} `json:"usage"`
	SystemFingerprint   string            `json:"system_fingerprint"`
	PromptFilterResults []json.RawMessage `json:"prompt_filter_results"`
}

type wireChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason         *string         `json:"finish_reason"`
		ContentFilterResults json.RawMessage `json:"content_filter_results"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens            int `json:"prompt_tokens"`
		CompletionTokens        int `json:"completion_tokens"`
		TotalTokens             int `json:"total_tokens"`
		CompletionTokensDetails struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
	} `json:"usage"`
	PromptFilterResults []json.RawMessage `json:"prompt_filter_results"`
}

type wireError struct {
	Error struct {
		Code       *string `json:"code"`
		Message    string  `json:"message"`
		Type       *string `json:"type"`
		Param      *string `json:"param"`
		InnerError *struct {
			Code                string                     `json:"code"`
			ContentFilterResult map[string]json.RawMessage `json:"content_filter_result"`
		} `json:"innererror"`
	} `json:"error"`
}

func decode[T any](t testing.TB, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decoding %T from %q: %v", v, data, err)
	}
	return v
}

func errCode(t testing.TB, data []byte) string {
	t.Helper()
	e := decode[wireError](t, data)
	if e.Error.Code == nil {
		return ""
	}
	return *e.Error.Code
}

// sse is a parsed event stream.
type sse struct {
	events []string // data payloads, in order, without "data: "
	done   bool     // ended with [DONE]
	framed bool     // every event was "data: ...\n\n"
}

func parseSSE(t testing.TB, data []byte) sse {
	t.Helper()
	var s sse
	s.framed = true
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	expectBlank := false
	for sc.Scan() {
		line := sc.Text()
		if expectBlank {
			if line != "" {
				s.framed = false
			}
			expectBlank = false
			continue
		}
		payload, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			s.framed = false
			continue
		}
		expectBlank = true
		if payload == "[DONE]" {
			s.done = true
			continue
		}
		s.events = append(s.events, payload)
	}
	return s
}

// content joins the streamed text and returns the finish reason and the usage chunk, if any.
func (s sse) content(t testing.TB) (text, finish string, usage *wireChunk) {
	t.Helper()
	var b strings.Builder
	for _, e := range s.events {
		c := decode[wireChunk](t, []byte(e))
		if c.Usage != nil {
			usage = &c
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				b.WriteString(*ch.Delta.Content)
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	return b.String(), finish, usage
}

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
