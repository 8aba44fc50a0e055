package server

import (
	"context"
	"time"
)

// claim takes or renews this instance's claim on a run.
func (s *Server) claim(ctx context.Context, id string) (bool, error) {
	return s.store.ClaimRun(ctx, id, s.cfg.InstanceID, s.cfg.ClaimLease)
}

// releaseClaim gives up the claim of a run this worker executed, so another
// instance can resume it at once; a lost claim is not ours to release.
func (s *Server) releaseClaim(id string, a *activeRun) {
	if a.lost.Load() {
		return
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	if err := s.store.ReleaseRun(ctx, id, s.cfg.InstanceID); err != nil {
		s.log.Warn("releasing run claim", "run", id, "err", err)
	}
}

// takeClaimable claims up to limit claimable runs and queues them; it
// returns how many it queued. Runs queued or executing here already are left
// alone (their worker claims them when it picks them up).
func (s *Server) takeClaimable(ctx context.Context, limit int) (int, error) {
	runs, err := s.store.ClaimableRuns(ctx, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range runs {
		s.mu.Lock()
		here := s.active[r.ID] != nil
		s.mu.Unlock()
		if here || s.queue.contains(r.ID) {
			continue
		}
		ok, err := s.claim(ctx, r.ID)
		if err != nil {
			s.log.Warn("claiming run", "run", r.ID, "err", err)
			continue
		}
		if !ok {
			continue // another instance was quicker
		}
		if !s.queue.pushResumed(r.ID) {
			// Shutting down: leave it to the other instances.
			if err := s.store.ReleaseRun(ctx, r.ID, s.cfg.InstanceID); err != nil {
				s.log.Warn("releasing run claim", "run", r.ID, "err", err)
			}
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
		room := s.cfg.Workers - s.Running() - s.queue.len()
		if room <= 0 {
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

// keepLeases renews the claims of the runs executing here every ClaimRenew
// until the runs are stopped for good (s.runCtx ends). A run whose claim is
// gone (another instance took it after a lapse, or it was finished through
// another instance) is stopped at once without writing anything more.
func (s *Server) keepLeases() {
	defer s.background.Done()
	t := time.NewTicker(s.cfg.ClaimRenew)
	defer t.Stop()
	for {
		select {
		case <-s.runCtx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		held := make(map[string]*activeRun, len(s.active))
		for id, a := range s.active {
			if a.claimed.Load() && !a.lost.Load() {
				held[id] = a
			}
		}
		s.mu.Unlock()
		for id, a := range held {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ClaimRenew)
			before := time.Since(s.epoch)
			ok, err := s.claim(ctx, id)
			cancel()
			switch {
			case err != nil && before-time.Duration(a.renewed.Load()) >= s.cfg.ClaimLease:
				// The store has been unreachable for a whole lease: another
				// instance may hold the run now, so it stops here.
				s.log.Error("run claim expired while the store was unreachable; stopping the run here", "run", id, "err", err)
				a.lost.Store(true)
				a.cancel(errLeaseLost)
			case err != nil:
				s.log.Warn("renewing run claim", "run", id, "err", err)
			case ok:
				a.renewed.Store(int64(before))
			case !ok:
				s.log.Warn("run claim lost (taken over or finished elsewhere); stopping the run here", "run", id)
				a.lost.Store(true)
				a.cancel(errLeaseLost)
			}
		}
	}
}
