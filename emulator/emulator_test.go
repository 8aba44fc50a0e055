package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tokenizer"
)

func TestServer_routes(t *testing.T) {
	r := mustStart(t, Config{}, Options{})
	tests := []struct {
		name       string
		o          reqOpts
		wantStatus int
		wantCode   string // error code when the status is not 200
	}{
		{"azure chat completions", reqOpts{path: azurePath, body: chatBody(simpleMsgs(), nil)}, 200, ""},
		{"azure with any deployment name", reqOpts{path: "/openai/deployments/my-news-desk/chat/completions?api-version=2025-01-01-preview", body: chatBody(simpleMsgs(), nil)}, 200, ""},
		{"openai style", reqOpts{path: "/v1/chat/completions", body: chatBody(simpleMsgs(), map[string]any{"model": "gpt-4o-mini"})}, 200, ""},
		{"azure without api-version is not found", reqOpts{path: "/openai/deployments/gpt-4o/chat/completions", body: chatBody(simpleMsgs(), nil)}, 404, "404"},
		{"azure with empty api-version is not found", reqOpts{path: "/openai/deployments/gpt-4o/chat/completions?api-version=", body: chatBody(simpleMsgs(), nil)}, 404, "404"},
		{"GET on chat completions is not found", reqOpts{method: "GET", path: azurePath}, 404, "404"},
		{"unknown path", reqOpts{method: "GET", path: "/nothing/here"}, 404, "404"},
		{"azure legacy completions are not served", reqOpts{path: "/openai/deployments/gpt-4o/completions?api-version=" + testVersion, body: "{}"}, 404, "404"},
		{"azure embeddings need an api-version", reqOpts{path: "/openai/deployments/gpt-4o/embeddings", body: "{}"}, 404, "404"},
		{"openai models", reqOpts{method: "GET", path: "/v1/models"}, 200, ""},
		{"azure models", reqOpts{method: "GET", path: "/openai/models?api-version=" + testVersion}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := do(t, r, tt.o)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, data)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if tt.wantStatus != 200 {
				e := decode[wireError](t, data)
				if got := errCode(t, data); got != tt.wantCode || e.Error.Message != "Resource not found" {
					t.Errorf("error = %s, want code %q and Azure's message", data, tt.wantCode)
				}
			}
		})
	}

	t.Run("the OpenAI route takes the deployment from the body", func(t *testing.T) {
		r.Reset()
		do(t, r, reqOpts{path: "/v1/chat/completions", body: chatBody(simpleMsgs(), map[string]any{"model": "gpt-4o-mini"})})
		do(t, r, reqOpts{path: "/openai/deployments/desk-1/chat/completions?api-version=" + testVersion, body: chatBody(simpleMsgs(), nil)})
		reqs := r.Requests()
		if len(reqs) != 2 || reqs[0].Deployment != "gpt-4o-mini" || reqs[1].Deployment != "desk-1" || reqs[1].APIVersion != testVersion {
			t.Errorf("recorded %+v", reqs)
		}
	})

	t.Run("models list names the model", func(t *testing.T) {
		_, data := do(t, r, reqOpts{method: "GET", path: "/v1/models"})
		list := decode[struct {
			Object string `json:"object"`
			Data   []struct {
				ID     string `json:"id"`
				Object string `json:"object"`
			} `json:"data"`
		}](t, data)
		if list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != DefaultModelName {
			t.Errorf("models = %s", data)
		}
	})
}

func TestServer_auth(t *testing.T) {
	entraToken := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra.token"
	r := mustStart(t, Config{APIKey: testKey, TokenValidator: func(tok string) bool { return tok == entraToken }}, Options{})
	tests := []struct {
		name       string
		path       string
		headers    map[string]string
		wantStatus int
		wantAuth   string
	}{
		{"api-key header", azurePath, map[string]string{"api-key": testKey}, 200, AuthAPIKey},
		{"bearer with the key", azurePath, map[string]string{"Authorization": "Bearer " + testKey}, 200, AuthBearer},
		{"bearer with an Entra token", azurePath, map[string]string{"Authorization": "Bearer " + entraToken}, 200, AuthBearer},
		{"openai route with bearer key", "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testKey}, 200, AuthBearer},
		{"wrong api-key", azurePath, map[string]string{"api-key": "nope"}, 401, AuthAPIKey},
		{"wrong bearer", azurePath, map[string]string{"Authorization": "Bearer nope"}, 401, AuthBearer},
		{"basic auth is not accepted", azurePath, map[string]string{"Authorization": "Basic " + testKey}, 401, AuthNone},
		{"no credentials", azurePath, nil, 401, AuthNone},
		{"openai route without credentials", "/v1/chat/completions", nil, 401, AuthNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.Reset()
			resp, data := do(t, r, reqOpts{path: tt.path, headers: tt.headers, body: chatBody(simpleMsgs(), nil)})
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.wantStatus, data)
			}
			reqs := r.Requests()
			if len(reqs) != 1 || reqs[0].Auth != tt.wantAuth || reqs[0].Status != tt.wantStatus {
				t.Errorf("recorded %+v, want auth %q status %d", reqs, tt.wantAuth, tt.wantStatus)
			}
			rec, _ := json.Marshal(reqs)
			if strings.Contains(string(rec), testKey) || strings.Contains(string(rec), entraToken) || strings.Contains(string(data), testKey) {
				t.Error("a secret appears in the recorded request or the response")
			}
			if tt.wantStatus == 401 && strings.HasPrefix(tt.path, "/openai/") {
				e := decode[wireError](t, data)
				if errCode(t, data) != "401" || !strings.HasPrefix(e.Error.Message, "Access denied due to invalid subscription key or wrong API endpoint.") {
					t.Errorf("401 body = %s", data)
				}
			}
		})
	}

	t.Run("models need credentials too", func(t *testing.T) {
		resp, _ := do(t, r, reqOpts{method: "GET", path: "/v1/models"})
		if resp.StatusCode != 401 {
			t.Errorf("status = %d, want 401", resp.StatusCode)
		}
	})
}

func TestServer_badRequests(t *testing.T) {
	r := mustStart(t, Config{}, Options{})
	tests := []struct {
		name  string
		body  string
		param string
	}{
		{"malformed JSON", `{"messages": [`, ""},
		{"wrong type", `{"messages": "hello"}`, ""},
		{"no messages", `{}`, "messages"},
		{"empty messages", `{"messages": []}`, "messages"},
		{"message without role", `{"messages": [{"content": "hi"}]}`, "messages[0]"},
		{"zero max_tokens", `{"messages": [{"role":"user","content":"hi"}], "max_tokens": 0}`, "max_tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := do(t, r, reqOpts{path: azurePath, body: tt.body})
			if resp.StatusCode != 400 {
				t.Fatalf("status = %d, want 400: %s", resp.StatusCode, data)
			}
			e := decode[wireError](t, data)
			if e.Error.Message == "" {
				t.Errorf("no error message: %s", data)
			}
			if tt.param != "" && (e.Error.Param == nil || *e.Error.Param != tt.param) {
				t.Errorf("param = %v, want %q: %s", e.Error.Param, tt.param, data)
			}
		})
	}
}

func TestServer_nonStreaming(t *testing.T) {
	r := mustStart(t, Config{}, Options{})
	tk := tokenizer.MustForModel(DefaultModelName)
	msgs := []msg{
		{Role: "system", Content: "You are News_Reporter, a reporter in a newsroom."},
		{Role: "user", Name: "user", Content: testTask},
	}
	for _, azure := range []bool{true, false} {
		t.Run(fmt.Sprintf("azure=%v", azure), func(t *testing.T) {
			path := azurePath
			if !azure {
				path = "/v1/chat/completions"
			}
			resp, data := do(t, r, reqOpts{path: path, body: chatBody(msgs, nil)})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, data)
			}
			for _, h := range []string{"apim-request-id", "x-request-id"} {
				if resp.Header.Get(h) == "" {
					t.Errorf("header %s missing", h)
				}
			}
			c := decode[wireCompletion](t, data)
			if !strings.HasPrefix(c.ID, "chatcmpl-") || c.Object != "chat.completion" || c.Model != DefaultModelName || c.Created == 0 || c.SystemFingerprint == "" {
				t.Errorf("envelope = %+v", c)
			}
			if len(c.Choices) != 1 || c.Choices[0].Message.Role != "assistant" || c.Choices[0].FinishReason != "stop" {
				t.Fatalf("choices = %+v", c.Choices)
			}
			content := c.Choices[0].Message.Content
			wantPrompt := model.PromptTokens(tk.Count, []model.Message{
				{Role: "system", Content: msgs[0].Content},
				{Role: "user", Name: "user", Content: msgs[1].Content},
			})
			// The default model is GPT-5: its completion tokens are the
			// answer's and the hidden reasoning's (medium effort by default).
			reasoning := reasoningTokens("medium", wantPrompt)
			if c.Usage.PromptTokens != wantPrompt || c.Usage.CompletionTokens != tk.Count(content)+reasoning ||
				c.Usage.CompletionTokensDetails.ReasoningTokens != reasoning || reasoning == 0 ||
				c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens {
				t.Errorf("usage = %+v, want prompt %d completion %d+%d reasoning", c.Usage, wantPrompt, tk.Count(content), reasoning)
			}
			if azure != (len(c.PromptFilterResults) == 1) || azure != (len(c.Choices[0].ContentFilterResults) > 0) {
				t.Errorf("content filter results present = %v/%v on azure=%v", len(c.PromptFilterResults), len(c.Choices[0].ContentFilterResults), azure)
			}
		})
	}
}

func TestServer_streaming(t *testing.T) {
	r := mustStart(t, Config{}, Options{})
	tk := tokenizer.MustForModel(DefaultModelName)
	msgs := []msg{
		{Role: "system", Content: "You are Headline_Generator, the headline writer of a newsroom."},
		{Role: "user", Name: "user", Content: testTask},
	}
	_, data := do(t, r, reqOpts{path: azurePath, body: chatBody(msgs, nil)})
	want := decode[wireCompletion](t, data)

	for _, tt := range []struct {
		name         string
		azure, usage bool
	}{
		{"azure without usage", true, false},
		{"azure with usage", true, true},
		{"openai with usage", false, true},
		{"openai without usage", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := azurePath
			if !tt.azure {
				path = "/v1/chat/completions"
			}
			extra := map[string]any{"stream": true}
			if tt.usage {
				extra["stream_options"] = map[string]any{"include_usage": true}
			}
			resp, data := do(t, r, reqOpts{path: path, body: chatBody(msgs, extra)})
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("Content-Type = %q", ct)
			}
			s := parseSSE(t, data)
			if !s.framed || !s.done {
				t.Fatalf("framed=%v done=%v:\n%s", s.framed, s.done, data)
			}
			first := decode[wireChunk](t, []byte(s.events[0]))
			if tt.azure {
				if len(first.Choices) != 0 || len(first.PromptFilterResults) != 1 {
					t.Errorf("Azure's first chunk = %s, want no choices and prompt_filter_results", s.events[0])
				}
				first = decode[wireChunk](t, []byte(s.events[1]))
			}
			if first.Object != "chat.completion.chunk" || !strings.HasPrefix(first.ID, "chatcmpl-") || len(first.Choices) != 1 || first.Choices[0].Delta.Role != "assistant" {
				t.Errorf("role chunk = %+v", first)
			}
			text, finish, usage := s.content(t)
			if text != want.Choices[0].Message.Content || finish != "stop" {
				t.Errorf("streamed %q (finish %q), want %q", text, finish, want.Choices[0].Message.Content)
			}
			pieces := tk.Split(text)
			contentChunks := 0
			for _, e := range s.events {
				c := decode[wireChunk](t, []byte(e))
				if len(c.Choices) == 1 && c.Choices[0].Delta.Content != nil && *c.Choices[0].Delta.Content != "" {
					contentChunks++
					if tt.azure && len(c.Choices[0].ContentFilterResults) < 10 {
						t.Errorf("azure content chunk without content_filter_results: %s", e)
					}
				}
			}
			if contentChunks != len(pieces) {
				t.Errorf("%d content chunks, want one per token piece (%d)", contentChunks, len(pieces))
			}
			if tt.usage != (usage != nil) {
				t.Fatalf("usage chunk present = %v, want %v", usage != nil, tt.usage)
			}
			if usage != nil {
				if len(usage.Choices) != 0 || usage.Usage.PromptTokens != want.Usage.PromptTokens ||
					usage.Usage.CompletionTokens != tk.Count(text)+want.Usage.CompletionTokensDetails.ReasoningTokens ||
					usage.Usage.CompletionTokensDetails != want.Usage.CompletionTokensDetails || usage.Usage.TotalTokens != want.Usage.TotalTokens {
					t.Errorf("usage chunk = %+v, want %+v", usage.Usage, want.Usage)
				}
				if s.events[len(s.events)-1] != mustJSON(t, usage) && !strings.Contains(s.events[len(s.events)-1], `"usage"`) {
					t.Error("the usage chunk is not the last before [DONE]")
				}
			}
		})
	}
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServer_maxTokens(t *testing.T) {
	// A GPT-4o deployment takes both fields and spends no reasoning tokens
	// (TestServer_reasoning covers GPT-5's).
	r := mustStart(t, Config{ModelName: "gpt-4o-2024-11-20"}, Options{})
	tk := tokenizer.MustForModel(DefaultModelName)
	msgs := []msg{{Role: "system", Content: "You are News_Reporter, a reporter."}, {Role: "user", Name: "user", Content: testTask}}
	_, full := do(t, r, reqOpts{path: azurePath, body: chatBody(msgs, nil)})
	fullText := decode[wireCompletion](t, full).Choices[0].Message.Content
	for _, field := range []string{"max_tokens", "max_completion_tokens"} {
		t.Run(field, func(t *testing.T) {
			_, data := do(t, r, reqOpts{path: azurePath, body: chatBody(msgs, map[string]any{field: 7})})
			c := decode[wireCompletion](t, data)
			got := c.Choices[0].Message.Content
			if c.Choices[0].FinishReason != "length" || c.Usage.CompletionTokens != 7 || tk.Count(got) != 7 || !strings.HasPrefix(fullText, got) {
				t.Errorf("got %q finish %q usage %+v", got, c.Choices[0].FinishReason, c.Usage)
			}
			_, data = do(t, r, reqOpts{path: azurePath, body: chatBody(msgs, map[string]any{field: 7, "stream": true, "stream_options": map[string]any{"include_usage": true}})})
			text, finish, usage := parseSSE(t, data).content(t)
			if text != got || finish != "length" || usage == nil || usage.Usage.CompletionTokens != 7 {
				t.Errorf("streamed %q finish %q", text, finish)
			}
			if last := r.Requests()[len(r.Requests())-1]; last.MaxTokens != 7 {
				t.Errorf("recorded MaxTokens = %d", last.MaxTokens)
			}
		})
	}
	t.Run("a limit above the answer changes nothing", func(t *testing.T) {
		_, data := do(t, r, reqOpts{path: azurePath, body: chatBody(msgs, map[string]any{"max_tokens": 4000})})
		c := decode[wireCompletion](t, data)
		if c.Choices[0].FinishReason != "stop" || c.Choices[0].Message.Content != fullText {
			t.Errorf("finish %q", c.Choices[0].FinishReason)
		}
	})
}

func TestServer_quota(t *testing.T) {
	t.Run("requests per minute", func(t *testing.T) {
		clock := newFakeClock()
		r := mustStart(t, Config{Quota: Quota{RequestsPerMinute: 2}, Now: clock.Now}, Options{})
		for i := range 2 {
			resp, _ := do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), nil)})
			if resp.StatusCode != 200 || resp.Header.Get("x-ratelimit-remaining-requests") != strconv.Itoa(1-i) {
				t.Fatalf("request %d: status %d remaining %q", i, resp.StatusCode, resp.Header.Get("x-ratelimit-remaining-requests"))
			}
			clock.Advance(10 * time.Second)
		}
		resp, data := do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), nil)})
		if resp.StatusCode != 429 {
			t.Fatalf("status = %d, want 429", resp.StatusCode)
		}
		// The first request was 20s ago: it leaves the window in 40s.
		if resp.Header.Get("Retry-After") != "40" || resp.Header.Get("retry-after-ms") != "40000" || resp.Header.Get("x-ratelimit-remaining-requests") != "0" {
			t.Errorf("headers = %v", resp.Header)
		}
		e := decode[wireError](t, data)
		if errCode(t, data) != "429" || !strings.Contains(e.Error.Message, "ChatCompletions_Create Operation under Azure OpenAI API version "+testVersion+" have exceeded call rate limit") ||
			!strings.Contains(e.Error.Message, "Please retry after 40 seconds.") {
			t.Errorf("429 body = %s", data)
		}
		clock.Advance(40 * time.Second)
		if resp, _ := do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), nil)}); resp.StatusCode != 200 {
			t.Errorf("after the window slid: status %d", resp.StatusCode)
		}
		t.Run("other deployments have their own window", func(t *testing.T) {
			if resp, _ := do(t, r, reqOpts{path: "/openai/deployments/other/chat/completions?api-version=" + testVersion, body: chatBody(simpleMsgs(), nil)}); resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	})

	t.Run("tokens per minute, estimated then reconciled", func(t *testing.T) {
		clock := newFakeClock()
		const tpm = 1000
		r := mustStart(t, Config{Quota: Quota{TokensPerMinute: tpm}, Now: clock.Now}, Options{})
		tk := tokenizer.MustForModel(DefaultModelName)
		prompt := model.PromptTokens(tk.Count, []model.Message{{Role: "system", Content: simpleMsgs()[0].Content}, {Role: "user", Content: simpleMsgs()[1].Content}})

		resp, data := do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), map[string]any{"max_completion_tokens": 500})})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		// Admission charges prompt + max_completion_tokens (which holds the reasoning too).
		if got := resp.Header.Get("x-ratelimit-remaining-tokens"); got != strconv.Itoa(tpm-prompt-500) {
			t.Errorf("remaining tokens = %s, want %d", got, tpm-prompt-500)
		}
		used1 := decode[wireCompletion](t, data).Usage.TotalTokens

		clock.Advance(30 * time.Second)
		resp, _ = do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), map[string]any{"max_completion_tokens": 100})})
		// The first request was reconciled to what it used.
		if got := resp.Header.Get("x-ratelimit-remaining-tokens"); got != strconv.Itoa(tpm-used1-prompt-100) {
			t.Errorf("remaining tokens = %s, want %d", got, tpm-used1-prompt-100)
		}

		// This one cannot fit until both earlier requests leave the window.
		resp, data = do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), map[string]any{"max_completion_tokens": tpm - prompt - 10})})
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" || resp.Header.Get("retry-after-ms") != "60000" {
			t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
		}
		if e := decode[wireError](t, data); !strings.Contains(e.Error.Message, "exceeded token rate limit") {
			t.Errorf("message = %q", e.Error.Message)
		}
		if resp.Header.Get("x-ratelimit-remaining-tokens") == "" || resp.Header.Get("x-ratelimit-remaining-requests") == "" {
			t.Errorf("remaining headers missing on 429: %v", resp.Header)
		}
		clock.Advance(60 * time.Second)
		if resp, _ := do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), map[string]any{"max_completion_tokens": tpm - prompt - 10})}); resp.StatusCode != 200 {
			t.Errorf("after the window slid: status %d", resp.StatusCode)
		}
	})

	t.Run("unlimited sends no remaining headers", func(t *testing.T) {
		r := mustStart(t, Config{}, Options{})
		resp, _ := do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), nil)})
		if resp.Header.Get("x-ratelimit-remaining-tokens") != "" {
			t.Errorf("remaining tokens header on an unlimited deployment")
		}
	})
}

func TestServer_faults(t *testing.T) {
	r := mustStart(t, Config{ContextWindow: 50}, Options{})
	small := simpleMsgs()
	big := []msg{{Role: "user", Content: strings.Repeat("word ", 60)}}
	tests := []struct {
		name       string
		fault      string
		msgs       []msg
		stream     bool
		wantStatus int
		check      func(t *testing.T, resp *http.Response, data []byte)
	}{
		{"429", "429", small, false, 429, func(t *testing.T, resp *http.Response, data []byte) {
			if resp.Header.Get("Retry-After") == "" || resp.Header.Get("retry-after-ms") == "" || errCode(t, data) != "429" {
				t.Errorf("headers %v body %s", resp.Header, data)
			}
		}},
		{"500", "500", small, false, 500, func(t *testing.T, _ *http.Response, data []byte) {
			decode[wireError](t, data)
		}},
		{"503", "503", small, true, 503, func(t *testing.T, _ *http.Response, data []byte) {
			decode[wireError](t, data)
		}},
		{"content filter", "content_filter", small, false, 400, func(t *testing.T, _ *http.Response, data []byte) {
			e := decode[wireError](t, data)
			if errCode(t, data) != "content_filter" || e.Error.InnerError == nil || e.Error.InnerError.Code != "ResponsibleAIPolicyViolation" ||
				!strings.Contains(string(e.Error.InnerError.ContentFilterResult["violence"]), `"filtered":true`) {
				t.Errorf("body %s", data)
			}
		}},
		{"context length from the window", "", big, false, 400, func(t *testing.T, _ *http.Response, data []byte) {
			e := decode[wireError](t, data)
			prompt := model.PromptTokens(tokenizer.MustForModel(DefaultModelName).Count, []model.Message{{Role: "user", Content: big[0].Content}})
			want := fmt.Sprintf("This model's maximum context length is 50 tokens. However, your messages resulted in %d tokens.", prompt)
			if errCode(t, data) != "context_length_exceeded" || !strings.HasPrefix(e.Error.Message, want) {
				t.Errorf("body %s, want message starting %q", data, want)
			}
		}},
		{"cut stream", "cut", small, true, 200, func(t *testing.T, _ *http.Response, data []byte) {
			s := parseSSE(t, data)
			if s.done {
				t.Error("a cut stream ended with [DONE]")
			}
			if _, finish, _ := s.content(t); finish != "" {
				t.Errorf("a cut stream has finish_reason %q", finish)
			}
		}},
		{"cut body", "cut", small, false, 200, func(t *testing.T, _ *http.Response, data []byte) {
			if json.Valid(data) {
				t.Errorf("a cut body is complete JSON: %s", data)
			}
		}},
		{"malformed stream", "malformed", small, true, 200, func(t *testing.T, _ *http.Response, data []byte) {
			bad := 0
			for _, e := range parseSSE(t, data).events {
				if !json.Valid([]byte(e)) {
					bad++
				}
			}
			if bad == 0 {
				t.Error("no malformed chunk")
			}
		}},
		{"malformed body", "malformed", small, false, 200, func(t *testing.T, _ *http.Response, data []byte) {
			if json.Valid(data) {
				t.Error("body is valid JSON")
			}
		}},
		{"stall", "stall=20ms", small, true, 200, func(t *testing.T, _ *http.Response, data []byte) {
			s := parseSSE(t, data)
			if _, finish, _ := s.content(t); !s.done || finish != "stop" {
				t.Error("a stalled stream did not complete")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.Reset()
			h := map[string]string{}
			if tt.fault != "" {
				h[HeaderFault] = tt.fault
			}
			req, err := http.NewRequest("POST", r.URL+azurePath, strings.NewReader(mustJSON(t, chatBody(tt.msgs, map[string]any{"stream": tt.stream}))))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := r.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, readErr := readAll(resp)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.wantStatus, data)
			}
			if strings.HasPrefix(tt.name, "cut") && readErr == nil {
				t.Error("reading a cut answer succeeded, want an unexpected EOF")
			}
			tt.check(t, resp, data)
			reqs := r.Requests()
			if len(reqs) != 1 || reqs[0].Status != tt.wantStatus {
				t.Fatalf("recorded %+v", reqs)
			}
			// Of these faults only a stall still delivers the whole answer.
			if want := strings.HasPrefix(tt.fault, "stall"); reqs[0].Completed != want {
				t.Errorf("recorded Completed = %t, want %t", reqs[0].Completed, want)
			}
			if !reqs[0].End.After(reqs[0].Start) {
				t.Errorf("recorded Start %v, End %v", reqs[0].Start, reqs[0].End)
			}
		})
	}

	t.Run("unknown fault header is a 400", func(t *testing.T) {
		resp, _ := do(t, r, reqOpts{path: azurePath, headers: map[string]string{HeaderFault: "explode"}, body: chatBody(small, nil)})
		if resp.StatusCode != 400 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestServer_randomFaultsAreSeeded(t *testing.T) {
	statuses := func(seed uint64) []int {
		r := mustStart(t, Config{Seed: seed, Faults: Faults{Rates: map[Fault]float64{Fault429: 0.3, Fault500: 0.2}}}, Options{})
		var out []int
		for range 40 {
			resp, _ := do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), nil)})
			out = append(out, resp.StatusCode)
		}
		return out
	}
	a, b := statuses(7), statuses(7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different faults (-a +b):\n%s", diff)
	}
	count := map[int]int{}
	for _, s := range a {
		count[s]++
	}
	if count[429] == 0 || count[500] == 0 || count[200] == 0 {
		t.Errorf("statuses %v: want a mix of 200, 429 and 500", count)
	}
	if c := statuses(8); cmp.Equal(a, c) {
		t.Error("different seeds gave the same fault sequence")
	}
}

func TestServer_latencyHeader(t *testing.T) {
	r := mustStart(t, Config{}, Options{})
	resp, data := do(t, r, reqOpts{path: azurePath, headers: map[string]string{HeaderLatency: "ttft=1ms,tps=100000"}, body: chatBody(simpleMsgs(), map[string]any{"stream": true})})
	if s := parseSSE(t, data); resp.StatusCode != 200 || !s.done {
		t.Errorf("status %d, done %v", resp.StatusCode, s.done)
	}
	resp, _ = do(t, r, reqOpts{path: azurePath, headers: map[string]string{HeaderLatency: "ttft=soon"}, body: chatBody(simpleMsgs(), nil)})
	if resp.StatusCode != 400 {
		t.Errorf("bad latency header: status %d, want 400", resp.StatusCode)
	}
}

func TestParseFaultRates(t *testing.T) {
	got, err := ParseFaultRates("429=0.05, 500=0.01,cut=0.01")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[Fault]float64{Fault429: 0.05, Fault500: 0.01, FaultCut: 0.01}, got); diff != "" {
		t.Error(diff)
	}
	for _, bad := range []string{"429", "boom=0.1", "429=2", "429=0.6,500=0.6", "500=x"} {
		if _, err := ParseFaultRates(bad); err == nil {
			t.Errorf("ParseFaultRates(%q) succeeded", bad)
		}
	}
}

func TestServer_countAndReset(t *testing.T) {
	r := mustStart(t, Config{MaxRecorded: 2, ModelName: "gpt-4o-2024-11-20"}, Options{})
	for range 3 {
		do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), map[string]any{"stream": true, "max_tokens": 5})})
	}
	reqs := r.Requests()
	if r.Count() != 3 || len(reqs) != 2 {
		t.Fatalf("Count = %d, recorded %d", r.Count(), len(reqs))
	}
	want := RecordedRequest{
		Method: "POST", Path: "/openai/deployments/gpt-4o/chat/completions", APIVersion: testVersion, Deployment: "gpt-4o",
		Auth: AuthNone, Stream: true, MaxTokens: 5, Status: 200, Completed: true, Answer: "Hello from the newsroom emulator",
		Messages: []model.Message{{Role: "system", Content: "You are a helpful assistant."}, {Role: "user", Content: "Say hello."}},
	}
	if diff := cmp.Diff(want, reqs[1], cmpopts.IgnoreFields(RecordedRequest{}, "Start", "End")); diff != "" {
		t.Errorf("recorded request (-want +got):\n%s", diff)
	}
	r.Reset()
	if r.Count() != 0 || len(r.Requests()) != 0 {
		t.Error("Reset left requests behind")
	}
}

func TestServer_concurrentStreams(t *testing.T) {
	r := mustStart(t, Config{Quota: Quota{RequestsPerMinute: 1000, TokensPerMinute: 10_000_000}}, Options{})
	msgs := []msg{{Role: "system", Content: "You are News_Reporter, a reporter."}, {Role: "user", Name: "user", Content: testTask}}
	_, data := do(t, r, reqOpts{path: azurePath, body: chatBody(msgs, nil)})
	want := decode[wireCompletion](t, data).Choices[0].Message.Content
	const n = 40
	body := mustJSON(t, chatBody(msgs, map[string]any{"stream": true}))
	errs := make(chan string, n)
	for range n {
		go func() {
			resp, err := r.Client().Post(r.URL+azurePath, "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err.Error()
				return
			}
			data, err := readAll(resp)
			if err != nil {
				errs <- err.Error()
				return
			}
			s := parseSSE(t, data)
			text, finish, _ := s.content(t)
			if !s.done || finish != "stop" || text != want {
				errs <- fmt.Sprintf("done=%v finish=%q text=%q", s.done, finish, text)
				return
			}
			errs <- ""
		}()
	}
	for range n {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
	if r.Count() != n+1 {
		t.Errorf("Count = %d, want %d", r.Count(), n+1)
	}
}

func TestServer_jsonMode(t *testing.T) {
	r := mustStart(t, Config{}, Options{})
	format := map[string]any{"response_format": map[string]any{"type": "json_object"}}
	resp, data := do(t, r, reqOpts{path: azurePath, body: chatBody([]msg{{Role: "user", Content: "Answer in JSON: hello"}}, format)})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	var obj map[string]string
	if err := json.Unmarshal([]byte(decode[wireCompletion](t, data).Choices[0].Message.Content), &obj); err != nil || obj["content"] == "" {
		t.Errorf("content is not a JSON object: %v", err)
	}
	resp, _ = do(t, r, reqOpts{path: azurePath, body: chatBody([]msg{{Role: "user", Content: "hello"}}, format)})
	if resp.StatusCode != 400 {
		t.Errorf("json_object without the word json: status %d, want 400", resp.StatusCode)
	}
}

func TestServer_recordsCompletedAnswers(t *testing.T) {
	r := mustStart(t, Config{Latency: Latency{TimeToFirstToken: 20 * time.Millisecond, TokensPerSecond: 500}}, Options{})
	// A request is recorded when its handler returns, which may be just
	// after the client has read the answer.
	recorded := func() []RecordedRequest {
		deadline := time.Now().Add(10 * time.Second)
		for r.Count() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		return r.Requests()
	}
	for _, stream := range []bool{false, true} {
		r.Reset()
		do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), map[string]any{"stream": stream})})
		reqs := recorded()
		if len(reqs) != 1 || !reqs[0].Completed || reqs[0].Answer == "" {
			t.Errorf("stream=%t: recorded %+v, want one completed request with its answer", stream, reqs)
		}
	}

	t.Run("a client gone mid-stream is not a completed answer", func(t *testing.T) {
		r.Reset()
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, "POST", r.URL+azurePath, strings.NewReader(mustJSON(t, chatBody(simpleMsgs(), map[string]any{"stream": true}))))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := r.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		_, _ = resp.Body.Read(buf) // the first chunk, then hang up
		cancel()
		_ = resp.Body.Close()
		if reqs := recorded(); len(reqs) != 1 || reqs[0].Completed {
			t.Errorf("recorded %+v, want one request not completed", reqs)
		}
	})
}
