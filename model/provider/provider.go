// Package provider is the bottom model.Client: it speaks the chat completions
// protocol to Azure OpenAI or an OpenAI-compatible endpoint (OpenAI, Ollama,
// vLLM) over azcore's HTTP pipeline, encoding its request bodies and
// decoding answers and server-sent event streams itself.
// A client may speak the Responses API instead (Config.API, responses.go).
//
// The client does one attempt per call. The pipeline's own retries are
// switched off because newsroom has one retry policy for the whole process,
// the retry middleware above this client; every failure comes back as a
// *model.Error carrying what that middleware needs (status, service code,
// request id, the wait the service asked for).
//
// Authentication is a value: an API key, or for Azure an
// azcore.TokenCredential whose bearer tokens are requested for the
// Cognitive Services scope. Credentials only travel over HTTPS, except to a
// loopback host (local emulators and development servers).
package provider

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/newsroom-dev/newsroom/httpx"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/profile"
)

// Kinds of endpoint.
const (
	KindAzure  = "azure"
	KindOpenAI = "openai"
)

// Defaults.
const (
	// DefaultAPIVersion is the Azure OpenAI API used when Config.APIVersion
	// is empty: the v1 API (https://RESOURCE.openai.azure.com/openai/v1/,
	// no api-version query, the deployment named in the body's model).
	DefaultAPIVersion = APIVersionV1
	// APIVersionV1 selects Azure OpenAI's v1 API instead of a dated
	// api-version.
	APIVersionV1 = "v1"
	// MinReasoningAPIVersion is the first dated api-version that takes
	// max_completion_tokens: reasoning deployments need it or later (or v1).
	MinReasoningAPIVersion = profile.MinMaxCompletionAPIVersion
	// DefaultBaseURL is the OpenAI endpoint used when Config.BaseURL is empty.
	DefaultBaseURL = "https://api.openai.com/v1/"
	// Scope is the Entra ID scope bearer tokens are requested for.
	Scope = "https://cognitiveservices.azure.com/.default"
)

// Errors returned by New.
var (
	// ErrConfig is wrapped by every configuration error.
	ErrConfig = errors.New("provider: invalid configuration")
	// ErrInsecureEndpoint is wrapped when an endpoint is plain http and not loopback.
	ErrInsecureEndpoint = errors.New("provider: endpoint must use https (plain http is allowed only for loopback hosts)")
)

// Config configures a Client.
type Config struct {
	// Kind is KindAzure or KindOpenAI. Empty means KindAzure when Endpoint is
	// set, KindOpenAI otherwise.
	Kind string

	// Endpoint is the Azure OpenAI resource URL, such as
	// https://NAME.openai.azure.com (Azure only).
	Endpoint string
	// Deployment is the default Azure deployment, used when a request names
	// no model (Azure only).
	Deployment string
	// APIVersion is the Azure api-version query parameter, or APIVersionV1
	// for the v1 API; empty means DefaultAPIVersion (Azure only).
	APIVersion string
	// DeploymentModel is the model behind Deployment ("gpt-5-mini"), when
	// the configuration knows it: it picks the deployment's profile (see
	// package model/profile). Empty: the deployment's name, then the model
	// its first answer names.
	DeploymentModel string
	// Profiles are the deployments' profiles; nil means a set of its own
	// over the built-in table. Pool members may share one.
	Profiles *profile.Set
	// OnAdapt is called once per deployment and parameter the service
	// refused although the profile said it takes it (the call is adapted
	// and sent again). Nil ignores it.
	OnAdapt func(deployment, param, code string)

	// APIKey authenticates with the api-key header (Azure) or as a bearer
	// token (OpenAI). It may be empty for OpenAI-compatible servers that need
	// no key.
	APIKey string
	// Credential supplies Entra ID bearer tokens for Azure when APIKey is
	// empty (see DefaultCredential).
	Credential azcore.TokenCredential

	// BaseURL is the OpenAI-compatible endpoint, such as
	// http://localhost:11434/v1 for Ollama; empty means DefaultBaseURL.
	BaseURL string
	// Model is the default model name for OpenAI-compatible endpoints.
	Model string

	// API is the protocol the calls use: APIChat (chat completions, the
	// default when empty) or APIResponses (the Responses API, see
	// responses.go).
	API string

	// HTTPClient sends the requests. Nil means a new client from
	// httpx.NewClient; pass the process's shared one so connections are reused.
	HTTPClient *http.Client
	// RequestTimeout bounds one call, including a streamed body; 0 means only
	// the context's deadline applies.
	RequestTimeout time.Duration

	// OnRateLimitHeaders, when set, is called after every response that
	// carries x-ratelimit-remaining-requests or x-ratelimit-remaining-tokens,
	// with the deployment (or model) the call went to; a header that is
	// absent is passed as -1. It is called synchronously and must be fast.
	OnRateLimitHeaders func(deployment string, remainingRequests, remainingTokens int)

	// Now is the clock used to turn an HTTP-date Retry-After into a wait;
	// nil means time.Now.
	Now func() time.Time
}

// Client is a model.Client for the chat completions protocol. It is safe for
// concurrent use.
type Client struct {
	kind         string
	defaultModel string
	pl           runtime.Pipeline
	base         string // the endpoint or base URL, without a trailing slash
	apiVersion   string // query-escaped (Azure)
	v1           bool   // Azure's v1 API
	profiles     *profile.Set
	onAdapt      func(string, string, string)
	apiKey       string
	timeout      time.Duration
	onRateLimit  func(string, int, int)
	now          func() time.Time
	api          string // APIChat or APIResponses
}

var _ model.Client = (*Client)(nil)

// New validates cfg and returns a client. It makes no request.
func New(cfg Config) (*Client, error) {
	var err error
	kind := strings.ToLower(strings.TrimSpace(cfg.Kind))
	if kind == "" {
		kind = KindOpenAI
		if cfg.Endpoint != "" {
			kind = KindAzure
		}
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = httpx.NewClient(httpx.Options{})
	}
	c := &Client{kind: kind, apiKey: cfg.APIKey, timeout: max(cfg.RequestTimeout, 0), onRateLimit: cfg.OnRateLimitHeaders, now: cfg.Now,
		profiles: cfg.Profiles, onAdapt: cfg.OnAdapt}
	if c.profiles == nil {
		c.profiles = profile.NewSet(nil, nil)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.api, err = checkAPI(cfg.API); err != nil {
		return nil, err
	}
	var auth policy.Policy
	switch kind {
	case KindAzure:
		if cfg.Endpoint == "" {
			return nil, fmt.Errorf("%w: azure needs an endpoint", ErrConfig)
		}
		u, err := CheckEndpoint(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		version := cfg.APIVersion
		if version == "" {
			version = DefaultAPIVersion
		}
		if cfg.APIKey == "" && cfg.Credential == nil {
			return nil, fmt.Errorf("%w: azure needs an API key or a token credential", ErrConfig)
		}
		c.defaultModel, c.base, c.apiVersion = cfg.Deployment, baseOf(u), url.QueryEscape(version)
		c.v1 = strings.EqualFold(version, APIVersionV1)
		c.profiles.Configure(cfg.Deployment, cfg.DeploymentModel)
		// azcore refuses to send credentials over plain http; that is
		// lifted only for loopback destinations, which CheckEndpoint
		// guaranteed.
		auth = azureAuth(cfg.APIKey, cfg.Credential, u.Scheme == "http")
	case KindOpenAI:
		base := cfg.BaseURL
		if base == "" {
			base = DefaultBaseURL
		}
		u, err := CheckEndpoint(base)
		if err != nil {
			return nil, err
		}
		c.defaultModel, c.base = cfg.Model, baseOf(u)
		c.profiles.Configure(cfg.Model, cfg.DeploymentModel)
		auth = openAIAuth(cfg.APIKey, u.Scheme == "http")
	default:
		return nil, fmt.Errorf("%w: unknown kind %q (want %q or %q)", ErrConfig, cfg.Kind, KindAzure, KindOpenAI)
	}
	// Nothing is read from the process environment: configuration comes
	// only from package config.
	c.pl = newPipeline(httpClient, auth)
	return c, nil
}

// CheckEndpoint parses an endpoint URL and rejects anything but https, or
// plain http to a loopback host (127.0.0.0/8, ::1, localhost).
func CheckEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: endpoint %q is not a URL: %v", ErrConfig, raw, err)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%w: endpoint %q must be an absolute http(s) URL", ErrConfig, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: endpoint must not carry credentials in the URL", ErrConfig)
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%w: %s", ErrInsecureEndpoint, u.Redacted())
	}
	return u, nil
}

// IsLoopback reports whether host is localhost or a loopback IP address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DefaultCredential builds azidentity's DefaultAzureCredential: a service
// principal from the environment, workload identity, managed identity
// (including App Service's IDENTITY_ENDPOINT/IDENTITY_HEADER) and the Azure
// CLI, tried in that order. opts may be nil.
func DefaultCredential(opts *azidentity.DefaultAzureCredentialOptions) (azcore.TokenCredential, error) {
	cred, err := azidentity.NewDefaultAzureCredential(opts)
	if err != nil {
		return nil, fmt.Errorf("provider: default Azure credential: %w", err)
	}
	return cred, nil
}

// Complete sends one chat completion request (a Responses API request when
// the client's API is APIResponses); it streams when req.OnDelta is set. The request is encoded for the deployment's profile (see package
// model/profile). A 400 unsupported_parameter, unsupported_value or
// invalid_value naming a parameter the profile said the deployment takes is
// adapted once: the parameter is dropped (max_tokens moved to
// max_completion_tokens), the profile remembers it for the process, and the
// call is sent again, once.
func (c *Client) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := c.complete(ctx, req)
	var me *model.Error
	if err == nil || !errors.As(err, &me) || !adaptable(me) {
		return resp, err
	}
	deployment := cmp.Or(req.Model, c.defaultModel)
	adapted, first := c.profiles.Adapt(deployment, me.Param)
	if !adapted {
		return resp, err
	}
	if first && c.onAdapt != nil {
		c.onAdapt(deployment, me.Param, me.Code)
	}
	return c.complete(ctx, req)
}

// adaptable reports whether an error is a refused parameter the call can
// be adapted to.
func adaptable(e *model.Error) bool {
	if e.StatusCode != http.StatusBadRequest || e.Param == "" {
		return false
	}
	switch e.Code {
	case "unsupported_parameter", "unsupported_value", "invalid_value":
		return true
	}
	return false
}

func (c *Client) complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	if c.api == APIResponses {
		return c.completeResponse(ctx, req)
	}
	body, deployment, err := c.requestBody(req)
	if err != nil {
		return nil, err
	}
	accept := "application/json"
	if req.Streaming() {
		accept = "text/event-stream"
	}
	raw, err := c.send(ctx, chatRoute, deployment, body, accept)
	if err != nil {
		return nil, err
	}
	defer func() { _ = raw.Body.Close() }()
	var resp *model.Response
	if !req.Streaming() {
		resp, err = c.response(ctx, raw)
	} else {
		resp, err = c.stream(ctx, req, raw)
	}
	if resp != nil {
		c.profiles.Observe(deployment, resp.Model)
	}
	return resp, err
}

// Profile returns the profile the client encodes requests to a deployment
// with ("" is the default deployment).
func (c *Client) Profile(deployment string) profile.Profile {
	return c.profiles.Profile(cmp.Or(deployment, c.defaultModel))
}

// wireRequest is the chat completions request body newsroom sends (a small
// struct through encoding/json: the OpenAI SDK's ChatCompletionNewParams, a
// 1.2 KB struct of unions marshalled by reflection through several layers,
// made every call's goroutine stack grow past 16 KB, which a thousand
// concurrent runs paid for in memory).
type wireRequest struct {
	Messages       []wireMessage  `json:"messages"`
	Model          string         `json:"model"`
	MaxTokens      int            `json:"max_tokens,omitempty"`
	MaxCompletion  int            `json:"max_completion_tokens,omitempty"`
	Effort         string         `json:"reasoning_effort,omitempty"`
	Verbosity      string         `json:"verbosity,omitempty"`
	Seed           *int64         `json:"seed,omitempty"`
	Stop           any            `json:"stop,omitempty"` // a string or a list of strings
	Temperature    *float64       `json:"temperature,omitempty"`
	TopP           *float64       `json:"top_p,omitempty"`
	ResponseFormat *wireFormat    `json:"response_format,omitempty"`
	Tools          []wireTool     `json:"tools,omitempty"`
	ToolChoice     any            `json:"tool_choice,omitempty"` // a string or a named function
	Stream         bool           `json:"stream,omitempty"`
	StreamOptions  *streamOptions `json:"stream_options,omitempty"`
}

// wireMessage is one message of the request. Content is null for an
// assistant message that only calls tools, as the service writes it.
type wireMessage struct {
	Role       model.Role     `json:"role"`
	Content    *string        `json:"content"`
	Name       string         `json:"name,omitempty"`
	ToolCalls  []wireToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

// wireTool is a function tool definition (chatCompletionTool).
type wireTool struct {
	Type     string       `json:"type"`
	Function wireFunction `json:"function"`
}

type wireFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// wireToolCall is a call in an assistant message (chatCompletionMessageToolCall).
type wireToolCall struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function wireCallFunction `json:"function"`
}

type wireCallFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// wireNamedChoice is a tool_choice naming one function (chatCompletionNamedToolChoice).
type wireNamedChoice struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

// wireFormat is response_format: json_object, or json_schema with its
// schema (see format.go).
type wireFormat struct {
	Type       string          `json:"type"`
	JSONSchema *wireJSONSchema `json:"json_schema,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// requestBody encodes req as a request body and returns the deployment (or
// model) it goes to.
func (c *Client) requestBody(req *model.Request) ([]byte, string, error) {
	name := req.Model
	if name == "" {
		name = c.defaultModel
	}
	if name == "" {
		if c.kind == KindAzure {
			return nil, "", fmt.Errorf("%w: no deployment: set one in the configuration or the request", ErrConfig)
		}
		return nil, "", fmt.Errorf("%w: no model: set one in the configuration or the request", ErrConfig)
	}
	w := wireRequest{Model: name, Messages: make([]wireMessage, 0, len(req.Messages)), Seed: req.Seed}
	encodeParams(&w, req, c.profiles.Params(name))
	for i := range req.Messages {
		m := &req.Messages[i]
		wm := wireMessage{Role: m.Role, Content: &m.Content, Name: m.Name}
		switch m.Role {
		case model.RoleSystem, model.RoleUser:
		case model.RoleAssistant:
			if len(m.ToolCalls) > 0 {
				if m.Content == "" {
					wm.Content = nil
				}
				wm.ToolCalls = make([]wireToolCall, len(m.ToolCalls))
				for j, tc := range m.ToolCalls {
					wm.ToolCalls[j] = wireToolCall{ID: tc.ID, Type: "function", Function: wireCallFunction{Name: tc.Name, Arguments: tc.Arguments}}
				}
			}
		case model.RoleTool:
			if m.ToolCallID == "" {
				return nil, "", fmt.Errorf("provider: tool message %d has no tool_call_id", i)
			}
			wm.Name, wm.ToolCallID = "", m.ToolCallID
		default:
			return nil, "", fmt.Errorf("provider: unsupported message role %q", m.Role)
		}
		w.Messages = append(w.Messages, wm)
	}
	if len(req.Tools) > 0 {
		w.Tools = make([]wireTool, len(req.Tools))
		for i, t := range req.Tools {
			w.Tools[i] = wireTool{Type: "function", Function: wireFunction{Name: t.Name, Description: t.Description, Parameters: t.Parameters}}
		}
	}
	switch req.ToolChoice {
	case "":
	case model.ToolChoiceAuto, model.ToolChoiceNone, model.ToolChoiceRequired:
		w.ToolChoice = req.ToolChoice
	default:
		nc := wireNamedChoice{Type: "function"}
		nc.Function.Name = req.ToolChoice
		w.ToolChoice = nc
	}
	switch len(req.Stop) {
	case 0:
	case 1:
		w.Stop = req.Stop[0]
	default:
		w.Stop = req.Stop
	}
	w.ResponseFormat = chatFormat(req)
	if req.Streaming() {
		w.Stream = true
		w.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			bodyBuffers.Put(buf)
		}
	}()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&w); err != nil {
		return nil, "", fmt.Errorf("provider: encoding the request: %w", err)
	}
	// An exact-size copy: the body stays in memory until the answer ends.
	return bytes.Clone(buf.Bytes()), name, nil
}

// encodeParams sets the generation parameters the deployment takes: a
// reasoning deployment gets max_completion_tokens, reasoning_effort and
// verbosity and never max_tokens or the sampling parameters; others keep
// max_tokens, temperature and top_p.
func encodeParams(w *wireRequest, req *model.Request, p profile.Params) {
	if n := max(req.MaxTokens, 0); p.MaxCompletionTokens() {
		w.MaxCompletion = n
	} else {
		w.MaxTokens = n
	}
	if p.Sends(profile.ParamTemperature) {
		w.Temperature = req.Temperature
	}
	if p.Sends(profile.ParamTopP) {
		w.TopP = req.TopP
	}
	if req.ReasoningEffort != "" && p.Sends(profile.ParamReasoningEffort) && p.Profile.AcceptsEffort(req.ReasoningEffort) {
		w.Effort = req.ReasoningEffort
	}
	if req.Verbosity != "" && p.Sends(profile.ParamVerbosity) {
		w.Verbosity = req.Verbosity
	}
}

// bodyBuffers holds encoding buffers for request bodies up to maxPooledBody.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBody = 256 << 10

// completion is the part of a chat completion (non-streamed) newsroom reads.
type completion struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		FinishReason string `json:"finish_reason"`
		Message      struct {
			Content   string         `json:"content"`
			ToolCalls []wireToolCall `json:"tool_calls"`
		} `json:"message"`
	} `json:"choices"`
	Usage wireUsage `json:"usage"`
}

// wireUsage is the usage object of an answer or of a stream's last chunk.
type wireUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

// response reads a non-streamed answer.
func (c *Client) response(ctx context.Context, raw *http.Response) (*model.Response, error) {
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			bodyBuffers.Put(buf)
		}
	}()
	var cc completion
	_, err := buf.ReadFrom(raw.Body)
	if err == nil {
		if err = json.Unmarshal(buf.Bytes(), &cc); err != nil {
			err = fmt.Errorf("provider: decoding the answer: %w", err)
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			return nil, &model.Error{Message: c.redact(err.Error()), RequestID: requestID(raw), Err: err}
		}
		return nil, c.mapError(ctx, err, raw)
	}
	if len(cc.Choices) == 0 {
		return nil, &model.Error{Message: "provider: the service returned no choices", RequestID: requestID(raw)}
	}
	ch := cc.Choices[0]
	if ch.FinishReason == "content_filter" {
		return nil, filteredAnswer(string(choiceJSON(buf.Bytes(), 0)), requestID(raw))
	}
	resp := &model.Response{
		ID:           cc.ID,
		Model:        cc.Model,
		Content:      ch.Message.Content,
		FinishReason: ch.FinishReason,
		Usage:        usage(cc.Usage),
	}
	for _, tc := range ch.Message.ToolCalls {
		if tc.Type != "" && tc.Type != "function" {
			continue // custom tools are never offered
		}
		resp.ToolCalls = append(resp.ToolCalls, model.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	return resp, nil
}

func usage(u wireUsage) model.Usage {
	return model.Usage{
		PromptTokens:       u.PromptTokens,
		CompletionTokens:   u.CompletionTokens,
		CachedPromptTokens: u.PromptTokensDetails.CachedTokens,
		ReasoningTokens:    u.CompletionTokensDetails.ReasoningTokens,
		Requests:           1,
	}
}

// stream reads a streamed answer (server-sent events) from a response whose
// status was a success.
func (c *Client) stream(ctx context.Context, req *model.Request, raw *http.Response) (*model.Response, error) {
	var err error
	dec := newSSEDecoder(raw.Body)
	defer dec.release()

	resp := &model.Response{Usage: model.Usage{Requests: 1}}
	var text strings.Builder
	var filterJSON []byte
	var ch streamChunk
	var calls toolCallAssembler
	chunks := 0
	for {
		data, ok := dec.next()
		if !ok {
			err = dec.Err()
			break
		}
		if bytes.HasPrefix(data, []byte("[DONE]")) {
			// The service ends the body right after [DONE]; reading to
			// its end (bounded) lets the connection be reused, where
			// closing it unread would drop it.
			dec.drain(drainLimit)
			break
		}
		ch.reset()
		if err = json.Unmarshal(data, &ch); err != nil {
			break
		}
		if len(ch.Error) > 0 && string(ch.Error) != "null" {
			err = &streamErrorEvent{data: bytes.Clone(data)}
			break
		}
		chunks++
		if ch.ID != "" {
			resp.ID = ch.ID
		}
		if ch.Model != "" {
			resp.Model = ch.Model
		}
		if u := ch.Usage; u != nil {
			resp.Usage = usage(*u)
		}
		for i := range ch.Choices {
			choice := &ch.Choices[i]
			if choice.Index != 0 {
				continue
			}
			if choice.Delta.Content != "" {
				text.WriteString(choice.Delta.Content)
				req.OnDelta(model.Delta{Text: choice.Delta.Content})
			}
			for _, d := range choice.Delta.ToolCalls {
				calls.add(d)
			}
			if choice.FinishReason != "" {
				resp.FinishReason = choice.FinishReason
				if choice.FinishReason == "content_filter" {
					filterJSON = choiceJSON(data, i)
				}
			}
		}
	}
	if err != nil {
		return nil, c.streamError(ctx, err, raw, chunks)
	}
	if ctx.Err() != nil {
		return nil, &model.Error{Err: ctx.Err(), RequestID: requestID(raw)}
	}
	if resp.FinishReason == "" {
		return nil, &model.Error{
			Message:   fmt.Sprintf("stream ended after %d chunks without a finish reason", chunks),
			RequestID: requestID(raw),
			Err:       model.ErrStreamCut,
		}
	}
	if resp.FinishReason == "content_filter" {
		return nil, filteredAnswer(string(filterJSON), requestID(raw))
	}
	resp.Content = text.String()
	resp.ToolCalls = calls.calls()
	return resp, nil
}

// choiceJSON returns the JSON of choices[i] of a chunk (nil if it cannot be
// decoded): the content filter results of a filtered answer are read from it.
func choiceJSON(chunk []byte, i int) []byte {
	var c struct {
		Choices []json.RawMessage `json:"choices"`
	}
	if json.Unmarshal(chunk, &c) != nil || i >= len(c.Choices) {
		return nil
	}
	return c.Choices[i]
}

// RetryAfter returns the wait a response asks for: retry-after-ms, then
// x-ms-retry-after-ms (milliseconds), then Retry-After (seconds or an HTTP
// date, relative to now). It returns 0 when none is present or valid.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	for _, k := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && ms < 1e12 {
				return time.Duration(ms * float64(time.Millisecond))
			}
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || s > 1e9 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func requestID(raw *http.Response) string {
	if raw == nil {
		return ""
	}
	if id := raw.Header.Get("apim-request-id"); id != "" {
		return id
	}
	return raw.Header.Get("x-request-id")
}

// observe reports the rate-limit headers of a response to the hook.
func (c *Client) observe(deployment string, raw *http.Response) {
	if c.onRateLimit == nil || raw == nil {
		return
	}
	req, okR := headerInt(raw.Header, "x-ratelimit-remaining-requests")
	tok, okT := headerInt(raw.Header, "x-ratelimit-remaining-tokens")
	if okR || okT {
		c.onRateLimit(deployment, req, tok)
	}
}

func headerInt(h http.Header, k string) (int, bool) {
	v := strings.TrimSpace(h.Get(k))
	if v == "" {
		return -1, false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1, false
	}
	return n, true
}
