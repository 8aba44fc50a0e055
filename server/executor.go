package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

// An executor owns one run's life on this instance, from its claim to its
// last write:
//
//	queued ──acquire──▶ claimed ──load, build──▶ running ──stream──▶ succeeded | failed | cancelled
//	                                                   │
//	                                                   └──pause──▶ awaiting_approval ──a decision──▶ queued | finished
//
// Each transition is one method (acquire, load, start, stream, finish) and
// each way a run stops here is one stop value, returned by the method that
// decided it. The claim's heartbeat runs beside the run for as long as the
// executor holds it; checkpointing (appendEvent) and cancellation are
// methods of the executor too, and every write is made under the claim's
// fencing token, so a run taken over by another instance writes nothing
// more here.
//
// A pause (awaiting a person's decision) ends the stream: the executor saves
// the awaiting_approval status under its claim and releases it (stopPaused);
// the decision (approval.go) finishes the run or queues it again, and it
// resumes from its checkpoint like any other unfinished run. Nothing waits
// in a goroutine meanwhile.
type executor struct {
	s  *Server
	id string

	// Set by acquire and load; read by the heartbeat only after acquire.
	claim store.Claim
	run   *store.Run
	cp    team.Checkpoint
	// resume is true when the run had progress before this executor.
	resume bool
	// requested is the stored approval_requested event, published by pause
	// once the run is saved as awaiting approval.
	requested *item

	ctx    context.Context
	cancel context.CancelCauseFunc
	user   *termination.External // the cancel button
	drain  *termination.External // shutdown: stop after the turn in progress

	cancelled atomic.Bool
	// again is set (under Server.mu) when the run was queued to execute
	// while this executor still held it: forget queues it once more. A
	// revision decided just after this executor paused the run is one.
	again bool
	// lost is set when the claim went to someone else (a take-over after a
	// lapse, a cancel through another instance): nothing more is written.
	lost atomic.Bool
	// finishing is set before the final write: a renewal that then finds
	// the run finished is the executor's own doing, not a lost claim.
	finishing atomic.Bool

	heartbeat sync.WaitGroup
	stopBeat  chan struct{}
}

// stop is how an executor ended.
type stop int

const (
	// stopSkipped: the run was never claimed here (another instance holds
	// it, or it is finished). Nothing was written.
	stopSkipped stop = iota
	// stopFinished: the run reached succeeded, failed or cancelled, and that
	// was written here.
	stopFinished
	// stopHandedBack: the run stays unfinished and its claim is released, so
	// it resumes from its checkpoint, here or elsewhere (shutdown, or a
	// store failure that left the checkpoint in doubt).
	stopHandedBack
	// stopFenced: the claim went to another instance; nothing more was
	// written and nothing is released.
	stopFenced
	// stopPaused: the run awaits a person's decision (awaiting_approval);
	// its claim is released, and nothing executes it until the decision.
	stopPaused
)

func (s stop) String() string {
	switch s {
	case stopSkipped:
		return "skipped"
	case stopFinished:
		return "finished"
	case stopHandedBack:
		return "handed back"
	case stopFenced:
		return "fenced"
	case stopPaused:
		return "paused"
	}
	return fmt.Sprintf("stop(%d)", int(s))
}

// execute runs one run on this instance to one of its stops. A run is
// executed by one executor at a time per instance.
func (s *Server) execute(id string) stop {
	e := s.newExecutor(id)
	if e == nil {
		return stopSkipped
	}
	st := e.execute()
	s.forget(e)
	if st != stopFenced && st != stopSkipped {
		e.release()
	}
	return st
}

// newExecutor registers an executor for the run, or returns nil when one
// executes it already.
func (s *Server) newExecutor(id string) *executor {
	e := &executor{s: s, id: id, user: termination.NewExternal(), drain: termination.NewExternal(), stopBeat: make(chan struct{})}
	e.ctx, e.cancel = context.WithCancelCause(s.runCtx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.active[id]; a != nil {
		a.again = true
		e.cancel(nil)
		return nil
	}
	s.active[id] = e
	if s.draining.Load() {
		e.drain.Stop(drainReason)
	}
	return e
}

// forget unregisters the executor and ends its heartbeat and context. A
// run queued to execute meanwhile (again) is queued once more: its executor
// then finds out from the store whether there is anything to do.
func (s *Server) forget(e *executor) {
	s.mu.Lock()
	delete(s.active, e.id)
	again := e.again
	s.mu.Unlock()
	close(e.stopBeat)
	e.heartbeat.Wait()
	e.cancel(nil)
	if again && !s.draining.Load() {
		var created time.Time // not loaded: first in the queue, as it was executing a moment ago
		if e.run != nil {
			created = e.run.CreatedAt
		}
		s.queue.pushResumed(e.id, created)
	}
}

// execute walks the run through its states; see the type's comment.
func (e *executor) execute() stop {
	if st, ok := e.acquire(); !ok {
		return st
	}
	if st, ok := e.load(); !ok {
		return st
	}
	tm, err := e.s.cfg.Teams.Team(e.run.Team, TeamOptions{
		RunID: e.id, MaxMessages: e.run.MaxMessages, BudgetUSD: e.run.BudgetUSD, Spent: e.cp.Usage, Stop: termination.Or(e.user, e.drain),
		NoTools: e.run.Options.NoTools, NoGrounding: e.run.Options.NoGrounding,
	})
	if err != nil {
		return e.finish(e.finalEvent("error", fmt.Errorf("building team: %w", err).Error()))
	}
	if st, ok := e.start(); !ok {
		return st
	}
	return e.stream(tm)
}

// acquire takes the run's claim (queued → claimed) and starts its heartbeat.
func (e *executor) acquire() (stop, bool) {
	ctx, cancel := e.s.storeCtx()
	defer cancel()
	c, ok, err := e.s.claims.ClaimRun(ctx, e.id, e.s.cfg.InstanceID, e.s.cfg.ClaimLease)
	if err != nil {
		// It stays claimable; a scan (here or elsewhere) takes it again.
		e.s.log.Error("claiming run", "run", e.id, "err", err)
		return stopSkipped, false
	}
	if !ok {
		e.s.log.Info("run held by another instance or finished; skipping", "run", e.id)
		return stopSkipped, false
	}
	e.claim = c
	e.s.takePending(e.id) // superseded by this claim
	e.heartbeat.Add(1)
	go e.beat(time.Now())
	return 0, true
}

// load reads the run and folds its stored events into the checkpoint it
// resumes from.
func (e *executor) load() (stop, bool) {
	ctx, cancel := e.s.storeCtx()
	defer cancel()
	run, err := e.s.runs.GetRun(ctx, e.id)
	var events []store.Event
	if err == nil {
		events, err = e.s.eventLog.Events(ctx, e.id, 0)
	}
	if err != nil {
		e.s.log.Error("loading run", "run", e.id, "err", err)
		return stopHandedBack, false
	}
	e.run = run
	if run.Status.Finished() || run.Status == store.StatusAwaitingApproval {
		return stopSkipped, false // cancelled while queued, or a stale queue entry of a waiting run
	}
	for _, ev := range events {
		if ev.Type == team.EventRunFinished {
			// Finished before a crash, but the final status was not saved.
			return e.saveFinal(ev.Event), false
		}
		e.cp.Apply(ev.Event)
		e.resume = e.resume || ev.Type == team.EventMessage || ev.Type == team.EventSpeakerSelected
	}
	return 0, true
}

// start marks the run running (claimed → running).
func (e *executor) start() (stop, bool) {
	e.run.Status = store.StatusRunning
	e.run.UpdatedAt = e.s.now().UTC()
	if err := e.update(); err != nil {
		return e.writeFailed("marking run running", err), false
	}
	e.s.log.Info("run started", "run", e.id, "team", e.run.Team, "resumed", e.resume, "messages", len(e.cp.Messages))
	return 0, true
}

// stream runs the team and checkpoints each event before it is published
// (running → finished). Deltas are published only: they are superseded by
// the message event.
func (e *executor) stream(tm team.Team) stop {
	opts := []team.RunOption{team.WithStreaming(true), team.WithRunID(e.id), team.WithClock(e.s.now),
		team.WithTermination(termination.Or(e.user, e.drain)), team.WithApproval(e.run.Approval != nil && e.run.Approval.Required)}
	opts = append(opts, runOptionsOf(e.run.Options)...)
	if e.resume {
		opts = append(opts, team.WithCheckpoint(e.cp))
	}
	ctx := e.ctx
	wrap := func(ev Events) Events { return ev }
	if e.s.cfg.Instrument != nil {
		var more []team.RunOption
		var w func(Events) Events
		ctx, more, w = e.s.cfg.Instrument(e.ctx, e.id, e.run.Team)
		opts = append(opts, more...)
		if w != nil {
			wrap = w
		}
	}
	var grounding *team.Event
	for ev, err := range wrap(tm.Stream(ctx, e.run.Task, opts...)) {
		if err != nil {
			break // the run_finished event carrying it came first
		}
		if e.lost.Load() {
			return e.fenced()
		}
		if ev.Type == team.EventGrounding {
			grounding = &ev // stored with the event after it (see keepGrounding)
			continue
		}
		if st, ok := e.keepGrounding(grounding, ev); !ok {
			return st
		}
		grounding = nil
		switch ev.Type {
		case team.EventDelta:
			e.s.publish(e.id, item{Event: ev})
		case team.EventRunFinished:
			if e.cancelled.Load() {
				ev.StopReason, ev.Error = cancelReason, ""
			} else if e.handsBack(ev) {
				e.s.log.Info("run interrupted by shutdown; it resumes at the next start", "run", e.id, "messages", len(e.cp.Messages))
				return stopHandedBack
			}
			if (ev.StopReason == team.StopAwaitingApproval || ev.StopReason == team.StopAwaitingToolApproval) && !e.cancelled.Load() {
				return e.pause(ev.StopReason)
			}
			return e.finish(ev)
		case team.EventApprovalRequested:
			// Stored now, so a run that stops before its status is saved
			// resumes into the pause again; published by pause, after the
			// status, so whoever sees it reads a waiting run (as with
			// run_finished and finish).
			seq, err := e.appendEvent(ev)
			if err != nil {
				return e.writeFailed("checkpoint", err)
			}
			e.cp.Apply(ev)
			e.requested = &item{Seq: seq, Event: ev}
		default:
			if st, ok := e.checkpoint(ev); !ok {
				return st
			}
		}
	}
	// The stream ended without run_finished: only a hard stop does that.
	if e.lost.Load() {
		return e.fenced()
	}
	return stopHandedBack
}

// checkpoint stores one event, folds it into the checkpoint and publishes
// it; a message also saves the run's usage so far.
func (e *executor) checkpoint(ev team.Event) (stop, bool) {
	seq, err := e.appendEvent(ev)
	if err != nil {
		return e.writeFailed("checkpoint", err), false
	}
	e.cp.Apply(ev)
	e.s.publish(e.id, item{Seq: seq, Event: ev})
	if ev.Type == team.EventMessage {
		e.run.Usage, e.run.PerAgent, e.run.UpdatedAt = ev.Total, e.cp.PerAgent, e.s.now().UTC()
		if err := e.update(); errors.Is(err, store.ErrFenced) {
			return e.fenced(), false
		} else if err != nil {
			e.s.log.Warn("saving run progress", "run", e.id, "err", err)
		}
	}
	return 0, true
}

// finish ends the run in one write: its final state and its run_finished
// event land together (store.Runs.FinishRun), so no reader sees the one
// without the other; then the event is published.
func (e *executor) finish(ev team.Event) stop {
	e.finishing.Store(true)
	seq, err := e.s.finishRun(e.claim, e.run, e.cp, ev, e.cancelled.Load())
	if err != nil {
		e.finishing.Store(false)
		return e.writeFailed("saving finished run", err)
	}
	e.s.publish(e.id, item{Seq: seq, Event: ev})
	return stopFinished
}

// pause saves a run that waits for a person's decision (running →
// awaiting_approval): the status, the article so far and its usage. Its
// approval_requested event is stored already; it is published now, after the
// status, so a client that refreshes on it finds the run waiting.
func (e *executor) pause(reason string) stop {
	run := e.run
	run.Status, run.StopReason, run.Error = store.StatusAwaitingApproval, reason, ""
	run.Usage, run.PerAgent, run.UpdatedAt = e.cp.Usage, e.cp.PerAgent, e.s.now().UTC()
	if art := e.s.cfg.Teams.Article(run.Team, e.cp.Messages); art != "" {
		run.Article = art
	}
	e.finishing.Store(true) // the run leaves the claimable statuses: renewals fail from now on
	if err := e.update(); err != nil {
		// It stays running in the store and resumes from its events, which
		// end with approval_requested: the resumed stream pauses again.
		e.finishing.Store(false)
		return e.writeFailed("saving run awaiting approval", err)
	}
	if e.requested != nil {
		e.s.publish(e.id, *e.requested)
	}
	e.s.log.Info("run awaiting approval", "run", e.id, "messages", len(e.cp.Messages))
	return stopPaused
}

// saveFinal writes the final state of a run whose run_finished event is
// stored already (written by a version that stored the two apart and
// stopped in between).
func (e *executor) saveFinal(ev team.Event) stop {
	e.finishing.Store(true)
	e.s.finalState(e.run, e.cp, ev, e.cancelled.Load())
	if err := e.update(); err != nil {
		e.finishing.Store(false)
		return e.writeFailed("saving finished run", err)
	}
	e.s.countFinished(e.run, e.cp)
	return stopFinished
}

// finalEvent is the run_finished event of a run that ends without its team
// having emitted one.
func (e *executor) finalEvent(stopReason, errText string) team.Event {
	return team.Event{Type: team.EventRunFinished, Time: e.s.now(), StopReason: stopReason, Error: errText,
		Index: len(e.cp.Messages), Total: e.cp.Usage}
}

func (e *executor) appendEvent(ev team.Event) (int64, error) {
	ctx, cancel := e.s.storeCtx()
	defer cancel()
	return e.s.eventLog.AppendEvent(ctx, e.claim, ev)
}

func (e *executor) update() error {
	ctx, cancel := e.s.storeCtx()
	defer cancel()
	return e.s.runs.UpdateRun(ctx, e.claim, e.run)
}

// writeFailed is the stop after a failed write: fenced when the claim went
// elsewhere; otherwise the run cannot go on safely without its checkpoint,
// so it stays unfinished and resumes from its last stored event.
func (e *executor) writeFailed(what string, err error) stop {
	if errors.Is(err, store.ErrFenced) {
		return e.fenced()
	}
	e.s.log.Error(what+" failed; stopping run", "run", e.id, "err", err)
	return stopHandedBack
}

// fenced is the stop of a run whose claim another instance holds now.
func (e *executor) fenced() stop {
	e.lost.Store(true)
	e.s.log.Warn("run claim lost (taken over or finished elsewhere); stopped without writing", "run", e.id, "messages", len(e.cp.Messages))
	return stopFenced
}

// release gives the claim back so another instance can resume the run at
// once (a finished run's release just drops it).
func (e *executor) release() {
	ctx, cancel := e.s.storeCtx()
	defer cancel()
	if err := e.s.claims.ReleaseRun(ctx, e.claim); err != nil {
		e.s.log.Warn("releasing run claim", "run", e.id, "err", err)
	}
}

// stopByUser is the cancel button: the run ends now (the model call in
// progress is abandoned; its completed messages are kept) and is written
// as cancelled.
func (e *executor) stopByUser() {
	e.cancelled.Store(true)
	e.user.Stop(cancelReason)
	e.cancel(errCancelled)
}

// beat renews the claim every ClaimRenew until the executor ends. A claim
// another instance holds now, or one that could not be renewed for a whole
// lease (the store unreachable: another instance may hold it by now), stops
// the run at once; the fencing token makes sure it writes nothing more
// meanwhile.
func (e *executor) beat(renewed time.Time) {
	defer e.heartbeat.Done()
	s := e.s
	t := time.NewTicker(s.cfg.ClaimRenew)
	defer t.Stop()
	for {
		select {
		case <-e.stopBeat:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ClaimRenew)
		before := time.Now()
		ok, err := s.claims.RenewClaim(ctx, e.claim, s.cfg.ClaimLease)
		cancel()
		switch {
		case err != nil && before.Sub(renewed) >= s.cfg.ClaimLease:
			s.log.Error("run claim expired while the store was unreachable; stopping the run here", "run", e.id, "err", err)
			e.lost.Store(true)
			e.cancel(errLeaseLost)
			return
		case err != nil:
			s.log.Warn("renewing run claim", "run", e.id, "err", err)
		case ok:
			renewed = before
		case e.finishing.Load():
			return // the run is finished by this executor: nothing to renew
		default:
			s.log.Warn("run claim lost (taken over or finished elsewhere); stopping the run here", "run", e.id)
			e.lost.Store(true)
			e.cancel(errLeaseLost)
			return
		}
	}
}

// finishRun ends a run under claim c from its run_finished event e, in one
// atomic store write of the final state and the event (finalState says
// which state), and returns the event's sequence number.
func (s *Server) finishRun(c store.Claim, run *store.Run, cp team.Checkpoint, e team.Event, cancelled bool) (int64, error) {
	s.finalState(run, cp, e, cancelled)
	run.Publish = s.publishOnFinish(run, cp) // in the same write (articles.go)
	sctx, cancel := s.storeCtx()
	defer cancel()
	seq, err := s.runs.FinishRun(sctx, c, run, e)
	if err != nil {
		return 0, err
	}
	s.countFinished(run, cp)
	return seq, nil
}

// errUngrounded is the error of a run that reached its cap with claims the
// grounding check still found unsupported (listed in the run's grounding).
const errUngrounded = "the article still makes claims no source supports"

// finalState sets a run's final state from its run_finished event: the
// status follows from the event (cancelled when cancelled is set or the
// stop reason says so, failed with an error, succeeded otherwise), with the
// article the team finds in the messages.
func (s *Server) finalState(run *store.Run, cp team.Checkpoint, e team.Event, cancelled bool) {
	now := s.now().UTC()
	run.StopReason, run.Error = e.StopReason, e.Error
	run.Usage, run.PerAgent = e.Total, cp.PerAgent
	if e.Total == (model.Usage{}) {
		run.Usage = cp.Usage
	}
	switch {
	case cancelled || e.StopReason == cancelReason:
		run.Status = store.StatusCancelled
	case e.Error != "":
		run.Status = store.StatusFailed
	case termination.KindOf(e.StopReason) == termination.KindGrounding:
		// As `newsroom run` exits 1: the cap came while the article still
		// made claims no source supports, so it is not a finished story.
		run.Status = store.StatusFailed
		run.Error = errUngrounded
	default:
		run.Status = store.StatusSucceeded
	}
	if art := s.cfg.Teams.Article(run.Team, cp.Messages); art != "" {
		run.Article = art
	}
	run.UpdatedAt, run.FinishedAt = now, now
}

// countFinished counts a run this instance finished and writes its one
// "run finished" line.
func (s *Server) countFinished(run *store.Run, cp team.Checkpoint) {
	switch run.Status {
	case store.StatusCancelled:
		s.finished.cancelled.Add(1)
	case store.StatusFailed:
		s.finished.failed.Add(1)
	default:
		s.finished.succeeded.Add(1)
	}
	s.log.Info("run finished", "run", run.ID, "status", run.Status, "stop_reason", run.StopReason,
		"messages", len(cp.Messages), "cost_usd", run.Usage.CostUSD)
}
