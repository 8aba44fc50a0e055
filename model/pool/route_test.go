package pool_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/pool"
)

// namedPools is a deployments file with the default pool (primary, then
// secondary), a pool "fast" (fast-east on the primary's process, then
// fast-west on the secondary's) and a pool "solo" of one deployment on the
// secondary's process.
func namedPools(t *testing.T, primary, secondary *emutest.Process) *pool.File {
	t.Helper()
	entry := func(name string, p *emutest.Process, priority int, poolName string) string {
		s := fmt.Sprintf("  - name: %s\n    endpoint: %s\n    deployment: gpt-4o\n    api_key_env: EMU_KEY\n    priority: %d\n", name, p.URL, priority)
		if poolName != "" {
			s += "    pool: " + poolName + "\n"
		}
		return s
	}
	y := "deployments:\n" + entry("primary", primary, 1, "") + entry("secondary", secondary, 2, "") +
		entry("fast-east", primary, 1, "fast") + entry("fast-west", secondary, 2, "fast") + entry("solo-west", secondary, 1, "solo")
	f, err := pool.Parse("pools.yaml", []byte(y), env(map[string]string{"EMU_KEY": emutest.Key}))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPool_routesByPoolOrDeploymentName(t *testing.T) {
	primary, secondary := twoRegions(t)
	p := build(t, namedPools(t, primary, secondary), pool.Config{})
	if got := p.Default(); got != pool.DefaultPool {
		t.Errorf("default pool %q, want %q", got, pool.DefaultPool)
	}
	cases := []struct{ model, want string }{
		{"", "primary"},
		{pool.DefaultPool, "primary"},
		{"fast", "fast-east"},
		{"solo", "solo-west"},
		{"secondary", "secondary"}, // pinned, though its priority is 2
		{"fast-west", "fast-west"},
	}
	for _, tc := range cases {
		req := request("Facts: the ferry leaves at 7 a.m. on Monday.")
		req.Model = tc.model
		if got := mustAnswer(t, p, req).Deployment; got != tc.want {
			t.Errorf("Model %q answered by %q, want %q", tc.model, got, tc.want)
		}
	}

	// A name the pool does not know (a caller that knows the model, not
	// the pool) goes to the default pool; team files are checked at load.
	req := request("Facts: a caller names the model.")
	req.Model = "gpt-4o"
	if got := mustAnswer(t, p, req).Deployment; got != "primary" {
		t.Errorf("Model gpt-4o answered by %q, want the default pool's primary", got)
	}
}

func TestPool_pinnedDeploymentFailsOverWithinItsPool(t *testing.T) {
	primary, secondary := twoRegions(t)
	p := build(t, namedPools(t, primary, secondary), pool.Config{})
	secondary.Force(t, emulator.ForcedFault{Fault: emulator.Fault503})

	for _, tc := range []struct{ model, want string }{
		{"secondary", "primary"},   // its pool's other member
		{"fast-west", "fast-east"}, // not primary: that one is in another pool
	} {
		req := request("Facts: the west region is down.")
		req.Model = tc.model
		if got := mustAnswer(t, p, req).Deployment; got != tc.want {
			t.Errorf("Model %q with its deployment down: answered by %q, want %q", tc.model, got, tc.want)
		}
	}

	// A pool whose only member fails does not borrow another pool's.
	req := request("Facts: the solo pool is down.")
	req.Model = "solo"
	resp, err := p.Complete(t.Context(), req)
	var me *model.Error
	if err == nil || !errors.As(err, &me) || me.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("pool solo with its member down: answered by %v, error %v; want its 503", resp, err)
	}
}

func TestPool_defaultPoolIsTheFirstEntrysWhenNoneIsUnnamed(t *testing.T) {
	t.Parallel()
	answer := func(name string) pool.Member {
		return pool.Member{Name: name, Client: model.ClientFunc(func(_ context.Context, req *model.Request) (*model.Response, error) {
			if req.Model != "" {
				return nil, fmt.Errorf("member %s got Model %q: members call their own deployment", name, req.Model)
			}
			return &model.Response{Content: "ok"}, nil
		})}
	}
	b, c := answer("b"), answer("c")
	b.Pool, c.Pool = "west", "east"
	p, err := pool.New(pool.Config{Members: []pool.Member{b, c}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Default() != "west" {
		t.Errorf("default pool %q, want west (the first member's)", p.Default())
	}
	resp, err := p.Complete(t.Context(), &model.Request{})
	if err != nil || resp.Deployment != "b" {
		t.Errorf("a request without a Model: %v, %v; want b", resp, err)
	}
	if _, err := pool.New(pool.Config{Members: []pool.Member{{Name: "west", Client: b.Client}, b}}); err == nil {
		t.Error("a member named like a pool was accepted")
	}
}
