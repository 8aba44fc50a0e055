package server

import (
	"context"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/model"
)

// callWeight is the weight of the newest call in CallStats' moving
// averages: about the last ten calls count.
const callWeight = 0.2

// CallStats keeps moving averages of the model calls' sizes (prompt plus
// completion tokens) and durations, from which a Server with Workers 0 sizes
// the runs it executes at once (SizeWorkers). Its Middleware measures the
// calls; put it below the quota limiter and the retries, so a call's
// duration is the model's, not the time it waited for quota. The zero value
// is ready to use; it is safe for concurrent use.
type CallStats struct {
	mu      sync.Mutex
	calls   int
	tokens  float64
	latency float64 // seconds
	// onChange are told after each observed call (a Server's worker gate).
	onChange []func()
}

// Observe adds one call of tokens that took latency. Calls without tokens
// or duration are ignored.
func (c *CallStats) Observe(tokens int, latency time.Duration) {
	if tokens <= 0 || latency <= 0 {
		return
	}
	c.mu.Lock()
	if c.calls == 0 {
		c.tokens, c.latency = float64(tokens), latency.Seconds()
	} else {
		c.tokens += callWeight * (float64(tokens) - c.tokens)
		c.latency += callWeight * (latency.Seconds() - c.latency)
	}
	c.calls++
	fns := c.onChange
	c.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// Calls returns how many calls were observed.
func (c *CallStats) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// Quota returns q with its CallTokens and CallLatency set to the observed
// averages, once a call was observed (q unchanged before).
func (c *CallStats) Quota(q Quota) Quota {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == 0 {
		return q
	}
	q.CallTokens = max(1, int(c.tokens+0.5))
	q.CallLatency = max(time.Millisecond, time.Duration(c.latency*float64(time.Second)))
	return q
}

// notify registers f to be called after each observed call.
func (c *CallStats) notify(f func()) {
	c.mu.Lock()
	c.onChange = append(c.onChange, f)
	c.mu.Unlock()
}

// Middleware measures each successful call that reached the model (not
// one answered from the response cache) into c.
func (c *CallStats) Middleware() model.Middleware {
	return func(next model.Client) model.Client {
		return model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
			start := time.Now()
			resp, err := next.Complete(ctx, req)
			if err == nil && resp != nil && resp.Usage.CachedResponses == 0 {
				c.Observe(resp.Usage.TotalTokens(), time.Since(start))
			}
			return resp, err
		})
	}
}
