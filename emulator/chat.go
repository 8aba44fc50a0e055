package emulator

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/profile"
)

// maxBody bounds a request body; Azure's own limit is in the same range.
const maxBody = 16 << 20

// Request headers that steer the emulator per request.
const (
	HeaderFault   = "x-emulator-fault"
	HeaderLatency = "x-emulator-latency"
)

// call is one chat completion being served.
type call struct {
	azure      bool
	rec        *RecordedRequest
	req        chatRequest
	msgs       []model.Message
	maxTokens  int
	fault      Fault
	stall      time.Duration
	retryAfter time.Duration
	latency    Latency
	prompt     int
	cached     int
	reasoning  int
	model      string
	profile    profile.Profile
	id         string
	created    int64
	apiVersion string
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, azure bool) {
	c := &call{azure: azure, rec: rec, apiVersion: rec.APIVersion, latency: s.cfg.Latency, stall: s.cfg.Faults.Stall}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(strp("BadRequest"), "", "The request body could not be read or is too large."))
		return
	}
	if err := json.Unmarshal(body, &c.req); err != nil {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(strp("BadRequest"), "",
			"We could not parse the JSON body of your request. The API expects a JSON payload: "+jsonProblem(err)))
		return
	}
	rec.Model, rec.Stream = c.req.Model, c.req.Stream
	rec.IncludeUsage = c.req.StreamOptions != nil && c.req.StreamOptions.IncludeUsage
	if rec.Deployment == "" { // the v1 and OpenAI-style routes
		rec.Deployment = c.req.Model
		if rec.Deployment == "" && !azure {
			rec.Deployment = s.cfg.ModelName
		}
	}
	if rec.Deployment == "" {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(strp("missing_required_parameter"), "model",
			"Missing required parameter: 'model'."))
		return
	}
	c.model = s.modelFor(rec.Deployment)
	c.profile = profileOf(c.model)
	if e := checkParams(&c.req, c.profile, rec.APIVersion); e != nil {
		rec.Status = s.fail(w, http.StatusBadRequest, *e)
		return
	}
	switch {
	case c.req.MaxCompletionTokens != nil:
		c.maxTokens = *c.req.MaxCompletionTokens
	case c.req.MaxTokens != nil:
		c.maxTokens = *c.req.MaxTokens
	}
	rec.MaxTokens = c.maxTokens
	c.msgs = make([]model.Message, 0, len(c.req.Messages))
	for i, m := range c.req.Messages {
		text, err := m.text()
		if err != nil || m.Role == "" {
			rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(nil, "messages["+strconv.Itoa(i)+"]",
				"Invalid value for 'messages["+strconv.Itoa(i)+"]': each message needs a role and string or text-part content."))
			return
		}
		msg := model.Message{Role: model.Role(m.Role), Name: m.Name, Content: text, ToolCallID: m.ToolCallID}
		for _, tc := range m.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, model.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		if m.Role == string(model.RoleTool) && m.ToolCallID == "" {
			rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(strp("missing_required_parameter"), "messages["+strconv.Itoa(i)+"].tool_call_id",
				"Missing required parameter: 'messages["+strconv.Itoa(i)+"].tool_call_id'."))
			return
		}
		c.msgs = append(c.msgs, msg)
	}
	rec.Messages = c.msgs
	if len(c.msgs) == 0 {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(nil, "messages", "[] is too short - 'messages'"))
		return
	}
	if problem := checkToolMessages(c.msgs); problem != "" {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(nil, "messages", problem))
		return
	}
	choice, ok := toolChoice(c.req.ToolChoice)
	if !ok || (choice != "" && choice != "none" && len(c.req.Tools) == 0) {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(nil, "tool_choice",
			"Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified, and must be none, auto, required or a named function."))
		return
	}
	if c.maxTokens < 0 || (c.req.MaxTokens != nil && *c.req.MaxTokens == 0) {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(strp("integer_below_min_value"), "max_tokens",
			"Invalid 'max_tokens': integer below minimum value. Expected a value >= 1."))
		return
	}

	jsonMode := c.req.ResponseFormat != nil && (c.req.ResponseFormat.Type == "json_object" || c.req.ResponseFormat.Type == "json_schema")
	if jsonMode && c.req.ResponseFormat.Type == "json_object" && !mentionsJSON(c.msgs) {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(nil, "messages",
			"'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."))
		return
	}

	if problem := s.checkChatSchema(c); problem != "" {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(nil, "response_format", problem))
		return
	}
	if !s.chooseFault(w, r.Header, c) {
		return
	}

	c.prompt = s.promptTokens(c.msgs) + s.countTools(c.req.Tools)
	window := s.cfg.ContextWindow
	if window <= 0 {
		window = cmp.Or(c.profile.ContextWindow, DefaultContextWindow)
	}
	switch {
	case c.fault == FaultContentFilter:
		rec.Status = s.fail(w, http.StatusBadRequest, contentFilterError())
		return
	case c.prompt > window || c.fault == FaultContextLength:
		rec.Status = s.fail(w, http.StatusBadRequest, contextLengthError(window, c.prompt))
		return
	case c.fault == Fault429:
		rec.Status = s.throttle(w, c, "token", max(c.retryAfter, time.Second), -1, -1)
		return
	case c.fault == Fault500:
		rec.Status = s.fail(w, http.StatusInternalServerError, azureError("InternalServerError", msgServerError))
		return
	case c.fault == Fault503:
		w.Header().Set("Retry-After", "1")
		rec.Status = s.fail(w, http.StatusServiceUnavailable, azureError("ServiceUnavailable", msgUnavailable))
		return
	}

	estimate := c.prompt + c.maxTokens
	adm := s.quota.admit(rec.Deployment, estimate, s.cfg.Now())
	if !adm.ok {
		rec.Status = s.throttle(w, c, adm.kind, adm.retryAfter, adm.remainingRequests, adm.remainingTokens)
		return
	}
	setRemaining(w.Header(), adm.remainingRequests, adm.remainingTokens)
	c.cached = s.cachedTokens(rec.Deployment, c.msgs)
	if c.profile.Reasoning {
		c.reasoning = reasoningTokens(profile.Effective(c.profile, deref(c.req.ReasoningEffort)), c.prompt)
		if c.maxTokens > 0 && c.reasoning >= c.maxTokens {
			// The whole budget went on reasoning: Azure answers "length"
			// with no content at all.
			c.reasoning = c.maxTokens
			s.answerText(w, r, c, adm.entry, "", "length")
			return
		}
	}

	if calls := plannedToolCalls(c.msgs, toolNames(c.req.Tools), choice); len(calls) > 0 {
		completion := c.reasoning + s.toolCallTokens(calls)
		s.quota.reconcile(rec.Deployment, adm.entry, c.prompt+completion)
		c.id = s.completionID()
		c.created = s.cfg.Now().Unix()
		s.setIDs(w.Header())
		rec.Status = http.StatusOK
		if c.req.Stream {
			s.streamToolCalls(r.Context(), w, c, calls, completion)
			return
		}
		s.respondToolCalls(r.Context(), w, c, calls, completion)
		return
	}
	text := applyVerbosity(personaReply(c.msgs), deref(c.req.Verbosity))
	if f := c.req.ResponseFormat; f != nil && f.Type == "json_schema" {
		text = structuredReply(c.msgs, f.JSONSchema.Schema)
	} else if jsonMode {
		// The personas write prose; in JSON mode the prose is wrapped in an
		// object so the answer is the valid JSON the client asked for.
		b, _ := json.Marshal(map[string]string{"content": text})
		text = string(b)
	}
	s.answerText(w, r, c, adm.entry, text, "stop")
}

// answerText answers call c with text, cut to what max_tokens (or
// max_completion_tokens less the reasoning) leaves room for.
func (s *Server) answerText(w http.ResponseWriter, r *http.Request, c *call, entry *quotaEntry, text, finish string) {
	sp := s.split(text)
	if room := c.maxTokens - c.reasoning; c.maxTokens > 0 && sp.tokens > room {
		text, _ = s.tok.Truncate(text, room)
		sp = splitResult{pieces: s.tok.Split(text), tokens: s.tok.Count(text)}
		finish = "length"
	}
	s.quota.reconcile(c.rec.Deployment, entry, c.prompt+c.reasoning+sp.tokens)

	c.id = s.completionID()
	c.created = s.cfg.Now().Unix()
	s.setIDs(w.Header())
	c.rec.Status = http.StatusOK
	c.rec.Answer = text
	if c.req.Stream {
		s.stream(r.Context(), w, c, sp, finish)
		return
	}
	s.respond(r.Context(), w, c, text, c.reasoning+sp.tokens, finish)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func mentionsJSON(msgs []model.Message) bool {
	for _, m := range msgs {
		if strings.Contains(strings.ToLower(m.Content), "json") {
			return true
		}
	}
	return false
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "syntax error at offset " + strconv.FormatInt(se.Offset, 10) + "."
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field '" + te.Field + "' has the wrong type."
	}
	return "invalid JSON."
}

// chooseFault sets the call's fault (and latency): the request's headers
// first, then the fault forced through the control endpoint, then the random
// draw. A bad header is answered with 400 and gives false.
func (s *Server) chooseFault(w http.ResponseWriter, h http.Header, c *call) bool {
	if err := c.applyHeaders(h); err != nil {
		c.rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(strp("BadRequest"), "", "emulator: "+err.Error()))
		return false
	}
	if c.fault == FaultNone && !s.applyForced(c) {
		c.fault = s.drawFault()
	}
	c.rec.Fault = c.fault
	return true
}

// applyHeaders reads the per-request fault and latency headers.
func (c *call) applyHeaders(h http.Header) error {
	if v := strings.TrimSpace(h.Get(HeaderFault)); v != "" {
		kind, arg, _ := strings.Cut(v, "=")
		f := Fault(strings.TrimSpace(kind))
		if !knownRandomFault(f) && f != FaultContextLength {
			return errors.New("unknown " + HeaderFault + " " + strconv.Quote(v))
		}
		if f == FaultStall && arg != "" {
			d, err := time.ParseDuration(strings.TrimSpace(arg))
			if err != nil || d < 0 {
				return errors.New("bad stall duration " + strconv.Quote(arg))
			}
			c.stall = d
		}
		c.fault = f
	}
	if v := strings.TrimSpace(h.Get(HeaderLatency)); v != "" {
		l, err := ParseLatency(v)
		if err != nil {
			return err
		}
		c.latency = l
	}
	return nil
}

// ParseLatency parses "ttft=100ms,tps=50" (either part may be left out).
func ParseLatency(s string) (Latency, error) {
	var l Latency
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return l, errors.New("latency " + strconv.Quote(part) + ": want ttft=DURATION or tps=NUMBER")
		}
		switch strings.TrimSpace(k) {
		case "ttft":
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d < 0 {
				return l, errors.New("latency: bad ttft " + strconv.Quote(v))
			}
			l.TimeToFirstToken = d
		case "tps":
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
				return l, errors.New("latency: bad tps " + strconv.Quote(v))
			}
			l.TokensPerSecond = f
		default:
			return l, errors.New("latency: unknown key " + strconv.Quote(k))
		}
	}
	return l, nil
}

func (s *Server) fail(w http.ResponseWriter, status int, body errorBody) int {
	s.setIDs(w.Header())
	writeJSON(w, status, body)
	return status
}

// throttle answers 429 the way Azure does.
func (s *Server) throttle(w http.ResponseWriter, c *call, kind string, wait time.Duration, remReq, remTok int) int {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(secs))
	h.Set("retry-after-ms", strconv.FormatInt(max(wait.Milliseconds(), 1), 10))
	if remReq < 0 {
		remReq = 0
	}
	if remTok < 0 {
		remTok = 0
	}
	setRemaining(h, remReq, remTok)
	return s.fail(w, http.StatusTooManyRequests, rateLimitError(c.apiVersion, kind, secs))
}

func setRemaining(h http.Header, req, tok int) {
	if req >= 0 {
		h.Set("x-ratelimit-remaining-requests", strconv.Itoa(req))
	}
	if tok >= 0 {
		h.Set("x-ratelimit-remaining-tokens", strconv.Itoa(tok))
	}
}

// pauseFor waits d or until ctx ends, with a timer of its own; it reports
// whether the wait completed. No wait at all always completes.
func pauseFor(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	return pause(ctx, t, d)
}

// pause waits d or until ctx ends; it reports whether the wait completed.
func pause(ctx context.Context, t *time.Timer, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t.Reset(d)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}

func (l Latency) perToken() time.Duration {
	if l.TokensPerSecond <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / l.TokensPerSecond)
}

func (s *Server) respond(ctx context.Context, w http.ResponseWriter, c *call, text string, completionTokens int, finish string) {
	wait := c.latency.TimeToFirstToken + time.Duration(completionTokens)*c.latency.perToken()
	if c.fault == FaultStall {
		wait += c.stall
	}
	if !pauseFor(ctx, wait) {
		return
	}
	resp := newCompletion(c, c.model, completionMessage{Role: "assistant", Content: text}, finish, completionTokens, safeFilter)
	b, ok := encode(w, resp)
	if !ok {
		return
	}
	switch c.fault {
	case FaultMalformed:
		b = b[:len(b)/2]
	case FaultCut:
		cutBody(w, b)
	}
	c.rec.Completed = writeBody(w, http.StatusOK, b) == nil
}

const systemFingerprint = "fp_emulator01"

// stream writes the answer as server-sent events, one chunk per token piece.
func (s *Server) stream(ctx context.Context, w http.ResponseWriter, c *call, sp splitResult, finish string) {
	es := startStream(w)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	if c.azure {
		// Azure's first event carries the prompt's content filter verdict and
		// no choices.
		if !es.sendJSON(chunk{Choices: []chunkChoice{}, PromptFilterResults: promptFilters}) {
			return
		}
	}
	empty := ""
	base := chunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model, SystemFingerprint: systemFingerprint}
	first := base
	first.Choices = []chunkChoice{{Delta: chunkDelta{Role: "assistant", Content: &empty}}}
	if c.azure {
		first.Choices[0].ContentFilterResults = json.RawMessage(`{}`)
	}
	if !es.sendJSON(first) {
		return
	}
	if !pause(ctx, timer, c.latency.TimeToFirstToken) {
		return
	}

	// Content chunks are the hot path: the JSON around the text is the same
	// for every chunk, so it is built once.
	var prefix, suffix []byte
	prefix = append(prefix, `data: {"choices":[{`...)
	if c.azure {
		prefix = append(prefix, `"content_filter_results":`...)
		prefix = append(prefix, safeFilter...)
		prefix = append(prefix, ',')
	}
	prefix = append(prefix, `"delta":{"content":`...)
	suffix = append(suffix, `},"finish_reason":null,"index":0,"logprobs":null}],"created":`...)
	suffix = strconv.AppendInt(suffix, c.created, 10)
	suffix = append(suffix, `,"id":`...)
	suffix = appendJSONString(suffix, c.id)
	suffix = append(suffix, `,"model":`...)
	suffix = appendJSONString(suffix, c.model)
	suffix = append(suffix, `,"object":"chat.completion.chunk","system_fingerprint":"`+systemFingerprint+`"}`+"\n\n"...)

	perToken := c.latency.perToken()
	half := len(sp.pieces) / 2
	for i, p := range sp.pieces {
		if i == half {
			switch c.fault {
			case FaultCut:
				// Drop the connection without the final chunk or [DONE].
				panic(http.ErrAbortHandler)
			case FaultStall:
				if !pause(ctx, timer, c.stall) {
					return
				}
			case FaultMalformed:
				if !es.send([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"\n\n")) {
					return
				}
			}
		}
		if i > 0 && !pause(ctx, timer, perToken) {
			return
		}
		if !es.sendString(prefix, p, suffix) {
			return
		}
	}
	if len(sp.pieces) == 0 && c.fault == FaultCut {
		panic(http.ErrAbortHandler)
	}

	last := base
	last.Choices = []chunkChoice{{Delta: chunkDelta{}, FinishReason: &finish}}
	if c.azure {
		last.Choices[0].ContentFilterResults = json.RawMessage(`{}`)
	}
	if !es.sendJSON(last) {
		return
	}
	if c.rec.IncludeUsage {
		u := base
		u.Choices = []chunkChoice{}
		u.Usage = newUsage(c, c.reasoning+sp.tokens)
		if !es.sendJSON(u) {
			return
		}
	}
	c.rec.Completed = es.done()
}
