package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// sseWriteWindow is how long one SSE write may take before the connection is
// considered dead; the deadline moves forward with every write.
const sseWriteWindow = 30 * time.Second

// handleEvents streams a run's events as Server-Sent Events. Durable events
// carry "id: <seq>"; deltas carry no id. Last-Event-ID (or ?after=) resumes
// after that seq. A finished run replays its events and the stream closes
// after run_finished.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, k *store.Key) {
	run, err := s.visibleRun(r.Context(), k, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var last int64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		last, err = strconv.ParseInt(v, 10, 64)
	} else if v := r.URL.Query().Get("after"); v != "" {
		last, err = strconv.ParseInt(v, 10, 64)
	}
	if err != nil || last < 0 {
		s.writeError(w, r, badRequest("bad_last_event_id", "Last-Event-ID must be an event sequence number"))
		return
	}
	if s.draining.Load() {
		s.writeError(w, r, errDraining) // the client reconnects to another instance
		return
	}
	// Subscribe before reading the store, so nothing published in between is missed.
	sub, unsubscribe := s.hub.subscribe(run.ID)
	defer unsubscribe()
	hash, _ := r.Context().Value(keyHashCtx{}).(string)
	var revoked <-chan struct{} // a signed-in person has no key to revoke
	unwatch := func() {}
	if hash != "" {
		revoked, unwatch = s.keys.watch(hash)
	}
	defer unwatch()

	follow := runStream{events: s.eventLog, runs: s.runs, heartbeat: s.cfg.Heartbeat, done: s.done}
	follow.serve(r.Context(), w, run.ID, last, sub, revoked)
}

// runStatus reads a run's stored state: all that a run's event stream needs
// of store.Runs (whether the run finished).
type runStatus interface {
	GetRun(ctx context.Context, id string) (*store.Run, error)
}

// runStream writes one run's events to one client as Server-Sent Events:
// the stored events after last, then the live ones from sub, until the run
// finishes, the client leaves, the key is revoked or the service shuts down.
// It reads the event log and the run's status, nothing else of the store.
type runStream struct {
	events    store.EventLog
	runs      runStatus
	heartbeat time.Duration
	done      <-chan struct{} // closed at shutdown
}

// serve streams run id's events after last to w. revoked, when not nil, is
// closed when the client's key is revoked.
func (st runStream) serve(ctx context.Context, w http.ResponseWriter, id string, last int64, sub *subscriber, revoked <-chan struct{}) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{}) // the request has no body; the stream outlives ReadTimeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	write := func(id int64, e team.Event) error {
		if err := rc.SetWriteDeadline(time.Now().Add(sseWriteWindow)); err != nil {
			return err
		}
		e.Usage, e.Total = e.Usage.Rounded(), e.Total.Rounded()
		if e.Message != nil {
			m := *e.Message
			m.Usage = m.Usage.Rounded()
			e.Message = &m
		}
		data, err := json.Marshal(store.Event{Seq: id, Event: e})
		if err != nil {
			return err
		}
		if id > 0 {
			_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", id, e.Type, data)
		} else {
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, data)
		}
		if err != nil {
			return err
		}
		return rc.Flush()
	}
	// catchUp sends the stored events after last; it reports whether the run is over.
	catchUp := func() (bool, error) {
		events, err := st.events.Events(ctx, id, last)
		if err != nil {
			return false, err
		}
		for _, e := range events {
			if err := write(e.Seq, e.Event); err != nil {
				return false, err
			}
			last = e.Seq
			if e.Type == team.EventRunFinished {
				return true, nil
			}
		}
		return false, nil
	}
	if done, err := catchUp(); done || err != nil {
		return
	}
	if _, err := fmt.Fprint(w, ": stream open\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	// The run may have finished between the replay and the subscription's
	// first item: replay what is left and close.
	cur, err := st.runs.GetRun(ctx, id)
	if err != nil {
		return
	}
	if cur.Status.Finished() {
		if done, err := catchUp(); done || err != nil {
			return
		}
		// Nothing left after Last-Event-ID: the client had run_finished
		// already (a run's final state and its run_finished are one write,
		// store.Runs.FinishRun), or it was stored between the replay and
		// the status read.
		all, err := st.events.Events(ctx, id, 0)
		if err != nil {
			return
		}
		if n := len(all); n > 0 && all[n-1].Type == team.EventRunFinished {
			if all[n-1].Seq > last {
				_, _ = catchUp()
			}
			return
		}
		// Finished by a version that stored the two apart and died in
		// between: end the stream with a run_finished made from the run,
		// without an id since it is not in the log.
		_ = write(0, team.Event{Type: team.EventRunFinished, Time: cur.UpdatedAt, StopReason: cur.StopReason, Error: cur.Error, Total: cur.Usage})
		return
	}
	beat := time.NewTicker(st.heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.done:
			// Shutting down: the client reconnects (to another instance)
			// with Last-Event-ID, soon.
			_ = rc.SetWriteDeadline(time.Now().Add(sseWriteWindow))
			_, _ = fmt.Fprint(w, ": shutting down\nretry: 1000\n\n")
			_ = rc.Flush()
			return
		case <-revoked:
			_ = rc.SetWriteDeadline(time.Now().Add(sseWriteWindow))
			_, _ = fmt.Fprint(w, ": key revoked\n\n")
			_ = rc.Flush()
			return
		case <-beat.C:
			if err := rc.SetWriteDeadline(time.Now().Add(sseWriteWindow)); err != nil {
				return
			}
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-sub.lag:
			if done, err := catchUp(); done || err != nil {
				return
			}
		case it := <-sub.ch:
			switch {
			case it.Seq == 0:
				if err := write(0, it.Event); err != nil {
					return
				}
			case it.Seq <= last:
				// already sent from the store
			case it.Seq == last+1:
				if err := write(it.Seq, it.Event); err != nil {
					return
				}
				last = it.Seq
				if it.Event.Type == team.EventRunFinished {
					return
				}
			default:
				if done, err := catchUp(); done || err != nil {
					return
				}
			}
		}
	}
}
