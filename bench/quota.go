package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/team"
)

// QuotaConfig configures the quota benchmark.
type QuotaConfig struct {
	// Runs is the number of newsroom runs kept in flight; 0 means 20.
	Runs int
	// RPM and TPM are the emulator's quota and the limiter's; 0 means 180
	// and 30,000.
	RPM, TPM int
	// Duration is the measured window; 0 means 60s.
	Duration time.Duration
	// Warmup runs before the measured window and is not counted. The
	// quota's window starts empty, so the first minute lets a whole
	// minute's tokens through at once; a warmup of a minute measures the
	// steady state instead. 0 means none (the command's default is 60s).
	Warmup time.Duration
	// LimiterOff runs without the client-side limiter: retries alone.
	LimiterOff bool
	// Team is desk.RoundRobin (default) or desk.Selector.
	Team string
	// TTFT and TokensPerSecond are the emulator's latency; zero TTFT means
	// 200ms and zero TokensPerSecond 80 (negative: no latency, no pacing).
	TTFT            time.Duration
	TokensPerSecond float64
}

// QuotaReport is the quota benchmark's result.
type QuotaReport struct {
	Benchmark       string  `json:"benchmark"`
	Limiter         bool    `json:"limiter"`
	Team            string  `json:"team"`
	Runs            int     `json:"runs"`
	RPM             int     `json:"rpm"`
	TPM             int     `json:"tpm"`
	DurationS       float64 `json:"duration_s"`
	WarmupS         float64 `json:"warmup_s"`
	TTFTMs          float64 `json:"ttft_ms"`
	TokensPerSecond float64 `json:"tokens_per_second"`

	// Runs that ended in the measured window (plus the warmup); a run still
	// going when the time is up is in flight, neither completed nor failed.
	CompletedRuns int `json:"completed_runs"`
	FailedRuns    int `json:"failed_runs"`
	InFlightRuns  int `json:"in_flight_runs"`
	// Requests are the HTTP attempts answered within the window, Throttled
	// those answered 429, Served those answered 200; Tokens sums the usage
	// of the 200 answers.
	Requests  int `json:"requests"`
	Served    int `json:"served_requests"`
	Throttled int `json:"throttled_requests"`
	Tokens    int `json:"tokens"`
	// TPMUsedPct is tokens served per minute over the TPM quota; RPMUsedPct
	// served requests per minute over the RPM quota; ThrottledPct is 429s
	// over all requests.
	TPMUsedPct   float64 `json:"tpm_used_pct"`
	RPMUsedPct   float64 `json:"rpm_used_pct"`
	ThrottledPct float64 `json:"throttled_pct"`
	// EmulatorRequests is every request the emulator saw (warmup included).
	EmulatorRequests int `json:"emulator_requests"`
	// Failures counts the failed runs' errors by message.
	Failures map[string]int `json:"failures,omitempty"`
}

func (c QuotaConfig) withDefaults() (QuotaConfig, error) {
	if c.Runs == 0 {
		c.Runs = 20
	}
	if c.RPM == 0 {
		c.RPM = ratelimit.DefaultRequestsPerMinute
	}
	if c.TPM == 0 {
		c.TPM = ratelimit.DefaultTokensPerMinute
	}
	if c.Duration == 0 {
		c.Duration = time.Minute
	}
	if c.TTFT == 0 {
		c.TTFT = 200 * time.Millisecond
	}
	if c.TokensPerSecond == 0 {
		c.TokensPerSecond = 80
	}
	c.TTFT, c.TokensPerSecond = max(c.TTFT, 0), max(c.TokensPerSecond, 0)
	var err error
	if c.Team, err = checkTeam(c.Team); err != nil {
		return c, err
	}
	switch {
	case c.Runs < 0 || c.RPM < 0 || c.TPM < 0:
		return c, fmt.Errorf("%w: runs, rpm and tpm must not be negative", ErrConfig)
	case c.Duration < 0 || c.Warmup < 0:
		return c, fmt.Errorf("%w: duration and warmup must not be negative", ErrConfig)
	}
	return c, nil
}

// meter counts the attempts that reach the provider, below the limiter and
// the retries: what the emulator answered, as seen by the client.
type meter struct {
	next                                model.Client
	mu                                  sync.Mutex
	from, to                            time.Time
	requests, served, throttled, tokens int
}

func (m *meter) window(from, to time.Time) {
	m.mu.Lock()
	m.from, m.to = from, to
	m.mu.Unlock()
}

func (m *meter) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := m.next.Complete(ctx, req)
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.from.IsZero() || now.Before(m.from) || now.After(m.to) {
		return resp, err
	}
	var me *model.Error
	switch {
	case err == nil:
		m.requests++
		m.served++
		m.tokens += resp.Usage.TotalTokens()
	case errors.As(err, &me) && me.StatusCode != 0:
		m.requests++
		if me.StatusCode == http.StatusTooManyRequests {
			m.throttled++
		}
	default:
		// No HTTP answer (cancelled at the end, connection error): the
		// emulator may have seen it, but it answered nothing.
	}
	return resp, err
}

// Quota keeps cfg.Runs newsroom runs in flight against an emulator with the
// quota, each starting a new task when its run ends, and measures how much
// of the quota the emulator served within the window.
func Quota(ctx context.Context, cfg QuotaConfig) (*QuotaReport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	em, err := emulator.Start(emulator.Config{APIKey: apiKey,
		Quota:       emulator.Quota{RequestsPerMinute: cfg.RPM, TokensPerMinute: cfg.TPM},
		Latency:     emulator.Latency{TimeToFirstToken: cfg.TTFT, TokensPerSecond: cfg.TokensPerSecond},
		MaxRecorded: -1}, emulator.Options{})
	if err != nil {
		return nil, err
	}
	defer em.Close()
	m := &meter{}
	p, err := newStack(stackConfig{url: em.URL, limiterOff: cfg.LimiterOff,
		quota:  ratelimit.LimiterConfig{RequestsPerMinute: cfg.RPM, TokensPerMinute: cfg.TPM},
		bottom: func(next model.Client) model.Client { m.next = next; return m }})
	if err != nil {
		return nil, err
	}

	start := time.Now()
	from, to := start.Add(cfg.Warmup), start.Add(cfg.Warmup+cfg.Duration)
	m.window(from, to)
	// The end is a cancellation, not a deadline: with a deadline the retry
	// middleware would give up at once on a Retry-After that outlasts it,
	// and the benchmark would count its own end as failed runs.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := time.AfterFunc(time.Until(to), cancel)
	defer stop.Stop()

	var (
		mu        sync.Mutex
		completed int
		failed    int
		inFlight  int
		failures  = map[string]int{}
		wg        sync.WaitGroup
	)
	for w := range cfg.Runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; runCtx.Err() == nil; i++ {
				tm, err := desk.New(desk.Config{Team: cfg.Team, Client: p, Model: Deployment}) // a GPT-5 deployment: reasoning defaults
				if err == nil {
					_, err = team.Run(runCtx, tm, Tasks[(w+i)%len(Tasks)], team.WithStreaming(true),
						team.WithRunID(fmt.Sprintf("bench-%d-%d", w, i)))
				}
				mu.Lock()
				switch {
				case runCtx.Err() != nil:
					inFlight++ // cut off by the end of the benchmark
				case err != nil:
					failed++
					failures[failureKind(err)]++
				default:
					completed++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	minutes := cfg.Duration.Minutes()
	r := &QuotaReport{Benchmark: "quota", Limiter: !cfg.LimiterOff, Team: cfg.Team, Runs: cfg.Runs,
		RPM: cfg.RPM, TPM: cfg.TPM, DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds(),
		TTFTMs: float64(cfg.TTFT.Microseconds()) / 1000, TokensPerSecond: cfg.TokensPerSecond,
		CompletedRuns: completed, FailedRuns: failed, InFlightRuns: inFlight,
		Requests: m.requests, Served: m.served, Throttled: m.throttled, Tokens: m.tokens,
		EmulatorRequests: em.Count()}
	if minutes > 0 {
		r.TPMUsedPct = round2(float64(m.tokens) / minutes / float64(cfg.TPM) * 100)
		r.RPMUsedPct = round2(float64(m.served) / minutes / float64(cfg.RPM) * 100)
	}
	if m.requests > 0 {
		r.ThrottledPct = round2(float64(m.throttled) / float64(m.requests) * 100)
	}
	if len(failures) > 0 {
		r.Failures = topFailures(failures, 5)
	}
	return r, nil
}

// volatile matches the parts of an error message that differ between
// otherwise equal failures: request ids and numbers.
var volatile = regexp.MustCompile(`\(request id [^)]*\)|\b[0-9]+\b`)

// failureKind is an error's message without its volatile parts, to count
// failures by kind.
func failureKind(err error) string {
	return volatile.ReplaceAllStringFunc(err.Error(), func(m string) string {
		if strings.HasPrefix(m, "(") {
			return "(request id …)"
		}
		return "N"
	})
}

// topFailures keeps the n most frequent failure messages.
func topFailures(f map[string]int, n int) map[string]int {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return f[keys[i]] > f[keys[j]] })
	out := map[string]int{}
	for i, k := range keys {
		if i >= n {
			out["(other)"] += f[k]
			continue
		}
		out[k] = f[k]
	}
	return out
}
