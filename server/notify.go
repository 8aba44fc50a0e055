package server

import (
	"context"
	"time"
)

// Notifier carries "this run has new events in the store" between the
// instances sharing a store, so a client following a run on one instance
// hears of events another instance stores within moments, without polling.
// The store stays the source of truth: a notification only wakes the
// followers, which read the events from the store (Last-Event-ID order, no
// gaps, no duplicates). Losing a notification delays a follower until the
// next one; it never loses an event. Implementations: PostgreSQL
// LISTEN/NOTIFY (server/pgnotify) and Redis pub/sub (server/redisnotify).
type Notifier interface {
	// Notify tells every instance that the run's log has events up to seq.
	Notify(ctx context.Context, n Notification) error
	// Listen calls wake with every notification from any instance until ctx
	// ends, reconnecting after failures; it returns ctx's error. A
	// notification with an empty Run means notifications may have been
	// missed (a reconnection): every follower reads the store once.
	Listen(ctx context.Context, wake func(Notification)) error
}

// Notification says a run's log grew.
type Notification struct {
	// Run is the run's id.
	Run string `json:"run"`
	// Seq is the sequence number of its newest stored event.
	Seq int64 `json:"seq"`
	// From is the instance that stored it; an instance ignores its own
	// notifications (its followers were told in process).
	From string `json:"from"`
}

// notifyTimeout bounds one notification: a slow notifier must not hold up
// the run that stored the event.
const notifyTimeout = 2 * time.Second

// publish fans an item out to the run's followers on this instance and, for
// a durable event, tells the other instances through the notifier.
func (s *Server) publish(runID string, it item) {
	s.hub.publish(runID, it)
	if it.Seq == 0 || s.cfg.Notifier == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	if err := s.cfg.Notifier.Notify(ctx, Notification{Run: runID, Seq: it.Seq, From: s.cfg.InstanceID}); err != nil {
		s.log.Warn("notifying other instances", "run", runID, "err", err)
	}
}

// listen wakes this instance's followers of runs whose events other
// instances store, until shutdown.
func (s *Server) listen(ctx context.Context) {
	defer s.background.Done()
	_ = s.cfg.Notifier.Listen(ctx, func(n Notification) {
		switch {
		case n.Run == "":
			s.hub.wakeAll() // (re)connected: anything may have been missed
		case n.From != s.cfg.InstanceID:
			s.hub.wake(n.Run)
		}
	})
}
