package server

import (
	"slices"
	"sync"
	"time"
)

// queue holds the run ids waiting for a worker, in submission order (the
// runs' CreatedAt): a run submitted here goes to the back, a run taken over
// from another instance to its place among them, so a worker starts the
// oldest run first. Submissions reserve a slot before the run is stored, so a
// full queue is refused before anything is written; runs resumed at start
// bypass the bound.
type queue struct {
	mu       sync.Mutex
	cond     *sync.Cond
	items    []queued
	reserved int
	max      int
	closed   bool
}

// queued is a run waiting in the queue and when it was submitted.
type queued struct {
	id      string
	created time.Time
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

// commit turns a reservation into a queued id, of a run submitted at created.
func (q *queue) commit(id string, created time.Time) {
	q.mu.Lock()
	q.reserved--
	if !q.closed {
		q.insert(id, created)
	}
	q.mu.Unlock()
}

// pushResumed queues a claimed run submitted at created (found unfinished
// at start or by a scan), whatever the bound, unless it is queued already;
// false when the queue is closed.
func (q *queue) pushResumed(id string, created time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	if q.index(id) < 0 {
		q.insert(id, created)
	}
	return true
}

// insert places id after every run submitted at or before created (a
// submission here: at the back), and wakes a worker. Called with q.mu held.
func (q *queue) insert(id string, created time.Time) {
	i := len(q.items)
	for i > 0 && q.items[i-1].created.After(created) {
		i--
	}
	q.items = slices.Insert(q.items, i, queued{id: id, created: created})
	q.cond.Signal()
}

// index is the position of id in the queue, -1 when absent. Called with q.mu held.
func (q *queue) index(id string) int {
	return slices.IndexFunc(q.items, func(e queued) bool { return e.id == id })
}

// remove drops a queued id (a run cancelled before it started).
func (q *queue) remove(id string) {
	q.mu.Lock()
	if i := q.index(id); i >= 0 {
		q.items = slices.Delete(q.items, i, i+1)
	}
	q.mu.Unlock()
}

// head returns when the run at the front of the queue was submitted; false
// when the queue is empty.
func (q *queue) head() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return time.Time{}, false
	}
	return q.items[0].created, true
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
	id := q.items[0].id
	q.items = q.items[1:]
	return id, true
}

// drain empties the queue and returns the ids it held.
func (q *queue) drain() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	ids := make([]string, len(q.items))
	for i, e := range q.items {
		ids[i] = e.id
	}
	q.items = nil
	return ids
}

// contains reports whether id is queued.
func (q *queue) contains(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.index(id) >= 0
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
