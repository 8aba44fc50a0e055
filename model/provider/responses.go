package provider

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/newsroom-dev/newsroom/model"
)

// The Responses API (POST /openai/v1/responses on Azure's v1 surface, no
// api-version, the deployment named in the body's model; POST
// {base}/responses on OpenAI), chosen per client with Config.API.
//
// A model.Request maps onto it as follows: messages become input items
// (system, user and assistant messages, function_call items for an
// assistant's tool calls, function_call_output items for tool results);
// tools become flat function tools with strict off (the Responses API makes
// them strict by default, which newsroom's derived schemas need not meet);
// MaxTokens is max_output_tokens (at least 16, the API's minimum),
// ReasoningEffort reasoning.effort and ResponseFormat text.format. Seed and
// Stop have no Responses counterpart and are not sent.
//
// Nothing is kept on the service: every request has store false and asks
// for include ["reasoning.encrypted_content"], so an answer that calls tools
// carries its reasoning items with their encrypted content. They come back
// as model.Response.Reasoning; the agent's tool loop puts them on the
// assistant message (model.Message.Reasoning), and the next round sends
// them, before the function calls they led to (with their item ids), so the
// model keeps its reasoning across the tool rounds of one reply.
//
// The Responses API has no participant name: a user message from a named
// participant other than "user" is sent as "[Name]: content".

// APIs a client can speak (Config.API).
const (
	APIChat      = "chat"
	APIResponses = "responses"
)

const responsesRoute = "responses"

// minOutputTokens is the smallest max_output_tokens the Responses API takes.
const minOutputTokens = 16

// checkAPI validates Config.API; empty means APIChat.
func checkAPI(api string) (string, error) {
	switch a := strings.ToLower(strings.TrimSpace(api)); a {
	case "", APIChat:
		return APIChat, nil
	case APIResponses:
		return APIResponses, nil
	default:
		return "", fmt.Errorf("%w: unknown API %q (want %q or %q)", ErrConfig, api, APIChat, APIResponses)
	}
}

// responsesURL is the Responses API's URL: Azure's v1 surface, or the
// OpenAI-compatible base URL's responses route.
func (c *Client) responsesURL() string {
	if c.kind == KindAzure {
		return c.base + "/openai/v1/" + responsesRoute
	}
	return c.base + "/" + responsesRoute
}

// responsesRequest is the body of a Responses API request.
type responsesRequest struct {
	Model           string          `json:"model"`
	Input           []any           `json:"input"`
	Store           bool            `json:"store"`
	Include         []string        `json:"include"`
	MaxOutputTokens int             `json:"max_output_tokens,omitempty"`
	Temperature     *float64        `json:"temperature,omitempty"`
	TopP            *float64        `json:"top_p,omitempty"`
	Reasoning       *reasoningParam `json:"reasoning,omitempty"`
	Text            *textParam      `json:"text,omitempty"`
	Tools           []responsesTool `json:"tools,omitempty"`
	ToolChoice      any             `json:"tool_choice,omitempty"`
	Stream          bool            `json:"stream,omitempty"`
}

type reasoningParam struct {
	Effort string `json:"effort"`
}

type textParam struct {
	Format *textFormat `json:"format"`
}

// responsesTool is a function tool of the Responses API (flat, not nested
// under "function" as in chat completions).
type responsesTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      bool            `json:"strict"`
}

// inputMessage is an input item of type message with text content.
type inputMessage struct {
	Type    string     `json:"type"`
	Role    model.Role `json:"role"`
	Content string     `json:"content"`
}

// functionCallItem is a function call the model made, sent back.
type functionCallItem struct {
	Type      string `json:"type"`
	ID        string `json:"id,omitempty"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// functionCallOutput is a tool's result.
type functionCallOutput struct {
	Type   string `json:"type"`
	CallID string `json:"call_id"`
	Output string `json:"output"`
}

// emptyParameters is the schema of a function without parameters: the
// Responses API requires one.
var emptyParameters = json.RawMessage(`{"type":"object","properties":{}}`)

// responsesBody encodes req as a Responses API request body and returns the
// deployment (or model) it goes to.
func (c *Client) responsesBody(req *model.Request) ([]byte, string, error) {
	name := cmp.Or(req.Model, c.defaultModel)
	if name == "" {
		return nil, "", fmt.Errorf("%w: no deployment: set one in the configuration or the request", ErrConfig)
	}
	w := responsesRequest{Model: name, Include: []string{"reasoning.encrypted_content"},
		Temperature: req.Temperature, TopP: req.TopP, Stream: req.Streaming()}
	if req.MaxTokens > 0 {
		// The Responses API refuses a max_output_tokens below 16.
		w.MaxOutputTokens = max(req.MaxTokens, minOutputTokens)
	}
	input, err := responsesInput(req.Messages)
	if err != nil {
		return nil, "", err
	}
	w.Input = input
	if req.ReasoningEffort != "" {
		w.Reasoning = &reasoningParam{Effort: req.ReasoningEffort}
	}
	if f := responsesFormat(req); f != nil {
		w.Text = &textParam{Format: f}
	}
	for _, t := range req.Tools {
		params := t.Parameters
		if len(params) == 0 {
			params = emptyParameters
		}
		w.Tools = append(w.Tools, responsesTool{Type: "function", Name: t.Name, Description: t.Description, Parameters: params})
	}
	switch req.ToolChoice {
	case "":
	case model.ToolChoiceAuto, model.ToolChoiceNone, model.ToolChoiceRequired:
		w.ToolChoice = req.ToolChoice
	default:
		w.ToolChoice = map[string]string{"type": "function", "name": req.ToolChoice}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&w); err != nil {
		return nil, "", fmt.Errorf("provider: encoding the request: %w", err)
	}
	return buf.Bytes(), name, nil
}

// responsesInput turns the conversation into input items.
func responsesInput(msgs []model.Message) ([]any, error) {
	input := make([]any, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		switch m.Role {
		case model.RoleSystem:
			input = append(input, inputMessage{Type: "message", Role: m.Role, Content: m.Content})
		case model.RoleUser:
			text := m.Content
			if m.Name != "" && m.Name != "user" {
				text = "[" + m.Name + "]: " + text
			}
			input = append(input, inputMessage{Type: "message", Role: m.Role, Content: text})
		case model.RoleAssistant:
			var reasoning []json.RawMessage
			if len(m.Reasoning) > 0 && len(m.ToolCalls) > 0 {
				if err := json.Unmarshal(m.Reasoning, &reasoning); err != nil {
					return nil, fmt.Errorf("provider: message %d: its reasoning is not a list of items: %w", i, err)
				}
			}
			for _, r := range reasoning {
				input = append(input, r)
			}
			if m.Content != "" || len(m.ToolCalls) == 0 {
				input = append(input, inputMessage{Type: "message", Role: m.Role, Content: m.Content})
			}
			for _, tc := range m.ToolCalls {
				fc := functionCallItem{Type: "function_call", CallID: tc.ID, Name: tc.Name, Arguments: tc.Arguments}
				if len(reasoning) > 0 {
					// The item id ties the call to its reasoning; without
					// the reasoning the service refuses it, so it is sent
					// only together.
					fc.ID = tc.ItemID
				}
				input = append(input, fc)
			}
		case model.RoleTool:
			if m.ToolCallID == "" {
				return nil, fmt.Errorf("provider: tool message %d has no tool_call_id", i)
			}
			input = append(input, functionCallOutput{Type: "function_call_output", CallID: m.ToolCallID, Output: m.Content})
		default:
			return nil, fmt.Errorf("provider: unsupported message role %q", m.Role)
		}
	}
	return input, nil
}

// completeResponse sends one Responses API request.
func (c *Client) completeResponse(ctx context.Context, req *model.Request) (*model.Response, error) {
	body, deployment, err := c.responsesBody(req)
	if err != nil {
		return nil, err
	}
	accept := "application/json"
	if req.Streaming() {
		accept = "text/event-stream"
	}
	raw, err := c.send(ctx, responsesRoute, deployment, body, accept)
	if err != nil {
		return nil, err
	}
	defer func() { _ = raw.Body.Close() }()
	if req.Streaming() {
		return c.responsesStream(ctx, req, raw)
	}
	var r responseObject
	var buf bytes.Buffer
	_, err = buf.ReadFrom(raw.Body)
	if err == nil {
		if err = json.Unmarshal(buf.Bytes(), &r); err != nil {
			err = fmt.Errorf("provider: decoding the answer: %w", err)
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			return nil, &model.Error{Message: c.redact(err.Error()), RequestID: requestID(raw), Err: err}
		}
		return nil, c.mapError(ctx, err, raw)
	}
	return c.responseOf(&r, raw)
}

// responseObject is the part of a Responses API response newsroom reads.
type responseObject struct {
	ID                string            `json:"id"`
	Model             string            `json:"model"`
	Status            string            `json:"status"`
	Output            []json.RawMessage `json:"output"`
	Error             json.RawMessage   `json:"error"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
	Usage *struct {
		InputTokens        int `json:"input_tokens"`
		InputTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"input_tokens_details"`
		OutputTokens        int `json:"output_tokens"`
		OutputTokensDetails struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		} `json:"output_tokens_details"`
	} `json:"usage"`
}

// outputItem is the part of an output item newsroom reads.
type outputItem struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	Content   []struct {
		Type    string `json:"type"`
		Text    string `json:"text"`
		Refusal string `json:"refusal"`
	} `json:"content"`
}

// responseOf maps a completed (or incomplete, or failed) response.
func (c *Client) responseOf(r *responseObject, raw *http.Response) (*model.Response, error) {
	if r.Status == "failed" || (len(r.Error) > 0 && string(r.Error) != "null") {
		return nil, c.streamError(context.Background(), &streamErrorEvent{data: wrapError(r.Error)}, raw, 0)
	}
	resp := &model.Response{ID: r.ID, Model: r.Model, Usage: model.Usage{Requests: 1}}
	if u := r.Usage; u != nil {
		resp.Usage = model.Usage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens,
			CachedPromptTokens: u.InputTokensDetails.CachedTokens, ReasoningTokens: u.OutputTokensDetails.ReasoningTokens, Requests: 1}
	}
	var text strings.Builder
	var reasoning []json.RawMessage
	for _, rawItem := range r.Output {
		var it outputItem
		if json.Unmarshal(rawItem, &it) != nil {
			continue
		}
		switch it.Type {
		case "message":
			for _, p := range it.Content {
				if p.Type == "output_text" {
					text.WriteString(p.Text)
				}
			}
		case "function_call":
			resp.ToolCalls = append(resp.ToolCalls, model.ToolCall{ID: it.CallID, Name: it.Name, Arguments: it.Arguments, ItemID: it.ID})
		case "reasoning":
			reasoning = append(reasoning, rawItem)
		}
	}
	resp.Content = text.String()
	switch {
	case r.Status == "incomplete" && r.IncompleteDetails != nil && r.IncompleteDetails.Reason == "content_filter":
		return nil, filteredAnswer("", requestID(raw))
	case r.Status == "incomplete":
		resp.FinishReason = "length"
	case len(resp.ToolCalls) > 0:
		resp.FinishReason = "tool_calls"
	default:
		resp.FinishReason = "stop"
	}
	if len(resp.ToolCalls) > 0 && len(reasoning) > 0 {
		resp.Reasoning, _ = json.Marshal(reasoning)
	}
	return resp, nil
}

// wrapError puts an error object under "error", the shape streamError reads.
func wrapError(e json.RawMessage) []byte {
	if len(e) == 0 || string(e) == "null" {
		e = json.RawMessage(`{"message":"the response failed"}`)
	}
	return append(append([]byte(`{"error":`), e...), '}')
}

// responsesEvent is the part of a streamed event newsroom reads.
type responsesEvent struct {
	Type     string          `json:"type"`
	Delta    string          `json:"delta"`
	ItemID   string          `json:"item_id"`
	Item     json.RawMessage `json:"item"`
	Response json.RawMessage `json:"response"`
}

// responsesStream reads a streamed answer: text deltas go to OnDelta as
// they arrive; the terminal event (response.completed, .incomplete or
// .failed) carries the whole response, which gives the result, with the
// items of the response.output_item.done events when it has no output
// (function call arguments come whole in those; their deltas are not
// needed). An "error" event or a stream that ends before its terminal event
// fails the call.
func (c *Client) responsesStream(ctx context.Context, req *model.Request, raw *http.Response) (*model.Response, error) {
	dec := newSSEDecoder(raw.Body)
	defer dec.release()
	var err error
	var final *responseObject
	var done []json.RawMessage // the output items, as response.output_item.done gave them
	events := 0
	for final == nil {
		data, ok := dec.next()
		if !ok {
			err = dec.Err()
			break
		}
		var ev responsesEvent
		if err = json.Unmarshal(data, &ev); err != nil {
			break
		}
		events++
		switch ev.Type {
		case "response.output_text.delta":
			if ev.Delta != "" {
				req.OnDelta(model.Delta{Text: ev.Delta})
			}
		case "response.output_item.done":
			done = append(done, bytes.Clone(ev.Item))
		case "error":
			err = &streamErrorEvent{data: wrapError(bytes.Clone(data))}
		case "response.completed", "response.incomplete", "response.failed":
			final = new(responseObject)
			if err = json.Unmarshal(ev.Response, final); err != nil {
				final = nil
			}
		}
		if err != nil {
			break
		}
	}
	if err != nil {
		return nil, c.streamError(ctx, err, raw, events)
	}
	if ctx.Err() != nil {
		return nil, &model.Error{Err: ctx.Err(), RequestID: requestID(raw)}
	}
	if final == nil {
		return nil, &model.Error{
			Message:   fmt.Sprintf("stream ended after %d events without response.completed", events),
			RequestID: requestID(raw),
			Err:       model.ErrStreamCut,
		}
	}
	dec.drain(drainLimit)
	if len(final.Output) == 0 {
		final.Output = done // a terminal event that leaves the output out
	}
	return c.responseOf(final, raw)
}
