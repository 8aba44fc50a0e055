package emulator

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/model"
)

// The Responses API (POST /openai/v1/responses, Azure's v1 surface: no
// api-version, the deployment named in the body's model), answered by the
// same personas as chat completions, JSON or server-sent events.
//
// The emulator keeps nothing: previous_response_id is refused as an unknown
// response, and a reasoning model's reasoning items reach the next request
// only when the client passes them back in input with their encrypted
// content (include ["reasoning.encrypted_content"]). The encrypted content
// is opaque and checked: a function call item sent with its id but without
// the reasoning item it came with, a reasoning item without its encrypted
// content, or one not followed by the item it led to, is refused with the
// service's error.

// ResponsesPath is the Responses API route of Azure's v1 surface.
const ResponsesPath = "/openai/v1/responses"

// responsesBody is the request body the emulator reads.
type responsesBody struct {
	Model              string          `json:"model"`
	Input              json.RawMessage `json:"input"`
	Instructions       string          `json:"instructions"`
	Store              *bool           `json:"store"`
	Include            []string        `json:"include"`
	MaxOutputTokens    *int            `json:"max_output_tokens"`
	Temperature        *float64        `json:"temperature"`
	TopP               *float64        `json:"top_p"`
	PreviousResponseID string          `json:"previous_response_id"`
	Stream             bool            `json:"stream"`
	Reasoning          *struct {
		Effort string `json:"effort"`
	} `json:"reasoning"`
	Text *struct {
		Format *struct {
			Type string `json:"type"`
			jsonSchemaFormat
		} `json:"format"`
	} `json:"text"`
	Tools      []responsesToolDef `json:"tools"`
	ToolChoice json.RawMessage    `json:"tool_choice"`
}

type responsesToolDef struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
}

// responsesParams are the request fields the Responses API knows; any
// other is refused as unknown (max_tokens, messages, ...).
var responsesParams = []string{"model", "input", "instructions", "store", "include", "max_output_tokens", "temperature", "top_p",
	"previous_response_id", "stream", "stream_options", "reasoning", "text", "tools", "tool_choice", "parallel_tool_calls",
	"metadata", "user", "truncation", "service_tier", "prompt_cache_key", "safety_identifier", "background", "max_tool_calls",
	"top_logprobs", "conversation", "prompt"}

// rcall is one Responses API call being served.
type rcall struct {
	*call
	body      responsesBody
	reasoning bool   // the model reasons
	effort    string // the reasoning effort
	encrypted bool   // include asks for the encrypted reasoning content
	schema    json.RawMessage
	jsonMode  bool
	tools     map[string]bool
	choice    string
}

// responsesEfforts are the reasoning efforts the Responses API takes.
var responsesEfforts = map[string]bool{"minimal": true, "low": true, "medium": true, "high": true}

func (s *Server) responses(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
	c := &rcall{call: &call{azure: true, rec: rec, latency: s.cfg.Latency, stall: s.cfg.Faults.Stall}}
	if problem, param, code := s.parseResponses(r, c); problem != "" {
		status := http.StatusBadRequest
		if code == "not_found" {
			status, code = http.StatusNotFound, ""
		}
		var cp *string
		if code != "" {
			cp = strp(code)
		}
		rec.Status = s.fail(w, status, invalidRequest(cp, param, problem))
		return
	}
	if !s.chooseFault(w, r.Header, c.call) {
		return
	}
	c.prompt = s.promptTokens(c.msgs) + s.countResponsesTools(c.body.Tools)
	switch {
	case c.fault == FaultContentFilter:
		rec.Status = s.fail(w, http.StatusBadRequest, contentFilterError())
		return
	case c.prompt > cmp.Or(s.cfg.ContextWindow, c.profile.ContextWindow, DefaultContextWindow) || c.fault == FaultContextLength:
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(strp("context_length_exceeded"), "input",
			"Your input exceeds the context window of this model. Please adjust your input and try again."))
		return
	case c.fault == Fault429:
		rec.Status = s.throttle(w, c.call, "token", max(c.retryAfter, time.Second), -1, -1)
		return
	case c.fault == Fault500:
		rec.Status = s.fail(w, http.StatusInternalServerError, azureError("InternalServerError", msgServerError))
		return
	case c.fault == Fault503:
		w.Header().Set("Retry-After", "1")
		rec.Status = s.fail(w, http.StatusServiceUnavailable, azureError("ServiceUnavailable", msgUnavailable))
		return
	}
	adm := s.quota.admit(rec.Deployment, c.prompt+c.maxTokens, s.cfg.Now())
	if !adm.ok {
		rec.Status = s.throttle(w, c.call, adm.kind, adm.retryAfter, adm.remainingRequests, adm.remainingTokens)
		return
	}
	setRemaining(w.Header(), adm.remainingRequests, adm.remainingTokens)
	c.cached = s.cachedTokens(rec.Deployment, c.msgs)
	out := s.answer(c)
	s.quota.reconcile(rec.Deployment, adm.entry, c.prompt+out.usage.OutputTokens)
	c.created = s.cfg.Now().Unix()
	s.setIDs(w.Header())
	rec.Status = http.StatusOK
	rec.Answer = out.text
	if c.body.Stream {
		s.streamResponse(r, w, c, out)
		return
	}
	if !pauseFor(r.Context(), c.latency.TimeToFirstToken+time.Duration(out.usage.OutputTokens)*c.latency.perToken()) {
		return
	}
	b, ok := encode(w, s.responseJSON(c, out, out.status))
	if !ok {
		return
	}
	if c.fault == FaultCut || c.fault == FaultMalformed {
		cutBody(w, b)
	}
	c.rec.Completed = writeBody(w, http.StatusOK, b) == nil
}

// parseResponses reads and checks the request; it returns the service's
// message, param and code for a request it refuses (code "not_found" for 404).
func (s *Server) parseResponses(r *http.Request, c *rcall) (string, string, string) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(raw) > maxBody {
		return "The request body could not be read or is too large.", "", "BadRequest"
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return "We could not parse the JSON body of your request. The API expects a JSON payload: " + jsonProblem(err), "", "BadRequest"
	}
	for k := range keys {
		if !slices.Contains(responsesParams, k) {
			return "Unknown parameter: '" + k + "'.", k, "unknown_parameter"
		}
	}
	if err := json.Unmarshal(raw, &c.body); err != nil {
		return "We could not parse the JSON body of your request. The API expects a JSON payload: " + jsonProblem(err), "", "BadRequest"
	}
	b := &c.body
	c.rec.Model, c.rec.Stream, c.rec.Deployment = b.Model, b.Stream, b.Model
	if b.Model == "" {
		return "Missing required parameter: 'model'.", "model", "missing_required_parameter"
	}
	if b.PreviousResponseID != "" {
		return "Previous response with id '" + b.PreviousResponseID + "' not found.", "previous_response_id", "previous_response_not_found"
	}
	if p, param, code := s.checkResponsesParams(c); p != "" {
		return p, param, code
	}
	msgs, p, code := inputMessages(b.Instructions, b.Input, b.Store == nil || *b.Store)
	if p != "" {
		return p, "input", code
	}
	c.msgs, c.rec.Messages = msgs, msgs
	if len(msgs) == 0 {
		return "Missing required parameter: 'input'.", "input", "missing_required_parameter"
	}
	if c.jsonMode && !mentionsJSON(msgs) {
		return "Response input messages must contain the word 'json' in some form to use 'text.format' of type 'json_object'.", "input", ""
	}
	return "", "", ""
}

// checkResponsesParams checks the generation parameters against the model.
func (s *Server) checkResponsesParams(c *rcall) (string, string, string) {
	b := &c.body
	c.profile = profileOf(s.modelFor(c.rec.Deployment))
	c.reasoning = c.profile.Reasoning
	if b.MaxOutputTokens != nil {
		if *b.MaxOutputTokens < 16 {
			return "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got " +
				strconv.Itoa(*b.MaxOutputTokens) + " instead.", "max_output_tokens", "integer_below_min_value"
		}
		c.maxTokens = *b.MaxOutputTokens
	}
	c.rec.MaxTokens = c.maxTokens
	if c.reasoning {
		for name, v := range map[string]*float64{"temperature": b.Temperature, "top_p": b.TopP} {
			if v != nil {
				return "Unsupported parameter: '" + name + "' is not supported with this model.", name, "unsupported_parameter"
			}
		}
		c.effort = "medium"
		if b.Reasoning != nil && b.Reasoning.Effort != "" {
			c.effort = b.Reasoning.Effort
		}
		if !responsesEfforts[c.effort] {
			return "Invalid value: '" + c.effort + "'. Supported values are: 'minimal', 'low', 'medium', and 'high'.", "reasoning.effort", "unsupported_value"
		}
	} else if b.Reasoning != nil && b.Reasoning.Effort != "" {
		return "Unsupported parameter: 'reasoning.effort' is not supported with this model.", "reasoning.effort", "unsupported_parameter"
	}
	for _, inc := range b.Include {
		if inc == "reasoning.encrypted_content" {
			c.encrypted = true
		}
	}
	if b.Text != nil && b.Text.Format != nil {
		switch f := b.Text.Format; f.Type {
		case "text":
		case "json_object":
			c.jsonMode = true
		case "json_schema":
			strict := f.Strict == nil || *f.Strict
			if p := checkFormatSchema(&f.jsonSchemaFormat, strict); p != "" {
				return p, "text.format.schema", "invalid_json_schema"
			}
			c.schema = f.Schema
		default:
			return "Invalid value: '" + f.Type + "'. Supported values are: 'text', 'json_object', and 'json_schema'.", "text.format.type", "invalid_value"
		}
	}
	return c.checkTools()
}

// checkTools checks the function tools (strict unless they say otherwise,
// as the Responses API has them) and tool_choice.
func (c *rcall) checkTools() (string, string, string) {
	c.tools = map[string]bool{}
	for i, t := range c.body.Tools {
		param := "tools[" + strconv.Itoa(i) + "]"
		if t.Type != "function" || t.Name == "" {
			return "Invalid value for '" + param + "': only function tools with a name are supported by this deployment.", param, "invalid_value"
		}
		var schema map[string]any
		if json.Unmarshal(t.Parameters, &schema) != nil {
			return "Missing required parameter: '" + param + ".parameters'.", param + ".parameters", "missing_required_parameter"
		}
		if t.Strict == nil || *t.Strict {
			if p := strictProblem(schema, nil); p != "" {
				return "Invalid schema for function '" + t.Name + "': " + p, param + ".parameters", "invalid_function_parameters"
			}
		}
		c.tools[t.Name] = true
	}
	choice, ok := responsesToolChoice(c.body.ToolChoice)
	if ok && choice == "required" && len(c.tools) == 0 {
		return "Tool choice 'required' must be specified with 'tools' parameter.", "tool_choice", ""
	}
	if !ok || (choice != "" && choice != "none" && choice != "auto" && choice != "required" && !c.tools[choice]) {
		return "Invalid value for 'tool_choice': must be none, auto, required or a function the request offers.", "tool_choice", "invalid_value"
	}
	c.choice = choice
	return "", "", ""
}

// responsesToolChoice decodes tool_choice: a mode, or {"type":"function","name":...}.
func responsesToolChoice(raw json.RawMessage) (string, bool) {
	if s := strings.TrimSpace(string(raw)); s == "" || s == "null" {
		return "", true
	}
	var mode string
	if json.Unmarshal(raw, &mode) == nil {
		return mode, mode == "none" || mode == "auto" || mode == "required"
	}
	var named struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &named) != nil || named.Type != "function" || named.Name == "" {
		return "", false
	}
	return named.Name, true
}

// inputItem is the part of an input item the emulator reads.
type inputItem struct {
	Type             string          `json:"type"`
	ID               string          `json:"id"`
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content"`
	CallID           string          `json:"call_id"`
	Name             string          `json:"name"`
	Arguments        string          `json:"arguments"`
	Output           json.RawMessage `json:"output"`
	EncryptedContent *string         `json:"encrypted_content"`
}

// namePrefix is how a participant's name travels in a Responses input
// message, which has no name field: "[Name]: content".
var namePrefix = regexp.MustCompile(`^\[([A-Za-z][A-Za-z0-9_-]*)\]: `)

// inputMessages turns instructions and input (a string, or a list of items)
// into the conversation, applying the service's rules on items; it returns
// the service's message and code for input it refuses.
func inputMessages(instructions string, raw json.RawMessage, store bool) ([]model.Message, string, string) {
	var msgs []model.Message
	if instructions != "" {
		msgs = append(msgs, model.Message{Role: model.RoleSystem, Content: instructions})
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return append(msgs, model.Message{Role: model.RoleUser, Content: text}), "", ""
	}
	var items []inputItem
	if len(raw) > 0 && json.Unmarshal(raw, &items) != nil {
		return nil, "Invalid type for 'input': expected a string or an array of input items.", "invalid_type"
	}
	reasoned := map[string]bool{} // reasoning ids given so far
	calls := map[string]bool{}    // call ids of function calls given so far
	for i, it := range items {
		switch it.Type {
		case "reasoning":
			if p, code := checkReasoningItem(items, i, store); p != "" {
				return nil, p, code
			}
			reasoned[it.ID] = true
		case "function_call":
			if it.ID != "" && !reasoned[reasoningIDFor(it.ID)] {
				return nil, "Item '" + it.ID + "' of type 'function_call' was provided without its required 'reasoning' item: '" + reasoningIDFor(it.ID) + "'.", ""
			}
			calls[it.CallID] = true
			tc := model.ToolCall{ID: it.CallID, Name: it.Name, Arguments: it.Arguments}
			if n := len(msgs); n > 0 && msgs[n-1].Role == model.RoleAssistant {
				msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, tc)
			} else {
				msgs = append(msgs, model.Message{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{tc}})
			}
		case "function_call_output":
			if !calls[it.CallID] {
				return nil, "No tool call found for function call output with call_id " + it.CallID + ".", ""
			}
			out, _ := itemText(it.Output)
			msgs = append(msgs, model.Message{Role: model.RoleTool, ToolCallID: it.CallID, Content: out})
		case "message", "":
			m, ok := messageItem(it)
			if !ok {
				return nil, "Invalid value for 'input[" + strconv.Itoa(i) + "]': a message needs a role (system, developer, user or assistant) and text content.", "invalid_value"
			}
			msgs = append(msgs, m)
		default:
			return nil, "Invalid value: '" + it.Type + "'. This deployment takes input items of type message, reasoning, function_call and function_call_output.", "invalid_value"
		}
	}
	if p := checkLastRound(items, reasoned); p != "" {
		return nil, p, ""
	}
	return msgs, "", ""
}

// reasonedCall matches the call id of a call the emulator made after
// reasoning: call_<H><n>, its reasoning item being rs_<H>.
var reasonedCall = regexp.MustCompile(`^call_([0-9a-f]{24})[0-9a-f]{2}$`)

// checkLastRound insists that the calls of the input's last tool round
// (the function calls its trailing results answer, the round of the reply
// being written) come with the reasoning item they were made after, when
// the emulator reasoned before making them: stricter than the service,
// which then just reasons again, so that a client dropping the reasoning
// between tool rounds is caught. Earlier rounds (replayed turns) need not.
func checkLastRound(items []inputItem, reasoned map[string]bool) string {
	i := len(items)
	for i > 0 && items[i-1].Type == "function_call_output" {
		i--
	}
	if i == len(items) {
		return ""
	}
	for ; i > 0 && items[i-1].Type == "function_call"; i-- {
		m := reasonedCall.FindStringSubmatch(items[i-1].CallID)
		if m != nil && !reasoned["rs_"+m[1]] {
			return "Item 'fc_" + strings.TrimPrefix(items[i-1].CallID, "call_") + "' of type 'function_call' was provided without its required 'reasoning' item: 'rs_" + m[1] + "'."
		}
	}
	return ""
}

// itemText reads an item's content or output: a string, or content parts
// (input_text, output_text) whose texts are joined.
func itemText(raw json.RawMessage) (string, bool) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return text, true
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return "", false
	}
	for _, p := range parts {
		if p.Type == "input_text" || p.Type == "output_text" {
			text += p.Text
		}
	}
	return text, true
}

// messageItem reads an input message, taking a participant's name from the
// "[Name]: " prefix newsroom writes.
func messageItem(it inputItem) (model.Message, bool) {
	role := it.Role
	if role == "developer" {
		role = "system"
	}
	switch role {
	case "system", "user", "assistant":
	default:
		return model.Message{}, false
	}
	text, ok := itemText(it.Content)
	if !ok {
		return model.Message{}, false
	}
	m := model.Message{Role: model.Role(role), Content: text}
	if role == "user" {
		if sm := namePrefix.FindStringSubmatch(text); sm != nil {
			m.Name, m.Content = sm[1], text[len(sm[0]):]
		} else {
			m.Name = "user"
		}
	}
	return m, true
}

// checkReasoningItem applies the rules on a passed-back reasoning item.
func checkReasoningItem(items []inputItem, i int, store bool) (string, string) {
	it := items[i]
	if it.EncryptedContent == nil || *it.EncryptedContent == "" {
		if !store {
			return "Item with id '" + it.ID + "' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input.", "not_found"
		}
		return "Item with id '" + it.ID + "' not found.", "not_found"
	}
	if *it.EncryptedContent != encryptedFor(it.ID) {
		return "The encrypted content for item " + it.ID + " could not be verified.", "invalid_encrypted_content"
	}
	if i+1 >= len(items) {
		return "Item '" + it.ID + "' of type 'reasoning' was provided without its required following item.", ""
	}
	return "", ""
}

// Item ids: a function call item fc_<H><n> comes from the reasoning item
// rs_<H> of the same answer, so the tie is checked without keeping state.
func reasoningIDFor(fcID string) string {
	h := strings.TrimPrefix(fcID, "fc_")
	if len(h) > 2 {
		h = h[:len(h)-2]
	}
	return "rs_" + h
}

// encryptedFor is the opaque encrypted content of a reasoning item.
func encryptedFor(rsID string) string {
	sum := sha256.Sum256([]byte("newsroom-emulator reasoning\x00" + rsID))
	return "gAAAAAB" + base64.RawURLEncoding.EncodeToString(append([]byte(rsID+"\x00"), sum[:]...))
}

// countResponsesTools is the prompt tokens of the tool definitions.
func (s *Server) countResponsesTools(tools []responsesToolDef) int {
	if len(tools) == 0 {
		return 0
	}
	b, _ := json.Marshal(tools)
	return s.countText(string(b))
}

// rusage is the usage object of a response.
type rusage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

// routput is what a call answers.
type routput struct {
	id          string // the response's id
	reasoningID string // "" without a reasoning item
	calls       []model.ToolCall
	itemIDs     []string
	text        string
	pieces      []string
	messageID   string
	status      string // completed or incomplete
	usage       rusage
}

// answer decides the call's output: reasoning (for a reasoning model), then
// the persona's tool calls or text, within max_output_tokens.
func (s *Server) answer(c *rcall) routput {
	out := routput{status: "completed"}
	think := 0
	if c.reasoning {
		think = reasoningTokens(c.effort, c.prompt)
	}
	h := s.itemHash()
	out.id = "resp_" + h
	if think > 0 {
		out.reasoningID = "rs_" + h
	}
	visible := 0
	budget := c.maxTokens
	switch calls := plannedToolCalls(c.msgs, c.tools, c.choice); {
	case budget > 0 && think >= budget:
		think, out.status = budget, "incomplete"
	case len(calls) > 0:
		out.calls = calls
		for i := range calls {
			n := hex.EncodeToString([]byte{byte(i)})
			out.itemIDs = append(out.itemIDs, "fc_"+h+n)
			if out.reasoningID != "" {
				calls[i].ID = "call_" + h + n // ties the call to its reasoning
			}
		}
		visible = s.toolCallTokens(calls)
	default:
		text := personaReply(c.msgs)
		switch {
		case c.schema != nil:
			text = structuredReply(c.msgs, c.schema)
		case c.jsonMode:
			b, _ := json.Marshal(map[string]string{"content": text})
			text = string(b)
		}
		sp := s.split(text)
		if budget > 0 && think+sp.tokens > budget {
			text, _ = s.tok.Truncate(text, budget-think)
			sp = splitResult{pieces: s.tok.Split(text), tokens: s.tok.Count(text)}
			out.status = "incomplete"
		}
		out.text, out.pieces, visible = text, sp.pieces, sp.tokens
		out.messageID = "msg_" + h
	}
	out.usage = rusage{InputTokens: c.prompt, OutputTokens: think + visible, TotalTokens: c.prompt + think + visible}
	out.usage.InputTokensDetails.CachedTokens = c.cached
	out.usage.OutputTokensDetails.ReasoningTokens = think
	return out
}

// itemHash is the random part of one answer's item ids.
func (s *Server) itemHash() string {
	var b [24]byte
	for i := range b {
		b[i] = "0123456789abcdef"[s.next()%16]
	}
	return string(b[:])
}
