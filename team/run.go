package team

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/termination"
	"github.com/newsroom-dev/newsroom/tool"
)

// Errors returned by this package.
var (
	ErrNoParticipants   = errors.New("team: no participants")
	ErrDuplicateName    = errors.New("team: two participants share a name")
	ErrUnknownSpeaker   = errors.New("team: unknown speaker")
	ErrNoSelectorClient = errors.New("team: selector needs a model client or a selector function")
	ErrEmptyTask        = errors.New("team: task is empty")
	errTimeout          = errors.New("team: run deadline reached")
	// ErrNotAwaitingApproval is returned for a decision on a run that does not wait for one.
	ErrNotAwaitingApproval = errors.New("team: run is not awaiting approval")
	// ErrBadDecision is returned for a decision that is not approve, revise or reject.
	ErrBadDecision = errors.New("team: bad decision")
	// ErrNoteRequired is returned for a revision without a note.
	ErrNoteRequired = errors.New("team: a revision needs a note")
)

// DefaultMaxMessages caps a run whose team has no termination condition, so a
// run can never go on forever.
const DefaultMaxMessages = 50

// Team is a group of agents that can run a task.
type Team interface {
	// Name of the team kind, e.g. "roundrobin" or "selector".
	Name() string
	// Participants in their configured order.
	Participants() []agent.Agent
	// Stream runs the task and yields its events; the last one is always
	// EventRunFinished. A failed run yields its run_finished event, then the error.
	Stream(ctx context.Context, task string, opts ...RunOption) iter.Seq2[Event, error]
}

// RunOption changes one run.
type RunOption func(*runOptions)

type runOptions struct {
	resume    *Checkpoint
	streaming bool
	runID     string
	now       func() time.Time
	extra     termination.Condition
	observer  Observer
	approval  bool
	decision  *Decision
	grounding GroundingFunc
	sources   []*tool.Source
	spotlight func(origin, text string) string // see WithSpotlight
}

// WithApproval makes the run wait for a person's decision when the team's
// work is done (a stop from a condition marked termination.Done) instead of
// ending: the stream yields EventApprovalRequested and ends with StopReason
// StopAwaitingApproval. Nothing runs while the run waits; resume it from its
// checkpoint WithDecision. A cap (messages, tokens, budget, time, the
// grounding gate's) pauses it too, marked Capped, for approve or reject only;
// cancellation, outside stops and failures still end the run.
func WithApproval(required bool) RunOption { return func(o *runOptions) { o.approval = required } }

// WithDecision resumes a run that awaits approval (WithCheckpoint) with a
// person's decision: approve ends it StopApproved, reject StopRejected, and
// revise adds the note as a message from EditorInChief and lets the team go
// on from where it stopped.
func WithDecision(d Decision) RunOption { return func(o *runOptions) { o.decision = &d } }

// Observer watches a run from outside (telemetry): it may wrap each agent
// of the run, to give the agent's turn a context of its own (a span the
// turn's model calls are children of) and to read the events the turn
// yields, and derive the context of each speaker selection the team makes
// with a model call.
type Observer interface {
	// Agent returns a, or an agent that runs a's turns and yields their events.
	Agent(a agent.Agent) agent.Agent
	// SelectContext derives the context of one speaker selection; done is
	// called when the selection returns.
	SelectContext(ctx context.Context) (_ context.Context, done func())
}

// WithObserver makes o watch the run (see Observer).
func WithObserver(o Observer) RunOption { return func(ro *runOptions) { ro.observer = o } }

// WithCheckpoint resumes a run from a checkpoint: its messages are not written
// again and a speaker already selected is not selected again.
func WithCheckpoint(c Checkpoint) RunOption { return func(o *runOptions) { o.resume = &c } }

// WithStreaming makes agents stream their replies (EventDelta events).
func WithStreaming(on bool) RunOption { return func(o *runOptions) { o.streaming = on } }

// WithRunID tags the run's model calls with id (model.Meta.RunID).
func WithRunID(id string) RunOption { return func(o *runOptions) { o.runID = id } }

// WithClock sets the clock used for event times and timeouts.
func WithClock(now func() time.Time) RunOption { return func(o *runOptions) { o.now = now } }

// WithTermination adds a condition for this run only, or-ed with the team's
// (e.g. an external stop for a cancel button, or a per-run message cap).
func WithTermination(c termination.Condition) RunOption {
	return func(o *runOptions) { o.extra = c }
}

// Run runs the task to the end and returns its result. The result is not nil
// even when err is: it holds what was done before the failure.
func Run(ctx context.Context, t Team, task string, opts ...RunOption) (*Result, error) {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	var from Checkpoint
	if o.resume != nil { // the result covers the whole conversation, not just the resumed part
		from = *o.resume
	}
	return Collect(task, from, t.Stream(ctx, task, opts...), nil)
}

// Collect drains a run's event stream into its Result, starting from the
// checkpoint the run resumed from (zero for a new run), and calls onEvent, if
// set, with each event as it comes (a console printer, a telemetry observer).
// The result is not nil even when err is: it holds what was done before the
// failure.
func Collect(task string, from Checkpoint, events iter.Seq2[Event, error], onEvent func(Event)) (*Result, error) {
	cp := Checkpoint{Messages: slices.Clone(from.Messages), Usage: from.Usage, PerAgent: maps.Clone(from.PerAgent),
		PerDeployment: maps.Clone(from.PerDeployment),
		Awaiting:      from.Awaiting, Capped: from.Capped, Decisions: slices.Clone(from.Decisions), Sources: slices.Clone(from.Sources),
		Grounding: from.Grounding, GroundingHeld: from.GroundingHeld, Worked: from.Worked}
	res := &Result{Task: task}
	var started time.Time
	var runErr error
	for e, err := range events {
		if err != nil {
			runErr = err
			break
		}
		if onEvent != nil {
			onEvent(e)
		}
		switch e.Type {
		case EventRunStarted:
			started = e.Time
		case EventRunFinished:
			res.StopReason = e.StopReason
			res.Duration = e.Time.Sub(started)
		}
		cp.Apply(e)
	}
	res.Messages, res.Usage, res.PerAgent, res.PerDeployment = cp.Messages, cp.Usage, nonNil(cp.PerAgent), cp.PerDeployment
	res.Decisions, res.Capped = cp.Decisions, cp.Capped
	res.Sources, res.Grounding = cp.Sources, cp.Grounding
	return res, runErr
}

func nonNil(m map[string]model.Usage) map[string]model.Usage {
	if m == nil {
		return map[string]model.Usage{}
	}
	return m
}

// picker chooses the next speaker.
type picker interface {
	pick(ctx context.Context, st *state) (selection, error)
}

type selection struct {
	speaker  agent.Agent
	usage    model.Usage
	attempts int
	fallback bool
	// planned is true when the speaker was taken from the planner's plan
	// without a model call.
	planned bool
	// deployment is where the selector's model calls went.
	deployment string
	// batch, when it has more than one agent, are speakers with no
	// dependency on each other: they answer the same history at once.
	batch []agent.Agent
	// stop, when set, ends the run with this reason instead of a turn.
	stop string
}

// replayer is implemented by teams whose next speakers follow from the
// messages alone; a resumed run asks them again instead of trusting the
// checkpoint's next speaker.
type replayer interface{ replays() }

// state is the run's state as the loop sees it.
type state struct {
	task     string
	messages []agent.Message // task excluded
	usage    model.Usage
	started  time.Time
	// sources are the documents read, numbered; pending are the finished
	// tool calls of the message in progress.
	sources []tool.Source
	pending []agent.ToolExchange
	// held is true while a grounding check holds the run's end.
	held bool
	// mu guards sources: the agents of a parallel batch number theirs at once.
	mu sync.Mutex
}

// record adds msg to the transcript and its usage to the total, dating it
// now when it has no time, and returns its message event.
func (s *state) record(msg agent.Message, now func() time.Time) Event {
	if msg.Time.IsZero() {
		msg.Time = now()
	}
	s.messages = append(s.messages, msg)
	s.usage = s.usage.Add(msg.Usage)
	return Event{Type: EventMessage, Time: msg.Time, Speaker: msg.Source, Message: &msg, Usage: msg.Usage,
		Index: len(s.messages) - 1, Total: s.usage}
}

// history returns the conversation with the task first, as agents see it.
func (s *state) history() []agent.Message {
	h := make([]agent.Message, 0, len(s.messages)+1)
	h = append(h, agent.Message{Source: agent.SourceUser, Content: s.task})
	return append(h, s.messages...)
}

func (s *state) lastSpeaker() string {
	if len(s.messages) == 0 {
		return ""
	}
	return s.messages[len(s.messages)-1].Source
}

// base holds what both teams share.
type base struct {
	name         string
	participants []agent.Agent
	byName       map[string]agent.Agent
	cond         termination.Condition
}

func newBase(name string, participants []agent.Agent, cond termination.Condition) (base, error) {
	if len(participants) == 0 {
		return base{}, ErrNoParticipants
	}
	b := base{name: name, participants: participants, byName: make(map[string]agent.Agent, len(participants)), cond: cond}
	for _, p := range participants {
		if _, dup := b.byName[p.Name()]; dup {
			return base{}, fmt.Errorf("%w: %s", ErrDuplicateName, p.Name())
		}
		b.byName[p.Name()] = p
	}
	if b.cond == nil {
		b.cond = termination.MaxMessages(DefaultMaxMessages)
	}
	return b, nil
}

func (b *base) Name() string                { return b.name }
func (b *base) Participants() []agent.Agent { return b.participants }

// decide applies a person's decision to a waiting run (see Decide). It
// reports whether the team goes on (a revision); otherwise the stream is over.
func (r *run) decide(d Decision) bool {
	st := r.st
	events, stop, err := Decide(Checkpoint{Messages: st.messages, Usage: st.usage, Awaiting: true, Capped: r.capped}, d, r.now())
	if err != nil {
		r.finish("error", err)
		return false
	}
	for _, e := range events {
		if e.Message != nil {
			st.messages = append(st.messages, *e.Message)
		}
		if !r.emit(e) {
			return false
		}
	}
	if stop != "" {
		r.finish(stop, nil)
		return false
	}
	return true
}

// Decide applies a person's decision to the checkpoint of a run that awaits
// approval, without running anything: it returns the events that record it
// (approval_decided, and for a revision the note as a message from
// EditorInChief) and the stop reason the run ends with (StopApproved,
// StopRejected), or "" when the team goes on (a revision). A service that
// keeps runs in a store appends these events itself and resumes a revised run
// from its checkpoint; Stream does the same for WithDecision. A zero d.At is
// now.
func Decide(cp Checkpoint, d Decision, now time.Time) (events []Event, stopReason string, err error) {
	if !cp.Awaiting {
		return nil, "", ErrNotAwaitingApproval
	}
	if err := d.Validate(); err != nil {
		return nil, "", err
	}
	if cp.Capped != "" && d.Decision == DecisionRevise {
		return nil, "", ErrCapReached
	}
	if d.At.IsZero() {
		d.At = now
	}
	n := len(cp.Messages)
	events = append(events, Event{Type: EventApprovalDecided, Time: d.At, Decision: &d, Index: n, Total: cp.Usage})
	switch d.Decision {
	case DecisionApprove:
		return events, StopApproved, nil
	case DecisionReject:
		return events, StopRejected, nil
	}
	msg := agent.Message{Source: EditorInChief, Content: d.Note, Time: d.At}
	events = append(events, Event{Type: EventMessage, Time: d.At, Speaker: EditorInChief, Message: &msg, Index: n, Total: cp.Usage})
	return events, "", nil
}
