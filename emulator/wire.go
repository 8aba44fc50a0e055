package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The JSON shapes of Azure OpenAI's chat completions API (data-plane spec
// 2024-10-21), as far as the emulator produces them.

type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []wireMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           *int `json:"max_tokens"`
	MaxCompletionTokens *int `json:"max_completion_tokens"`
	// The sampling parameters reasoning models refuse, and the reasoning
	// ones other models refuse (see reasoning.go).
	Temperature      *float64        `json:"temperature"`
	TopP             *float64        `json:"top_p"`
	PresencePenalty  *float64        `json:"presence_penalty"`
	FrequencyPenalty *float64        `json:"frequency_penalty"`
	Logprobs         *bool           `json:"logprobs"`
	LogitBias        json.RawMessage `json:"logit_bias"`
	ReasoningEffort  *string         `json:"reasoning_effort"`
	Verbosity        *string         `json:"verbosity"`
	ResponseFormat   *struct {
		Type       string            `json:"type"`
		JSONSchema *jsonSchemaFormat `json:"json_schema"`
	} `json:"response_format"`
	Tools      []wireTool      `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
}

type wireMessage struct {
	Role    string          `json:"role"`
	Name    string          `json:"name"`
	Content json.RawMessage `json:"content"`
	// ToolCalls and ToolCallID: see tools.go.
	ToolCalls  []wireToolCall `json:"tool_calls"`
	ToolCallID string         `json:"tool_call_id"`
}

// text returns a message's content: a string, or the text parts of an array
// of content parts.
func (m wireMessage) text() (string, error) {
	c := strings.TrimSpace(string(m.Content))
	if c == "" || c == "null" {
		return "", nil
	}
	if c[0] == '"' {
		var s string
		err := json.Unmarshal(m.Content, &s)
		return s, err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(m.Content, &parts); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

type usageBody struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

// newUsage is the usage of call c with completion tokens in all (its
// reasoning tokens included).
func newUsage(c *call, completion int) *usageBody {
	u := &usageBody{PromptTokens: c.prompt, CompletionTokens: completion, TotalTokens: c.prompt + completion}
	u.PromptTokensDetails.CachedTokens = c.cached
	u.CompletionTokensDetails.ReasoningTokens = c.reasoning
	return u
}

// safeFilter is Azure's content filter verdict for harmless text.
var safeFilter = json.RawMessage(`{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`)

// safePromptFilter is the verdict on a prompt; prompts are also checked for jailbreaks.
var safePromptFilter = json.RawMessage(`{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`)

type promptFilterResult struct {
	PromptIndex          int             `json:"prompt_index"`
	ContentFilterResults json.RawMessage `json:"content_filter_results"`
}

var promptFilters = []promptFilterResult{{PromptIndex: 0, ContentFilterResults: safePromptFilter}}

type completionMessage struct {
	Role    string  `json:"role"`
	Content string  `json:"content"`
	Refusal *string `json:"refusal"`
}

// completionChoice is a choice of a whole answer; its message M is a
// completionMessage for text, a toolCompletionMessage for tool calls.
type completionChoice[M any] struct {
	Index                int             `json:"index"`
	Message              M               `json:"message"`
	FinishReason         string          `json:"finish_reason"`
	Logprobs             *struct{}       `json:"logprobs"`
	ContentFilterResults json.RawMessage `json:"content_filter_results,omitempty"`
}

// completion is a whole (not streamed) answer; see completionChoice for M.
type completion[M any] struct {
	ID                  string                `json:"id"`
	Object              string                `json:"object"`
	Created             int64                 `json:"created"`
	Model               string                `json:"model"`
	Choices             []completionChoice[M] `json:"choices"`
	Usage               *usageBody            `json:"usage"`
	SystemFingerprint   string                `json:"system_fingerprint"`
	PromptFilterResults []promptFilterResult  `json:"prompt_filter_results,omitempty"`
}

// newCompletion is the whole answer of call c with one choice, message msg.
// Azure adds the prompt's filter results and filter as the choice's.
func newCompletion[M any](c *call, modelName string, msg M, finish string, completionTokens int, filter json.RawMessage) completion[M] {
	resp := completion[M]{
		ID:                c.id,
		Object:            "chat.completion",
		Created:           c.created,
		Model:             modelName,
		SystemFingerprint: systemFingerprint,
		Choices:           []completionChoice[M]{{Message: msg, FinishReason: finish}},
		Usage:             newUsage(c, completionTokens),
	}
	if c.azure {
		resp.Choices[0].ContentFilterResults = filter
		resp.PromptFilterResults = promptFilters
	}
	return resp
}

type chunkDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
	Refusal *string `json:"refusal,omitempty"`
}

type chunkChoice struct {
	Index                int             `json:"index"`
	Delta                chunkDelta      `json:"delta"`
	FinishReason         *string         `json:"finish_reason"`
	Logprobs             *struct{}       `json:"logprobs"`
	ContentFilterResults json.RawMessage `json:"content_filter_results,omitempty"`
}

type chunk struct {
	ID                  string               `json:"id"`
	Object              string               `json:"object"`
	Created             int64                `json:"created"`
	Model               string               `json:"model"`
	SystemFingerprint   string               `json:"system_fingerprint,omitempty"`
	Choices             []chunkChoice        `json:"choices"`
	Usage               *usageBody           `json:"usage,omitempty"`
	PromptFilterResults []promptFilterResult `json:"prompt_filter_results,omitempty"`
}

// errorBody is the error envelope both Azure and OpenAI use. Azure fills
// code and message (its codes are often the status as a string); OpenAI and
// Azure's model-level errors also fill type and param.
type errorBody struct {
	Error apiError `json:"error"`
}

type apiError struct {
	Code       *string     `json:"code"`
	Message    string      `json:"message"`
	Type       *string     `json:"type,omitempty"`
	Param      *string     `json:"param,omitempty"`
	Status     int         `json:"status,omitempty"`
	InnerError *innerError `json:"innererror,omitempty"`
}

type innerError struct {
	Code                string          `json:"code"`
	ContentFilterResult json.RawMessage `json:"content_filter_result"`
}

func strp(s string) *string { return &s }

func azureError(code, msg string) errorBody {
	return errorBody{Error: apiError{Code: strp(code), Message: msg}}
}

func invalidRequest(code *string, param, msg string) errorBody {
	e := apiError{Code: code, Message: msg, Type: strp("invalid_request_error")}
	if param != "" {
		e.Param = strp(param)
	}
	return errorBody{Error: e}
}

const (
	msgNotFound      = "Resource not found"
	msgAccessDenied  = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."
	msgServerError   = "The server had an error while processing your request. Sorry about that!"
	msgUnavailable   = "The service is temporarily unable to process your request. Please try again later."
	msgContentFilter = "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)

// filteredResult is the content filter verdict of a refused prompt.
var filteredResult = json.RawMessage(`{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}`)

func contentFilterError() errorBody {
	return errorBody{Error: apiError{
		Code:       strp("content_filter"),
		Message:    msgContentFilter,
		Param:      strp("prompt"),
		Status:     http.StatusBadRequest,
		InnerError: &innerError{Code: "ResponsibleAIPolicyViolation", ContentFilterResult: filteredResult},
	}}
}

func contextLengthError(limit, got int) errorBody {
	return invalidRequest(strp("context_length_exceeded"), "messages", fmt.Sprintf(
		"This model's maximum context length is %d tokens. However, your messages resulted in %d tokens. Please reduce the length of the messages.",
		limit, got))
}

func rateLimitError(apiVersion, kind string, retrySeconds int) errorBody {
	if apiVersion == "" {
		apiVersion = "(none)"
	}
	return azureError("429", fmt.Sprintf(
		"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version %s have exceeded %s rate limit of your current OpenAI S0 pricing tier. Please retry after %d %s. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
		apiVersion, kind, retrySeconds, plural(retrySeconds, "second", "seconds")))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if b, ok := encode(w, v); ok {
		_ = writeBody(w, status, b)
	}
}

// encode marshals v, answering 500 when it cannot be; ok is false then.
func encode(w http.ResponseWriter, v any) (b []byte, ok bool) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "emulator: encoding response", http.StatusInternalServerError)
		return nil, false
	}
	return b, true
}

// writeBody answers with the JSON body b and its length. net/http sends it
// when the handler returns, so a nil error means it was handed over whole.
func writeBody(w http.ResponseWriter, status int, b []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}

// cutBody promises the JSON body b whole, sends its first half and drops
// the connection: the client sees an unexpected EOF. It does not return.
func cutBody(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b[:len(b)/2])
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

// eventStream writes server-sent events as Azure does: each event one
// "data: " line and a blank line, flushed at once.
type eventStream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
}

// startStream sends the headers of a 200 event stream.
func startStream(w http.ResponseWriter) *eventStream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &eventStream{w: w, rc: http.NewResponseController(w), buf: make([]byte, 0, 1024)}
}

// send writes b, a whole event, and reports whether it reached the client's
// connection.
func (e *eventStream) send(b []byte) bool {
	if _, err := e.w.Write(b); err != nil {
		return false
	}
	return e.rc.Flush() == nil
}

// sendJSON sends v as one event.
func (e *eventStream) sendJSON(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	e.buf = append(e.buf[:0], "data: "...)
	e.buf = append(e.buf, b...)
	e.buf = append(e.buf, "\n\n"...)
	return e.send(e.buf)
}

// sendString sends prefix, text as a JSON string, and suffix as one event,
// without encoding/json: the hot path of streaming text.
func (e *eventStream) sendString(prefix []byte, text string, suffix []byte) bool {
	e.buf = append(e.buf[:0], prefix...)
	e.buf = appendJSONString(e.buf, text)
	e.buf = append(e.buf, suffix...)
	return e.send(e.buf)
}

// done sends the [DONE] event that ends every stream.
func (e *eventStream) done() bool { return e.send([]byte("data: [DONE]\n\n")) }

// appendJSONString appends s as a JSON string literal. It is the hot path of
// streaming, so it avoids encoding/json's reflection and allocations.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
