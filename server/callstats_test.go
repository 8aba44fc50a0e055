package server

import (
	"context"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/provider"
)

func TestCallStats_Observe(t *testing.T) {
	t.Parallel()
	var c CallStats
	q := Quota{RPM: 1000, TPM: 150000}
	if got := c.Quota(q); got != q {
		t.Errorf("Quota before any call = %+v, want %+v unchanged", got, q)
	}
	c.Observe(0, time.Second)      // no tokens: ignored
	c.Observe(100, 0)              // no duration: ignored
	c.Observe(2000, 4*time.Second) // the first call sets the averages
	if got := c.Quota(q); got.CallTokens != 2000 || got.CallLatency != 4*time.Second || c.Calls() != 1 {
		t.Errorf("after one call: %+v, %d calls; want 2000 tokens, 4s, 1 call", got, c.Calls())
	}
	c.Observe(1000, 9*time.Second) // moves a fifth of the way
	if got := c.Quota(q); got.CallTokens != 1800 || got.CallLatency != 5*time.Second || got.RPM != 1000 || got.TPM != 150000 {
		t.Errorf("after two calls: %+v; want 1800 tokens, 5s, the quota kept", got)
	}
	for range 50 {
		c.Observe(500, time.Second)
	}
	if got := c.Quota(q); got.CallTokens != 500 || got.CallLatency.Round(10*time.Millisecond) != time.Second {
		t.Errorf("after many small fast calls: %+v; want about 500 tokens and 1s", got)
	}
}

// TestCallStats_Middleware measures calls to the emulator answering after
// 200 ms: their duration and their tokens; calls answered from a cache and
// failed calls are not counted.
func TestCallStats_Middleware(t *testing.T) {
	t.Parallel()
	emu, err := emulator.Start(emulator.Config{Latency: emulator.Latency{TimeToFirstToken: 200 * time.Millisecond}}, emulator.Options{})
	if err != nil {
		t.Fatalf("emulator.Start: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	pc, err := provider.New(provider.Config{Kind: provider.KindAzure, Endpoint: emu.URL, Deployment: "gpt-4o", DeploymentModel: emulator.DefaultModelName, APIKey: "test-key"})
	if err != nil {
		t.Fatal(err)
	}
	var c CallStats
	client := c.Middleware()(pc)
	resp, err := client.Complete(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "Harbour reopens after storm repairs."}}})
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	q := c.Quota(Quota{})
	if c.Calls() != 1 || q.CallTokens != resp.Usage.TotalTokens() || q.CallLatency < 200*time.Millisecond {
		t.Errorf("after one call of %d tokens: %d calls, %+v; want 1 call of those tokens taking at least 200ms",
			resp.Usage.TotalTokens(), c.Calls(), q)
	}

	cached := c.Middleware()(model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		return &model.Response{Content: "x", Usage: model.Usage{PromptTokens: 10, CompletionTokens: 90000, CachedResponses: 1}}, nil
	}))
	if _, err := cached.Complete(context.Background(), &model.Request{}); err != nil {
		t.Fatal(err)
	}
	failing := c.Middleware()(model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		return nil, &model.Error{StatusCode: 500}
	}))
	if _, err := failing.Complete(context.Background(), &model.Request{}); err == nil {
		t.Fatal("the failing client succeeded")
	}
	if c.Calls() != 1 {
		t.Errorf("%d calls counted, want 1: a cached answer and a failure do not count", c.Calls())
	}
}

// TestServer_WorkersFollowObservedCalls: with Workers 0 and CallStats, the
// runs executing at once follow the observed calls. Small fast calls size
// it to the floor: with every model call held, four runs of six execute and
// two wait; slow calls observed then raise the limit and the waiting runs
// start without anything else happening.
func TestServer_WorkersFollowObservedCalls(t *testing.T) {
	t.Parallel()
	calls := &CallStats{}
	calls.Observe(500, 500*time.Millisecond) // 300 calls/min x 0.5 s: the floor
	quota := Quota{RPM: 1000, TPM: 150000}
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1, Quota: quota, Calls: calls},
		wrap: func(c model.Client) model.Client { return calls.Middleware()(c) }})
	if got, want := e.srv.workerLimit(), MinWorkers; got != want {
		t.Fatalf("workerLimit after small fast calls = %d, want %d", got, want)
	}
	e.client.holdFrom(1)
	var ids []string
	for i := range 6 {
		v := e.create(e.user, `{"task":"Harbour number `+string(rune('1'+i))+` reopens after storm repairs.","team":"selector","max_messages":2}`)
		ids = append(ids, v.ID)
	}
	for range MinWorkers {
		<-e.client.waiting
	}
	if n, q := e.srv.Running(), e.srv.QueueDepth(); n != MinWorkers || q != 2 {
		t.Fatalf("with the limit at %d: %d runs executing, %d queued; want %d and 2", MinWorkers, n, q, MinWorkers)
	}
	e.srv.mu.Lock()
	for i, id := range ids {
		if executing := e.srv.active[id] != nil; executing != (i < MinWorkers) {
			t.Errorf("run %d of 6 executing: %v; want the first %d submitted executing, the rest queued", i+1, executing, MinWorkers)
		}
	}
	e.srv.mu.Unlock()
	for range 30 {
		calls.Observe(1000, 20*time.Second) // 150 calls/min x 20 s: 50
	}
	if got := e.srv.workerLimit(); got < 6 {
		t.Fatalf("workerLimit after slow calls = %d, want at least 6", got)
	}
	for range 2 {
		<-e.client.waiting // the two waiting runs started
	}
	if n := e.srv.Running(); n != 6 {
		t.Errorf("after the limit grew: %d runs executing, want 6", n)
	}
	before := calls.Calls()
	e.client.release()
	for _, id := range ids {
		if v := e.waitFinished(e.user, id); v.Status != "succeeded" {
			t.Errorf("run %s: %s %s", id, v.Status, v.Error)
		}
	}
	if calls.Calls() <= before {
		t.Errorf("the runs' model calls were not observed (%d calls before, %d after)", before, calls.Calls())
	}
}
