package team

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
)

// Tool approval: a call to a tool that acts (writes, sends, publishes) waits
// for a person, the way a finished article waits for its approval. The run
// stops with StopAwaitingToolApproval after an EventToolApprovalRequested
// naming the call; a person's EventToolDecided allows or denies it, and the
// run, resumed from its checkpoint, replays the turn: the call runs if
// allowed, and is a tool error to the model if denied.

// Events of tool approval.
const (
	// EventToolApprovalRequested names a call that waits for a person (ToolApproval).
	EventToolApprovalRequested EventType = "tool_approval_requested"
	// EventToolDecided carries a person's decision on it (ToolApproval with Decision).
	EventToolDecided EventType = "tool_decision"
)

// StopAwaitingToolApproval ends a run's stream while a call waits for a
// person; the run is not over: resume it from its checkpoint after an
// EventToolDecided.
const StopAwaitingToolApproval = "awaiting tool approval"

// Tool decisions.
const (
	ToolAllow = "allow"
	ToolDeny  = "deny"
)

// ToolApproval is a call to an acting tool: waiting (Decision empty) or decided.
type ToolApproval struct {
	// Tool is the tool's name; Arguments the call's arguments with secrets
	// redacted, as a person sees them.
	Tool      string `json:"tool"`
	Arguments string `json:"arguments"`
	// Key identifies the call (its tool and exact arguments): a decision
	// applies to the call with the same key.
	Key string `json:"key"`
	// Speaker is the agent that made the call.
	Speaker string `json:"speaker,omitempty"`
	// Decision is ToolAllow or ToolDeny once decided; By, At and Note say
	// who, when and why.
	Decision string    `json:"decision,omitempty"`
	By       string    `json:"by,omitempty"`
	At       time.Time `json:"at,omitzero"`
	Note     string    `json:"note,omitempty"`
}

// ErrNotAwaitingTool is returned for a tool decision on a run that waits for none.
var ErrNotAwaitingTool = fmt.Errorf("team: the run is not awaiting a tool approval")

// DecideTool returns the event that records a person's decision on the call
// the checkpoint waits for.
func DecideTool(cp Checkpoint, decision, by, note string, at time.Time) (Event, error) {
	if cp.AwaitingTool == nil {
		return Event{}, ErrNotAwaitingTool
	}
	if decision != ToolAllow && decision != ToolDeny {
		return Event{}, fmt.Errorf("%w: %q (want allow or deny)", ErrBadDecision, decision)
	}
	d := *cp.AwaitingTool
	d.Decision, d.By, d.At, d.Note = decision, by, at.UTC(), note
	return Event{Type: EventToolDecided, Time: at, Speaker: d.Speaker, ToolApproval: &d, Index: len(cp.Messages), Total: cp.Usage}, nil
}

// applyTool folds the tool approval events into the checkpoint.
func (c *Checkpoint) applyTool(e Event) {
	if e.ToolApproval == nil {
		return
	}
	switch e.Type {
	case EventToolApprovalRequested:
		a := *e.ToolApproval
		c.AwaitingTool = &a
	case EventToolDecided:
		c.AwaitingTool = nil
		c.ToolDecisions = slices.DeleteFunc(c.ToolDecisions, func(d ToolApproval) bool { return d.Key == e.ToolApproval.Key })
		c.ToolDecisions = append(c.ToolDecisions, *e.ToolApproval)
	}
}

// CallKey identifies a call by its tool and its arguments (compacted JSON).
func CallKey(name, args string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(args)) != nil {
		b.Reset()
		b.WriteString(args)
	}
	sum := sha256.Sum256([]byte(name + "\x00" + b.String()))
	return hex.EncodeToString(sum[:16])
}

// consumeTool drops the decision a finished call used: a decision answers
// one call, and the same call made again later asks again.
func (c *Checkpoint) consumeTool(ex *agent.ToolExchange) {
	if ex == nil || len(c.ToolDecisions) == 0 {
		return
	}
	k := CallKey(ex.Name, ex.Arguments)
	c.ToolDecisions = slices.DeleteFunc(c.ToolDecisions, func(d ToolApproval) bool { return d.Key == k })
}
