// Package team runs a conversation between agents until a termination
// condition fires: the round-robin team speaks in a fixed order, the selector
// team lets a model pick each next speaker.
//
// A run is a stream of Events (iter.Seq2); the console, the web service's SSE
// endpoint, the run store and tests all read the same stream. Run drains the
// stream into a Result.
package team

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// EventType names the kind of an Event.
type EventType string

// The kinds of event a run emits, in the order they can occur.
const (
	// EventRunStarted opens every run (Task set; Resumed and Index for a resumed run).
	EventRunStarted EventType = "run_started"
	// EventSpeakerSelected names the next speaker (Speaker, and for the
	// selector the Usage of its model calls, Attempts and Fallback).
	EventSpeakerSelected EventType = "speaker_selected"
	// EventDelta carries streamed text of the speaker's message in progress.
	EventDelta EventType = "delta"
	// EventMessage carries a completed message (Message, Index).
	EventMessage EventType = "message"
	// EventApprovalRequested says the team's work is done and the run now
	// waits for a person's decision (Reason: why the team would have stopped);
	// the run_finished that follows has StopReason StopAwaitingApproval.
	EventApprovalRequested EventType = "approval_requested"
	// EventApprovalDecided carries a person's decision on a waiting run
	// (Decision); for a revision, the note follows as a message from
	// EditorInChief.
	EventApprovalDecided EventType = "approval_decided"
	// EventRunFinished closes every run (StopReason, Total; Error when it failed).
	EventRunFinished EventType = "run_finished"
)

// Stop reasons of a run that requires approval.
const (
	// StopAwaitingApproval ends a run's stream while it waits for a decision;
	// the run is not over: resume it WithDecision.
	StopAwaitingApproval = "awaiting approval"
	// StopApproved ends a run a person approved.
	StopApproved = "approved"
	// StopRejected ends a run a person rejected.
	StopRejected = "rejected"
)

// EditorInChief is the source of the message that carries a person's
// revision note, as the agents see it.
const EditorInChief = "Editor_in_Chief"

// Decision kinds.
const (
	DecisionApprove = "approve"
	DecisionRevise  = "revise"
	DecisionReject  = "reject"
)

// Decision is a person's decision on a run that awaits approval.
type Decision struct {
	// Decision is DecisionApprove, DecisionRevise or DecisionReject.
	Decision string `json:"decision"`
	// Note is the revision note (required for DecisionRevise) or a comment.
	Note string `json:"note,omitempty"`
	// By says who decided: an API key id or a signed-in person.
	By string `json:"by"`
	// At is when the decision was made.
	At time.Time `json:"at"`
}

// Validate checks the decision's kind and that a revision has a note.
func (d Decision) Validate() error {
	switch d.Decision {
	case DecisionApprove, DecisionReject:
		return nil
	case DecisionRevise:
		if strings.TrimSpace(d.Note) == "" {
			return ErrNoteRequired
		}
		return nil
	}
	return fmt.Errorf("%w: %q (want approve, revise or reject)", ErrBadDecision, d.Decision)
}

// SelectorSource is the name under which the selector's own model calls are
// accounted in Result.PerAgent.
const SelectorSource = "selector"

// Event is one step of a run.
type Event struct {
	Type EventType `json:"type"`
	Time time.Time `json:"time"`
	// Task is the run's task (run_started).
	Task string `json:"task,omitempty"`
	// Resumed is true when the run continues from a checkpoint (run_started).
	Resumed bool `json:"resumed,omitempty"`
	// Speaker is the agent selected or speaking.
	Speaker string `json:"speaker,omitempty"`
	// Delta is streamed text; Restart means discard the speaker's partial text.
	Delta   string `json:"delta,omitempty"`
	Restart bool   `json:"restart,omitempty"`
	// Message is the completed message and Index its position after the task (0-based).
	Message *agent.Message `json:"message,omitempty"`
	Index   int            `json:"index"`
	// Attempts is how many model calls the selector made; Fallback is true
	// when none gave a valid name and the selector fell back.
	Attempts int  `json:"attempts,omitempty"`
	Fallback bool `json:"fallback,omitempty"`
	// Planned is true when the selector followed the planner's plan
	// without asking a model.
	Planned bool `json:"planned,omitempty"`
	// Deployment is the deployment the selector's model calls went to
	// (speaker_selected; empty for the client's default).
	Deployment string `json:"deployment,omitempty"`
	// Usage is the usage of this step (the selector's calls, or the
	// message's; on run_finished, what the failed call that ended the run
	// cost, of Speaker on Deployment: see model.Spent).
	Usage model.Usage `json:"usage"`
	// Total is the run's usage after this event.
	Total model.Usage `json:"total"`
	// Reason says why the team would have stopped (approval_requested).
	Reason string `json:"reason,omitempty"`
	// Capped is true on an approval_requested event when a cap, not the
	// team, ended the work (Reason is the cap's stop reason): the run can
	// be approved or rejected, not revised.
	Capped bool `json:"capped,omitempty"`
	// Decision is a person's decision (approval_decided).
	Decision *Decision `json:"decision,omitempty"`
	// Tool is a tool call (tool_call) or a call with its result (tool_result).
	Tool *agent.ToolExchange `json:"tool,omitempty"`
	// Source is a document the run read (tool_result, source).
	Source *tool.Source `json:"source,omitempty"`
	// Grounding is the grounding check of the article (grounding).
	Grounding *Grounding `json:"grounding,omitempty"`
	// Security is what the run's guard refused or neutralised (security).
	Security *untrusted.Event `json:"security,omitempty"`
	// ToolApproval is a call to an acting tool that waits for a person
	// (tool_approval_requested) or the person's decision (tool_decision).
	ToolApproval *ToolApproval `json:"tool_approval,omitempty"`
	// StopReason says why the run ended (run_finished).
	StopReason string `json:"stop_reason,omitempty"`
	// Error is set when the run failed (run_finished).
	Error string `json:"error,omitempty"`
}

// Result is the outcome of a run.
type Result struct {
	Task       string          `json:"task"`
	Messages   []agent.Message `json:"messages"`
	StopReason string          `json:"stop_reason"`
	// Capped is, for a run that waits for approval (StopAwaitingApproval),
	// the stop reason of the cap that ended its team's work; empty when the
	// team finished it. A capped run can be approved or rejected only.
	Capped string `json:"capped,omitempty"`
	// Usage is the total, the selector's calls included.
	Usage model.Usage `json:"usage"`
	// PerAgent is the usage per agent; the selector's calls are under SelectorSource.
	PerAgent map[string]model.Usage `json:"per_agent"`
	// PerDeployment is the usage per deployment (or model) that answered;
	// calls on the client's default deployment are under DefaultDeployment.
	PerDeployment map[string]model.Usage `json:"per_deployment,omitempty"`
	Duration      time.Duration          `json:"duration"`
	// Decisions are the decisions people made on the run, oldest first.
	Decisions []Decision `json:"decisions,omitempty"`
	// Sources are the documents the run read, numbered as cited.
	Sources []tool.Source `json:"sources,omitempty"`
	// Grounding is the last grounding check of the article, if one ran.
	Grounding *Grounding `json:"grounding,omitempty"`
}

// Checkpoint is the state a run resumes from: the messages written so far
// (task excluded), the speaker already selected but not yet heard from, and
// the usage spent so far (selector calls included).
type Checkpoint struct {
	Messages    []agent.Message
	NextSpeaker string
	Usage       model.Usage
	PerAgent    map[string]model.Usage
	// PerDeployment is the usage per deployment; see Result.PerDeployment.
	PerDeployment map[string]model.Usage
	// Awaiting is true while the run waits for a person's decision.
	Awaiting bool
	// Capped is the stop reason of the cap a waiting run paused on (empty
	// when the team finished its work): such a run cannot be revised.
	Capped string
	// Decisions are the decisions made on the run so far, oldest first.
	Decisions []Decision
	// Sources are the documents read so far, numbered.
	Sources []tool.Source
	// ToolResults are the finished tool calls of the message in progress:
	// a resumed run does not run them again.
	ToolResults []agent.ToolExchange
	// AwaitingTool is the call that waits for a person, if any;
	// ToolDecisions the decisions made on calls, the latest for each.
	AwaitingTool  *ToolApproval
	ToolDecisions []ToolApproval
	// Grounding is the last grounding check; GroundingHeld is true while
	// its unsupported claims hold the run's end.
	Grounding     *Grounding
	GroundingHeld bool
	// Worked is how long the run has worked so far: from each run_started
	// to the last event after it, over every leg. Waiting for a decision
	// (from approval_requested to the next run_started) and the time no
	// instance ran it (a crash) do not count. A resumed run's timeout counts
	// on from it.
	Worked time.Duration

	legStart time.Time     // the run_started of the leg in progress; zero between legs
	legBase  time.Duration // Worked when that leg started
}

// Apply folds an event into the checkpoint. A store that keeps a run's events
// rebuilds the checkpoint by applying them in order.
func (c *Checkpoint) Apply(e Event) {
	c.clock(e)
	switch e.Type {
	case EventSpeakerSelected:
		c.NextSpeaker = e.Speaker
		c.addUsage(SelectorSource, e.Deployment, e.Usage)
	case EventMessage:
		if e.Message != nil {
			c.Messages = append(c.Messages, *e.Message)
			c.addUsage(e.Message.Source, e.Message.Deployment, e.Message.Usage)
		}
		c.NextSpeaker = ""
		c.ToolResults = nil
	case EventToolResult:
		if e.Tool != nil {
			c.ToolResults = append(c.ToolResults, *e.Tool)
		}
		c.consumeTool(e.Tool)
		c.addSource(e.Source)
	case EventSource:
		c.addSource(e.Source)
	case EventGrounding:
		if e.Grounding != nil {
			g := *e.Grounding
			c.Grounding = &g
			c.GroundingHeld = len(g.Unsupported) > 0
		}
	case EventRunFinished:
		// A failed call's cost (zero for most runs).
		c.addUsage(cmp.Or(e.Speaker, unattributed), e.Deployment, e.Usage)
	case EventApprovalRequested:
		c.Awaiting = true
		c.Capped = ""
		if e.Capped {
			c.Capped = e.Reason
		}
	case EventToolApprovalRequested, EventToolDecided:
		c.applyTool(e)
	case EventApprovalDecided:
		c.Awaiting, c.Capped = false, ""
		if e.Decision != nil {
			c.Decisions = append(c.Decisions, *e.Decision)
		}
	}
}

// clock counts e's time into Worked: a leg runs from its run_started to
// its last event; approval_requested and run_finished close it.
func (c *Checkpoint) clock(e Event) {
	switch {
	case e.Time.IsZero():
	case e.Type == EventRunStarted:
		c.legStart, c.legBase = e.Time, c.Worked
	case !c.legStart.IsZero() && e.Time.After(c.legStart):
		c.Worked = c.legBase + e.Time.Sub(c.legStart)
	}
	if e.Type == EventApprovalRequested || e.Type == EventRunFinished {
		c.legStart = time.Time{}
	}
}

func (c *Checkpoint) addSource(s *tool.Source) {
	if s == nil || s.ID <= 0 {
		return
	}
	for _, have := range c.Sources {
		if have.ID == s.ID {
			return
		}
	}
	c.Sources = append(c.Sources, *s)
}

// DefaultDeployment is the key of Result.PerDeployment for calls that named
// no deployment (the client's default answered).
const DefaultDeployment = "default"

// unattributed is the PerAgent key of a failed call's cost whose agent is
// not known.
const unattributed = "run"

func (c *Checkpoint) addUsage(who, deployment string, u model.Usage) {
	if u == (model.Usage{}) {
		return
	}
	if c.PerAgent == nil {
		c.PerAgent = map[string]model.Usage{}
	}
	c.PerAgent[who] = c.PerAgent[who].Add(u)
	if deployment == "" {
		deployment = DefaultDeployment
	}
	if c.PerDeployment == nil {
		c.PerDeployment = map[string]model.Usage{}
	}
	c.PerDeployment[deployment] = c.PerDeployment[deployment].Add(u)
	c.Usage = c.Usage.Add(u)
}
