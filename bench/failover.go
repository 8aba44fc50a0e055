package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/httpx"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/pool"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/modelstack"
	"github.com/newsroom-dev/newsroom/team"
)

// FailoverConfig configures the failover benchmark. Zero fields take the
// defaults in brackets.
type FailoverConfig struct {
	// Runs is the newsroom runs kept in flight [8].
	Runs int
	// Duration is the whole benchmark [90s]; FailAt is when the primary
	// starts failing [30s]: a storm of 503s for StormFor [10s], then
	// stalled answers for StallFor [10s], then it recovers.
	Duration, FailAt, StormFor, StallFor time.Duration
	// StallTimeout is the pool's bound on a silent stream [1s]; CoolDown its
	// breakers' [5s].
	StallTimeout, CoolDown time.Duration
	// TTFT and TokensPerSecond are the emulators' timing [200ms, 80].
	TTFT            time.Duration
	TokensPerSecond float64
	// Team is desk.RoundRobin (default) or desk.Selector.
	Team string
}

// FailoverReport is the failover benchmark's result.
type FailoverReport struct {
	Benchmark     string `json:"benchmark"`
	Team          string `json:"team"`
	Runs          int    `json:"runs_in_flight"`
	CompletedRuns int    `json:"completed_runs"`
	// FailedRuns is the runs that failed (goal 0).
	FailedRuns int `json:"failed_runs"`
	Calls      int `json:"calls"`
	// P95AddedLatencyMS is the 95th percentile, over the calls of the
	// switch, of the time a call spent before the attempt that answered it
	// (failed attempts, stalls, waits): goal ≤ 2000. The calls of the
	// switch are those that met the failing primary: their attempt on it
	// failed (from the failure until its breaker opened, and each probe
	// after a cool-down that found it still failing) and another attempt
	// answered. MaxAddedLatencyMS is their maximum, SwitchCalls their
	// number.
	P95AddedLatencyMS float64 `json:"p95_added_latency_ms"`
	MaxAddedLatencyMS float64 `json:"max_added_latency_ms"`
	SwitchCalls       int     `json:"switch_calls"`
	// OutageP95AddedMS is the same percentile over every call made while
	// the primary failed, most of which the open breaker sent straight to
	// the secondary (the number once reported as p95_added_latency_ms).
	OutageP95AddedMS   float64 `json:"outage_p95_added_latency_ms"`
	OutageCalls        int     `json:"outage_calls"`
	BaselineP95AddedMS float64 `json:"baseline_p95_added_latency_ms"`
	// SecondaryShare is the share of all answered calls the secondary gave;
	// OutageSecondaryShare the share while the primary failed.
	SecondaryShare       float64 `json:"secondary_share"`
	OutageSecondaryShare float64 `json:"outage_secondary_share"`
	// ReturnAfterS is the time from the primary's recovery to the first
	// call it answered again (-1 if it never did).
	ReturnAfterS float64 `json:"return_after_s"`
	Failovers    int64   `json:"failovers"`
	GoalMet      bool    `json:"goal_met"`
	Timeline     string  `json:"timeline"`
	// FirstError is the error of the first failed run, if any.
	FirstError string `json:"first_error,omitempty"`
}

// callTrace is filled by the HTTP client for the recorder above the stack.
type callTrace struct {
	mu       sync.Mutex
	last     time.Time // when the call's latest attempt started
	attempts int       // the HTTP requests the call made
}

type traceKey struct{}

// attemptClock is the benchmark's HTTP transport: it notes in the call's
// trace when each request to a deployment starts. Attempts of one call are
// sequential, so the last noted is the answering one.
type attemptClock struct{ next http.RoundTripper }

func (a attemptClock) RoundTrip(req *http.Request) (*http.Response, error) {
	if tr, ok := req.Context().Value(traceKey{}).(*callTrace); ok {
		tr.mu.Lock()
		tr.last = time.Now()
		tr.attempts++
		tr.mu.Unlock()
	}
	return a.next.RoundTrip(req)
}

// Failover runs teams on a pool of two emulators, makes the primary fail,
// then recover, and measures what the runs noticed.
func Failover(ctx context.Context, cfg FailoverConfig) (*FailoverReport, error) {
	teamName, err := checkTeam(cfg.Team)
	if err != nil {
		return nil, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if cfg.Runs <= 0 {
		cfg.Runs = 8
	}
	def(&cfg.Duration, 90*time.Second)
	def(&cfg.FailAt, 30*time.Second)
	def(&cfg.StormFor, 10*time.Second)
	def(&cfg.StallFor, 10*time.Second)
	def(&cfg.StallTimeout, time.Second)
	def(&cfg.CoolDown, 5*time.Second)
	def(&cfg.TTFT, 200*time.Millisecond)
	if cfg.TokensPerSecond <= 0 {
		cfg.TokensPerSecond = 80
	}
	recoverAt := cfg.FailAt + cfg.StormFor + cfg.StallFor
	if recoverAt >= cfg.Duration {
		return nil, fmt.Errorf("%w: the primary must recover (at %v) before the end (%v)", ErrConfig, recoverAt, cfg.Duration)
	}

	lat := emulator.Latency{TimeToFirstToken: cfg.TTFT, TokensPerSecond: cfg.TokensPerSecond}
	var ems [2]*emulator.Running
	for i := range ems {
		if ems[i], err = emulator.Start(emulator.Config{APIKey: apiKey, Latency: lat, MaxRecorded: -1}, emulator.Options{}); err != nil {
			return nil, err
		}
		defer ems[i].Close()
	}
	// The pool of the two emulators, built by modelstack as run and serve
	// build a deployments file's pool; only the timeouts are the
	// benchmark's. The HTTP client marks when each attempt of a call
	// starts: the last is the one that answered.
	f := &pool.File{Path: "bench failover"}
	for i, name := range []string{"primary", "secondary"} {
		f.Deployments = append(f.Deployments, pool.Deployment{Name: name, Endpoint: ems[i].URL, Deployment: Deployment,
			APIKey: apiKey, Priority: i + 1, Weight: 1, Model: emulator.DefaultModelName})
	}
	hc := httpx.NewClient(httpx.Options{})
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = attemptClock{next: next}
	var failovers atomic.Int64

	var (
		mu    sync.Mutex
		calls []failoverCall
	)
	begin := time.Now()
	pl, err := newStack(stackConfig{httpClient: hc, limiterOff: true,
		quota: ratelimit.LimiterConfig{RequestsPerMinute: 100000, TokensPerMinute: 100000000},
		pool: modelstack.PoolOptions{Deployments: f, StallTimeout: cfg.StallTimeout, CoolDown: cfg.CoolDown,
			OnFailover: func(string, error) { failovers.Add(1) }}})
	if err != nil {
		return nil, err
	}
	// The recorder is outermost: a call's added latency is everything
	// before its answering attempt started (failed attempts, stalls,
	// retries and their waits).
	client := model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
		tr := &callTrace{}
		start := time.Now()
		tr.last = start
		resp, err := pl.Complete(context.WithValue(ctx, traceKey{}, tr), req)
		if err == nil {
			tr.mu.Lock()
			c := failoverCall{start: start.Sub(begin), added: max(tr.last.Sub(start), 0), deployment: resp.Deployment, attempts: tr.attempts}
			tr.mu.Unlock()
			mu.Lock()
			calls = append(calls, c)
			mu.Unlock()
		}
		return resp, err
	})

	rctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var completed, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := range cfg.Runs {
		wg.Go(func() {
			for n := 0; rctx.Err() == nil; n++ {
				tm, err := desk.New(desk.Config{Team: teamName, Client: client})
				if err != nil {
					failed.Add(1)
					return
				}
				_, err = team.Run(rctx, tm, Tasks[(i+n)%len(Tasks)], team.WithStreaming(true))
				switch {
				case err == nil:
					completed.Add(1)
				case rctx.Err() == nil:
					failed.Add(1) // a run cut by the benchmark's end is not a failure
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}

	// The primary's outage, on the benchmark's clock.
	force := func(at time.Duration, f emulator.ForcedFault) {
		sleepCtx(rctx, at-time.Since(begin))
		if rctx.Err() == nil {
			ems[0].Force(f)
		}
	}
	force(cfg.FailAt, emulator.ForcedFault{Fault: emulator.Fault503})
	force(cfg.FailAt+cfg.StormFor, emulator.ForcedFault{Fault: emulator.FaultStall, StallMS: (cfg.StallFor + time.Minute).Milliseconds()})
	force(recoverAt, emulator.ForcedFault{})
	wg.Wait()

	r := &FailoverReport{Benchmark: "failover", Team: teamName, Runs: cfg.Runs,
		CompletedRuns: int(completed.Load()), FailedRuns: int(failed.Load()), Failovers: failovers.Load(), ReturnAfterS: -1,
		Timeline: fmt.Sprintf("primary: 503 storm at %v for %v, stalls for %v, recovers at %v; end at %v",
			cfg.FailAt, cfg.StormFor, cfg.StallFor, recoverAt, cfg.Duration)}
	if e, ok := firstErr.Load().(string); ok {
		r.FirstError = e
	}
	r.summarize(calls, cfg.FailAt, recoverAt)
	r.GoalMet = r.FailedRuns == 0 && r.P95AddedLatencyMS <= 2000 && r.ReturnAfterS >= 0
	return r, nil
}

// failoverCall is one answered call of the failover benchmark.
type failoverCall struct {
	start      time.Duration // since the benchmark began
	added      time.Duration // before the answering attempt started
	deployment string        // the one that answered
	attempts   int           // HTTP requests made (more than one: an attempt failed)
}

// summarize fills the report's latency, share and return fields from the
// answered calls; the primary failed from failAt until recoverAt.
func (r *FailoverReport) summarize(calls []failoverCall, failAt, recoverAt time.Duration) {
	var switchAdded, outageAdded, baseAdded []float64
	secondary, outageSecondary := 0, 0
	for _, c := range calls {
		ms := float64(c.added) / float64(time.Millisecond)
		switch {
		case c.start >= failAt && c.start < recoverAt:
			outageAdded = append(outageAdded, ms)
			if c.deployment == "secondary" {
				outageSecondary++
				if c.attempts > 1 {
					switchAdded = append(switchAdded, ms) // it met the failing primary
				}
			}
		case c.start < failAt:
			baseAdded = append(baseAdded, ms)
		}
		if c.deployment == "secondary" {
			secondary++
		}
		if c.deployment == "primary" && c.start >= recoverAt {
			if after := (c.start + c.added - recoverAt).Seconds(); r.ReturnAfterS < 0 || after < r.ReturnAfterS {
				r.ReturnAfterS = round2(after)
			}
		}
	}
	r.Calls, r.SwitchCalls, r.OutageCalls = len(calls), len(switchAdded), len(outageAdded)
	r.P95AddedLatencyMS = round1(percentile(switchAdded, 0.95))
	if len(switchAdded) > 0 {
		r.MaxAddedLatencyMS = round1(slices.Max(switchAdded))
	}
	r.OutageP95AddedMS = round1(percentile(outageAdded, 0.95))
	r.BaselineP95AddedMS = round1(percentile(baseAdded, 0.95))
	if len(calls) > 0 {
		r.SecondaryShare = round2(float64(secondary) / float64(len(calls)))
	}
	if len(outageAdded) > 0 {
		r.OutageSecondaryShare = round2(float64(outageSecondary) / float64(len(outageAdded)))
	}
}

// percentile returns the q-quantile of xs (nearest rank); 0 when empty.
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
