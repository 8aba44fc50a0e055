// Package model defines the one interface every language-model call in newsroom
// goes through, and the request, response and usage types it carries.
//
// A Client is decorated by middleware the way an http.RoundTripper is: retries,
// the quota limiter, the response cache, budgets and telemetry each take a
// Client and return a Client. Agents and the selector only ever see a Client.
package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Role is the role of a chat message as the chat completions protocol names it.
type Role string

// The chat roles newsroom sends.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	// RoleTool carries the result of a tool call back to the model.
	RoleTool Role = "tool"
)

// Message is one chat message sent to a model.
type Message struct {
	Role Role `json:"role"`
	// Name is the optional participant name (the protocol's "name" field):
	// newsroom sets it to the agent that wrote a message.
	Name    string `json:"name,omitempty"`
	Content string `json:"content"`
	// ToolCalls are the calls an assistant message asked for (its Content
	// may then be empty).
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID is the call a RoleTool message answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// Reasoning is the opaque reasoning state of the answer that asked for
	// ToolCalls (see Response.Reasoning): the agent's tool loop copies it
	// into the assistant message so the next round of the same reply hands
	// it back. Nil everywhere else.
	Reasoning json.RawMessage `json:"reasoning,omitempty"`
}

// Tool describes a function the model may call.
type Tool struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Parameters is the JSON Schema of the arguments object; nil means
	// a function without parameters.
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// ToolCall is one function call the model asked for.
type ToolCall struct {
	// ID is the service's id for the call; the tool message answering it
	// carries it back as ToolCallID.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Arguments is the JSON text the model wrote; it may be malformed.
	Arguments string `json:"arguments"`
	// ItemID is the Responses API's id of the function call item (fc_...),
	// sent back with the reasoning that led to it; empty for chat completions.
	ItemID string `json:"item_id,omitempty"`
}

// Tool choices besides the name of one tool.
const (
	ToolChoiceAuto     = "auto"     // the model decides (the service default when tools are given)
	ToolChoiceNone     = "none"     // the model must answer with text
	ToolChoiceRequired = "required" // the model must call at least one tool
)

// Purpose says why a request is made; it is used for accounting and telemetry.
type Purpose string

// Purposes of a model call.
const (
	PurposeReply  Purpose = "reply"  // an agent writes a message
	PurposeSelect Purpose = "select" // the selector team picks the next speaker
)

// Request is one chat completion request.
//
// The zero value of every generation parameter means "the service default".
// Request values are treated as immutable by middleware: a wrapper that needs
// to change one copies it first.
type Request struct {
	// Model is the deployment (Azure) or model name; empty means the client's default.
	Model    string    `json:"model,omitempty"`
	Messages []Message `json:"messages"`

	// MaxTokens caps the completion: sent as max_tokens, or as
	// max_completion_tokens to a reasoning deployment, where it also holds
	// the model's hidden reasoning tokens.
	MaxTokens int `json:"max_tokens,omitempty"`
	// Temperature and TopP are never sent to a reasoning deployment.
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	Seed        *int64   `json:"seed,omitempty"`
	Stop        []string `json:"stop,omitempty"`
	// JSONMode asks for a JSON object response (response_format json_object).
	JSONMode bool `json:"json_mode,omitempty"`
	// ReasoningEffort is the reasoning_effort of a reasoning deployment
	// ("none", "minimal", "low", "medium", "high"; see package
	// model/profile); empty means the model's default. Verbosity is
	// GPT-5's verbosity ("low", "medium", "high"). Neither is sent to a
	// deployment that does not take it.
	ReasoningEffort string `json:"reasoning_effort,omitempty"`
	Verbosity       string `json:"verbosity,omitempty"`

	// Tools the model may call; empty means none.
	Tools []Tool `json:"tools,omitempty"`
	// ToolChoice is "", ToolChoiceAuto, ToolChoiceNone, ToolChoiceRequired
	// or the name of one tool the model must call. Empty means the service
	// default.
	ToolChoice string `json:"tool_choice,omitempty"`

	// ResponseFormat asks for an answer that is JSON valid against a schema
	// (structured outputs); it takes precedence over JSONMode.
	ResponseFormat *ResponseFormat `json:"response_format,omitempty"`

	// OnDelta, when non-nil, makes the call streaming: the client calls it
	// synchronously, in order, with each piece of text as it arrives. It is not
	// part of the request's identity (the cache key ignores it).
	OnDelta func(Delta) `json:"-"`

	// Meta describes the call for accounting, logs and telemetry; it is not sent.
	Meta Meta `json:"-"`
}

// Meta describes who makes a call and why. It is never sent to the model.
type Meta struct {
	RunID   string
	Agent   string
	Purpose Purpose
}

// Streaming reports whether the request asks for a streamed answer.
func (r *Request) Streaming() bool { return r.OnDelta != nil }

// Delta is a piece of streamed text.
type Delta struct {
	Text string
	// Restart tells the consumer to discard the text it received so far for
	// this call: the stream was cut and is being retried from its start.
	Restart bool
	// Cached is true when the text is replayed from the response cache.
	Cached bool
}

// Usage counts tokens and money for one call or a sum of calls.
type Usage struct {
	PromptTokens       int `json:"prompt_tokens"`
	CompletionTokens   int `json:"completion_tokens"`
	CachedPromptTokens int `json:"cached_prompt_tokens,omitempty"`
	// ReasoningTokens are the hidden reasoning tokens of a reasoning model
	// (usage.completion_tokens_details.reasoning_tokens): part of
	// CompletionTokens, and billed as output.
	ReasoningTokens int `json:"reasoning_tokens,omitempty"`
	// Requests is the number of model calls summed into this usage.
	Requests int `json:"requests,omitempty"`
	// CachedResponses counts the calls answered from the response cache.
	CachedResponses int `json:"cached_responses,omitempty"`
	// CostUSD is the price of the tokens, filled by the cost middleware.
	CostUSD float64 `json:"cost_usd"`
	// SavedTokens and SavedUSD are what the calls answered from the response
	// cache used and cost when they were first made: what the cache saved.
	SavedTokens int     `json:"saved_tokens,omitempty"`
	SavedUSD    float64 `json:"saved_usd,omitempty"`
	// EmbeddingTokens and EmbeddingUSD are what the similarity cache's
	// embeddings of these calls used and cost. EmbeddingUSD is part of
	// CostUSD; the tokens are not part of TotalTokens (they are not chat
	// tokens and count against another deployment's quota).
	EmbeddingTokens int     `json:"embedding_tokens,omitempty"`
	EmbeddingUSD    float64 `json:"embedding_usd,omitempty"`
}

// usdDecimals is the precision of amounts in USD in JSON: 1e-9 USD, far
// below a token's price, so sums of prices print as the exact decimals they
// are (0.0055725, not 0.005572499999999999).
const usdDecimals = 1e9

// RoundUSD rounds an amount in USD to 1e-9 USD, the precision newsroom
// reports costs with.
func RoundUSD(usd float64) float64 { return math.Round(usd*usdDecimals) / usdDecimals }

// Rounded returns u with its amounts rounded by RoundUSD, for JSON meant for
// people and programs (sums of prices carry float noise such as
// 0.0017950000000000002). Stored values keep full precision.
func (u Usage) Rounded() Usage {
	u.CostUSD, u.SavedUSD, u.EmbeddingUSD = RoundUSD(u.CostUSD), RoundUSD(u.SavedUSD), RoundUSD(u.EmbeddingUSD)
	return u
}

// TotalTokens is the sum of prompt and completion tokens.
func (u Usage) TotalTokens() int { return u.PromptTokens + u.CompletionTokens }

// Add returns the sum of u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		PromptTokens:       u.PromptTokens + v.PromptTokens,
		CompletionTokens:   u.CompletionTokens + v.CompletionTokens,
		CachedPromptTokens: u.CachedPromptTokens + v.CachedPromptTokens,
		ReasoningTokens:    u.ReasoningTokens + v.ReasoningTokens,
		Requests:           u.Requests + v.Requests,
		CachedResponses:    u.CachedResponses + v.CachedResponses,
		CostUSD:            u.CostUSD + v.CostUSD,
		SavedTokens:        u.SavedTokens + v.SavedTokens,
		SavedUSD:           u.SavedUSD + v.SavedUSD,
		EmbeddingTokens:    u.EmbeddingTokens + v.EmbeddingTokens,
		EmbeddingUSD:       u.EmbeddingUSD + v.EmbeddingUSD,
	}
}

// Response is a completed chat completion.
type Response struct {
	ID string `json:"id,omitempty"`
	// Model is the model the service says answered.
	Model   string `json:"model,omitempty"`
	Content string `json:"content"`
	// ToolCalls are the calls the model asks for, in order (FinishReason
	// "tool_calls"); several calls in one answer are meant to run in parallel.
	ToolCalls    []ToolCall `json:"tool_calls,omitempty"`
	FinishReason string     `json:"finish_reason,omitempty"`
	// Reasoning is the opaque reasoning state a Responses API answer that
	// calls tools returns (its reasoning items with their encrypted content,
	// as a JSON array), to be handed back with the tool results in the next
	// round (see Message.Reasoning); nil for chat completions.
	Reasoning json.RawMessage `json:"reasoning,omitempty"`
	// Usage of this call; a cached answer has zero tokens and cost, Requests 1,
	// CachedResponses 1, and the original call's tokens and cost as SavedTokens and SavedUSD.
	Usage Usage `json:"usage"`
	// Cached is true when the answer came from the response cache.
	Cached bool `json:"cached,omitempty"`
	// Deployment names the deployment that answered, when a deployment pool
	// chose it (package model/pool); empty for a single deployment.
	Deployment string `json:"deployment,omitempty"`
	// Similarity is set on an answer the similarity cache (package
	// model/cache/similar) gave for a request that means the same as an
	// earlier one: their cosine similarity. 0 for an exact or no cache hit.
	Similarity float64 `json:"similarity,omitempty"`
	// ServerAddress is the host (and port) of the endpoint that answered,
	// when a deployment pool chose it; telemetry reports it as
	// server.address instead of the configured endpoint.
	ServerAddress string `json:"-"`
}

// Client completes chat requests. Implementations must be safe for concurrent use.
type Client interface {
	Complete(ctx context.Context, req *Request) (*Response, error)
}

// ClientFunc adapts a function to the Client interface.
type ClientFunc func(ctx context.Context, req *Request) (*Response, error)

// Complete calls f.
func (f ClientFunc) Complete(ctx context.Context, req *Request) (*Response, error) {
	return f(ctx, req)
}

// Middleware decorates a Client.
type Middleware func(Client) Client

// Chain wraps c in the middleware, the first one outermost:
// Chain(c, a, b) calls a, which calls b, which calls c.
func Chain(c Client, mws ...Middleware) Client {
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			c = mws[i](c)
		}
	}
	return c
}

// Error is a failure reported by the model service, with what is needed to
// decide whether and when to try again.
type Error struct {
	// StatusCode is the HTTP status; 0 for a transport failure.
	StatusCode int
	// Code is the service's error code, such as "429", "content_filter" or
	// "context_length_exceeded".
	Code    string
	Message string
	// Param is the request parameter the service named as the problem
	// (error.param), such as "max_tokens" for unsupported_parameter.
	Param string
	// RequestID is the service's request id (apim-request-id or x-request-id).
	RequestID string
	// RetryAfter is the wait the service asked for; 0 when it said nothing.
	RetryAfter time.Duration
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	s := "model: "
	if e.StatusCode != 0 {
		s += fmt.Sprintf("HTTP %d", e.StatusCode)
		if e.Code != "" {
			s += " " + e.Code
		}
		s += ": "
	}
	s += msg
	if e.RequestID != "" {
		s += " (request id " + e.RequestID + ")"
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrStreamCut is wrapped by errors for a stream that ended before its final chunk.
var ErrStreamCut = errors.New("model: stream ended before it was complete")

// StopError is implemented by errors that end a run gracefully with a stop
// reason instead of failing it: a budget that would be crossed, a content
// filter refusal.
type StopError interface {
	error
	StopReason() string
}

// AsStop reports whether err carries a graceful stop reason.
func AsStop(err error) (string, bool) {
	var s StopError
	if errors.As(err, &s) {
		return s.StopReason(), true
	}
	return "", false
}
