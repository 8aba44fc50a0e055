// Package retry is the model.Client middleware that retries transient
// failures of a model call: throttling (429), timeouts (408), server errors
// (500, 502, 503, 504), broken connections and streams cut before their end.
//
// It waits between attempts with exponential backoff and full jitter, or for
// exactly as long as the service asked (model.Error.RetryAfter, which the
// provider fills from the retry-after-ms, x-ms-retry-after-ms and Retry-After
// headers). Failures (5xx, timeouts, broken connections, cut streams) are
// bounded by MaxAttempts and MaxElapsed. A 429 says when to come back: it is
// retried for as long as the caller's deadline allows (the run's), not
// counted against MaxAttempts, and bounded by MaxElapsed only when the
// context has no deadline. Client errors (400, 401, 403, 404) and the
// caller's own cancellation are never retried.
//
// It also turns two refusals into errors a run can act on: a content filter
// refusal becomes a *ContentFilterError, a model.StopError whose stop reason
// names the filtered category, and a context length error becomes a
// *ContextLengthError that says how many tokens were sent and what the limit is.
//
// # One retry policy per process
//
// The provider client (package model/provider) disables the OpenAI SDK's own
// retries (option.WithMaxRetries(0)), so this package is the only place a
// model call is retried: retries never multiply across layers, and every
// attempt is visible to the OnRetry hook.
//
// # Place in the chain
//
// The lead composes cache → retry → ratelimit → provider: a cache hit never
// reaches the retry loop, and every attempt, the first and each retry, passes
// the quota limiter, so retries are metered like any other call.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/newsroom-dev/newsroom/model"
)

// Defaults for zero Config fields.
const (
	DefaultMaxAttempts = 6
	DefaultMaxElapsed  = 2 * time.Minute
	DefaultBaseDelay   = 500 * time.Millisecond
	DefaultMaxDelay    = 30 * time.Second
)

// Config configures the retry middleware. The zero value is the production
// policy: 6 attempts within 2 minutes, backoff from 500ms up to 30s.
type Config struct {
	// MaxAttempts bounds the failed attempts of one call, the first
	// included; throttled attempts (429) do not count. Zero means
	// DefaultMaxAttempts; 1 disables retries.
	MaxAttempts int
	// MaxElapsed bounds the total time of one call: a retry whose wait would
	// end later than MaxElapsed after the call started is not made, and the
	// last error is returned at once. A throttled call (429) whose context
	// has a deadline is bounded by that deadline instead. An attempt already running is not cut
	// short (the caller's context and the HTTP timeouts bound it). Zero means
	// DefaultMaxElapsed.
	MaxElapsed time.Duration
	// BaseDelay is the backoff ceiling of the first retry; it doubles with
	// each attempt up to MaxDelay. The wait is drawn uniformly from zero to
	// the ceiling ("full jitter"). Zero means DefaultBaseDelay.
	BaseDelay time.Duration
	// MaxDelay caps the backoff ceiling. It does not cap a wait the service
	// asked for with Retry-After. Zero means DefaultMaxDelay.
	MaxDelay time.Duration

	// OnRetry, when set, is called before each wait with the number of the
	// attempt that failed (1 for the first), its error and the wait. Use it
	// for logs and metrics; it must not block.
	OnRetry func(attempt int, err error, wait time.Duration)

	// Sleep waits for d or until ctx is done, returning ctx's error in that
	// case. Nil means a timer; tests inject a recorder.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for MaxElapsed. Nil means time.Now.
	Now func() time.Time
	// Rand returns a number in [0, 1) for the jitter. Nil means
	// math/rand/v2's Float64. It must be safe for concurrent use.
	Rand func() float64
}

// Client retries the calls of the Client it wraps.
type Client struct {
	next model.Client
	cfg  Config
}

var _ model.Client = (*Client)(nil)

// New returns the retry middleware.
func New(cfg Config) model.Middleware {
	return func(next model.Client) model.Client { return Wrap(next, cfg) }
}

// Wrap returns a Client that retries the calls of next.
func Wrap(next model.Client, cfg Config) *Client {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxElapsed <= 0 {
		cfg.MaxElapsed = DefaultMaxElapsed
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = DefaultBaseDelay
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	if cfg.MaxDelay < cfg.BaseDelay {
		cfg.MaxDelay = cfg.BaseDelay
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	return &Client{next: next, cfg: cfg}
}

// Complete calls the wrapped client, retrying transient failures. The error
// of the last attempt is returned, wrapped with how many attempts were made
// when there was more than one; errors.As still finds the *model.Error.
func (c *Client) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	if c.cfg.MaxAttempts == 1 {
		resp, err := c.next.Complete(ctx, req)
		if err != nil {
			return nil, classify(err)
		}
		return resp, nil
	}
	attemptReq := req
	var delivered *atomic.Bool
	if req.Streaming() {
		// Watch the deltas so a retry after a cut stream can tell the
		// consumer to drop the partial text, and only then.
		delivered = new(atomic.Bool)
		r := *req
		onDelta := req.OnDelta
		r.OnDelta = func(d model.Delta) {
			delivered.Store(true)
			onDelta(d)
		}
		attemptReq = &r
	}
	start := c.cfg.Now()
	resp, err := c.next.Complete(ctx, attemptReq)
	if err == nil {
		return resp, nil
	}
	return c.retry(ctx, start, req, attemptReq, delivered, err)
}

// retry runs the attempts after a first one failed with err. It is split from
// Complete so the successful first call, by far the most common, stays short.
func (c *Client) retry(ctx context.Context, start time.Time, req, attemptReq *model.Request, delivered *atomic.Bool, err error) (*model.Response, error) {
	if !Retryable(ctx, err) {
		return nil, classify(err)
	}
	failures := 0 // attempts that failed other than by throttling
	for attempt := 1; ; attempt++ {
		throttled := throttledErr(err)
		if !throttled {
			failures++
		}
		if failures >= c.cfg.MaxAttempts {
			return nil, giveUp(attempt, err)
		}
		wait := c.wait(attempt, err)
		dl, hasDeadline := ctx.Deadline()
		if (!throttled || !hasDeadline) && c.cfg.Now().Add(wait).Sub(start) > c.cfg.MaxElapsed {
			return nil, giveUp(attempt, err)
		}
		if hasDeadline && time.Until(dl) < wait {
			// The caller's deadline would pass during the wait: fail now
			// with the real cause rather than later with a bare deadline.
			return nil, giveUp(attempt, err)
		}
		if c.cfg.OnRetry != nil {
			c.cfg.OnRetry(attempt, err, wait)
		}
		if serr := c.cfg.Sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("retry: waiting after attempt %d (%w): %w", attempt, err, serr)
		}
		if delivered != nil && delivered.Swap(false) {
			req.OnDelta(model.Delta{Restart: true})
		}
		var resp *model.Response
		resp, err = c.next.Complete(ctx, attemptReq)
		if err == nil {
			return resp, nil
		}
		if !Retryable(ctx, err) {
			return nil, classify(err)
		}
	}
}

// wait is how long to wait after the attempt-th attempt failed with err.
func (c *Client) wait(attempt int, err error) time.Duration {
	var me *model.Error
	if errors.As(err, &me) && me.RetryAfter > 0 {
		return me.RetryAfter
	}
	ceiling := c.cfg.MaxDelay
	if attempt-1 < 62 {
		if d := c.cfg.BaseDelay << (attempt - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(c.cfg.Rand() * float64(ceiling))
}

// throttledErr reports whether err is a 429: the service's quota, which
// frees up with time.
func throttledErr(err error) bool {
	var me *model.Error
	return errors.As(err, &me) && me.StatusCode == http.StatusTooManyRequests
}

// giveUp wraps the last error of a call that made attempts attempts.
func giveUp(attempts int, err error) error {
	if attempts <= 1 {
		return err
	}
	return fmt.Errorf("retry: giving up after %d attempts: %w", attempts, err)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
