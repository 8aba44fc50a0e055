package server

import (
	"math"
	"sync"
	"time"
)

// Bounds and assumptions of SizeWorkers.
const (
	// MinWorkers and MaxWorkers bound the derived number of runs in progress.
	MinWorkers = 4
	MaxWorkers = 64
	// DefaultCallTokens is the assumed size of one model call (prompt with
	// the run's history, plus the completion) when none is known.
	DefaultCallTokens = 1000
	// DefaultCallLatency is the assumed duration of one model call (time to
	// first token plus streaming the completion) when none is known.
	DefaultCallLatency = 8 * time.Second
)

// Quota describes a deployment's quota and the model calls made against it,
// for SizeWorkers. Zero fields mean unknown.
type Quota struct {
	// RPM and TPM are the deployment's requests and tokens per minute.
	RPM, TPM int
	// CallTokens is a call's typical size in tokens; 0 means DefaultCallTokens.
	CallTokens int
	// CallLatency is a call's typical duration; 0 means DefaultCallLatency.
	CallLatency time.Duration
}

// SizeWorkers returns how many runs should be in progress at once to keep
// the deployment's quota busy. A run makes one model call at a time and
// mostly waits on it, so the quota stays busy when as many calls are in
// flight as it admits per call duration: the calls a minute the quota allows
// (the lower of RPM and TPM / CallTokens) times CallLatency / 1 minute. The
// result is bounded to MinWorkers..MaxWorkers (MinWorkers when neither RPM
// nor TPM is known); more runs than the quota serves at once wait in the
// quota limiter, which stays the throttle. A Server with Config.Calls sizes
// itself again with the observed CallTokens and CallLatency after each call.
func SizeWorkers(q Quota) int {
	tokens, latency := q.CallTokens, q.CallLatency
	if tokens <= 0 {
		tokens = DefaultCallTokens
	}
	if latency <= 0 {
		latency = DefaultCallLatency
	}
	perMin := math.Inf(1)
	if q.RPM > 0 {
		perMin = float64(q.RPM)
	}
	if q.TPM > 0 {
		perMin = min(perMin, float64(q.TPM)/float64(tokens))
	}
	if math.IsInf(perMin, 1) {
		return MinWorkers // no quota known: the floor
	}
	n := int(math.Ceil(perMin * latency.Minutes()))
	return min(max(n, MinWorkers), MaxWorkers)
}

// workerLimit is how many runs may execute at once now: Config.Workers, or,
// when it follows the observed calls, SizeWorkers of the quota with them.
func (s *Server) workerLimit() int {
	if !s.autoWorkers {
		return s.cfg.Workers
	}
	return SizeWorkers(s.cfg.Calls.Quota(s.cfg.Quota))
}

// workerGate lets at most limit() workers past at once; the limit may change
// between calls (wake tells waiting workers to look again).
type workerGate struct {
	mu     sync.Mutex
	cond   *sync.Cond
	busy   int
	limit  func() int
	closed bool
}

func newWorkerGate(limit func() int) *workerGate {
	g := &workerGate{limit: limit}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// acquire waits for a place; false once the gate is closed.
func (g *workerGate) acquire() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for !g.closed && g.busy >= g.limit() {
		g.cond.Wait()
	}
	if g.closed {
		return false
	}
	g.busy++
	return true
}

// release gives a place back.
func (g *workerGate) release() {
	g.mu.Lock()
	g.busy--
	g.mu.Unlock()
	g.cond.Broadcast()
}

// wake tells waiting workers the limit may have grown. Broadcasting under
// the lock orders it after any waiter's check of the old limit: that waiter
// is waiting by then, and wakes.
func (g *workerGate) wake() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cond.Broadcast()
}

// close lets no one past any more and wakes every waiting worker.
func (g *workerGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cond.Broadcast()
}
