package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/newsroom-dev/newsroom/internal/proc"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/httpx"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/team"
)

// ConcurrencyConfig configures the concurrency benchmark.
type ConcurrencyConfig struct {
	// Runs are started at once; 0 means 1000.
	Runs int
	// Latency is the emulator's time to first token; 0 means 2s.
	Latency time.Duration
	// Team is desk.RoundRobin (default) or desk.Selector.
	Team string
	// ChildEmulator, when set, is the command of a `newsroom emulator`
	// (e.g. {"/path/newsroom", "emulator"}): a phase runs with the emulator
	// in that child process, so this process's memory is the client's alone.
	ChildEmulator []string
	// InProcess adds (or, without ChildEmulator, is) a phase with the
	// emulator in this process.
	InProcess bool
	// MemoryLimit, when positive, is this process's soft memory limit
	// (runtime/debug.SetMemoryLimit, like GOMEMLIMIT) during the phases;
	// the child emulator keeps the runtime's default.
	MemoryLimit int64
	// MemProfile, when set, receives a heap profile (runtime/pprof) of
	// this process taken at its peak RSS in the first phase: in-use
	// figures are those of the last GC before the peak, allocation figures
	// cumulative from the process's start. Taking it perturbs the peak
	// slightly; use it to find causes, not for the reported numbers.
	MemProfile io.Writer
}

// ConcurrencyReport is the concurrency benchmark's result, one phase per
// emulator placement.
type ConcurrencyReport struct {
	Benchmark string  `json:"benchmark"`
	Team      string  `json:"team"`
	Runs      int     `json:"runs"`
	LatencyMs float64 `json:"latency_ms"`
	// MemoryLimitMB is the soft memory limit the client ran with; 0 means
	// the Go runtime's default (none, GOGC=100).
	MemoryLimitMB float64            `json:"memory_limit_mb"`
	Phases        []ConcurrencyPhase `json:"phases"`
}

// ConcurrencyPhase is one measurement.
type ConcurrencyPhase struct {
	// Emulator is "child" (measured process = client only) or "in-process"
	// (client and emulator together).
	Emulator string `json:"emulator"`
	// PeakRSSMB is the highest VmRSS sampled every 20ms; PeakHWMMB the
	// kernel's VmHWM at the end (reset at the phase's start when the kernel
	// allows, else the process's lifetime peak).
	PeakRSSMB      float64 `json:"peak_rss_mb"`
	PeakHWMMB      float64 `json:"peak_hwm_mb"`
	HWMWasReset    bool    `json:"hwm_was_reset"`
	ChildPeakMB    float64 `json:"child_emulator_peak_rss_mb,omitempty"`
	PeakGoroutines int     `json:"peak_goroutines"`
	PeakInFlight   int     `json:"peak_runs_in_flight"`
	CompletedRuns  int     `json:"completed_runs"`
	FailedRuns     int     `json:"failed_runs"`
	Requests       int     `json:"requests"`
	WallS          float64 `json:"wall_s"`
	// RSSGoalMB is the goal the client's peak RSS is compared against.
	RSSGoalMB  float64 `json:"rss_goal_mb"`
	GoalMet    bool    `json:"goal_met"`
	FirstError string  `json:"first_error,omitempty"`
}

const rssGoalMB = 150

// Concurrency starts cfg.Runs runs at once against an emulator whose time
// to first token is cfg.Latency, with no quota, and measures peak memory
// and goroutines until they have all finished.
func Concurrency(ctx context.Context, cfg ConcurrencyConfig) (*ConcurrencyReport, error) {
	if cfg.Runs < 0 || cfg.Latency < 0 {
		return nil, fmt.Errorf("%w: runs and latency must not be negative", ErrConfig)
	}
	if cfg.Runs == 0 {
		cfg.Runs = 1000
	}
	if cfg.Latency == 0 {
		cfg.Latency = 2 * time.Second
	}
	teamName, err := checkTeam(cfg.Team)
	if err != nil {
		return nil, err
	}
	if len(cfg.ChildEmulator) == 0 && !cfg.InProcess {
		cfg.InProcess = true
	}
	r := &ConcurrencyReport{Benchmark: "concurrency", Team: teamName, Runs: cfg.Runs,
		LatencyMs: float64(cfg.Latency.Milliseconds())}
	if cfg.MemoryLimit > 0 {
		old := debug.SetMemoryLimit(cfg.MemoryLimit)
		defer debug.SetMemoryLimit(old)
		r.MemoryLimitMB = mb(cfg.MemoryLimit / 1024)
	}
	// The child phase first: the in-process phase's memory would otherwise
	// stay in the measured process's peak.
	if len(cfg.ChildEmulator) > 0 {
		ph, err := childPhase(ctx, cfg, teamName)
		if err != nil {
			return nil, err
		}
		r.Phases = append(r.Phases, *ph)
		cfg.MemProfile = nil // the first phase only
	}
	if cfg.InProcess {
		em, err := emulator.Start(emulator.Config{APIKey: apiKey, MaxRecorded: -1,
			Latency: emulator.Latency{TimeToFirstToken: cfg.Latency}}, emulator.Options{})
		if err != nil {
			return nil, err
		}
		ph, err := concurrencyPhase(ctx, cfg, teamName, em.URL, "in-process", 0)
		em.Close()
		if err != nil {
			return nil, err
		}
		r.Phases = append(r.Phases, *ph)
	}
	return r, nil
}

func childPhase(ctx context.Context, cfg ConcurrencyConfig, teamName string) (*ConcurrencyPhase, error) {
	args := append(append([]string(nil), cfg.ChildEmulator[1:]...),
		"--addr", "127.0.0.1:0", "--api-key", apiKey, "--ttft", cfg.Latency.String())
	cmd := exec.Command(cfg.ChildEmulator[0], args...)
	// The emulator runs with the runtime's defaults whatever this
	// process was tuned with.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "GOGC=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := proc.Start(cmd); err != nil {
		return nil, fmt.Errorf("bench: starting the child emulator: %w", err)
	}
	defer proc.Stop(cmd, 5*time.Second)
	url, err := readEmulatorURL(out, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return concurrencyPhase(ctx, cfg, teamName, url, "child", cmd.Process.Pid)
}

// readEmulatorURL reads `newsroom emulator`'s banner for the URL it serves
// on, then keeps draining its output.
func readEmulatorURL(r io.Reader, timeout time.Duration) (string, error) {
	found := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(r)
		sent := false
		for s.Scan() {
			line := s.Text()
			if i := strings.Index(line, "http://"); !sent && i >= 0 && strings.Contains(line, "serving") {
				found <- strings.TrimSpace(line[i:])
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case url, ok := <-found:
		if !ok {
			return "", fmt.Errorf("bench: the child emulator exited without serving")
		}
		return url, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("bench: the child emulator did not start within %v", timeout)
	}
}

func concurrencyPhase(ctx context.Context, cfg ConcurrencyConfig, teamName, url, where string, childPid int) (*ConcurrencyPhase, error) {
	hc := httpx.NewClient(httpx.Options{MaxIdleConns: cfg.Runs + 16, MaxIdleConnsPerHost: cfg.Runs + 16})
	defer hc.CloseIdleConnections()
	var requests atomic.Int64
	p, err := newStack(stackConfig{url: url, httpClient: hc,
		quota:  ratelimit.LimiterConfig{RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 30},
		bottom: countCalls(&requests)})
	if err != nil {
		return nil, err
	}
	runtime.GC()
	ph := &ConcurrencyPhase{Emulator: where, RSSGoalMB: rssGoalMB}
	ph.HWMWasReset = resetPeakRSS(0)
	if childPid > 0 {
		resetPeakRSS(childPid)
	}
	var peakRSS, profiledRSS int64
	var profile bytes.Buffer
	var inFlight atomic.Int64
	s := sample(20*time.Millisecond, func() {
		rss, _ := procStatus(0)
		peakRSS = max(peakRSS, rss)
		if cfg.MemProfile != nil && rss > profiledRSS+2048 {
			// A new peak (by 2 MB or more): keep this profile.
			profiledRSS = rss
			profile.Reset()
			_ = pprof.Lookup("heap").WriteTo(&profile, 0)
		}
		ph.PeakGoroutines = max(ph.PeakGoroutines, runtime.NumGoroutine())
		ph.PeakInFlight = max(ph.PeakInFlight, int(inFlight.Load()))
	})
	start := time.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for i := range cfg.Runs {
		wg.Add(1)
		inFlight.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			tm, err := desk.New(desk.Config{Team: teamName, Client: p})
			if err == nil {
				_, err = team.Run(ctx, tm, Tasks[i%len(Tasks)], team.WithStreaming(true))
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ph.FailedRuns++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			ph.CompletedRuns++
		}()
	}
	wg.Wait()
	ph.WallS = round2(time.Since(start).Seconds())
	s.Stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, hwm := procStatus(0)
	ph.PeakRSSMB, ph.PeakHWMMB = mb(peakRSS), mb(hwm)
	if childPid > 0 {
		_, childHWM := procStatus(childPid)
		ph.ChildPeakMB = mb(childHWM)
	}
	ph.Requests = int(requests.Load())
	if cfg.MemProfile != nil && profile.Len() > 0 {
		if _, err := cfg.MemProfile.Write(profile.Bytes()); err != nil {
			return nil, fmt.Errorf("bench: writing the heap profile: %w", err)
		}
	}
	ph.GoalMet = max(ph.PeakRSSMB, ph.PeakHWMMB) <= rssGoalMB
	if firstErr != nil {
		ph.FirstError = firstErr.Error()
	}
	return ph, nil
}
