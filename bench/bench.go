// Package bench measures the model pipeline against the in-process emulator:
// how much of a quota the limiter uses without 429s (Quota), the framework's
// time and allocations per agent turn next to a bare HTTP call (Overhead),
// memory and goroutines with many runs in flight (Concurrency), and what a
// cached rerun costs (Cache). ClusterBench starts real `newsroom serve`
// processes on one PostgreSQL instead: events followed on another instance,
// kill -9 takeovers, faults, one quota shared by N instances. Each benchmark
// returns a report that the `newsroom bench` command prints as JSON.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/model/retry"
	"github.com/newsroom-dev/newsroom/modelstack"
)

// Deployment is the deployment name every benchmark sends to the emulator.
const Deployment = "gpt-5"

// apiKey is the emulator's key in the benchmarks (a loopback test value).
const apiKey = "bench-key"

// ErrConfig is matched by errors in a benchmark's configuration.
var ErrConfig = errors.New("bench: invalid configuration")

// Tasks are the newsroom tasks the benchmarks cycle through.
var Tasks = []string{
	"Facts: The city council approved a new bike lane on Main Street on Tuesday. Construction starts in March and costs 2.1 million dollars.",
	"Facts: The regional library will open on Sundays from next month. The board said the change costs 180,000 dollars a year, paid by a state grant.",
	"Facts: A storm cut power to 12,000 homes on Friday night. The utility said most customers were reconnected by Saturday noon.",
	"Facts: The high school robotics team won the state championship on Saturday. The team of 14 students built a robot that sorts recycling.",
}

// checkTeam validates a team selector.
func checkTeam(t string) (string, error) {
	switch t {
	case "":
		return desk.RoundRobin, nil
	case desk.RoundRobin, desk.Selector:
		return t, nil
	}
	return "", fmt.Errorf("%w: unknown team %q (want %s or %s)", ErrConfig, t, desk.RoundRobin, desk.Selector)
}

// stackConfig says how to build a pipeline to an emulator.
type stackConfig struct {
	url        string
	httpClient *http.Client
	limiterOff bool
	quota      ratelimit.LimiterConfig
	retry      retry.Config
	cache      cache.Config
	// bottom wraps the provider (below the limiter): the benchmarks' meter.
	bottom model.Middleware
	// similarity turns the stack's similarity cache on at this threshold
	// (a memory index, the embeddings deployment embeddingsDeployment on
	// the same emulator); similar adjusts it.
	similarity float64
	similar    modelstack.SimilarOptions
	// pool, when it names deployments, makes the stack a pool of them in
	// place of the one emulator at url.
	pool modelstack.PoolOptions
}

// newStack builds the production stack over a provider to the emulator,
// through modelstack like run and serve: only the benchmark's knobs differ.
func newStack(sc stackConfig) (model.Client, error) {
	var lim *ratelimit.Limiter
	if !sc.limiterOff {
		lim = ratelimit.NewLimiter(sc.quota)
	}
	cfg := &config.Config{RPM: sc.quota.RequestsPerMinute, TPM: sc.quota.TokensPerMinute,
		Model: config.Model{Kind: config.KindAzure, Endpoint: sc.url, Deployment: Deployment,
			Model: emulator.DefaultModelName, APIKey: config.Secret(apiKey)}}
	if sc.similarity > 0 {
		cfg.Cache, cfg.CacheSimilarity, cfg.EmbeddingsDeployment = config.CacheMemory, sc.similarity, embeddingsDeployment
	}
	cc := sc.cache
	st, err := modelstack.Build(context.Background(), modelstack.Options{Config: cfg, HTTPClient: sc.httpClient,
		Limiter: lim, LimiterOff: sc.limiterOff, Retry: sc.retry, Cache: &cc, Bottom: sc.bottom, Similar: sc.similar, Pool: sc.pool})
	if err != nil {
		return nil, err
	}
	return st.Root(), nil
}

// procStatus reads fields in kB (VmRSS, VmHWM) from /proc/PID/status; pid 0
// is this process. Missing fields are 0.
func procStatus(pid int) (rssKB, hwmKB int64) {
	path := "/proc/self/status"
	if pid > 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rssKB = n
		case "VmHWM":
			hwmKB = n
		}
	}
	return rssKB, hwmKB
}

// resetPeakRSS resets the kernel's VmHWM of a process (Linux 4.0+), so a
// phase's peak is its own; it reports whether that worked.
func resetPeakRSS(pid int) bool {
	path := "/proc/self/clear_refs"
	if pid > 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/clear_refs"
	}
	return os.WriteFile(path, []byte("5"), 0) == nil
}

// mb converts kB to MB with one decimal.
func mb(kb int64) float64 { return round1(float64(kb) / 1024) }

func round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }
func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }

// sampler polls a function until stopped.
type sampler struct {
	stop chan struct{}
	done sync.WaitGroup
}

func sample(every time.Duration, f func()) *sampler {
	s := &sampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			f()
			select {
			case <-s.stop:
				f()
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) Stop() { close(s.stop); s.done.Wait() }

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// countCalls is a middleware that counts the calls reaching the provider.
func countCalls(n *atomic.Int64) model.Middleware {
	return func(next model.Client) model.Client {
		return model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
			n.Add(1)
			return next.Complete(ctx, req)
		})
	}
}
