package server

import (
	"context"
	"time"

	"github.com/newsroom-dev/newsroom/store"
)

// claim takes this instance's claim on a run that is to wait in its queue
// (a submission, or a run found claimable); the claim is remembered so that
// Shutdown can release it at once. The executor that picks the run up
// claims it anew (a greater fencing token), so a claim taken here only
// reserves the run.
func (s *Server) claim(ctx context.Context, id string) (bool, error) {
	c, ok, err := s.claims.ClaimRun(ctx, id, s.cfg.InstanceID, s.cfg.ClaimLease)
	if err != nil || !ok {
		return ok, err
	}
	s.mu.Lock()
	s.pending[id] = c
	s.mu.Unlock()
	return true, nil
}

// claimIfIdle claims a run unless an executor of this instance holds it or it
// is already queued here. The check and the claim happen under s.mu, as in
// requeue, so a scan never takes a new claim over an executor that registered
// between the two (which would fence it mid-turn and waste its model call).
func (s *Server) claimIfIdle(ctx context.Context, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active[id] != nil || s.queue.contains(id) {
		return false, nil
	}
	c, ok, err := s.claims.ClaimRun(ctx, id, s.cfg.InstanceID, s.cfg.ClaimLease)
	if err != nil || !ok {
		return ok, err
	}
	s.pending[id] = c
	return true, nil
}

// takePending forgets the claim a queued run was reserved with.
func (s *Server) takePending(id string) (store.Claim, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.pending[id]
	delete(s.pending, id)
	return c, ok
}

// releasePending releases the reservation of a run that leaves the queue
// without being executed here (shutdown), so another instance starts it at
// once instead of after the lease.
func (s *Server) releasePending(ctx context.Context, id string) {
	c, ok := s.takePending(id)
	if !ok {
		return
	}
	if err := s.claims.ReleaseRun(ctx, c); err != nil {
		s.log.Warn("releasing queued run", "run", id, "err", err)
	}
}

// takeClaimable claims up to limit claimable runs and queues them; it
// returns how many it queued. Runs queued or executing here already are left
// alone (their executor claims them when it picks them up).
func (s *Server) takeClaimable(ctx context.Context, limit int) (int, error) {
	runs, err := s.claims.ClaimableRuns(ctx, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range runs {
		ok, err := s.claimIfIdle(ctx, r.ID)
		if err != nil {
			s.log.Warn("claiming run", "run", r.ID, "err", err)
			continue
		}
		if !ok {
			continue // another instance was quicker
		}
		if !s.queue.pushResumed(r.ID, r.CreatedAt) {
			// Shutting down: leave it to the other instances.
			s.releasePending(ctx, r.ID)
			continue
		}
		n++
	}
	return n, nil
}

// scan takes claimable runs every ScanInterval, as many as idle workers can
// start, until shutdown: runs queued by a busy or dead instance, and runs
// whose instance died mid-run (once their lease expired).
func (s *Server) scan() {
	defer s.background.Done()
	t := time.NewTicker(s.cfg.ScanInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		room := s.workerLimit() - s.Running() - s.queue.len()
		if room <= 0 {
			s.resumeBeyondLimit()
			continue
		}
		ctx, cancel := s.storeCtx()
		n, err := s.takeClaimable(ctx, room)
		cancel()
		if err != nil {
			s.log.Warn("scanning for claimable runs", "err", err)
		} else if n > 0 {
			s.log.Info("took over unfinished runs", "count", n, "instance", s.cfg.InstanceID)
		}
	}
}

// resumeBeyondLimit starts, at once and past the worker limit, runs that were
// under way on an instance that died (running, their claim lapsed) while
// every worker here is busy: otherwise they would wait for a worker to free
// up, a whole run later (`newsroom bench cluster` saw a minute), where the
// issue asks for a take-over within seconds. A run mostly waits on the model
// and the quota limiter stays the throttle of the calls, so a few executors
// more cost little; at most half the worker limit (one at least) run so.
func (s *Server) resumeBeyondLimit() {
	ctx, cancel := s.storeCtx()
	defer cancel()
	for int(s.overflow.Load()) < max(1, s.workerLimit()/2) {
		id, ok := s.claimInterrupted(ctx)
		if !ok {
			return
		}
		// Under s.mu, ordered with Shutdown's: either this Add comes
		// before Shutdown waits for the workers, or draining is seen.
		s.mu.Lock()
		if s.draining.Load() {
			s.mu.Unlock()
			s.releasePending(ctx, id)
			return
		}
		s.workers.Add(1)
		s.overflow.Add(1)
		s.mu.Unlock()
		s.log.Info("resuming an interrupted run beyond the worker limit", "run", id, "instance", s.cfg.InstanceID)
		go func() {
			defer s.workers.Done()
			defer s.overflow.Add(-1)
			s.execute(id)
		}()
	}
}
