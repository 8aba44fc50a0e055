package team

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/termination"
)

// errNoReply is the error of a turn that ended without a message or an error.
var errNoReply = errors.New("team: the agent's turn ended without a message")

// run is one run of a team, the loop every team shares. Its phases, one
// method each:
//
//	start → resume → { whoSpeaks → speak | speakBatch → check → (ground) → pauseOrStop }
//
// start yields run_started and sets the run's deadline; resume picks up a
// checkpoint (a decision, a run still waiting, a conversation already over)
// and hands over the documents given before the run; whoSpeaks asks the
// picker (or takes the speaker the checkpoint or the grounding check named);
// speak and speakBatch run the turns and forward their events; check
// evaluates the conditions after each message, ground runs the grounding
// check when the work is done, and pauseOrStop ends the run or pauses it for
// approval. fail turns a failed step into the run's end, finish yields
// run_finished.
type run struct {
	b    *base
	p    picker
	o    runOptions
	cond termination.Condition
	st   *state
	ctx  context.Context
	// yield is the stream's; emit calls it until the stream is over.
	yield func(Event, error) bool
	over  bool
	// clock is when the run's timeout clock started: a resumed run's
	// starts where the last leg's stopped.
	clock time.Time
	// next is the speaker a checkpoint or the grounding check chose.
	next     string
	awaiting bool
	// grounded is true once a grounding check ran, in this leg or before.
	grounded bool
	// capped is the cap a resumed waiting run had paused on
	// (Checkpoint.Capped): a revision of it is refused.
	capped string
	// stored are the finished tool calls of the resumed turn.
	stored []agent.ToolExchange
	// spent is what the failed call that ends the run cost (model.Spent:
	// an embedding paid before a budget refused the call, say); the
	// run_finished event carries it, so the totals count it.
	spent Event
}

// stream is the run loop shared by every team.
func (b *base) stream(ctx context.Context, p picker, task string, opts []RunOption) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		r := newRun(b, p, task, opts, yield)
		ctx, cancel, ok := r.start(ctx)
		defer cancel()
		if !ok {
			return
		}
		r.ctx = ctx
		if !r.resume() {
			return
		}
		for r.turn() {
		}
	}
}

func newRun(b *base, p picker, task string, opts []RunOption, yield func(Event, error) bool) *run {
	r := &run{b: b, p: p, o: runOptions{now: time.Now}, cond: b.cond, yield: yield}
	for _, opt := range opts {
		opt(&r.o)
	}
	if r.o.extra != nil {
		r.cond = termination.Or(b.cond, r.o.extra)
	}
	r.st = &state{task: task, started: r.now()}
	r.clock = r.st.started
	if c := r.o.resume; c != nil {
		r.awaiting = c.Awaiting
		r.st.messages = append(r.st.messages, c.Messages...)
		r.st.usage = c.Usage
		if _, ok := p.(replayer); !ok {
			r.next = c.NextSpeaker
		}
		r.st.sources = slices.Clone(c.Sources)
		r.st.held = c.GroundingHeld
		r.stored = c.ToolResults
		r.grounded = c.Grounding != nil
		r.capped = c.Capped
		r.clock = r.clock.Add(-c.Worked)
	}
	return r
}

func (r *run) now() time.Time { return r.o.now() }

// emit yields e unless the stream is over; a consumer that stops ends it.
func (r *run) emit(e Event) bool {
	if r.over {
		return false
	}
	if !r.yield(e, nil) {
		r.over = true
	}
	return !r.over
}

// event is an event of type t at the run's current position.
func (r *run) event(t EventType) Event {
	return Event{Type: t, Time: r.now(), Index: len(r.st.messages), Total: r.st.usage}
}

// start yields run_started and derives the run's context: its run id and
// its deadline. It reports whether the run goes on.
func (r *run) start(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	noop := func() {}
	if !r.emit(Event{Type: EventRunStarted, Time: r.st.started, Task: r.st.task, Resumed: r.o.resume != nil,
		Index: len(r.st.messages), Total: r.st.usage}) {
		return ctx, noop, false
	}
	if r.st.task == "" {
		r.finish("error", ErrEmptyTask)
		return ctx, noop, false
	}
	if r.o.runID != "" {
		ctx = model.WithMeta(ctx, model.Meta{RunID: r.o.runID})
	}
	if d, ok := r.cond.(termination.Deadliner); ok {
		if t, ok := d.Deadline(r.clock); ok {
			ctx, cancel := context.WithDeadlineCause(ctx, t, errTimeout)
			return ctx, cancel, true
		}
	}
	return ctx, noop, true
}

// resume hands the team the documents given before the run and picks up
// the checkpoint: a decision on a waiting run, a run still waiting, a
// conversation whose end may already be reached. It reports whether the
// team speaks.
func (r *run) resume() bool {
	o := &r.o
	if len(o.sources) > 0 && o.decision == nil && !r.awaiting && !r.giveSources(o.sources) {
		return false
	}
	switch {
	case o.decision != nil:
		if !r.awaiting {
			r.finish("error", ErrNotAwaitingApproval)
			return false
		}
		return r.decide(*o.decision) && !r.check()
	case r.awaiting: // resumed without a decision: still waiting
		r.finish(StopAwaitingApproval, nil)
		return false
	case len(r.st.messages) > 0:
		return !r.check()
	}
	return true
}

// turn lets the next speaker, or a batch of speakers, speak. It reports
// whether the run goes on.
func (r *run) turn() bool {
	speaker, batch, ok := r.whoSpeaks()
	switch {
	case !ok:
		return false
	case len(batch) > 1:
		return r.speakBatch(batch)
	}
	return r.speak(speaker)
}

// whoSpeaks chooses the next speaker (or batch) and yields its selection.
// It reports false when the stream is over: a failed selection, or a graph
// with no step left, whose work is done.
func (r *run) whoSpeaks() (agent.Agent, []agent.Agent, bool) {
	if r.next != "" {
		speaker := r.b.byName[r.next]
		if speaker == nil {
			r.finish("error", fmt.Errorf("%w %q in checkpoint", ErrUnknownSpeaker, r.next))
			return nil, nil, false
		}
		r.next = ""
		return speaker, nil, true
	}
	ctx, done := r.ctx, func() {}
	if r.o.observer != nil {
		ctx, done = r.o.observer.SelectContext(r.ctx)
	}
	sel, err := r.p.pick(ctx, r.st)
	done()
	r.st.usage = r.st.usage.Add(sel.usage)
	if err != nil {
		r.fail(err)
		return nil, nil, false
	}
	if sel.stop != "" {
		r.pauseOrStop(termination.Outcome{Stop: true, Done: true, Reason: sel.stop}, false)
		return nil, nil, false
	}
	if len(sel.batch) > 1 {
		for i, a := range sel.batch {
			e := r.event(EventSpeakerSelected)
			e.Speaker, e.Index = a.Name(), e.Index+i
			if !r.emit(e) {
				return nil, nil, false
			}
		}
		return nil, sel.batch, true
	}
	e := r.event(EventSpeakerSelected)
	e.Speaker, e.Usage, e.Attempts, e.Fallback, e.Planned, e.Deployment = sel.speaker.Name(), sel.usage, sel.attempts,
		sel.fallback, sel.planned, sel.deployment
	return sel.speaker, nil, r.emit(e)
}

// speak runs one turn of speaker, records its message and checks whether
// the run stops. It reports whether the run goes on.
func (r *run) speak(speaker agent.Agent) bool {
	turn := agent.Turn{History: r.st.history(), Stream: r.o.streaming, Done: r.stored, Sources: r.st}
	r.stored = nil
	msg, err := r.relay(speaker.Name(), r.agent(speaker).Run(r.ctx, turn))
	return r.answered(msg, err) && r.goOn()
}

// answered records a turn's message and checks whether the run stops; a
// failed turn ends the run. It reports whether the run goes on.
func (r *run) answered(msg agent.Message, err error) bool {
	if r.over {
		return false
	}
	if err != nil {
		r.fail(err)
		return false
	}
	r.st.pending = nil
	return r.emit(r.st.record(msg, r.now)) && !r.check()
}

// goOn ends the run when its context is done (a cancel, the deadline).
func (r *run) goOn() bool {
	if err := r.ctx.Err(); err != nil {
		r.fail(err)
		return false
	}
	return true
}

// agent returns the agent whose turns the run runs: a, or the observer's
// wrapper of it.
func (r *run) agent(a agent.Agent) agent.Agent {
	if r.o.observer != nil {
		return r.o.observer.Agent(a)
	}
	return a
}

// relay forwards a turn's events as the run's (deltas, tool calls and
// results, from speaker, at the index its message will have) and returns
// the turn's message. The stream may be over when it returns: the consumer
// stopped, which stopped the turn.
func (r *run) relay(speaker string, events iter.Seq2[agent.Event, error]) (agent.Message, error) {
	idx := len(r.st.messages)
	// The loop body is a closure: it sets these rather than returning, so
	// that a turn's message is not copied to the heap once more.
	var reply *agent.Message
	var failed error
	for e, err := range events {
		if err != nil {
			failed = err
			break
		}
		if e.Type == agent.EventMessage && e.Message != nil {
			reply = e.Message
			break
		}
		if !r.emit(r.forward(speaker, idx, e)) {
			break
		}
	}
	switch {
	case failed != nil:
		return agent.Message{}, failed
	case reply != nil:
		msg := *reply
		msg.Source = speaker
		return msg, nil
	case r.over:
		return agent.Message{}, nil
	}
	return agent.Message{}, cmp.Or(r.ctx.Err(), errNoReply)
}

// forward is the run's event for an event of a turn.
func (r *run) forward(speaker string, idx int, e agent.Event) Event {
	out := Event{Time: r.now(), Speaker: speaker, Index: idx, Total: r.st.usage}
	switch e.Type {
	case agent.EventDelta:
		out.Type, out.Delta, out.Restart = EventDelta, e.Delta.Text, e.Delta.Restart
	case agent.EventToolCall:
		out.Type, out.Tool = EventToolCall, e.Tool
	case agent.EventToolResult:
		out.Type, out.Tool, out.Source = EventToolResult, e.Tool, e.Source
		if e.Tool != nil {
			r.st.pending = append(r.st.pending, *e.Tool)
		}
	}
	return out
}

// branch is one event of a turn of a parallel batch.
type branch struct {
	e   agent.Event
	err error
}

// speakBatch lets agents with no dependency on each other answer the same
// history at once (without streaming: their texts would interleave). Their
// events are forwarded in the agents' order, the first agent's as they
// come, each later one's once the agent before it answered: a branch's tool
// results stand between the batch's selection and its message, as a
// sequential turn's do, so a resumed run finds them. A reply that came back
// while another failed was paid for, so it is kept (recorded and counted),
// and the run ends with the first failure.
func (r *run) speakBatch(agents []agent.Agent) bool {
	ctx, cancel := context.WithCancel(r.ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	history := r.st.history()
	branches := make([]chan branch, len(agents))
	for i, a := range agents {
		ch := make(chan branch, 64)
		branches[i] = ch
		turn := agent.Turn{History: history, Done: r.stored, Sources: r.st}
		wg.Go(func() { r.runBranch(ctx, a, turn, ch) })
	}
	r.stored = nil
	var first error
	for i, a := range agents {
		msg, err := r.relay(a.Name(), received(branches[i]))
		if err != nil && !r.over {
			first = cmp.Or(first, err)
			continue
		}
		if !r.answered(msg, nil) {
			return false
		}
	}
	if first != nil {
		r.fail(first)
		return false
	}
	return r.goOn()
}

// runBranch runs one turn of a parallel batch, sending its events to ch
// until ctx is done.
func (r *run) runBranch(ctx context.Context, a agent.Agent, turn agent.Turn, ch chan<- branch) {
	defer close(ch)
	for e, err := range r.agent(a).Run(ctx, turn) {
		select {
		case ch <- branch{e, err}:
			continue
		default:
		}
		select {
		case ch <- branch{e, err}:
		case <-ctx.Done():
			return
		}
	}
}

// received is the events sent to ch, as a turn's stream.
func received(ch <-chan branch) iter.Seq2[agent.Event, error] {
	return func(yield func(agent.Event, error) bool) {
		for b := range ch {
			if !yield(b.e, b.err) {
				return
			}
		}
	}
}

// evaluate asks the run's conditions whether it stops.
func (r *run) evaluate() termination.Outcome {
	st := r.st
	ts := &termination.State{Messages: st.messages, Usage: st.usage, Started: r.clock, Now: r.now()}
	if st.lastSpeaker() == EditorInChief {
		// A revision note: only caps may stop here. The work is done
		// when the team says so after the note.
		return termination.EvaluateCaps(r.cond, ts)
	}
	return termination.Evaluate(r.cond, ts)
}

// check ends the run when a condition stops it, after the grounding check
// when the work is done, or pauses it for a person's decision. It reports
// whether the stream is over.
func (r *run) check() bool {
	out := r.evaluate()
	if !out.Stop {
		return false
	}
	if out.Done && r.o.grounding != nil {
		held, ok := r.ground()
		if !ok {
			return true // the consumer stopped
		}
		if held {
			if out := r.evaluate(); out.Stop { // the feedback itself reached a cap
				r.pauseOrStop(out, true)
				return true
			}
			return false
		}
	}
	r.pauseOrStop(out, false)
	return true
}

// pauseOrStop ends the run for out, a stop, or pauses it for a person's
// decision (see stop). A cap reached while unsupported claims hold the run's
// end (held: the grounding feedback itself reached it) is a grounding stop.
func (r *run) pauseOrStop(out termination.Outcome, held bool) {
	reason := out.Reason
	if held || (!out.Done && r.st.held) {
		reason = groundingStop(reason)
	}
	r.stop(reason, out.Done)
}

// stop ends the run with reason, or pauses it. This is where the approval
// rule lives, for stops of conditions (pauseOrStop) and of failed calls
// (fail) alike: when approval is required, a run whose work is done (done)
// pauses for a person's decision; caps and outside stops end the run.
func (r *run) stop(reason string, done bool) {
	capped := !done && pausesOnCap(reason)
	if !r.o.approval || (!done && !capped) {
		r.finish(reason, nil)
		return
	}
	e := r.event(EventApprovalRequested)
	e.Reason, e.Capped = reason, capped
	if r.emit(e) {
		r.finish(StopAwaitingApproval, nil)
	}
}

// groundFinal yields the grounding check of the run's final article when the
// check is on and none ran: the article is checked against the material of
// its messages (MaterialOf), as a program reading the run would check it.
// It reports whether the stream goes on.
func (r *run) groundFinal() bool {
	if r.o.grounding == nil || r.grounded {
		return true
	}
	r.grounded = true
	g := Grounding{Skipped: "no sources"}
	if m := MaterialOf(r.st.task, r.st.messages); m.HasMaterial() {
		g = r.o.grounding(r.st.messages, m)
	}
	e := r.event(EventGrounding)
	e.Grounding = &g
	return r.emit(e)
}

// fail turns a failed step into the run's end: a graceful stop for budget
// and content-filter stops and for the run's own deadline, an error
// otherwise.
func (r *run) fail(err error) {
	r.spent.Usage, r.spent.Speaker, r.spent.Deployment = model.Spent(err)
	if reason, ok := model.AsStop(err); ok {
		r.stop(reason, false)
		return
	}
	if errors.Is(context.Cause(r.ctx), errTimeout) {
		if out := r.evaluate(); out.Stop {
			r.stop(out.Reason, false)
			return
		}
		r.stop("timeout", false)
		return
	}
	if r.ctx.Err() != nil {
		r.finish("cancelled", err)
		return
	}
	r.finish("error", err)
}

// finish yields run_finished, and the error of a failed run after it. A run
// with the grounding check on that ends without one having run (a cap, a
// failure) yields the check of its final article first, so every finished
// run's stream has one; a paused run is not finished.
func (r *run) finish(reason string, err error) {
	if reason != StopAwaitingApproval && !r.groundFinal() {
		r.over = true
		return
	}
	st := r.st
	e := Event{Type: EventRunFinished, Time: r.now(), StopReason: reason, Total: st.usage, Index: len(st.messages)}
	if r.spent.Usage != (model.Usage{}) {
		st.usage = st.usage.Add(r.spent.Usage)
		e.Usage, e.Speaker, e.Deployment, e.Total = r.spent.Usage, r.spent.Speaker, r.spent.Deployment, st.usage
	}
	if err != nil {
		e.Error = err.Error()
	}
	if r.emit(e) && err != nil {
		r.yield(Event{}, err)
	}
	r.over = true
}
