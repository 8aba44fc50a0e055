package server

import (
	"sync"

	"github.com/newsroom-dev/newsroom/team"
)

// item is what the hub fans out: a durable event with its sequence number, or
// a delta (Seq 0).
type item struct {
	Seq   int64
	Event team.Event
}

// subscriber receives a run's items. When its buffer is full the item is
// dropped and lag is signalled: the SSE handler then re-reads durable events
// from the store, so a slow reader loses only deltas.
type subscriber struct {
	ch  chan item
	lag chan struct{}
}

// hub fans a run's events out to its SSE subscribers.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[*subscriber]struct{}
}

func newHub() *hub { return &hub{subs: map[string]map[*subscriber]struct{}{}} }

func (h *hub) subscribe(runID string) (*subscriber, func()) {
	sub := &subscriber{ch: make(chan item, 256), lag: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.subs[runID] == nil {
		h.subs[runID] = map[*subscriber]struct{}{}
	}
	h.subs[runID][sub] = struct{}{}
	h.mu.Unlock()
	return sub, func() {
		h.mu.Lock()
		delete(h.subs[runID], sub)
		if len(h.subs[runID]) == 0 {
			delete(h.subs, runID)
		}
		h.mu.Unlock()
	}
}

func (h *hub) publish(runID string, it item) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs[runID] {
		select {
		case sub.ch <- it:
		default:
			select {
			case sub.lag <- struct{}{}:
			default:
			}
		}
	}
}

// wake tells the run's subscribers to read the store: events were stored
// by another instance.
func (h *hub) wake(runID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs[runID] {
		select {
		case sub.lag <- struct{}{}:
		default:
		}
	}
}

// wakeAll tells every subscriber to read the store.
func (h *hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.subs {
		for sub := range subs {
			select {
			case sub.lag <- struct{}{}:
			default:
			}
		}
	}
}
