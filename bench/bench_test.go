package bench_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/bench"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
)

// childEnv makes the test binary act as `newsroom emulator` for the
// concurrency benchmark's child phase.
const childEnv = "NEWSROOM_BENCH_TEST_CHILD_EMULATOR"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(childEmulator(os.Args[1:]))
	}
	code := m.Run()
	removeNewsroomBinary()
	testsvc.StopAll()
	os.Exit(code)
}

// childEmulator serves an emulator with the flags the benchmark passes
// (--addr, --api-key, --ttft) and prints the banner it reads.
func childEmulator(args []string) int {
	cfg := emulator.Config{MaxRecorded: -1}
	addr := "127.0.0.1:0"
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "--addr":
			addr = args[i+1]
		case "--api-key":
			cfg.APIKey = args[i+1]
		case "--ttft":
			d, err := time.ParseDuration(args[i+1])
			if err != nil {
				return 2
			}
			cfg.Latency.TimeToFirstToken = d
		}
	}
	em, err := emulator.Start(cfg, emulator.Options{Addr: addr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("newsroom emulator: serving Azure OpenAI chat completions on %s\n", em.URL)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	_ = em.Close()
	return 0
}

func TestQuota_ReportsAConsistentRunWithAndWithoutTheLimiter(t *testing.T) {
	for _, limiterOff := range []bool{false, true} {
		t.Run(fmt.Sprintf("limiter off %t", limiterOff), func(t *testing.T) {
			r, err := bench.Quota(context.Background(), bench.QuotaConfig{Runs: 3, Duration: 1500 * time.Millisecond,
				LimiterOff: limiterOff, TTFT: 5 * time.Millisecond, TokensPerSecond: -1})
			if err != nil {
				t.Fatal(err)
			}
			if r.Limiter == limiterOff || r.Runs != 3 || r.RPM != 180 || r.TPM != 30000 || r.Team != desk.RoundRobin {
				t.Fatalf("settings not reported: %+v", r)
			}
			if r.FailedRuns != 0 {
				t.Fatalf("%d failed runs: %v", r.FailedRuns, r.Failures)
			}
			if r.CompletedRuns == 0 || r.InFlightRuns > r.Runs {
				t.Fatalf("completed %d, in flight %d of %d", r.CompletedRuns, r.InFlightRuns, r.Runs)
			}
			if r.Served == 0 || r.Tokens == 0 || r.Served+r.Throttled > r.Requests || r.EmulatorRequests < r.Requests {
				t.Fatalf("request counts do not add up: %+v", r)
			}
			wantTPM := float64(r.Tokens) / r.DurationS * 60 / float64(r.TPM) * 100
			if d := r.TPMUsedPct - wantTPM; d > 0.01 || d < -0.01 {
				t.Fatalf("tpm_used_pct %v, want %v from %d tokens", r.TPMUsedPct, wantTPM, r.Tokens)
			}
			wantThrottled := float64(r.Throttled) / float64(r.Requests) * 100
			if d := r.ThrottledPct - wantThrottled; d > 0.01 || d < -0.01 {
				t.Fatalf("throttled_pct %v, want %v", r.ThrottledPct, wantThrottled)
			}
		})
	}
}

func TestQuota_ThrottledRequestsAreCountedAndRetried(t *testing.T) {
	// A quota a few requests deep, without the limiter: the emulator must
	// answer 429s, and retries must still finish the runs.
	r, err := bench.Quota(context.Background(), bench.QuotaConfig{Runs: 4, RPM: 8, TPM: 1000000,
		Duration: 1500 * time.Millisecond, LimiterOff: true, TTFT: -1, TokensPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Throttled == 0 || r.ThrottledPct <= 0 {
		t.Fatalf("no 429 counted with an 8 RPM quota: %+v", r)
	}
	if r.FailedRuns != 0 {
		t.Fatalf("%d runs failed under 429s: %v", r.FailedRuns, r.Failures)
	}
	if r.Served > 8 {
		t.Fatalf("%d requests served under an 8 RPM quota", r.Served)
	}
}

func TestQuota_RejectsBadConfiguration(t *testing.T) {
	for name, cfg := range map[string]bench.QuotaConfig{
		"negative runs": {Runs: -1},
		"unknown team":  {Team: "chaos"},
		"negative time": {Duration: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := bench.Quota(context.Background(), cfg); !errors.Is(err, bench.ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
}

func TestOverhead_ComparesTheSameTurnsOnBothSides(t *testing.T) {
	r, err := bench.Overhead(context.Background(), bench.OverheadConfig{Turns: 16})
	if err != nil {
		t.Fatal(err)
	}
	if r.TurnsPerRun != 4 {
		t.Fatalf("a round-robin run made %d calls, want 4 (reporter, editor, reporter, editor)", r.TurnsPerRun)
	}
	if r.FrameworkUsPerTurn <= 0 || r.RawHTTPUsPerTurn <= 0 || r.Ratio <= 0 {
		t.Fatalf("times missing: %+v", r)
	}
	if r.FrameworkAllocsPerTurn <= 0 || r.RawHTTPAllocsPerTurn <= 0 {
		t.Fatalf("allocations missing: %+v", r)
	}
}

func TestConcurrency_AllRunsFinishInEitherPlacement(t *testing.T) {
	t.Setenv(childEnv, "1") // the child inherits it; this process checked it in TestMain already
	r, err := bench.Concurrency(context.Background(), bench.ConcurrencyConfig{Runs: 30, Latency: 20 * time.Millisecond,
		ChildEmulator: []string{os.Args[0]}, InProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Phases) != 2 || r.Phases[0].Emulator != "child" || r.Phases[1].Emulator != "in-process" {
		t.Fatalf("phases %+v", r.Phases)
	}
	for _, p := range r.Phases {
		if p.FailedRuns != 0 || p.CompletedRuns != 30 {
			t.Fatalf("%s: %d completed, %d failed (%s)", p.Emulator, p.CompletedRuns, p.FailedRuns, p.FirstError)
		}
		if p.Requests != 30*4 {
			t.Fatalf("%s: %d requests, want 120", p.Emulator, p.Requests)
		}
		if p.PeakRSSMB <= 0 || p.PeakGoroutines <= 1 || p.PeakInFlight < 1 || p.PeakInFlight > 30 {
			t.Fatalf("%s: samples missing: %+v", p.Emulator, p)
		}
	}
	if r.Phases[0].ChildPeakMB <= 0 {
		t.Fatalf("child emulator's memory not read: %+v", r.Phases[0])
	}
}

func TestCache_ARerunCostsNothingOnEveryStore(t *testing.T) {
	stores := []string{"memory", "sqlite"}
	if _, err := exec.LookPath("redis-server"); err == nil {
		stores = append(stores, "redis")
	} else if strings.EqualFold(os.Getenv("CI"), "true") {
		t.Fatal("redis-server not on PATH")
	} else {
		t.Log("redis-server not on PATH: redis store not measured")
	}
	r, err := bench.Cache(context.Background(), bench.CacheConfig{Stores: stores, Reruns: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Stores) != len(stores) {
		t.Fatalf("%d store reports, want %d", len(r.Stores), len(stores))
	}
	for i, s := range r.Stores {
		if s.Store != stores[i] {
			t.Fatalf("store %d is %q, want %q", i, s.Store, stores[i])
		}
		if s.ColdTokens == 0 || s.ColdCostUSD <= 0 || s.ColdTurns == 0 {
			t.Fatalf("%s: cold run paid nothing: %+v", s.Store, s)
		}
		if s.RerunTokens != 0 || s.RerunCostUSD != 0 || s.RerunServiceRequests != 0 || s.StoreErrors != 0 {
			t.Fatalf("%s: rerun was not free: %+v", s.Store, s)
		}
		if s.CachedTurns != 3*s.ColdTurns || s.MsPerCachedTurn <= 0 {
			t.Fatalf("%s: %d cached turns over 3 reruns of %d, %v ms each", s.Store, s.CachedTurns, s.ColdTurns, s.MsPerCachedTurn)
		}
	}
}

func TestCache_RejectsAnUnknownStoreAndABadRedisURL(t *testing.T) {
	for name, cfg := range map[string]bench.CacheConfig{
		"unknown store": {Stores: []string{"etcd"}},
		"bad redis url": {Stores: []string{"redis"}, RedisURL: "not an address"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := bench.Cache(context.Background(), cfg); !errors.Is(err, bench.ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
}

// benchTurns runs one team run (or a replay of its requests, as run picks)
// per iteration and reports the time and allocations per model call.
func benchTurns(b *testing.B, run func(*bench.Harness) func(context.Context) (int, error)) {
	ctx := context.Background()
	h, err := bench.NewHarness(ctx, desk.RoundRobin)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	f := run(h)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	turns := 0
	b.ReportAllocs()
	for b.Loop() {
		n, err := f(ctx)
		if err != nil {
			b.Fatal(err)
		}
		turns += n
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(turns), "ns/turn")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(turns), "allocs/turn")
}

// BenchmarkTurn_Framework is a round-robin run through the whole pipeline
// against the zero-latency emulator; one op is one run of 4 turns.
func BenchmarkTurn_Framework(b *testing.B) {
	benchTurns(b, func(h *bench.Harness) func(context.Context) (int, error) { return h.FrameworkRun })
}

// BenchmarkTurn_RawHTTP replays the same run's requests as bare net/http
// calls; one op is the same 4 calls.
func BenchmarkTurn_RawHTTP(b *testing.B) {
	benchTurns(b, func(h *bench.Harness) func(context.Context) (int, error) { return h.RawRun })
}
