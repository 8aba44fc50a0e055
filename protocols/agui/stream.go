package agui

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/apiclient"
	"github.com/newsroom-dev/newsroom/team"
)

// stream writes one newsroom run's events as AG-UI events.
type stream struct {
	w           http.ResponseWriter
	flush       func()
	thread, run string
	runID       string
	open        string // the id of the text message being streamed
	openSpeaker string
	messages    int
	costUSD     float64
	sources     []map[string]any
	// decisions is how many approval decisions the run had when this
	// stream began; quiet holds back the replayed history until the last
	// of them (a resumed AG-UI run shows what follows the decision).
	decisions int
	quiet     bool
	// ended is true once the AG-UI run finished (or was interrupted).
	ended bool
}

// event writes one AG-UI event: its type and fields.
func (s *stream) event(typ string, fields map[string]any) {
	if typ == "RUN_FINISHED" || typ == "RUN_ERROR" {
		s.ended = true
	}
	fields["type"] = typ
	fields["timestamp"] = time.Now().UnixMilli()
	b, _ := json.Marshal(fields)
	fmt.Fprintf(s.w, "data: %s\n\n", b)
	s.flush()
}

func (s *stream) serve(ctx context.Context, c *apiclient.Client) {
	s.event("RUN_STARTED", map[string]any{"threadId": s.thread, "runId": s.run})
	s.snapshot("running")
	for ev, err := range c.Events(ctx, s.runID, 0) {
		if err != nil {
			s.event("RUN_ERROR", map[string]any{"message": "following the run failed", "code": "stream_failed"})
			return
		}
		var e team.Event
		if json.Unmarshal(ev.Data, &e) != nil {
			continue
		}
		if s.handle(ctx, c, &e) {
			return
		}
	}
}

// handle turns one newsroom event into AG-UI events; true when the AG-UI
// run ended.
func (s *stream) handle(ctx context.Context, c *apiclient.Client, e *team.Event) bool {
	if e.Type == team.EventApprovalDecided && s.decisions > 0 {
		s.decisions--
		s.quiet = s.quiet && s.decisions > 0
		return false
	}
	if s.quiet || (e.Type == team.EventApprovalRequested && s.decisions > 0) {
		s.track(e)
		return false
	}
	switch e.Type {
	case team.EventDelta:
		s.delta(e.Speaker, e.Delta)
	case team.EventMessage:
		s.message(e)
	case team.EventToolCall:
		if t := e.Tool; t != nil {
			s.event("TOOL_CALL_START", map[string]any{"toolCallId": t.ID, "toolCallName": t.Name})
			if t.Arguments != "" {
				s.event("TOOL_CALL_ARGS", map[string]any{"toolCallId": t.ID, "delta": t.Arguments})
			}
			s.event("TOOL_CALL_END", map[string]any{"toolCallId": t.ID})
		}
	case team.EventToolResult:
		if t := e.Tool; t != nil {
			s.event("TOOL_CALL_RESULT", map[string]any{"messageId": "result_" + t.ID, "toolCallId": t.ID, "content": t.Result, "role": "tool"})
		}
		s.addSource(e)
	case team.EventSource:
		s.addSource(e)
	case team.EventApprovalRequested:
		s.closeText()
		s.snapshot("awaiting_approval")
		s.event("RUN_FINISHED", map[string]any{"threadId": s.thread, "runId": s.run, "outcome": map[string]any{
			"type": "interrupt",
			"interrupts": []map[string]any{{
				"id": interruptID(s.runID), "reason": "awaiting_approval",
				"message":        "The article waits for an editor-in-chief's decision: " + e.Reason,
				"responseSchema": decisionSchema,
				"metadata":       map[string]any{"newsroom_run_id": s.runID},
			}},
		}})
		return true
	case team.EventRunFinished:
		s.finish(ctx, c, e)
		return true
	}
	return false
}

var decisionSchema = map[string]any{
	"type": "object", "required": []string{"decision"}, "additionalProperties": false,
	"properties": map[string]any{
		"decision": map[string]any{"enum": []string{"approve", "revise", "reject"}},
		"note":     map[string]any{"type": "string"},
	},
}

func (s *stream) delta(speaker, text string) {
	if text == "" {
		return
	}
	if s.open != "" && s.openSpeaker != speaker {
		s.closeText()
	}
	if s.open == "" {
		s.open = fmt.Sprintf("%s_msg_%d", s.runID, s.messages+1)
		s.openSpeaker = speaker
		s.event("TEXT_MESSAGE_START", map[string]any{"messageId": s.open, "role": "assistant", "name": speaker})
	}
	s.event("TEXT_MESSAGE_CONTENT", map[string]any{"messageId": s.open, "delta": text})
}

func (s *stream) closeText() {
	if s.open != "" {
		s.event("TEXT_MESSAGE_END", map[string]any{"messageId": s.open})
		s.open = ""
	}
}

// message ends the streamed text of a turn, or sends the whole message
// when nothing was streamed.
func (s *stream) message(e *team.Event) {
	m := e.Message
	if m == nil {
		return
	}
	if s.open == "" && m.Content != "" && m.Source != agent.SourceUser {
		s.delta(m.Source, m.Content)
	}
	s.closeText()
	s.messages++
	s.costUSD = e.Total.CostUSD
	s.snapshot("running")
}

func (s *stream) addSource(e *team.Event) {
	if src := e.Source; src != nil {
		s.sources = append(s.sources, map[string]any{"n": src.ID, "url": src.URL, "title": src.Title})
	}
}

func (s *stream) snapshot(status string) {
	s.event("STATE_SNAPSHOT", map[string]any{"snapshot": map[string]any{
		"newsroom_run_id": s.runID, "status": status, "messages": s.messages,
		"cost_usd": s.costUSD, "sources": append([]map[string]any{}, s.sources...),
	}})
}

// finish ends the AG-UI run as the newsroom run ended: its article as the
// result, an error as RUN_ERROR.
func (s *stream) finish(ctx context.Context, c *apiclient.Client, e *team.Event) {
	s.closeText()
	v, err := c.Run(ctx, s.runID)
	if err != nil {
		s.event("RUN_ERROR", map[string]any{"message": "reading the finished run failed", "code": "stream_failed"})
		return
	}
	s.costUSD = v.Usage.CostUSD
	s.snapshot(string(v.Status))
	switch v.Status {
	case "failed", "expired", "rejected":
		s.event("RUN_ERROR", map[string]any{"message": "the run " + string(v.Status) + ": " + cmp.Or(v.Error, v.StopReason), "code": string(v.Status)})
	case "cancelled":
		s.event("RUN_FINISHED", map[string]any{"threadId": s.thread, "runId": s.run, "outcome": map[string]any{"type": "cancelled"}})
	default:
		s.event("RUN_FINISHED", map[string]any{"threadId": s.thread, "runId": s.run,
			"result":  map[string]any{"newsroom_run_id": s.runID, "status": v.Status, "article": v.Article, "stop_reason": e.StopReason},
			"outcome": map[string]any{"type": "success"}})
	}
}

// track keeps the state of an event held back from the client.
func (s *stream) track(e *team.Event) {
	switch e.Type {
	case team.EventMessage:
		s.messages++
		s.costUSD = e.Total.CostUSD
	case team.EventToolResult, team.EventSource:
		s.addSource(e)
	}
}
