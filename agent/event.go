package agent

import (
	"context"
	"errors"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tool"
)

// EventType names what a turn yields.
type EventType string

// The events of a turn, in the order they come: deltas and tool activity as
// it happens, the message last.
const (
	// EventDelta carries a piece of streamed text (Delta).
	EventDelta EventType = "delta"
	// EventToolCall says the agent called a tool (Tool, without a result).
	EventToolCall EventType = "tool_call"
	// EventToolResult carries a finished call (Tool; Source when it read a
	// document, numbered by Turn.Sources).
	EventToolResult EventType = "tool_result"
	// EventMessage carries the turn's reply (Message, with its usage and
	// its tool calls); it is the last event of a turn that did not fail.
	EventMessage EventType = "message"
)

// Event is one thing a turn did.
type Event struct {
	Type    EventType
	Delta   model.Delta
	Tool    *ToolExchange
	Source  *tool.Source
	Message *Message
}

// Turn is what an agent is asked to answer.
type Turn struct {
	// History is the conversation so far, the task first.
	History []Message
	// Stream makes the turn yield its text as it comes (EventDelta).
	Stream bool
	// Done are the finished calls of this turn a run already recorded (the
	// turn was cut off, by a crash, after they ran): a call that matches
	// one, by id or by name and arguments, is not run again and yields no
	// events.
	Done []ToolExchange
	// Sources numbers the documents the turn's tools read; nil leaves them
	// unnumbered.
	Sources Sources
}

// Sources numbers the documents a run reads; a URL read before keeps its
// number. It must be safe for concurrent use: agents of a parallel batch
// share it.
type Sources interface {
	Number(src tool.Source) int
}

// errNoMessage is returned by Reply for a turn that ended without a message.
var errNoMessage = errors.New("agent: the turn ended without a message")

// Reply runs one turn of a and returns its message, for callers that need
// only the answer.
func Reply(ctx context.Context, a Agent, turn Turn) (Message, error) {
	for e, err := range a.Run(ctx, turn) {
		if err != nil {
			return Message{}, err
		}
		if e.Type == EventMessage && e.Message != nil {
			return *e.Message, nil
		}
	}
	return Message{}, errNoMessage
}

// done returns the recorded exchange of a call, if any: the same id and
// name first, else the same name and arguments (a retried model call may
// give the call a new id).
func (t Turn) done(c model.ToolCall) (ToolExchange, bool) {
	for _, ex := range t.Done {
		if ex.ID == c.ID && ex.Name == c.Name {
			return ex, true
		}
	}
	for _, ex := range t.Done {
		if ex.Name == c.Name && ex.Arguments == c.Arguments {
			return ex, true
		}
	}
	return ToolExchange{}, false
}
