package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// Defaults of the tool loop.
const (
	// DefaultMaxToolRounds caps the model-call/tool-run rounds of one reply.
	DefaultMaxToolRounds = 5
	// DefaultToolTimeout bounds one tool call.
	DefaultToolTimeout = 30 * time.Second
	// DefaultMaxToolResult bounds the text one call returns to the model.
	DefaultMaxToolResult = 64 << 10
	// DefaultMaxToolCalls bounds the calls of one answer that run at once:
	// a model that asks for hundreds of fetches in one answer gets errors
	// for the rest, not hundreds of parallel downloads.
	DefaultMaxToolCalls = 16
)

// ToolExchange is one tool call of a reply and its result. A message keeps
// its exchanges, so the agent's later turns (and a resumed run) show the
// model what it asked and got, and no call is ever run twice.
type ToolExchange struct {
	// Round is the model call (0-based) that asked for it; calls of one
	// round ran in parallel.
	Round     int    `json:"round"`
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	Result    string `json:"result"`
	// IsError is true when the result is an error text (unknown tool, bad
	// arguments, a failure, a timeout, a panic).
	IsError bool `json:"is_error,omitempty"`
	// SourceID is the run's number of the document the call read, if any.
	SourceID int `json:"source_id,omitempty"`
}

// errorResult is the text a failed call returns to the model.
func errorResult(msg string) string {
	// Not HTML-escaped: the model reads "<", not "\u003c".
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{"error": msg})
	return strings.TrimSuffix(b.String(), "\n")
}

// withSourceID adds "source": id to a JSON object result, so the model
// cites the document by the run's number.
func withSourceID(content string, id int) string {
	c := strings.TrimSpace(content)
	if id <= 0 || !strings.HasPrefix(c, "{") || !json.Valid([]byte(c)) {
		return content
	}
	rest := strings.TrimSpace(c[1:])
	if rest == "}" {
		return `{"source":` + strconv.Itoa(id) + `}`
	}
	return `{"source":` + strconv.Itoa(id) + `,` + rest
}

// replyWithTools runs the tool loop: model call, the requested tools in
// parallel, their results back to the model, until it answers with text.
// A failed model call's error carries the usage of the rounds before it
// (model.WithSpent).
func (t *turnRun) replyWithTools(ctx context.Context, base *model.Request) (*model.Response, []ToolExchange, model.Usage, error) {
	a := t.a
	defs := tool.Definitions(a.cfg.Tools)
	maxRounds := a.cfg.MaxToolRounds
	if maxRounds <= 0 {
		maxRounds = DefaultMaxToolRounds
	}
	if a.cfg.ReflectOnToolUse {
		maxRounds = 1
	}
	msgs := base.Messages
	var exchanges []ToolExchange
	var usage model.Usage
	cached := true
	for round := 0; ; round++ {
		req := *base
		req.Messages = msgs
		req.Tools = defs
		if round >= maxRounds {
			// Past the cap (or after one round when reflecting) the model
			// must answer with text from what it has.
			req.ToolChoice = model.ToolChoiceNone
		}
		resp, err := a.complete(ctx, &req)
		if err != nil {
			// The earlier rounds were paid for (the budgets charged them):
			// the error carries their usage so the run counts it.
			return nil, exchanges, usage, model.WithSpent(err, usage, &req)
		}
		usage = usage.Add(resp.Usage)
		cached = cached && resp.Cached
		if len(resp.ToolCalls) == 0 || round >= maxRounds {
			resp.Cached = cached
			return resp, exchanges, usage, nil
		}
		// The answer's reasoning (Responses API) rides on the assistant
		// message so the next round hands it back with the results.
		msgs = append(msgs[:len(msgs):len(msgs)], model.Message{Role: model.RoleAssistant, Content: resp.Content, ToolCalls: resp.ToolCalls,
			Reasoning: resp.Reasoning})
		done := t.runTools(ctx, round, resp.ToolCalls)
		for _, ex := range done {
			exchanges = append(exchanges, ex)
			msgs = append(msgs, model.Message{Role: model.RoleTool, ToolCallID: ex.ID, Content: ex.Result})
		}
	}
}

// runTools runs one round's calls in parallel and returns their exchanges
// in the order of the calls. It yields a tool_call event for each call
// before they run and a tool_result event for each after they all ran; a
// call the run already recorded (Turn.Done) is not run and yields neither.
func (t *turnRun) runTools(ctx context.Context, round int, calls []model.ToolCall) []ToolExchange {
	a := t.a
	out := make([]ToolExchange, len(calls))
	srcs := make([]*tool.Source, len(calls))
	stored := make([]bool, len(calls))
	for i, c := range calls {
		if ex, ok := t.turn.done(c); ok {
			ex.Round, ex.ID = round, c.ID
			out[i], stored[i] = ex, true
			continue
		}
		t.emit(Event{Type: EventToolCall, Tool: &ToolExchange{Round: round, ID: c.ID, Name: c.Name, Arguments: c.Arguments}})
	}
	limit := a.cfg.MaxToolCalls
	if limit <= 0 {
		limit = DefaultMaxToolCalls
	}
	var wg sync.WaitGroup
	ran := 0
	for i, c := range calls {
		if stored[i] {
			continue
		}
		if ran++; ran > limit {
			a.logger().WarnContext(ctx, "tool call failed", "agent", a.cfg.Name, "tool", c.Name, "call_id", c.ID,
				"error", fmt.Sprintf("more than %d calls in one answer", limit))
			out[i] = ToolExchange{Round: round, ID: c.ID, Name: c.Name, Arguments: c.Arguments, IsError: true,
				Result: errorResult(fmt.Sprintf("not run: more than %d tool calls in one answer; ask for the rest in your next answer", limit))}
			continue
		}
		wg.Go(func() {
			res, isErr, src := a.runOne(ctx, c)
			out[i] = ToolExchange{Round: round, ID: c.ID, Name: c.Name, Arguments: c.Arguments, Result: res, IsError: isErr}
			srcs[i] = src
		})
	}
	wg.Wait()
	for i := range calls {
		if stored[i] {
			continue
		}
		e := Event{Type: EventToolResult}
		if srcs[i] != nil && t.turn.Sources != nil {
			id := t.turn.Sources.Number(*srcs[i])
			srcs[i].ID = id
			out[i].SourceID = id
			// Inside the run's boundaries, if the result has them (package untrusted).
			out[i].Result = untrusted.MapInner(out[i].Result, func(s string) string { return withSourceID(s, id) })
		}
		if srcs[i] != nil {
			src := *srcs[i]
			e.Source = &src
		}
		ex := out[i]
		e.Tool = &ex
		t.emit(e)
	}
	return out
}

// runOne runs one call with its own timeout; a panic, an unknown tool,
// malformed arguments and a huge result all become an error text for the
// model and a log line.
func (a *Assistant) runOne(ctx context.Context, c model.ToolCall) (result string, isErr bool, src *tool.Source) {
	log := a.logger()
	fail := func(msg string, err error) (string, bool, *tool.Source) {
		log.WarnContext(ctx, "tool call failed", "agent", a.cfg.Name, "tool", c.Name, "call_id", c.ID, "error", err)
		return errorResult(msg), true, nil
	}
	var t tool.Tool
	for _, x := range a.cfg.Tools {
		if x.Definition().Name == c.Name {
			t = x
			break
		}
	}
	if t == nil {
		return fail(fmt.Sprintf("unknown tool %q; available: %s", c.Name, strings.Join(a.toolNames(), ", ")), errors.New("unknown tool"))
	}
	args := strings.TrimSpace(c.Arguments)
	if args == "" {
		args = "{}"
	}
	if !json.Valid([]byte(args)) {
		return fail("the arguments are not valid JSON; send a JSON object that fits the tool's parameters", tool.ErrBadArguments)
	}
	if args[0] != '{' {
		return fail("the arguments must be a JSON object that fits the tool's parameters", tool.ErrBadArguments)
	}
	timeout := a.cfg.ToolTimeout
	if timeout <= 0 {
		timeout = DefaultToolTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type outcome struct {
		res tool.Result
		err error
	}
	ch := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- outcome{err: fmt.Errorf("tool %s panicked: %v", c.Name, p)}
			}
		}()
		r, err := t.Call(cctx, json.RawMessage(args))
		ch <- outcome{r, err}
	}()
	var o outcome
	select {
	case o = <-ch:
	case <-cctx.Done():
		// A tool that ignores its context is left behind; its answer is
		// dropped into the buffered channel.
		o.err = fmt.Errorf("tool %s: %w", c.Name, context.Cause(cctx))
		if errors.Is(o.err, context.DeadlineExceeded) && ctx.Err() == nil {
			o.err = fmt.Errorf("tool %s did not answer within %s", c.Name, timeout)
		}
	}
	if o.err != nil {
		return fail(o.err.Error(), o.err)
	}
	content := o.res.Content
	limit := a.cfg.MaxToolResult
	if limit <= 0 {
		limit = DefaultMaxToolResult
	}
	if len(content) > limit {
		log.WarnContext(ctx, "tool result too large", "agent", a.cfg.Name, "tool", c.Name, "call_id", c.ID, "bytes", len(content), "limit", limit)
		return errorResult(fmt.Sprintf("the result was %d bytes, more than the limit of %d; ask for less", len(content), limit)), true, nil
	}
	return content, false, o.res.Source
}

func (a *Assistant) logger() *slog.Logger {
	if a.cfg.Logger != nil {
		return a.cfg.Logger
	}
	return slog.Default()
}

func (a *Assistant) toolNames() []string {
	out := make([]string, len(a.cfg.Tools))
	for i, t := range a.cfg.Tools {
		out[i] = t.Definition().Name
	}
	return out
}

// appendOwn adds one of the agent's own earlier messages to a prompt: its
// tool rounds (the assistant's calls, then the results) before its text.
func appendOwn(msgs []model.Message, m Message) []model.Message {
	for i := 0; i < len(m.ToolCalls); {
		round := m.ToolCalls[i].Round
		j := i
		var calls []model.ToolCall
		for ; j < len(m.ToolCalls) && m.ToolCalls[j].Round == round; j++ {
			ex := m.ToolCalls[j]
			calls = append(calls, model.ToolCall{ID: ex.ID, Name: ex.Name, Arguments: ex.Arguments})
		}
		msgs = append(msgs, model.Message{Role: model.RoleAssistant, ToolCalls: calls})
		for _, ex := range m.ToolCalls[i:j] {
			msgs = append(msgs, model.Message{Role: model.RoleTool, ToolCallID: ex.ID, Content: ex.Result})
		}
		i = j
	}
	return append(msgs, model.Message{Role: model.RoleAssistant, Content: m.Content})
}
