package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

// storeTimeout bounds one store write of a run's progress.
const storeTimeout = 10 * time.Second

func (s *Server) worker() {
	defer s.workers.Done()
	for {
		id, ok := s.queue.pop()
		if !ok {
			return
		}
		s.execute(id)
	}
}

// storeCtx is the context of the run's store writes: they must land even when
// the run itself is being interrupted.
func (s *Server) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), storeTimeout)
}

// execute runs one run to its end, or until shutdown interrupts it. Every
// event but deltas is appended to the store before it is fanned out.
func (s *Server) execute(id string) {
	a := &activeRun{user: termination.NewExternal(), drain: termination.NewExternal()}
	ctx, cancel := context.WithCancelCause(s.runCtx)
	defer cancel(nil)
	a.cancel = cancel
	s.mu.Lock()
	if s.active[id] != nil {
		s.mu.Unlock()
		return // a run is executed by one worker at a time
	}
	s.active[id] = a
	if s.draining.Load() {
		a.drain.Stop(drainReason)
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.active, id)
		s.mu.Unlock()
		if a.claimed.Load() {
			s.releaseClaim(id, a)
		}
	}()

	sctx, scancel := s.storeCtx()
	a.renewed.Store(int64(time.Since(s.epoch)))
	claimed, err := s.claim(sctx, id)
	scancel()
	if err != nil {
		// It stays claimable; a scan (here or elsewhere) takes it again.
		s.log.Error("claiming run", "run", id, "err", err)
		return
	}
	if !claimed {
		s.log.Info("run held by another instance or finished; skipping", "run", id)
		return
	}
	a.claimed.Store(true) // released when the run leaves s.active

	sctx, scancel = s.storeCtx()
	run, err := s.store.GetRun(sctx, id)
	var events []store.Event
	if err == nil {
		events, err = s.store.Events(sctx, id, 0)
	}
	scancel()
	if err != nil {
		s.log.Error("loading run", "run", id, "err", err)
		return
	}
	if run.Status.Finished() || run.Status == store.StatusAwaitingApproval {
		return // cancelled while queued, or a stale queue entry of a waiting run
	}
	var cp team.Checkpoint
	resume := false
	for _, e := range events {
		if e.Type == team.EventRunFinished {
			// Finished before a crash, but the final status was not saved.
			s.finish(run, cp, e.Event, a)
			return
		}
		cp.Apply(e.Event)
		resume = resume || e.Type == team.EventMessage || e.Type == team.EventSpeakerSelected
	}

	stop := termination.Or(a.user, a.drain)
	tm, err := s.cfg.Team(run.Team, run.MaxMessages, run.BudgetUSD, stop)
	if err != nil {
		s.failRun(run, cp, fmt.Errorf("building team: %w", err))
		return
	}
	run.Status = store.StatusRunning
	run.UpdatedAt = s.now().UTC()
	if err := s.update(run); err != nil {
		s.log.Error("marking run running", "run", id, "err", err)
		return
	}
	s.log.Info("run started", "run", id, "team", run.Team, "resumed", resume, "messages", len(cp.Messages))

	opts := []team.RunOption{team.WithStreaming(true), team.WithRunID(id), team.WithClock(s.now), team.WithTermination(stop),
		team.WithApproval(run.Approval != nil && run.Approval.Required)}
	if resume {
		opts = append(opts, team.WithCheckpoint(cp))
	}
	runCtx := context.Context(ctx)
	wrap := func(ev Events) Events { return ev }
	if s.cfg.Instrument != nil {
		var more []team.RunOption
		var w func(Events) Events
		runCtx, more, w = s.cfg.Instrument(ctx, id, run.Team)
		opts = append(opts, more...)
		if w != nil {
			wrap = w
		}
	}
	for e, err := range wrap(tm.Stream(runCtx, run.Task, opts...)) {
		if err != nil {
			break // the run_finished event carrying it came first
		}
		if e.Type == team.EventDelta {
			s.hub.publish(id, item{Event: e})
			continue
		}
		if a.lost.Load() {
			// Another instance owns the run now (or finished it): nothing
			// more is written here.
			s.log.Warn("run claim lost; stopped without writing", "run", id, "messages", len(cp.Messages))
			return
		}
		if e.Type == team.EventRunFinished {
			if a.cancelled.Load() {
				e.StopReason, e.Error = cancelReason, ""
			} else if s.draining.Load() && (e.StopReason == drainReason || ctx.Err() != nil) {
				s.log.Info("run interrupted by shutdown; it resumes at the next start", "run", id, "messages", len(cp.Messages))
				return
			}
		}
		if e.Type != team.EventRunStarted && s.finishedElsewhere(id) {
			return
		}
		if e.Type == team.EventRunFinished && e.StopReason == team.StopAwaitingApproval && !a.cancelled.Load() {
			// A pause, not an end: the run waits in the store, and nothing
			// here holds it (its approval_requested event is stored).
			s.pause(run, cp)
			return
		}
		if e.Type == team.EventRunFinished {
			// The final state is saved before run_finished is stored and
			// published, so whoever sees run_finished reads a finished run.
			if !s.finish(run, cp, e, a) {
				return
			}
		}
		sctx, scancel := s.storeCtx()
		seq, err := s.store.AppendEvent(sctx, id, e)
		scancel()
		if err != nil {
			// Without its checkpoint the run cannot go on safely; it stays
			// running in the store and resumes from its last stored event.
			s.log.Error("checkpoint failed; stopping run", "run", id, "err", err)
			return
		}
		cp.Apply(e)
		s.hub.publish(id, item{Seq: seq, Event: e})
		switch e.Type {
		case team.EventMessage:
			run.Usage, run.PerAgent, run.UpdatedAt = e.Total, cp.PerAgent, s.now().UTC()
			if err := s.update(run); err != nil {
				s.log.Warn("saving run progress", "run", id, "err", err)
			}
		case team.EventRunFinished:
			return
		}
	}
}

// finishedElsewhere reports whether the run was finished by someone else,
// such as a cancel through another instance sharing the store.
func (s *Server) finishedElsewhere(id string) bool {
	sctx, scancel := s.storeCtx()
	defer scancel()
	cur, err := s.store.GetRun(sctx, id)
	if err != nil || !cur.Status.Finished() {
		return false
	}
	s.log.Info("run finished elsewhere (cancelled through another instance); stopping", "run", id, "status", cur.Status)
	return true
}

// finish saves a run's final state from its run_finished event; false when
// the store refused it (the run then stays unfinished and resumes later).
func (s *Server) finish(run *store.Run, cp team.Checkpoint, e team.Event, a *activeRun) bool {
	now := s.now().UTC()
	run.StopReason, run.Error = e.StopReason, e.Error
	run.Usage, run.PerAgent = e.Total, cp.PerAgent
	if e.Total == (model.Usage{}) {
		run.Usage = cp.Usage
	}
	switch {
	case (a != nil && a.cancelled.Load()) || e.StopReason == cancelReason:
		run.Status = store.StatusCancelled
		s.finished.cancelled.Add(1)
	case e.Error != "":
		run.Status = store.StatusFailed
		s.finished.failed.Add(1)
	default:
		run.Status = store.StatusSucceeded
		s.finished.succeeded.Add(1)
	}
	if art := desk.ArticleOf(cp.Messages); art.Body != "" {
		run.Article = art.Markdown()
	}
	run.UpdatedAt, run.FinishedAt = now, now
	if err := s.update(run); err != nil {
		s.log.Error("saving finished run", "run", run.ID, "err", err)
		return false
	}
	s.log.Info("run finished", "run", run.ID, "status", run.Status, "stop_reason", run.StopReason,
		"messages", len(cp.Messages), "cost_usd", run.Usage.CostUSD)
	return true
}

// pause saves a run that waits for a person's decision: status
// awaiting_approval, the article so far, and its usage.
func (s *Server) pause(run *store.Run, cp team.Checkpoint) {
	run.Status, run.StopReason, run.Error = store.StatusAwaitingApproval, team.StopAwaitingApproval, ""
	run.Usage, run.PerAgent, run.UpdatedAt = cp.Usage, cp.PerAgent, s.now().UTC()
	if art := desk.ArticleOf(cp.Messages); art.Body != "" {
		run.Article = art.Markdown()
	}
	if err := s.update(run); err != nil {
		// It stays running in the store and resumes from its events, which
		// end with approval_requested: the resumed stream pauses again.
		s.log.Error("saving run awaiting approval", "run", run.ID, "err", err)
		return
	}
	s.log.Info("run awaiting approval", "run", run.ID, "messages", len(cp.Messages))
}

// failRun ends a run that could not start.
func (s *Server) failRun(run *store.Run, cp team.Checkpoint, err error) {
	e := team.Event{Type: team.EventRunFinished, Time: s.now(), StopReason: "error", Error: err.Error(), Index: len(cp.Messages), Total: cp.Usage}
	s.appendFinal(run, cp, e)
}

// appendFinal stores and publishes a run_finished event the team did not
// emit itself, then saves the final state.
func (s *Server) appendFinal(run *store.Run, cp team.Checkpoint, e team.Event) {
	if !s.finish(run, cp, e, nil) {
		return
	}
	sctx, scancel := s.storeCtx()
	seq, err := s.store.AppendEvent(sctx, run.ID, e)
	scancel()
	if err != nil {
		s.log.Error("storing final event", "run", run.ID, "err", err)
		return
	}
	s.hub.publish(run.ID, item{Seq: seq, Event: e})
}

func (s *Server) update(run *store.Run) error {
	sctx, scancel := s.storeCtx()
	defer scancel()
	return s.store.UpdateRun(sctx, run)
}

// cancel stops a run: a running run ends now (the model call in progress is
// abandoned; its completed messages are kept), a queued run never starts.
func (s *Server) cancel(ctx context.Context, id string) (*store.Run, error) {
	s.mu.Lock()
	a := s.active[id]
	if a != nil {
		// Its worker may be storing the end of a run that just finished (the
		// final state is saved before run_finished is stored).
		if cur, err := s.store.GetRun(ctx, id); err == nil && cur.Status.Finished() {
			s.mu.Unlock()
			return nil, errFinished
		}
		a.cancelled.Store(true)
		a.user.Stop(cancelReason)
		a.cancel(errCancelled)
		s.mu.Unlock()
		return s.store.GetRun(ctx, id)
	}
	// Not running here: a worker that picks it up now sees it cancelled,
	// because it registers in s.active before it reads the run.
	defer s.mu.Unlock()
	run, err := s.store.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if run.Status.Finished() {
		return nil, errFinished
	}
	if run.Status == store.StatusAwaitingApproval {
		return s.cancelWaiting(ctx, run)
	}
	s.queue.remove(id)
	events, err := s.store.Events(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	var cp team.Checkpoint
	for _, e := range events {
		cp.Apply(e.Event)
	}
	s.appendFinal(run, cp, team.Event{Type: team.EventRunFinished, Time: s.now(), StopReason: cancelReason, Index: len(cp.Messages), Total: cp.Usage})
	if !run.Status.Finished() {
		return nil, errors.New("server: cancelling run failed")
	}
	return run, nil
}
