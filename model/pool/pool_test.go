package pool_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/pool"
)

func TestMain(m *testing.M) {
	emutest.RunChildIfAsked()
	os.Exit(m.Run())
}

// regions are two emulator processes, a primary and a secondary region,
// shared by the tests of this file (which therefore run one at a time).
var regions struct {
	once               sync.Once
	primary, secondary *emutest.Process
	mu                 sync.Mutex
}

func twoRegions(t *testing.T) (primary, secondary *emutest.Process) {
	t.Helper()
	regions.mu.Lock()
	t.Cleanup(regions.mu.Unlock)
	regions.once.Do(func() {
		// The processes live as long as the test binary: a cleanup of the
		// first test would stop them for the others.
		regions.primary = emutest.StartProcess(&keepAlive{T: t}, emutest.ChildConfig{})
		regions.secondary = emutest.StartProcess(&keepAlive{T: t}, emutest.ChildConfig{})
	})
	if regions.primary == nil {
		t.Fatal("the emulator processes did not start")
	}
	t.Cleanup(func() {
		regions.primary.Force(t, emulator.ForcedFault{})
		regions.secondary.Force(t, emulator.ForcedFault{})
	})
	return regions.primary, regions.secondary
}

// keepAlive is a testing.TB whose cleanups never run.
type keepAlive struct{ *testing.T }

func (keepAlive) Cleanup(func()) {}

func file(t *testing.T, primary, secondary *emutest.Process, primaryExtra string) *pool.File {
	t.Helper()
	y := fmt.Sprintf(`deployments:
  - name: primary
    endpoint: %s
    deployment: gpt-4o
    api_key_env: EMU_KEY
    priority: 1
%s  - name: secondary
    endpoint: %s
    deployment: gpt-4o
    api_key_env: EMU_KEY
    priority: 2
`, primary.URL, primaryExtra, secondary.URL)
	f, err := pool.Parse("test.yaml", []byte(y), env(map[string]string{"EMU_KEY": emutest.Key}))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func build(t *testing.T, f *pool.File, cfg pool.Config) *pool.Built {
	t.Helper()
	b, err := pool.Build(f, pool.BuildOptions{Pool: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func request(task string) *model.Request {
	return &model.Request{MaxTokens: 200, Messages: []model.Message{
		{Role: model.RoleSystem, Content: "You are a news reporter."},
		{Role: model.RoleUser, Content: task}}}
}

func mustAnswer(t *testing.T, c model.Client, req *model.Request) *model.Response {
	t.Helper()
	resp, err := c.Complete(t.Context(), req)
	if err != nil {
		t.Fatalf("call failed: %v", err)
	}
	return resp
}

// leaves records a pool's OnLeave calls as "from:reason".
type leaves struct {
	mu  sync.Mutex
	got []string
}

func (l *leaves) record(_ context.Context, from, reason string) {
	l.mu.Lock()
	l.got = append(l.got, from+":"+reason)
	l.mu.Unlock()
}

func (l *leaves) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.got, " ")
}

func TestPool_spillsOverWhenTheWindowIsFull(t *testing.T) {
	primary, secondary := twoRegions(t)
	var left leaves
	p := build(t, file(t, primary, secondary, "    rpm: 2\n"), pool.Config{OnLeave: left.record})
	var got []string
	for i := range 4 {
		got = append(got, mustAnswer(t, p, request(fmt.Sprintf("Facts: call %d.", i))).Deployment)
	}
	want := "primary primary secondary secondary"
	if strings.Join(got, " ") != want {
		t.Errorf("answered by %v, want %s: the primary's window holds 2 requests a minute", got, want)
	}
	if st := p.Limiter.Stats("primary"); st.Waiting != 0 {
		t.Errorf("%d calls wait for the primary: spill-over must not queue", st.Waiting)
	}
	if got := left.String(); got != "primary:spill_over primary:spill_over" {
		t.Errorf("leaves %q, want two spill-overs from the primary", got)
	}
}

func TestPool_failsOver(t *testing.T) {
	cases := []struct {
		name   string
		fault  emulator.ForcedFault
		reason string
	}{
		{"on a 503", emulator.ForcedFault{Fault: emulator.Fault503}, pool.ReasonServerError},
		{"on a 500", emulator.ForcedFault{Fault: emulator.Fault500}, pool.ReasonServerError},
		{"on a 429 asking for more than 10 s", emulator.ForcedFault{Fault: emulator.Fault429, RetryAfterMS: 20000}, pool.ReasonThrottled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			primary, secondary := twoRegions(t)
			var failovers []string
			var left leaves
			p := build(t, file(t, primary, secondary, ""), pool.Config{OnFailover: func(from string, err error) {
				failovers = append(failovers, from)
			}, OnLeave: left.record})
			primary.Force(t, tc.fault)
			resp := mustAnswer(t, p, request("Facts: the harbour library opens on Saturday."))
			if resp.Deployment != "secondary" || resp.Content == "" {
				t.Errorf("answered by %q with %d bytes, want the secondary", resp.Deployment, len(resp.Content))
			}
			if len(failovers) != 1 || failovers[0] != "primary" {
				t.Errorf("failovers %v, want one from the primary", failovers)
			}
			if got := left.String(); got != "primary:"+tc.reason {
				t.Errorf("leaves %q, want primary:%s", got, tc.reason)
			}
		})
	}

	t.Run("not on a 429 asking for a short wait", func(t *testing.T) {
		primary, secondary := twoRegions(t)
		p := build(t, file(t, primary, secondary, ""), pool.Config{})
		primary.Force(t, emulator.ForcedFault{Fault: emulator.Fault429, RetryAfterMS: 2000})
		_, err := p.Complete(t.Context(), request("Facts: a short throttle."))
		var me *model.Error
		if !errors.As(err, &me) || me.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("error %v, want the primary's 429 for the retry middleware to wait on", err)
		}
		// The limiter paused the primary: the next call spills over.
		if got := mustAnswer(t, p, request("Facts: the next call.")).Deployment; got != "secondary" {
			t.Errorf("the next call went to %q, want the secondary while the primary is paused", got)
		}
	})

	t.Run("on a 429 longer than the call's remaining deadline", func(t *testing.T) {
		primary, secondary := twoRegions(t)
		p := build(t, file(t, primary, secondary, ""), pool.Config{})
		primary.Force(t, emulator.ForcedFault{Fault: emulator.Fault429, RetryAfterMS: 5000})
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		resp, err := p.Complete(ctx, request("Facts: a deadline."))
		if err != nil || resp.Deployment != "secondary" {
			t.Fatalf("answer %v, error %v: want the secondary", resp, err)
		}
	})

	t.Run("on a stall", func(t *testing.T) {
		primary, secondary := twoRegions(t)
		var left leaves
		p := build(t, file(t, primary, secondary, ""), pool.Config{StallTimeout: 300 * time.Millisecond, OnLeave: left.record})
		primary.Force(t, emulator.ForcedFault{Fault: emulator.FaultStall, StallMS: 20000})
		req := request("Facts: the primary stalls.")
		req.OnDelta = func(model.Delta) {}
		start := time.Now()
		resp := mustAnswer(t, p, req)
		if resp.Deployment != "secondary" {
			t.Errorf("answered by %q, want the secondary", resp.Deployment)
		}
		if time.Since(start) >= 20*time.Second {
			t.Error("the call waited out the stall")
		}
		if got := left.String(); got != "primary:timeout" {
			t.Errorf("leaves %q, want primary:timeout", got)
		}
	})

	t.Run("on an answer slower than the attempt timeout (not streamed)", func(t *testing.T) {
		primary, secondary := twoRegions(t)
		var left leaves
		p := build(t, file(t, primary, secondary, ""), pool.Config{AttemptTimeout: 300 * time.Millisecond, OnLeave: left.record})
		primary.Force(t, emulator.ForcedFault{Fault: emulator.FaultStall, StallMS: 20000})
		start := time.Now()
		resp := mustAnswer(t, p, request("Facts: the primary answers too slowly."))
		if resp.Deployment != "secondary" || resp.Content == "" {
			t.Errorf("answered by %q with %d bytes, want the secondary", resp.Deployment, len(resp.Content))
		}
		if time.Since(start) >= 20*time.Second {
			t.Error("the call waited out the slow answer")
		}
		if got := left.String(); got != "primary:timeout" {
			t.Errorf("leaves %q, want primary:timeout", got)
		}
	})

	t.Run("when the primary's process is gone", func(t *testing.T) {
		// A dead endpoint: a port nothing listens on (connection refused).
		_, secondary := twoRegions(t)
		dead := &emutest.Process{URL: "http://127.0.0.1:1"}
		var left leaves
		p := build(t, file(t, dead, secondary, ""), pool.Config{OnLeave: left.record})
		if got := mustAnswer(t, p, request("Facts: the region is down.")).Deployment; got != "secondary" {
			t.Errorf("answered by %q, want the secondary", got)
		}
		if got := left.String(); got != "primary:connection" {
			t.Errorf("leaves %q, want primary:connection", got)
		}
	})
}

func TestPool_streamCutMovesToTheSecondary(t *testing.T) {
	primary, secondary := twoRegions(t)
	p := build(t, file(t, primary, secondary, ""), pool.Config{})
	primary.Force(t, emulator.ForcedFault{Fault: emulator.FaultCut})
	var text strings.Builder
	restarts, beforeRestart := 0, 0
	req := request("Facts: The council approved 2.1 million dollars for a bike lane on Main Street on Tuesday.")
	req.OnDelta = func(d model.Delta) {
		if d.Restart {
			restarts++
			beforeRestart = text.Len()
			text.Reset()
			return
		}
		text.WriteString(d.Text)
	}
	resp := mustAnswer(t, p, req)
	if resp.Deployment != "secondary" {
		t.Fatalf("answered by %q, want the secondary", resp.Deployment)
	}
	if restarts != 1 || beforeRestart == 0 {
		t.Errorf("%d restarts after %d bytes of the cut stream, want 1 after some text", restarts, beforeRestart)
	}
	if text.String() != resp.Content || resp.Content == "" {
		t.Errorf("the consumer holds %q, the answer is %q: the cut text must be dropped", text.String(), resp.Content)
	}
}

func TestPool_breakerOpensAndReturnsToThePrimary(t *testing.T) {
	primary, secondary := twoRegions(t)
	var mu sync.Mutex
	var changes []string
	var left leaves
	p := build(t, file(t, primary, secondary, ""), pool.Config{FailureThreshold: 2, CoolDown: 200 * time.Millisecond, OnLeave: left.record,
		OnStateChange: func(name, from, to string) {
			mu.Lock()
			changes = append(changes, name+":"+to)
			mu.Unlock()
		}})
	primary.Force(t, emulator.ForcedFault{Fault: emulator.Fault503})
	for i := range 3 {
		if got := mustAnswer(t, p, request(fmt.Sprintf("Facts: outage call %d.", i))).Deployment; got != "secondary" {
			t.Fatalf("call %d answered by %q during the outage", i, got)
		}
	}
	st := p.Stats()
	if st[0].Name != "primary" || st[0].State != "open" || st[0].Failed != 2 {
		t.Fatalf("primary %+v: want its breaker open after 2 failures, and the third call kept away from it", st[0])
	}
	if got := left.String(); got != "primary:server_error primary:server_error primary:circuit_open" {
		t.Errorf("leaves %q, want two server errors, then the open breaker", got)
	}

	primary.Force(t, emulator.ForcedFault{})
	// After the cool-down one probe goes to the primary; when it answers,
	// traffic is back. Bounded polling, no fixed sleep.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := mustAnswer(t, p, request("Facts: after the outage."))
		if resp.Deployment == "primary" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("traffic did not return to the primary within 10s of its recovery")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := p.Stats(); st[0].State != "closed" {
		t.Errorf("primary breaker %q after the probe answered, want closed", st[0].State)
	}
	if got := mustAnswer(t, p, request("Facts: steady again.")).Deployment; got != "primary" {
		t.Errorf("the next call went to %q, want the primary", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(changes, " ") != "primary:open primary:half-open primary:closed" {
		t.Errorf("breaker changes %v", changes)
	}
}

func TestPool_weightsShareEqualPriorities(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	counts := map[string]int{}
	member := func(name string, weight int) pool.Member {
		return pool.Member{Name: name, Weight: weight, Client: model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
			mu.Lock()
			counts[name]++
			mu.Unlock()
			return &model.Response{Content: "ok"}, nil
		})}
	}
	r := rand.New(rand.NewPCG(1, 2))
	var rmu sync.Mutex
	p, err := pool.New(pool.Config{Members: []pool.Member{member("a", 3), member("b", 1)},
		Rand: func() float64 { rmu.Lock(); defer rmu.Unlock(); return r.Float64() }})
	if err != nil {
		t.Fatal(err)
	}
	for range 4000 {
		if _, err := p.Complete(t.Context(), &model.Request{}); err != nil {
			t.Fatal(err)
		}
	}
	if share := float64(counts["a"]) / 4000; share < 0.72 || share > 0.78 {
		t.Errorf("a answered %.3f of the calls, want about 0.75 (weights 3:1)", share)
	}
}

func TestPool_unavailableWhenEveryBreakerIsOpen(t *testing.T) {
	t.Parallel()
	down := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		return nil, &model.Error{StatusCode: http.StatusServiceUnavailable, Message: "down"}
	})
	p, err := pool.New(pool.Config{FailureThreshold: 1, CoolDown: time.Minute,
		Members: []pool.Member{{Name: "a", Client: down}, {Name: "b", Client: down, Priority: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Complete(t.Context(), &model.Request{})
	var me *model.Error
	if !errors.As(err, &me) || me.StatusCode != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "deployment b") {
		t.Fatalf("first call: %v, want b's 503 after a's", err)
	}
	_, err = p.Complete(t.Context(), &model.Request{})
	if !errors.As(err, &me) || me.Code != "pool_unavailable" || me.RetryAfter <= 0 || me.RetryAfter > time.Minute {
		t.Fatalf("with both breakers open: %v (retry after %v), want pool_unavailable with the cool-down left", err, me.RetryAfter)
	}
}
