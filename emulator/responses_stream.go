package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// The Responses API's answer: the response object (whole, or in the
// terminal event of a stream) and its server-sent events, each an "event:"
// line naming its type and a "data:" line with the event, numbered by
// sequence_number: response.created, response.in_progress, per output item
// response.output_item.added, its deltas (response.output_text.delta inside
// a content part, response.function_call_arguments.delta) and
// response.output_item.done, then response.completed (or
// response.incomplete).

type outputText struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
	Logprobs    []any  `json:"logprobs"`
}

// items are the response's output items; done gives their final form,
// else the in-progress form of an output_item.added event.
func (s *Server) items(c *rcall, out routput, done bool) []any {
	status := "completed"
	if !done {
		status = "in_progress"
	}
	var items []any
	if out.reasoningID != "" {
		item := map[string]any{"id": out.reasoningID, "type": "reasoning", "summary": []any{}}
		if c.encrypted {
			item["encrypted_content"] = encryptedFor(out.reasoningID)
		}
		items = append(items, item)
	}
	if out.messageID != "" {
		content := []outputText{}
		if done {
			content = append(content, outputText{Type: "output_text", Text: out.text, Annotations: []any{}, Logprobs: []any{}})
		}
		if done && out.status == "incomplete" {
			status = "incomplete"
		}
		items = append(items, map[string]any{"id": out.messageID, "type": "message", "status": status, "role": "assistant", "content": content})
	}
	for i, tc := range out.calls {
		args := ""
		if done {
			args = tc.Arguments
		}
		items = append(items, map[string]any{"id": out.itemIDs[i], "type": "function_call", "status": status,
			"call_id": tc.ID, "name": tc.Name, "arguments": args})
	}
	return items
}

// responseJSON is the response object in a given status.
func (s *Server) responseJSON(c *rcall, out routput, status string) map[string]any {
	r := map[string]any{
		"id": out.id, "object": "response", "created_at": c.created,
		"status": status, "background": false, "error": nil, "incomplete_details": nil, "instructions": nil,
		"max_output_tokens": c.body.MaxOutputTokens, "model": s.cfg.ModelName, "output": []any{}, "parallel_tool_calls": true,
		"previous_response_id": nil, "store": c.body.Store == nil || *c.body.Store, "tool_choice": "auto", "tools": c.body.Tools,
		"truncation": "disabled", "usage": nil, "metadata": map[string]any{},
		"text": map[string]any{"format": map[string]any{"type": "text"}},
	}
	if c.reasoning {
		r["reasoning"] = map[string]any{"effort": c.effort, "summary": nil}
	}
	if c.body.Text != nil && c.body.Text.Format != nil {
		r["text"] = c.body.Text
	}
	if status == "in_progress" {
		return r
	}
	r["output"] = s.items(c, out, true)
	r["usage"] = out.usage
	if status == "incomplete" {
		r["incomplete_details"] = map[string]string{"reason": "max_output_tokens"}
	}
	return r
}

// responseStream writes numbered events.
type responseStream struct {
	es  *eventStream
	seq int
}

func (rs *responseStream) send(typ string, fields map[string]any) bool {
	fields["type"] = typ
	fields["sequence_number"] = rs.seq
	rs.seq++
	b, err := json.Marshal(fields)
	if err != nil {
		return false
	}
	rs.es.buf = append(rs.es.buf[:0], "event: "+typ+"\ndata: "...)
	rs.es.buf = append(rs.es.buf, b...)
	rs.es.buf = append(rs.es.buf, "\n\n"...)
	return rs.es.send(rs.es.buf)
}

// streamResponse streams the answer. Faults: a cut drops the connection
// halfway (before the terminal event), a stall pauses there, a malformed
// event is sent there.
func (s *Server) streamResponse(r *http.Request, w http.ResponseWriter, c *rcall, out routput) {
	ctx := r.Context()
	rs := &responseStream{es: startStream(w)}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	if !rs.send("response.created", map[string]any{"response": s.responseJSON(c, out, "in_progress")}) ||
		!rs.send("response.in_progress", map[string]any{"response": s.responseJSON(c, out, "in_progress")}) {
		return
	}
	if !pause(ctx, timer, c.latency.TimeToFirstToken) {
		return
	}
	started, final := s.items(c, out, false), s.items(c, out, true)
	for i := range final {
		if !rs.send("response.output_item.added", map[string]any{"output_index": i, "item": started[i]}) {
			return
		}
		item := final[i].(map[string]any)
		var pieces []string
		switch item["type"] {
		case "message":
			pieces = out.pieces
		case "function_call":
			pieces = s.tok.Split(item["arguments"].(string))
		}
		if !s.streamItem(ctx, c, rs, timer, i, item, pieces, i == len(final)-1) {
			return
		}
		if !rs.send("response.output_item.done", map[string]any{"output_index": i, "item": item}) {
			return
		}
	}
	terminal := "response.completed"
	if out.status == "incomplete" {
		terminal = "response.incomplete"
	}
	c.rec.Completed = rs.send(terminal, map[string]any{"response": s.responseJSON(c, out, out.status)})
}

// streamItem sends the deltas of one output item (none for reasoning),
// with the call's fault halfway through the last item.
func (s *Server) streamItem(ctx context.Context, c *rcall, rs *responseStream, timer *time.Timer, index int, item map[string]any, pieces []string, last bool) bool {
	id := item["id"]
	isText := item["type"] == "message"
	if isText && !rs.send("response.content_part.added", map[string]any{"item_id": id, "output_index": index, "content_index": 0,
		"part": outputText{Type: "output_text", Text: "", Annotations: []any{}, Logprobs: []any{}}}) {
		return false
	}
	for j, p := range pieces {
		if last && j == len(pieces)/2 && !streamFault(ctx, c, rs, timer) {
			return false
		}
		if j > 0 && !pause(ctx, timer, c.latency.perToken()) {
			return false
		}
		ev, fields := "response.function_call_arguments.delta", map[string]any{"item_id": id, "output_index": index, "delta": p}
		if isText {
			ev = "response.output_text.delta"
			fields["content_index"], fields["logprobs"] = 0, []any{}
		}
		if !rs.send(ev, fields) {
			return false
		}
	}
	if len(pieces) == 0 && last && !streamFault(ctx, c, rs, timer) {
		return false
	}
	switch item["type"] {
	case "message":
		part := item["content"].([]outputText)[0]
		return rs.send("response.output_text.done", map[string]any{"item_id": id, "output_index": index, "content_index": 0, "text": part.Text, "logprobs": []any{}}) &&
			rs.send("response.content_part.done", map[string]any{"item_id": id, "output_index": index, "content_index": 0, "part": part})
	case "function_call":
		return rs.send("response.function_call_arguments.done", map[string]any{"item_id": id, "output_index": index, "arguments": item["arguments"]})
	}
	return true
}

// streamFault applies the call's stream fault: a cut drops the connection,
// a stall pauses, a malformed event is sent. It reports whether to go on.
func streamFault(ctx context.Context, c *rcall, rs *responseStream, timer *time.Timer) bool {
	switch c.fault {
	case FaultCut:
		panic(http.ErrAbortHandler)
	case FaultStall:
		return pause(ctx, timer, c.stall)
	case FaultMalformed:
		return rs.es.send([]byte("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"\n\n"))
	}
	return true
}
