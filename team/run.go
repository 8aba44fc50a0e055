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
	turnCtx   func(context.Context, string) (context.Context, func())
	selectCtx func(context.Context) (context.Context, func())
	approval  bool
	decision  *Decision
	grounding GroundingFunc
	sources   []*tool.Source
	toolCtx   func(context.Context, model.ToolCall) (context.Context, func(error))
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

// WithTurnContext lets an observer derive the context each agent's Reply
// runs with (to open a span, add log fields); done is called when Reply returns.
func WithTurnContext(f func(ctx context.Context, speaker string) (context.Context, func())) RunOption {
	return func(o *runOptions) { o.turnCtx = f }
}

// WithSelectContext is WithTurnContext for each speaker selection.
func WithSelectContext(f func(ctx context.Context) (context.Context, func())) RunOption {
	return func(o *runOptions) { o.selectCtx = f }
}

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
	// capped is the stop reason of the cap a waiting run paused on.
	capped string
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

// stream is the run loop shared by both teams.
func (b *base) stream(ctx context.Context, p picker, task string, opts []RunOption) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		o := runOptions{now: time.Now}
		for _, opt := range opts {
			opt(&o)
		}
		now := o.now
		cond := b.cond
		if o.extra != nil {
			cond = termination.Or(b.cond, o.extra)
		}
		st := &state{task: task, started: now()}
		var next string
		awaiting := false
		if o.resume != nil {
			awaiting = o.resume.Awaiting
			st.messages = append(st.messages, o.resume.Messages...)
			st.usage = o.resume.Usage
			if _, ok := p.(replayer); !ok {
				next = o.resume.NextSpeaker
			}
			st.sources = slices.Clone(o.resume.Sources)
			st.held = o.resume.GroundingHeld
			st.capped = o.resume.Capped
		}
		var stored []agent.ToolExchange // finished calls of the resumed turn
		if o.resume != nil {
			stored = o.resume.ToolResults
		}
		// spent is what the failed call that ends the run cost (model.Spent:
		// an embedding paid before a budget refused the call, say); the
		// run_finished event carries it, so the totals count it.
		var spent Event
		finish := func(reason string, err error) {
			e := Event{Type: EventRunFinished, Time: now(), StopReason: reason, Total: st.usage, Index: len(st.messages)}
			if spent.Usage != (model.Usage{}) {
				st.usage = st.usage.Add(spent.Usage)
				e.Usage, e.Speaker, e.Deployment, e.Total = spent.Usage, spent.Speaker, spent.Deployment, st.usage
			}
			if err != nil {
				e.Error = err.Error()
			}
			if yield(e, nil) && err != nil {
				yield(Event{}, err)
			}
		}
		if !yield(Event{Type: EventRunStarted, Time: st.started, Task: task, Resumed: o.resume != nil, Index: len(st.messages), Total: st.usage}, nil) {
			return
		}
		if task == "" {
			finish("error", ErrEmptyTask)
			return
		}
		if o.runID != "" {
			ctx = agent.WithMeta(ctx, model.Meta{RunID: o.runID})
		}
		// The timeout counts the time the run has worked, over all its legs:
		// a resumed run's clock starts where the last leg's stopped.
		clock := st.started
		if o.resume != nil {
			clock = clock.Add(-o.resume.Worked)
		}
		if d, ok := cond.(termination.Deadliner); ok {
			if t, ok := d.Deadline(clock); ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadlineCause(ctx, t, errTimeout)
				defer cancel()
			}
		}
		evaluate := func() termination.Outcome {
			ts := &termination.State{Messages: st.messages, Usage: st.usage, Started: clock, Now: now()}
			if st.lastSpeaker() == EditorInChief {
				// A revision note: only caps may stop here. The work is done
				// when the team says so after the note.
				return termination.EvaluateCaps(cond, ts)
			}
			return termination.Evaluate(cond, ts)
		}
		// capStop ends the run on a cap, or pauses it for a decision when
		// approval is required (see endOrPause).
		capStop := func(reason string) { endOrPause(o.approval, reason, st, now, yield, finish) }
		check := func() (string, bool) {
			out := evaluate()
			return out.Reason, out.Stop
		}
		// stopOrPause ends the run when a condition stops it, or pauses it
		// for a person's decision when approval is required and the work is
		// done. It reports whether the stream is over.
		stopOrPause := func() bool {
			out := evaluate()
			if !out.Stop {
				return false
			}
			if out.Done && o.grounding != nil {
				g, goOn := b.ground(st, o.grounding, now, yield)
				if !goOn {
					return true // the consumer stopped
				}
				if len(g.Unsupported) > 0 {
					if g.Author != "" && b.byName[g.Author] != nil {
						next = g.Author
					}
					if out := evaluate(); out.Stop { // the feedback itself reached a cap
						capStop(groundingStop(out.Reason))
						return true
					}
					return false
				}
			}
			if !out.Done && st.held {
				capStop(groundingStop(out.Reason))
				return true
			}
			if o.approval && out.Done {
				if yield(Event{Type: EventApprovalRequested, Time: now(), Reason: out.Reason, Index: len(st.messages), Total: st.usage}, nil) {
					finish(StopAwaitingApproval, nil)
				}
				return true
			}
			capStop(out.Reason)
			return true
		}
		// stopFor turns a failed step into the run's end: a graceful stop for
		// budget and content-filter stops and for the run's own deadline, an
		// error otherwise.
		stopFor := func(err error) {
			spent.Usage, spent.Speaker, spent.Deployment = model.Spent(err)
			if reason, ok := model.AsStop(err); ok {
				capStop(reason)
				return
			}
			if errors.Is(context.Cause(ctx), errTimeout) {
				if reason, ok := check(); ok {
					capStop(reason)
					return
				}
				capStop("timeout")
				return
			}
			if ctx.Err() != nil {
				finish("cancelled", err)
				return
			}
			finish("error", err)
		}
		if len(o.sources) > 0 && o.decision == nil && !awaiting && !b.giveSources(st, o.sources, now, yield) {
			return
		}
		switch {
		case o.decision != nil:
			if !awaiting {
				finish("error", ErrNotAwaitingApproval)
				return
			}
			if !b.decide(*o.decision, st, now, yield, finish) {
				return
			}
			if stopOrPause() {
				return
			}
		case awaiting: // resumed without a decision: still waiting
			finish(StopAwaitingApproval, nil)
			return
		case len(st.messages) > 0:
			if stopOrPause() {
				return
			}
		}
		for {
			var speaker agent.Agent
			if next != "" {
				speaker = b.byName[next]
				if speaker == nil {
					finish("error", fmt.Errorf("%w %q in checkpoint", ErrUnknownSpeaker, next))
					return
				}
				next = ""
			} else {
				pickCtx, pickDone := ctx, func() {}
				if o.selectCtx != nil {
					pickCtx, pickDone = o.selectCtx(ctx)
				}
				sel, err := p.pick(pickCtx, st)
				pickDone()
				st.usage = st.usage.Add(sel.usage)
				if err != nil {
					stopFor(err)
					return
				}
				if sel.stop != "" { // a graph with no step left: its work is done
					if o.approval {
						if yield(Event{Type: EventApprovalRequested, Time: now(), Reason: sel.stop, Index: len(st.messages), Total: st.usage}, nil) {
							finish(StopAwaitingApproval, nil)
						}
						return
					}
					finish(sel.stop, nil)
					return
				}
				if len(sel.batch) > 1 {
					for i, a := range sel.batch {
						e := Event{Type: EventSpeakerSelected, Time: now(), Speaker: a.Name(), Index: len(st.messages) + i, Total: st.usage}
						if !yield(e, nil) {
							return
						}
					}
					msgs, err := b.fanOut(ctx, sel.batch, st.history(), o)
					for _, msg := range msgs {
						if !yield(st.record(msg, now), nil) {
							return
						}
						if stopOrPause() {
							return
						}
					}
					if err == nil {
						err = ctx.Err()
					}
					if err != nil {
						stopFor(err)
						return
					}
					continue
				}
				speaker = sel.speaker
				if !yield(Event{Type: EventSpeakerSelected, Time: now(), Speaker: speaker.Name(), Usage: sel.usage,
					Attempts: sel.attempts, Fallback: sel.fallback, Planned: sel.planned, Deployment: sel.deployment, Index: len(st.messages), Total: st.usage}, nil) {
					return
				}
			}
			var onDelta func(model.Delta)
			stopped := false
			turnCtx, cancelTurn := context.WithCancel(ctx)
			if o.streaming {
				name, idx := speaker.Name(), len(st.messages)
				onDelta = func(d model.Delta) {
					if stopped {
						return
					}
					if !yield(Event{Type: EventDelta, Time: now(), Speaker: name, Delta: d.Text, Restart: d.Restart, Index: idx, Total: st.usage}, nil) {
						stopped = true
						cancelTurn()
					}
				}
			}
			replyCtx, replyDone := turnCtx, func() {}
			if o.turnCtx != nil {
				replyCtx, replyDone = o.turnCtx(turnCtx, speaker.Name())
			}
			{
				name, idx := speaker.Name(), len(st.messages)
				base := func() Event { return Event{Time: now(), Index: idx, Total: st.usage} }
				emit := func(e Event) bool {
					if stopped {
						return false
					}
					if !yield(e, nil) {
						stopped = true
						cancelTurn()
					}
					return !stopped
				}
				replyCtx = agent.WithToolHooks(replyCtx, st.toolHooks(name, &o, base, emit, stored))
				stored = nil
			}
			msg, err := speaker.Reply(replyCtx, st.history(), onDelta)
			replyDone()
			cancelTurn()
			if stopped {
				return
			}
			if err != nil {
				stopFor(err)
				return
			}
			msg.Source = speaker.Name()
			st.pending = nil
			if !yield(st.record(msg, now), nil) {
				return
			}
			if stopOrPause() {
				return
			}
			if err := ctx.Err(); err != nil {
				stopFor(err)
				return
			}
		}
	}
}

// decide applies a person's decision to a waiting run (see Decide). It
// reports whether the team goes on (a revision); otherwise the stream is over.
func (b *base) decide(d Decision, st *state, now func() time.Time, yield func(Event, error) bool, finish func(string, error)) bool {
	events, stop, err := Decide(Checkpoint{Messages: st.messages, Usage: st.usage, Awaiting: true, Capped: st.capped}, d, now())
	if err != nil {
		finish("error", err)
		return false
	}
	for _, e := range events {
		if e.Message != nil {
			st.messages = append(st.messages, *e.Message)
		}
		if !yield(e, nil) {
			return false
		}
	}
	if stop != "" {
		finish(stop, nil)
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

// fanOut lets agents with no dependency on each other answer the same
// history at once (without streaming: their texts would interleave). It
// returns the messages of every agent that answered, in the agents' order,
// and the first failure: a reply that came back while another failed was
// paid for, so it is kept (recorded and counted in the totals), not dropped.
func (b *base) fanOut(ctx context.Context, agents []agent.Agent, history []agent.Message, o runOptions) ([]agent.Message, error) {
	msgs := make([]agent.Message, len(agents))
	errs := make([]error, len(agents))
	var wg sync.WaitGroup
	for i, a := range agents {
		wg.Go(func() {
			replyCtx, done := ctx, func() {}
			if o.turnCtx != nil {
				replyCtx, done = o.turnCtx(ctx, a.Name())
			}
			defer done()
			msgs[i], errs[i] = a.Reply(replyCtx, history, nil)
			msgs[i].Source = a.Name()
		})
	}
	wg.Wait()
	var firstErr error
	answered := msgs[:0]
	for i, err := range errs {
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		answered = append(answered, msgs[i])
	}
	return answered, firstErr
}
