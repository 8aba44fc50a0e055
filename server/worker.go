package server

import (
	"context"
	"errors"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// takeOrphaned claims, when runs wait in this instance's queue, a run that
// no instance holds and that a free worker here should start before the
// queue's head: first a run that was under way on an instance that died
// (running, its claim lapsed), so a busy instance resumes runs already
// under way before it starts new ones; else the oldest run left queued by
// another instance (dead, or busy past the lease of its claim) if it was
// submitted before the head. So a worker starts the oldest runnable run of
// the shared store, and a user who submitted first does not wait behind
// runs submitted later to a survivor: the scanner takes claimable runs only
// for idle workers, so these would otherwise wait until every survivor's
// queue had drained (`newsroom bench cluster` saw a dead instance's queued
// runs start 73 s after the kill, its interrupted ones a minute).
func (s *Server) takeOrphaned() (string, bool) {
	if s.cfg.ScanInterval <= 0 {
		return "", false
	}
	head, ok := s.queue.head()
	if !ok {
		return "", false // an idle worker waits in the queue; the scanner feeds it
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	return s.claimOrphaned(ctx, head)
}

// claimInterrupted claims one run that was under way on an instance that
// died (running, its claim lapsed); see claimOrphaned.
func (s *Server) claimInterrupted(ctx context.Context) (string, bool) {
	return s.claimOrphaned(ctx, time.Time{})
}

// claimOrphaned claims one run that no instance holds: a run that was under
// way (running, its claim lapsed), taken out of this instance's queue if a
// scan had queued it (it starts now instead); else the oldest queued run
// submitted before `before` and not queued here (a zero before takes none).
// Which instance claims such a run first executes it: the claim is the
// store's, so two survivors never both take it.
func (s *Server) claimOrphaned(ctx context.Context, before time.Time) (string, bool) {
	runs, err := s.claims.ClaimableRuns(ctx, 0)
	if err != nil {
		s.log.Warn("scanning for orphaned runs", "err", err)
		return "", false
	}
	for _, r := range runs {
		if r.Status != store.StatusRunning {
			continue // interrupted runs first
		}
		s.queue.remove(r.ID)
		if ok, err := s.claimIfIdle(ctx, r.ID); err == nil && ok {
			return r.ID, true
		}
	}
	for _, r := range runs { // oldest first
		if !r.CreatedAt.Before(before) {
			break // this instance's queue goes first
		}
		if r.Status != store.StatusQueued {
			continue
		}
		// A run queued here whose reservation lapsed is skipped: it keeps
		// its place in this queue.
		if ok, err := s.claimIfIdle(ctx, r.ID); err == nil && ok {
			return r.ID, true
		}
	}
	return "", false
}

// storeTimeout bounds one store write of a run's progress.
const storeTimeout = 10 * time.Second

// worker executes queued runs, one at a time, until the queue closes,
// while the gate lets it (workerLimit workers at once). It passes the gate
// before it takes a run, so runs leave the queue in submission order.
func (s *Server) worker() {
	defer s.workers.Done()
	for s.gate.acquire() {
		if id, ok := s.takeOrphaned(); ok {
			s.execute(id)
			s.gate.release()
			continue
		}
		id, ok := s.queue.pop()
		if !ok {
			s.gate.release()
			return
		}
		s.execute(id)
		s.gate.release()
	}
}

// storeCtx is the context of the run's store writes: they must land even when
// the run itself is being interrupted.
func (s *Server) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), storeTimeout)
}

// cancel stops a run: a run executing here ends now (the model call in
// progress is abandoned; its completed messages are kept), a queued run
// never starts, and a run executing on another instance is seized from it:
// its claim's fencing token moves on, so that instance writes nothing more
// and stops at its next write or heartbeat.
func (s *Server) cancel(ctx context.Context, id string) (*store.Run, error) {
	s.mu.Lock()
	e := s.active[id]
	if e != nil {
		// Its executor may have just finished it (the final state and
		// run_finished are one write).
		if cur, err := s.runs.GetRun(ctx, id); err == nil && cur.Status.Finished() {
			s.mu.Unlock()
			return nil, errFinished
		}
		e.stopByUser()
		s.mu.Unlock()
		return s.runs.GetRun(ctx, id)
	}
	// Not executing here: an executor that picks it up now sees it
	// cancelled, because it registers in s.active before it reads the run.
	defer s.mu.Unlock()
	cur, err := s.runs.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case cur.Status.Finished():
		return nil, errFinished
	case cur.Status == store.StatusAwaitingApproval:
		return s.cancelWaiting(ctx, cur)
	}
	s.queue.remove(id)
	delete(s.pending, id) // superseded by the seizure
	c, ok, err := s.claims.SeizeRun(ctx, id, s.cfg.InstanceID, s.cfg.ClaimLease)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errFinished
	}
	defer func() {
		rctx, cancel := s.storeCtx()
		defer cancel()
		if err := s.claims.ReleaseRun(rctx, c); err != nil {
			s.log.Warn("releasing run claim", "run", id, "err", err)
		}
	}()
	run, err := s.runs.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if run.Status.Finished() {
		return nil, errFinished
	}
	events, err := s.eventLog.Events(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	var cp team.Checkpoint
	for _, e := range events {
		cp.Apply(e.Event)
	}
	final := team.Event{Type: team.EventRunFinished, Time: s.now(), StopReason: cancelReason, Index: len(cp.Messages), Total: cp.Usage}
	seq, err := s.finishRun(c, run, cp, final, true)
	if err != nil {
		return nil, errors.Join(errors.New("server: cancelling run failed"), err)
	}
	s.publish(id, item{Seq: seq, Event: final})
	return run, nil
}
