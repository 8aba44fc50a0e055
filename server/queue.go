package server

import (
	"slices"
	"sync"
)

// queue is the bounded FIFO of run ids waiting for a worker. Submissions
// reserve a slot before the run is stored, so a full queue is refused before
// anything is written; runs resumed at start bypass the bound.
type queue struct {
	mu       sync.Mutex
	cond     *sync.Cond
	items    []string
	reserved int
	max      int
	closed   bool
}

func newQueue(max int) *queue {
	q := &queue{max: max}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// reserve takes a slot for a submission; false when the queue is full or closed.
func (q *queue) reserve() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.items)+q.reserved >= q.max {
		return false
	}
	q.reserved++
	return true
}

// release gives back a reserved slot that was not used.
func (q *queue) release() {
	q.mu.Lock()
	q.reserved--
	q.mu.Unlock()
}

// commit turns a reservation into a queued id.
func (q *queue) commit(id string) {
	q.mu.Lock()
	q.reserved--
	if !q.closed {
		q.items = append(q.items, id)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

// pushResumed queues a claimed run (found unfinished at start or by a
// scan), whatever the bound, unless it is queued already; false when the
// queue is closed.
func (q *queue) pushResumed(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	if !slices.Contains(q.items, id) {
		q.items = append(q.items, id)
		q.cond.Signal()
	}
	return true
}

// remove drops a queued id (a run cancelled before it started).
func (q *queue) remove(id string) {
	q.mu.Lock()
	if i := slices.Index(q.items, id); i >= 0 {
		q.items = slices.Delete(q.items, i, i+1)
	}
	q.mu.Unlock()
}

// pop waits for the next id; false when the queue is closed. Ids left in a
// closed queue stay queued in the store for the next start.
func (q *queue) pop() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return "", false
	}
	id := q.items[0]
	q.items = q.items[1:]
	return id, true
}

// drain empties the queue and returns the ids it held.
func (q *queue) drain() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// contains reports whether id is queued.
func (q *queue) contains(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Contains(q.items, id)
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
