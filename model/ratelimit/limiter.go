// Package ratelimit is the client-side quota limiter: it keeps a process's
// model calls inside each deployment's requests-per-minute and
// tokens-per-minute quota, so the service never has to answer 429.
//
// One *Limiter is shared by every agent and every concurrent run in the
// process; the middleware (New) asks it for room before each call and tells
// it afterwards what the call really used.
//
// # Buckets that match the service's window
//
// Each deployment has two buckets, requests and tokens, each holding a
// minute's quota. A call takes one request and its estimated tokens out; the
// units come back one minute after they were taken (plus a small margin),
// which is how Azure OpenAI's sliding one-minute window frees them. A bucket
// that refilled continuously instead would let a full minute's burst through
// right after another one, twice the quota within a minute, and the service
// would refuse the excess with 429s.
//
// When a call does not fit, it waits in a first-in, first-out queue per
// deployment, so a large request is not starved by a stream of small ones and
// no run waits forever. Waiting respects the context.
//
// # Place in the chain
//
// The chain is composed as cache → retry → ratelimit → provider: every
// attempt the retry middleware makes passes the limiter, and a 429 that
// still comes back pauses the deployment for every run until the service's
// Retry-After. The provider reports the service's x-ratelimit-remaining-*
// headers to Limiter.Observe, under the same deployment name the
// middleware uses (Config.Deployment for requests that name no model):
//
//	lim := ratelimit.NewLimiter(ratelimit.LimiterConfig{RequestsPerMinute: 180, TokensPerMinute: 30000})
//	p, err := provider.New(provider.Config{Deployment: "gpt-4o", OnRateLimitHeaders: lim.Observe, ...})
//	c := model.Chain(p, cacheMiddleware, retry.New(retry.Config{}),
//		ratelimit.New(ratelimit.Config{Limiter: lim, Deployment: "gpt-4o"}))
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Defaults for zero LimiterConfig fields.
const (
	DefaultRequestsPerMinute = 180
	DefaultTokensPerMinute   = 30000
	DefaultMargin            = 500 * time.Millisecond
	DefaultObserveLag        = 5 * time.Second
	DefaultObserveHold       = 10 * time.Second
	DefaultPause             = time.Second
)

// window is the length of the service's quota window.
const window = time.Minute

// Quota is a deployment's rate limit.
type Quota struct {
	RequestsPerMinute int
	TokensPerMinute   int
}

// LimiterConfig configures a Limiter. The zero value limits every deployment
// to 180 requests and 30,000 tokens a minute.
type LimiterConfig struct {
	// RequestsPerMinute and TokensPerMinute are the quota of every
	// deployment not listed in Deployments. Zero means the defaults.
	RequestsPerMinute int
	TokensPerMinute   int
	// Deployments overrides the quota per deployment name; a zero field
	// takes the value above.
	Deployments map[string]Quota

	// Margin is added to the window before taken units come back, because
	// the service starts its minute when the request reaches it, a little
	// after the limiter let it go. Zero means DefaultMargin; negative none.
	Margin time.Duration
	// ObserveLag is how old the service's x-ratelimit-remaining figures may
	// be when Observe gets them: units that came back within the last
	// ObserveLag still count when comparing, so a figure computed before
	// they came back does not look like someone else's usage. Zero means
	// DefaultObserveLag; negative none.
	ObserveLag time.Duration
	// ObserveHold is how long Observe keeps the buckets lowered. The
	// service's figures are repeated on every response, so a short hold
	// that each response renews follows someone else's usage as it comes
	// and goes. Zero means DefaultObserveHold.
	ObserveHold time.Duration
	// DefaultPause is how long a 429 without a Retry-After pauses the
	// deployment. Zero means DefaultPause.
	DefaultPause time.Duration

	// Clock is the time source; nil means the real clock.
	Clock Clock
}

// ErrTooLarge is matched (errors.Is) by the error of a request that can never
// fit its deployment's quota.
var ErrTooLarge = errors.New("ratelimit: request can never fit the quota")

// TooLargeError is the error of a request whose estimated tokens exceed the
// deployment's whole tokens-per-minute quota: it is refused at once.
type TooLargeError struct {
	Deployment string
	// Need is the request's estimated tokens; Quota the tokens per minute.
	Need, Quota int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("ratelimit: request needs %d tokens but the deployment's quota is %d tokens per minute", e.Need, e.Quota)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Stats is a deployment's state, for telemetry.
type Stats struct {
	// RequestsAvailable and TokensAvailable are what a call could take now
	// (not counting a pause).
	RequestsAvailable int
	TokensAvailable   int
	// Waiting is the number of calls queued for room.
	Waiting int
	// UsedFraction is the larger of the requests and tokens shares of the
	// quota in use, from 0 to 1 (above 1 when the service said fewer were
	// left than the quota allows): at 1 a call has to wait.
	UsedFraction float64
	// Paused is how long the deployment stays paused after a 429; 0 if not.
	Paused time.Duration
}

// Limiter holds the buckets of every deployment. It is safe for concurrent
// use; share one per process.
type Limiter struct {
	cfg     LimiterConfig
	clock   Clock
	base    time.Time
	expire  time.Duration
	buckets sync.Map // deployment name → *bucket
}

// NewLimiter returns a Limiter with cfg.
func NewLimiter(cfg LimiterConfig) *Limiter {
	if cfg.RequestsPerMinute <= 0 {
		cfg.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if cfg.TokensPerMinute <= 0 {
		cfg.TokensPerMinute = DefaultTokensPerMinute
	}
	switch {
	case cfg.Margin == 0:
		cfg.Margin = DefaultMargin
	case cfg.Margin < 0:
		cfg.Margin = 0
	}
	switch {
	case cfg.ObserveLag == 0:
		cfg.ObserveLag = DefaultObserveLag
	case cfg.ObserveLag < 0:
		cfg.ObserveLag = 0
	}
	if cfg.ObserveHold <= 0 {
		cfg.ObserveHold = DefaultObserveHold
	}
	if cfg.DefaultPause <= 0 {
		cfg.DefaultPause = DefaultPause
	}
	cfg.Deployments = maps.Clone(cfg.Deployments)
	clock := cfg.Clock
	if clock == nil {
		clock = realClock{}
	}
	return &Limiter{cfg: cfg, clock: clock, base: clock.Now(), expire: window + cfg.Margin}
}

// now is the clock's time as an offset from the limiter's creation, so
// entries stay small and keep the monotonic clock's ordering.
func (l *Limiter) now() time.Duration { return l.clock.Now().Sub(l.base) }

// Quota returns the quota of a deployment.
func (l *Limiter) Quota(deployment string) Quota {
	q := l.cfg.Deployments[deployment]
	if q.RequestsPerMinute <= 0 {
		q.RequestsPerMinute = l.cfg.RequestsPerMinute
	}
	if q.TokensPerMinute <= 0 {
		q.TokensPerMinute = l.cfg.TokensPerMinute
	}
	return q
}

func (l *Limiter) bucket(deployment string) *bucket {
	if b, ok := l.buckets.Load(deployment); ok {
		return b.(*bucket)
	}
	q := l.Quota(deployment)
	b, _ := l.buckets.LoadOrStore(deployment, &bucket{l: l, rpm: q.RequestsPerMinute, tpm: q.TokensPerMinute})
	return b.(*bucket)
}

// Acquire takes one request and tokens tokens out of the deployment's
// buckets, waiting in line until both allow it or ctx is done. The
// Reservation must then be settled with what the call used, or cancelled.
// A request of more tokens than the deployment's quota fails at once with a
// *TooLargeError.
func (l *Limiter) Acquire(ctx context.Context, deployment string, tokens int) (Reservation, error) {
	if err := ctx.Err(); err != nil {
		return Reservation{}, err
	}
	b := l.bucket(deployment)
	tokens = max(tokens, 0)
	if tokens > b.tpm {
		return Reservation{}, &TooLargeError{Deployment: deployment, Need: tokens, Quota: b.tpm}
	}
	b.mu.Lock()
	if len(b.queue) == 0 {
		now := l.now()
		b.prune(now)
		if seq, ok := b.tryTake(now, tokens); ok {
			b.mu.Unlock()
			return Reservation{b: b, seq: seq}, nil
		}
	}
	if !mayWait(ctx) {
		b.mu.Unlock()
		return Reservation{}, &FullError{Deployment: deployment}
	}
	return b.wait(ctx, deployment, tokens)
}

// Observe lowers the deployment's buckets to what the service says is left
// (its x-ratelimit-remaining-requests and -tokens headers); a negative value
// means the header was absent. It never raises them: the local count already
// holds everything this process sent. The provider calls it from a response
// hook, ideally as soon as the headers arrive.
func (l *Limiter) Observe(deployment string, remainingRequests, remainingTokens int) {
	b := l.bucket(deployment)
	b.mu.Lock()
	defer b.mu.Unlock()
	now := l.now()
	b.prune(now)
	// Units that came back within the lag still count: the figures may
	// predate their return.
	dr, dt := 0, 0
	if remainingRequests >= 0 {
		dr = max(b.rpm-b.requests-b.recentRequests-b.heldRequests-remainingRequests, 0)
	}
	if remainingTokens >= 0 {
		dt = max(b.tpm-b.tokens-b.recentTokens-b.heldTokens-remainingTokens, 0)
	}
	if dr > 0 || dt > 0 {
		// Someone else used the difference: hold it back for a while.
		b.heldRequests += dr
		b.heldTokens += dt
		b.heldUntil = now + b.l.cfg.ObserveHold
	}
}

// Pause stops the deployment's buckets from giving anything out for d, or
// DefaultPause when d is zero: the service answered 429 and asked to wait.
// A shorter pause never cuts a longer one short.
func (l *Limiter) Pause(deployment string, d time.Duration) {
	if d <= 0 {
		d = l.cfg.DefaultPause
	}
	b := l.bucket(deployment)
	b.mu.Lock()
	defer b.mu.Unlock()
	if until := l.now() + d; until > b.pausedUntil {
		b.pausedUntil = until
	}
}

// Stats returns the deployment's state.
func (l *Limiter) Stats(deployment string) Stats {
	b := l.bucket(deployment)
	b.mu.Lock()
	defer b.mu.Unlock()
	now := l.now()
	b.prune(now)
	s := Stats{
		RequestsAvailable: max(b.rpm-b.requests-b.heldRequests, 0),
		TokensAvailable:   max(b.tpm-b.tokens-b.heldTokens, 0),
		Waiting:           len(b.queue),
		UsedFraction: max(float64(b.requests+b.heldRequests)/float64(b.rpm),
			float64(b.tokens+b.heldTokens)/float64(b.tpm)),
	}
	if b.pausedUntil > now {
		s.Paused = b.pausedUntil - now
	}
	return s
}

// Reservation is what Acquire took for one call. Settle or Cancel it once;
// the zero Reservation does nothing.
type Reservation struct {
	b   *bucket
	seq uint64
}

// Settle replaces the call's estimated tokens by the tokens it really used
// (prompt plus completion): the difference is refunded, or charged.
func (r Reservation) Settle(tokens int) {
	if r.b != nil {
		r.b.settle(r.seq, max(tokens, 0), false)
	}
}

// Cancel gives the call's request and tokens back: the service refused it
// before counting it (a 429, a request it rejected).
func (r Reservation) Cancel() {
	if r.b != nil {
		r.b.settle(r.seq, 0, true)
	}
}

// entry is the units one call took.
type entry struct {
	at       time.Duration // since Limiter.base
	requests int32
	tokens   int32
}

// bucket is the requests and tokens buckets of one deployment. Taken units
// are kept as entries, oldest first, until they come back.
type bucket struct {
	l        *Limiter
	rpm, tpm int

	mu sync.Mutex
	// entries[head:live] came back within the last ObserveLag (Observe
	// still counts them); entries[live:] are in use.
	entries  []entry
	head     int
	live     int
	firstSeq uint64 // sequence number of entries[head]
	// requests and tokens sum entries[live:]; recent* sum entries[head:live].
	requests, tokens             int
	recentRequests, recentTokens int
	// held* is usage the service reported that this process did not
	// make (Observe), held back until heldUntil.
	heldRequests, heldTokens int
	heldUntil                time.Duration
	pausedUntil              time.Duration
	queue                    []*waiter // FIFO; queue[0] is the one that may take next
}

type waiter struct{ wake chan struct{} }

// prune gives back the units taken more than a window ago and the held
// units whose time is up.
func (b *bucket) prune(now time.Duration) {
	if b.heldUntil != 0 && b.heldUntil <= now {
		b.heldRequests, b.heldTokens, b.heldUntil = 0, 0, 0
	}
	expire := b.l.expire
	for b.live < len(b.entries) && b.entries[b.live].at+expire <= now {
		e := b.entries[b.live]
		b.requests -= int(e.requests)
		b.tokens -= int(e.tokens)
		b.recentRequests += int(e.requests)
		b.recentTokens += int(e.tokens)
		b.live++
	}
	forget := expire + b.l.cfg.ObserveLag
	for b.head < b.live && b.entries[b.head].at+forget <= now {
		e := b.entries[b.head]
		b.recentRequests -= int(e.requests)
		b.recentTokens -= int(e.tokens)
		b.head++
		b.firstSeq++
	}
	if b.head > 0 && b.head >= len(b.entries)/2 {
		n := copy(b.entries, b.entries[b.head:])
		b.entries = b.entries[:n]
		b.live -= b.head
		b.head = 0
	}
}

func (b *bucket) push(now time.Duration, requests, tokens int) uint64 {
	seq := b.firstSeq + uint64(len(b.entries)-b.head)
	b.entries = append(b.entries, entry{at: now, requests: int32(requests), tokens: int32(tokens)})
	b.requests += requests
	b.tokens += tokens
	return seq
}

// tryTake takes one request and tokens if both buckets allow it.
func (b *bucket) tryTake(now time.Duration, tokens int) (uint64, bool) {
	if now < b.pausedUntil || b.requests+b.heldRequests+1 > b.rpm || b.tokens+b.heldTokens+tokens > b.tpm {
		return 0, false
	}
	return b.push(now, 1, tokens), true
}

// readyAt is when tryTake(tokens) will succeed if nothing else changes.
func (b *bucket) readyAt(now time.Duration, tokens int) time.Duration {
	t := max(now, b.pausedUntil)
	if excess := b.requests + b.heldRequests + 1 - b.rpm; excess > 0 {
		t = max(t, b.freedAt(excess, b.heldRequests, func(e entry) int { return int(e.requests) }))
	}
	if excess := b.tokens + b.heldTokens + tokens - b.tpm; excess > 0 {
		t = max(t, b.freedAt(excess, b.heldTokens, func(e entry) int { return int(e.tokens) }))
	}
	return t
}

// freedAt is when excess units of one kind will have come back, from the
// entries alone or with the held units.
func (b *bucket) freedAt(excess, held int, units func(entry) int) time.Duration {
	const never = time.Duration(1<<63 - 1)
	byEntries := func(excess int) time.Duration {
		if excess <= 0 {
			return 0
		}
		freed := 0
		for _, e := range b.entries[b.live:] {
			if freed += units(e); freed >= excess {
				return e.at + b.l.expire
			}
		}
		return never
	}
	t := byEntries(excess)
	if held > 0 {
		t = min(t, max(b.heldUntil, byEntries(excess-held)))
	}
	if t == never {
		// Not reached: every unit in use is in an entry or held.
		t = b.heldUntil + b.l.expire
	}
	return t
}

// wait queues a call until it can take its units. It is called with b.mu
// held and returns with it released.
func (b *bucket) wait(ctx context.Context, deployment string, tokens int) (Reservation, error) {
	w := &waiter{wake: make(chan struct{}, 1)}
	b.queue = append(b.queue, w)
	var timer Timer
	for {
		var fire <-chan time.Time
		if b.queue[0] == w {
			now := b.l.now()
			b.prune(now)
			if seq, ok := b.tryTake(now, tokens); ok {
				b.queue[0] = nil
				b.queue = b.queue[1:]
				b.wakeHead()
				b.mu.Unlock()
				if timer != nil {
					timer.Stop()
				}
				return Reservation{b: b, seq: seq}, nil
			}
			d := max(b.readyAt(now, tokens)-now, time.Millisecond)
			if timer != nil {
				timer.Stop()
			}
			timer = b.l.clock.NewTimer(d)
			fire = timer.C()
		}
		b.mu.Unlock()
		select {
		case <-w.wake:
		case <-fire:
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			b.mu.Lock()
			if i := slices.Index(b.queue, w); i >= 0 {
				b.queue = slices.Delete(b.queue, i, i+1)
				if i == 0 {
					b.wakeHead()
				}
			}
			b.mu.Unlock()
			return Reservation{}, fmt.Errorf("ratelimit: waiting for quota of deployment %q: %w", deployment, ctx.Err())
		}
		b.mu.Lock()
	}
}

// wakeHead tells the first waiter to look again.
func (b *bucket) wakeHead() {
	if len(b.queue) > 0 {
		select {
		case b.queue[0].wake <- struct{}{}:
		default:
		}
	}
}

// settle sets a reservation's tokens (and with cancel, its request) to what
// the call used, if its units have not come back yet.
func (b *bucket) settle(seq uint64, tokens int, cancel bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if seq < b.firstSeq {
		return
	}
	i := b.head + int(seq-b.firstSeq)
	if i < b.live || i >= len(b.entries) {
		return
	}
	e := &b.entries[i]
	freed := int(e.tokens) - tokens
	b.tokens -= freed
	e.tokens = int32(tokens)
	if cancel && e.requests > 0 {
		b.requests -= int(e.requests)
		e.requests = 0
		freed++
	}
	if freed > 0 {
		b.wakeHead()
	}
}
