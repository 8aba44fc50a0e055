// Package pool is a model.Client over several deployments of the same model
// (a primary region, a secondary region, a higher tier): it routes each call
// to the best deployment that can take it and moves it to another when that
// one is full, throttled for long, failing or gone.
//
// Routing, for every call:
//   - Deployments are tried by priority (1 first); equal priorities share the
//     calls by weight.
//   - A deployment whose quota window is full (its limiter would make the call
//     wait, or a 429 paused it) is passed over for the next one with room:
//     spill-over. Only when every deployment is full does the call wait, in
//     the line of the first one.
//   - A call fails over to the next deployment on a 5xx, a timeout, a
//     connection error, a stream cut mid-way (the consumer is told to drop
//     the partial text), a stall longer than Config.StallTimeout, and a 429
//     whose Retry-After is longer than Config.LongRetryAfter (10 s) or than
//     the call's remaining deadline. A short 429 is returned to the retry
//     middleware above, which waits as asked.
//   - Each deployment has a circuit breaker (github.com/sony/gobreaker/v2):
//     after Config.FailureThreshold failures in a row it opens and the
//     deployment gets no calls; after Config.CoolDown it lets one probe call
//     through, and when that call is answered the breaker closes and traffic
//     returns to the deployment by priority.
//
// # Named pools
//
// Members may belong to named pools (Member.Pool; those without one are in
// DefaultPool). A request's Model picks the route:
//   - "" or the default pool's name: the default pool (DefaultPool when a
//     member is in it, else the pool of the first member configured);
//   - a pool's name: that pool, routed as above among its members only;
//   - a member's name: that member first (pinned), then, when it is full or
//     fails, the other members of its pool in their usual order, so a desk
//     agent that asks for one deployment still survives its outage;
//   - any other name (a caller that knows the model, not the pool, e.g.
//     "gpt-4o"): the default pool, as before pools had names. Team files
//     cannot get here with a typo: their names are checked against
//     Targets when they are loaded (cmd/newsroom), an unknown one is a
//     usage error.
//
// Pool and member names share one namespace (New refuses a clash), so a name
// always means one thing. Breakers belong to members, not routes: a member
// failing for one route is kept away from every route.
//
// Every answer says which deployment gave it (model.Response.Deployment and
// ServerAddress), so runs, telemetry and the JSON output can tell.
//
// # Place in the chain
//
// The pool replaces the limiter and the provider at the bottom of the
// pipeline: telemetry → cache → budget → cost → retry → pool, and each member
// is its own limiter → provider (Build composes them from a deployments
// file), sharing one ratelimit.Limiter whose buckets are the members' names.
package pool

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/model/retry"
)

// Defaults for zero Config fields.
const (
	DefaultFailureThreshold = 3
	DefaultCoolDown         = 30 * time.Second
	DefaultLongRetryAfter   = 10 * time.Second
)

// Reasons a call leaves a deployment for the next one, for Config.OnLeave
// and metrics: a closed set.
const (
	// ReasonSpillOver: its quota window was full (spill-over, not a fault).
	ReasonSpillOver = "spill_over"
	// ReasonCircuitOpen: its breaker was open (or its one probe was out).
	ReasonCircuitOpen = "circuit_open"
	// ReasonThrottled: a 429 asking to wait longer than the pool waits.
	ReasonThrottled = "throttled"
	// ReasonServerError: a 5xx.
	ReasonServerError = "server_error"
	// ReasonTimeout: a stall, an attempt longer than its bound, a 408.
	ReasonTimeout = "timeout"
	// ReasonConnection: a connection error or a stream cut mid-way.
	ReasonConnection = "connection"
)

// Reasons lists every reason, for declaring metrics.
func Reasons() []string {
	return []string{ReasonSpillOver, ReasonCircuitOpen, ReasonThrottled, ReasonServerError, ReasonTimeout, ReasonConnection}
}

// Errors of this package.
var (
	// ErrNoMembers is returned by New for a pool without deployments.
	ErrNoMembers = errors.New("pool: no deployments")
	// ErrStalled is the cause of an attempt cut because its stream stalled
	// (or a whole answer took) longer than the configured timeout.
	ErrStalled = errors.New("pool: the deployment stalled")
)

// Member is one deployment of a pool.
type Member struct {
	// Name identifies the deployment in answers, logs and metrics; unique
	// within a pool. Required.
	Name string
	// Client calls the deployment (its limiter and provider). The pool
	// passes it requests whose Model is empty, so the client's own
	// deployment is used; a full window must fail with ratelimit.ErrFull
	// when the context says so (ratelimit.WithoutWaiting). Required.
	Client model.Client
	// Priority orders deployments, lower first; 0 means 1.
	Priority int
	// Weight shares calls among deployments of equal priority; 0 means 1.
	Weight int
	// Address is the endpoint's host[:port], reported as server.address.
	Address string
	// Pool names the pool the member belongs to; "" means DefaultPool.
	Pool string
}

// DefaultPool is the pool of members that name none.
const DefaultPool = "default"

// Config configures a Pool. Only Members is required.
type Config struct {
	Members []Member
	// FailureThreshold is the failures in a row that open a deployment's
	// breaker; 0 means DefaultFailureThreshold.
	FailureThreshold int
	// CoolDown is how long an open breaker refuses calls before it lets one
	// probe through; 0 means DefaultCoolDown.
	CoolDown time.Duration
	// LongRetryAfter: a 429 asking to wait longer than this fails over;
	// 0 means DefaultLongRetryAfter.
	LongRetryAfter time.Duration
	// StallTimeout bounds the wait for each piece of a streamed answer (the
	// first included); a deployment that stays silent longer is failed
	// over. 0 means no bound but the caller's deadline.
	StallTimeout time.Duration
	// AttemptTimeout bounds one attempt of a call that does not stream; 0
	// means no bound but the caller's deadline.
	AttemptTimeout time.Duration
	// OnFailover, when set, is told each time a call leaves a deployment for
	// the next one, with the error that made it leave. It must not block.
	OnFailover func(from string, err error)
	// OnLeave, when set, is told each time a call passes a deployment by
	// (spill-over, an open breaker) or leaves it (failover), with the
	// call's context and one of the Reason constants. It must not block.
	OnLeave func(ctx context.Context, from, reason string)
	// OnStateChange, when set, is told when a deployment's breaker changes
	// state ("closed", "half-open", "open"). It must not block.
	OnStateChange func(name, from, to string)
	// Rand returns a number in [0, 1) for the weighted order; nil means
	// math/rand/v2. It must be safe for concurrent use.
	Rand func() float64
	// Now is the clock for deadlines and cool-downs; nil means time.Now.
	Now func() time.Time
}

// Pool is a model.Client that routes calls over deployments. It is safe for
// concurrent use.
type Pool struct {
	cfg     Config
	members []*member // by priority, then as configured
	pools   map[string]*route
	names   []string // the pools' names, as first configured
	def     string   // the default pool's name
	byName  map[string]*member
}

// route is the members one call may go to, by priority, grouped by
// priority for the weighted order.
type route struct {
	members []*member
	groups  [][]*member
}

var _ model.Client = (*Pool)(nil)

type member struct {
	Member
	breaker  *gobreaker.TwoStepCircuitBreaker[struct{}]
	answered atomic.Int64
	failed   atomic.Int64
	openedAt atomic.Int64 // unix nanoseconds the breaker last opened; 0 when closed
}

// New validates cfg and returns a pool.
func New(cfg Config) (*Pool, error) {
	if len(cfg.Members) == 0 {
		return nil, ErrNoMembers
	}
	if cfg.FailureThreshold <= 0 {
		cfg.FailureThreshold = DefaultFailureThreshold
	}
	if cfg.CoolDown <= 0 {
		cfg.CoolDown = DefaultCoolDown
	}
	if cfg.LongRetryAfter <= 0 {
		cfg.LongRetryAfter = DefaultLongRetryAfter
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Pool{cfg: cfg, pools: map[string]*route{}, byName: map[string]*member{}}
	for _, m := range cfg.Members {
		switch {
		case m.Name == "":
			return nil, errors.New("pool: a deployment has no name")
		case p.byName[m.Name] != nil:
			return nil, fmt.Errorf("pool: two deployments are named %q", m.Name)
		case m.Client == nil:
			return nil, fmt.Errorf("pool: deployment %q has no client", m.Name)
		}
		if m.Pool == "" {
			m.Pool = DefaultPool
		}
		m.Priority = max(m.Priority, 1)
		m.Weight = max(m.Weight, 1)
		mb := &member{Member: m}
		threshold := uint32(cfg.FailureThreshold)
		mb.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        m.Name,
			MaxRequests: 1, // one probe after the cool-down
			Timeout:     cfg.CoolDown,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
			IsExcluded:  func(err error) bool { return errors.Is(err, errNotCounted) },
			OnStateChange: func(name string, from, to gobreaker.State) {
				if to == gobreaker.StateOpen {
					mb.openedAt.Store(cfg.Now().UnixNano())
				} else if to == gobreaker.StateClosed {
					mb.openedAt.Store(0)
				}
				if cfg.OnStateChange != nil {
					cfg.OnStateChange(name, from.String(), to.String())
				}
			},
		})
		p.members = append(p.members, mb)
		p.byName[m.Name] = mb
		if p.pools[m.Pool] == nil {
			p.pools[m.Pool] = &route{}
			p.names = append(p.names, m.Pool)
		}
	}
	for _, name := range p.names {
		if p.byName[name] != nil {
			return nil, fmt.Errorf("pool: %q names both a pool and a deployment", name)
		}
	}
	p.def = p.names[0]
	if p.pools[DefaultPool] != nil {
		p.def = DefaultPool
	}
	sort.SliceStable(p.members, func(i, j int) bool { return p.members[i].Priority < p.members[j].Priority })
	for _, m := range p.members {
		r := p.pools[m.Pool]
		if n := len(r.members); n == 0 || m.Priority != r.members[n-1].Priority {
			r.groups = append(r.groups, nil)
		}
		r.members = append(r.members, m)
		r.groups[len(r.groups)-1] = append(r.groups[len(r.groups)-1], m)
	}
	return p, nil
}

// Default returns the name of the pool requests without a Model go to.
func (p *Pool) Default() string { return p.def }

// Pools returns the pools' names, as first configured.
func (p *Pool) Pools() []string { return append([]string(nil), p.names...) }

// Targets returns every name a request's Model may give: the pools', then
// the members' (by priority).
func (p *Pool) Targets() []string { return append(p.Pools(), p.Names()...) }

// plan returns the members a call for target tries, in order, and the route
// they come from: a pool's, a member's (pinned first), else the default
// pool's.
func (p *Pool) plan(target string) ([]*member, *route) {
	if r := p.pools[target]; r != nil {
		return r.order(p.cfg.Rand), r
	}
	m := p.byName[target]
	if m == nil {
		r := p.pools[p.def]
		return r.order(p.cfg.Rand), r
	}
	r := p.pools[m.Pool]
	order := []*member{m}
	for _, o := range r.order(p.cfg.Rand) {
		if o != m {
			order = append(order, o)
		}
	}
	return order, r
}

// errNotCounted marks an outcome that says nothing about a deployment's
// health (its window was full, the request itself was refused, the caller
// gave up): the breaker counts it neither way.
var errNotCounted = errors.New("pool: not counted")

// outcome is what a pool does after one attempt.
type outcome int

const (
	answered outcome = iota // return the answer
	full                    // the window is full: try the next deployment
	failover                // the deployment failed: try the next one
	final                   // return the error: another deployment would not do better
)

// Complete routes the call; see the package documentation.
func (p *Pool) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	r := *req
	r.Model = "" // each member calls its own deployment
	var delivered atomic.Bool
	if req.Streaming() {
		onDelta := req.OnDelta
		r.OnDelta = func(d model.Delta) {
			if d.Text != "" {
				delivered.Store(true)
			}
			onDelta(d)
		}
	}
	var (
		lastErr error
		waitOn  *member // the first member passed over for a full window
	)
	order, rt := p.plan(req.Model)
	for pass := 0; pass < 2; pass++ {
		for _, m := range order {
			if pass == 1 && m != waitOn {
				continue
			}
			done, err := m.breaker.Allow()
			if err != nil {
				if pass == 0 {
					p.leave(ctx, m, ReasonCircuitOpen)
				}
				continue // open, or its one probe is already out
			}
			if delivered.Swap(false) {
				req.OnDelta(model.Delta{Restart: true})
			}
			actx := ctx
			if pass == 0 {
				actx = ratelimit.WithoutWaiting(ctx)
			}
			resp, err := p.attempt(actx, m, &r)
			switch p.classify(ctx, err) {
			case answered:
				done(nil)
				m.answered.Add(1)
				resp.Deployment, resp.ServerAddress = m.Name, m.Address
				return resp, nil
			case full:
				done(errNotCounted)
				if waitOn == nil {
					waitOn = m
				}
				p.leave(ctx, m, ReasonSpillOver)
			case failover:
				done(err)
				m.failed.Add(1)
				lastErr = fmt.Errorf("pool: deployment %s: %w", m.Name, err)
				if p.cfg.OnFailover != nil {
					p.cfg.OnFailover(m.Name, err)
				}
				p.leave(ctx, m, reasonOf(err))
			case final:
				done(errNotCounted)
				return nil, err
			}
		}
		if waitOn == nil {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	// No breaker let a call through (or the one a full window made the
	// call wait on closed in between).
	return nil, p.unavailable(rt)
}

func (p *Pool) leave(ctx context.Context, m *member, reason string) {
	if p.cfg.OnLeave != nil {
		p.cfg.OnLeave(ctx, m.Name, reason)
	}
}

// reasonOf names the reason of a failover (classify said failover).
func reasonOf(err error) string {
	var me *model.Error
	switch {
	case errors.Is(err, ErrStalled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ReasonTimeout
	case errors.As(err, &me) && me.StatusCode == http.StatusTooManyRequests:
		return ReasonThrottled
	case errors.As(err, &me) && me.StatusCode >= 500:
		return ReasonServerError
	case errors.As(err, &me) && me.StatusCode == http.StatusRequestTimeout:
		return ReasonTimeout
	}
	return ReasonConnection
}

// attempt calls one member, bounded by the stall and attempt timeouts.
func (p *Pool) attempt(ctx context.Context, m *member, req *model.Request) (*model.Response, error) {
	if req.Streaming() && p.cfg.StallTimeout > 0 {
		actx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		timer := time.AfterFunc(p.cfg.StallTimeout, func() { cancel(ErrStalled) })
		defer timer.Stop()
		r := *req
		onDelta := req.OnDelta
		r.OnDelta = func(d model.Delta) {
			timer.Reset(p.cfg.StallTimeout)
			onDelta(d)
		}
		return m.Client.Complete(actx, &r)
	}
	if !req.Streaming() && p.cfg.AttemptTimeout > 0 {
		actx, cancel := context.WithTimeoutCause(ctx, p.cfg.AttemptTimeout, ErrStalled)
		defer cancel()
		resp, err := m.Client.Complete(actx, req)
		if err != nil && errors.Is(context.Cause(actx), ErrStalled) && ctx.Err() == nil {
			return nil, &model.Error{Message: fmt.Sprintf("no answer within %s", p.cfg.AttemptTimeout), Err: ErrStalled}
		}
		return resp, err
	}
	return m.Client.Complete(ctx, req)
}

// classify decides what an attempt's result means for the call.
func (p *Pool) classify(ctx context.Context, err error) outcome {
	switch {
	case err == nil:
		return answered
	case ctx.Err() != nil:
		return final // the caller gave up or its deadline passed
	case errors.Is(err, ratelimit.ErrFull):
		return full
	case errors.Is(err, ErrStalled), errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		// The caller's context is alive, so the attempt's own bound cut it.
		return failover
	}
	var me *model.Error
	if errors.As(err, &me) && me.StatusCode == http.StatusTooManyRequests {
		if me.Code == "insufficient_quota" || me.RetryAfter > p.cfg.LongRetryAfter {
			return failover
		}
		if dl, ok := ctx.Deadline(); ok && me.RetryAfter > dl.Sub(p.cfg.Now()) {
			return failover
		}
		return final // a short wait: the retry middleware waits and comes back
	}
	if retry.Retryable(ctx, err) {
		return failover // 5xx, 408, connection errors, cut streams
	}
	return final
}

// order returns the members to try for one call: by priority, and within a
// priority in a random order drawn by weight.
func (r *route) order(rnd func() float64) []*member {
	if len(r.groups) == len(r.members) {
		return r.members
	}
	out := make([]*member, 0, len(r.members))
	for _, g := range r.groups {
		if len(g) == 1 {
			out = append(out, g[0])
			continue
		}
		rest := append([]*member(nil), g...)
		for len(rest) > 0 {
			total := 0
			for _, m := range rest {
				total += m.Weight
			}
			x := rnd() * float64(total)
			i := 0
			for ; i < len(rest)-1; i++ {
				x -= float64(rest[i].Weight)
				if x < 0 {
					break
				}
			}
			out = append(out, rest[i])
			rest = append(rest[:i], rest[i+1:]...)
		}
	}
	return out
}

// unavailable is the error of a call no deployment would take: a 503 whose
// Retry-After is when the first open breaker lets a probe through, so the
// retry middleware above comes back then.
func (p *Pool) unavailable(r *route) error {
	wait := p.cfg.CoolDown
	now := p.cfg.Now().UnixNano()
	for _, m := range r.members {
		if at := m.openedAt.Load(); at != 0 {
			wait = min(wait, time.Duration(at+int64(p.cfg.CoolDown)-now))
		} else {
			wait = min(wait, 100*time.Millisecond) // a probe is out: look again soon
		}
	}
	return &model.Error{StatusCode: http.StatusServiceUnavailable, Code: "pool_unavailable",
		Message: "pool: no deployment can take the call now (circuit breakers open)", RetryAfter: max(wait, 10*time.Millisecond)}
}

// MemberStats is one deployment's state.
type MemberStats struct {
	Name     string `json:"name"`
	Pool     string `json:"pool"`
	Priority int    `json:"priority"`
	// State is the breaker's: "closed", "half-open" or "open".
	State    string `json:"state"`
	Answered int64  `json:"answered"`
	Failed   int64  `json:"failed"`
}

// Stats returns the members' state, by priority.
func (p *Pool) Stats() []MemberStats {
	out := make([]MemberStats, len(p.members))
	for i, m := range p.members {
		out[i] = MemberStats{Name: m.Name, Pool: m.Pool, Priority: m.Priority, State: m.breaker.State().String(),
			Answered: m.answered.Load(), Failed: m.failed.Load()}
	}
	return out
}

// Names returns the members' names, by priority.
func (p *Pool) Names() []string {
	out := make([]string, len(p.members))
	for i, m := range p.members {
		out[i] = m.Name
	}
	return out
}
