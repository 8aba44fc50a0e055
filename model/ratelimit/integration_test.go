package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/model/retry"
)

const (
	rpm   = 1000
	tpm   = 500
	calls = 40
	// maxTokens keeps every answer at exactly this length (the emulator's
	// replies are longer and get cut), so each call uses prompt + maxTokens.
	maxTokens = 30
)

func story(i int) *model.Request {
	return &model.Request{
		MaxTokens: maxTokens,
		Messages:  []model.Message{{Role: model.RoleUser, Content: fmt.Sprintf("Write story %d about the harbour.", i)}},
	}
}

func startQuotaEmulator(t *testing.T, clock *fakeClock, observe func(string, int, int), faults ...emulator.Fault) (*emulator.Running, *provider.Client) {
	t.Helper()
	cfg := emulator.Config{
		Quota: emulator.Quota{RequestsPerMinute: rpm, TokensPerMinute: tpm},
		Now:   clock.Now,
		Seed:  7,
	}
	if len(faults) > 0 {
		cfg.Faults.Rates = map[emulator.Fault]float64{}
		for _, f := range faults {
			cfg.Faults.Rates[f] = 0.15
		}
	}
	return emutest.Start(t, cfg, dep, func(pc *provider.Config) { pc.OnRateLimitHeaders = observe })
}

// TestIntegration_emulatorQuota runs concurrent calls through the limiter
// to an emulator with the same quota, on a shared fake clock: every call
// must get through without a single 429, using most of the quota.
func TestIntegration_emulatorQuota(t *testing.T) {
	clock := newFakeClock()
	l := ratelimit.NewLimiter(ratelimit.LimiterConfig{RequestsPerMinute: rpm, TokensPerMinute: tpm, Clock: clock})
	run, p := startQuotaEmulator(t, clock, l.Observe)
	c := model.Chain(p, ratelimit.New(ratelimit.Config{Limiter: l, Deployment: dep}))
	used, elapsed := drive(t, clock, l, c)

	statuses := map[int]int{}
	for _, r := range run.Requests() {
		statuses[r.Status]++
	}
	if statuses[200] != calls || len(statuses) != 1 {
		t.Errorf("emulator statuses = %v, want %d × 200 and no 429", statuses, calls)
	}
	// The last calls go through at the end of the run but their tokens
	// hold the quota for a window after it: the run's share of the quota
	// is its tokens over its time plus that window.
	share := float64(used) / (tpm * (elapsed + time.Minute).Minutes())
	t.Logf("%d calls, %d tokens in %v of quota time: %.0f%% of the quota used", calls, used, elapsed, 100*share)
	if used <= 2*tpm {
		t.Fatalf("only %d tokens used: the scenario does not exceed the quota", used)
	}
	if share < 0.75 {
		t.Errorf("used %.0f%% of the quota, want at least 75%%", 100*share)
	}
}

// TestIntegration_retryThroughLimiter is the production order, retry →
// ratelimit → provider, against injected 429s and server errors: every call
// completes, and the injected 429s pause the limiter instead of the retry
// loop hammering the service.
func TestIntegration_retryThroughLimiter(t *testing.T) {
	clock := newFakeClock()
	l := ratelimit.NewLimiter(ratelimit.LimiterConfig{RequestsPerMinute: rpm, TokensPerMinute: tpm, Clock: clock})
	run, p := startQuotaEmulator(t, clock, l.Observe, emulator.Fault429, emulator.Fault503)
	var retries atomic.Int64
	c := model.Chain(p,
		retry.New(retry.Config{
			MaxAttempts: 20,
			MaxElapsed:  time.Hour,
			Now:         clock.Now,
			// The wait happens in the limiter (paused by the 429, on the
			// fake clock); the retry loop itself does not sleep.
			Sleep:   func(ctx context.Context, d time.Duration) error { return ctx.Err() },
			OnRetry: func(int, error, time.Duration) { retries.Add(1) },
		}),
		ratelimit.New(ratelimit.Config{Limiter: l, Deployment: dep}),
	)
	drive(t, clock, l, c)
	statuses := map[int]int{}
	for _, r := range run.Requests() {
		statuses[r.Status]++
	}
	if statuses[200] != calls {
		t.Errorf("emulator statuses = %v, want %d × 200", statuses, calls)
	}
	if statuses[429] == 0 || int64(statuses[429]+statuses[503]) != retries.Load() {
		t.Errorf("emulator statuses = %v with %d retries: want some 429s, each retried", statuses, retries.Load())
	}
	t.Logf("statuses %v, %d retries", statuses, retries.Load())
}

// drive runs the calls concurrently through c, moving the fake clock while
// they all wait, and returns the tokens they used and the quota time taken.
func drive(t *testing.T, clock *fakeClock, l *ratelimit.Limiter, c model.Client) (int64, time.Duration) {
	t.Helper()
	start := clock.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var (
		remaining atomic.Int64
		used      atomic.Int64
		wg        sync.WaitGroup
	)
	remaining.Store(calls)
	for i := range calls {
		wg.Go(func() {
			defer remaining.Add(-1)
			resp, err := c.Complete(ctx, story(i))
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			if resp.Usage.CompletionTokens != maxTokens {
				t.Errorf("call %d: %d completion tokens, want %d", i, resp.Usage.CompletionTokens, maxTokens)
			}
			used.Add(int64(resp.Usage.TotalTokens()))
		})
	}
	// Move the clock only when every unfinished call waits in the limiter
	// and the first in line sleeps on its timer: then no request is in
	// flight when time jumps, and the jump is to that timer.
	for remaining.Load() > 0 && ctx.Err() == nil {
		n := remaining.Load()
		if int64(l.Stats(dep).Waiting) == n && clock.AdvanceToOnlyTimer() {
			continue
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("the calls did not finish")
	}
	return used.Load(), clock.Now().Sub(start)
}

// TestIntegration_emulatorQuotaBaseline shows the scenario needs the
// limiter: the same calls without it are throttled.
func TestIntegration_emulatorQuotaBaseline(t *testing.T) {
	clock := newFakeClock()
	run, p := startQuotaEmulator(t, clock, nil)
	var wg sync.WaitGroup
	var throttled atomic.Int64
	for i := range calls {
		wg.Go(func() {
			_, err := p.Complete(t.Context(), story(i))
			var me *model.Error
			if errors.As(err, &me) && me.StatusCode == 429 {
				throttled.Add(1)
			}
		})
	}
	wg.Wait()
	if throttled.Load() == 0 {
		t.Errorf("no call of %d was throttled without the limiter", run.Count())
	}
	t.Logf("without the limiter %d of %d calls were throttled", throttled.Load(), calls)
}
