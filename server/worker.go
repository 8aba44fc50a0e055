package server

import (
	"context"
	"errors"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// takeInterrupted claims a run that was under way on an instance that died
// (running, its claim lapsed), when runs wait in this instance's queue: a
// busy instance resumes runs already under way before it starts new ones.
// Otherwise a dead instance's runs would wait until every survivor's queue
// had drained, since the scanner takes runs only for idle workers
// (`newsroom bench cluster` saw them resume a minute after the kill).
func (s *Server) takeInterrupted() (string, bool) {
	if s.cfg.ScanInterval <= 0 || s.queue.len() == 0 {
		return "", false // an idle worker waits in the queue; the scanner feeds it
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	return s.claimInterrupted(ctx)
}

// claimInterrupted claims one run that was under way on an instance that
// died (running, its claim lapsed), taking it out of this instance's queue
// if a scan had queued it: it starts now instead.
func (s *Server) claimInterrupted(ctx context.Context) (string, bool) {
	runs, err := s.store.ClaimableRuns(ctx, 0)
	if err != nil {
		s.log.Warn("scanning for interrupted runs", "err", err)
		return "", false
	}
	for _, r := range runs {
		if r.Status != store.StatusRunning {
			continue // queued runs wait for a worker, in order
		}
		s.queue.remove(r.ID)
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
		if id, ok := s.takeInterrupted(); ok {
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
		if cur, err := s.store.GetRun(ctx, id); err == nil && cur.Status.Finished() {
			s.mu.Unlock()
			return nil, errFinished
		}
		e.stopByUser()
		s.mu.Unlock()
		return s.store.GetRun(ctx, id)
	}
	// Not executing here: an executor that picks it up now sees it
	// cancelled, because it registers in s.active before it reads the run.
	defer s.mu.Unlock()
	cur, err := s.store.GetRun(ctx, id)
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
	c, ok, err := s.store.SeizeRun(ctx, id, s.cfg.InstanceID, s.cfg.ClaimLease)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errFinished
	}
	defer func() {
		rctx, cancel := s.storeCtx()
		defer cancel()
		if err := s.store.ReleaseRun(rctx, c); err != nil {
			s.log.Warn("releasing run claim", "run", id, "err", err)
		}
	}()
	run, err := s.store.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if run.Status.Finished() {
		return nil, errFinished
	}
	events, err := s.store.Events(ctx, id, 0)
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
