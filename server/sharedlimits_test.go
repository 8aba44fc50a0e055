package server

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/server/redislimit"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
)

// TestServer_KeyRateLimitIsServiceWide runs two instances on one PostgreSQL
// store and one Redis: a key's requests per minute hold for the two
// together, not for each.
func TestServer_KeyRateLimitIsServiceWide(t *testing.T) {
	t.Parallel()
	dsn := testsvc.Postgres(t)
	rdb := redis.NewClient(&redis.Options{Addr: testsvc.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	prefix := "test:" + randomHex(6) + ":"
	open := func(t testing.TB) store.Store {
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	const perMinute = 6
	instance := func() *env {
		kl, err := redislimit.New(redislimit.Config{Client: rdb, PerMinute: perMinute, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return newEnv(t, envOpts{noStart: true, openStore: open, cfg: Config{KeyRateLimit: perMinute, KeyLimiter: kl}})
	}
	a, b := instance(), instance()
	checkRateSharedByTwo(t, a, b, a.user, perMinute) // both instances read the same keys
	// Another key has its own allowance.
	if resp, b := b.do("GET", "/v1/runs", a.other, ""); resp.StatusCode != 200 {
		t.Errorf("another key = %d %s", resp.StatusCode, b)
	}
}

// checkRateSharedByTwo sends 2*perMinute requests of key, in turn to
// instances a and b, and checks that perMinute of them pass in all (the
// others answered 429 with a Retry-After), as one shared limit allows.
func checkRateSharedByTwo(t *testing.T, a, b *env, key string, perMinute int) {
	t.Helper()
	allowed := 0
	for i := range 2 * perMinute {
		e := a
		if i%2 == 1 {
			e = b
		}
		resp, body := e.do("GET", "/v1/runs", key, "")
		switch resp.StatusCode {
		case http.StatusOK:
			allowed++
		case http.StatusTooManyRequests:
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("429 without Retry-After in seconds: %q", resp.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("request %d = %d %s", i, resp.StatusCode, body)
		}
	}
	if allowed != perMinute {
		t.Errorf("two instances allowed %d requests of one key, want %d in total", allowed, perMinute)
	}
}

// TestServer_KeyLimiterOutageFallsBackToTheInstance: with the shared
// limiter unreachable, requests are limited per instance, not refused.
func TestServer_KeyLimiterOutageFallsBackToTheInstance(t *testing.T) {
	t.Parallel()
	port, err := testsvc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	kl, err := redislimit.New(redislimit.Config{Client: rdb, PerMinute: 3})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{noStart: true, cfg: Config{KeyRateLimit: 3, KeyLimiter: kl}})
	codes := []int{}
	for range 4 {
		resp, _ := e.do("GET", "/v1/runs", e.user, "")
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 200 || codes[2] != 200 || codes[3] != 429 {
		t.Errorf("statuses with Redis down = %v, want three 200s then 429 (the instance's own bucket)", codes)
	}
}

// TestServer_LimitsAreServiceWideThroughPostgreSQL runs two instances on one
// PostgreSQL store and no Redis: a key's requests per minute hold for the
// two together (store/postgres KeyLimiter), and so does the daily budget
// (store/postgres Spend): what runs on one instance spent stops the next
// run on the other.
func TestServer_LimitsAreServiceWideThroughPostgreSQL(t *testing.T) {
	t.Parallel()
	dsn := testsvc.Postgres(t)
	const perMinute = 6
	var dailies []*budget.Daily
	instance := func() *env {
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		kl, err := st.KeyLimiter(perMinute)
		if err != nil {
			t.Fatal(err)
		}
		daily := budget.NewDaily(budget.DailyConfig{BudgetUSD: 1, Enforce: true, Shared: st.Spend()})
		dailies = append(dailies, daily)
		return newEnv(t, envOpts{openStore: func(testing.TB) store.Store { return st },
			cfg: Config{KeyRateLimit: perMinute, KeyLimiter: kl},
			wrap: func(c model.Client) model.Client {
				return budget.Wrap(c, budget.Config{Daily: daily, Model: "gpt-4o", CompletionCeiling: 1000})
			}})
	}
	a, b := instance(), instance()

	t.Run("the per-key rate limit", func(t *testing.T) {
		checkRateSharedByTwo(t, a, b, a.other, perMinute) // a.user runs below
	})

	t.Run("the daily budget", func(t *testing.T) {
		v := a.create(a.user, `{"task":"Harbour reopens after storm repairs.","team":"selector","max_messages":2}`)
		if got := a.waitFinished(a.user, v.ID); got.Status != "succeeded" {
			t.Fatalf("the first run on instance a: %s %s", got.Status, got.Error)
		}
		spent := dailies[0].Spent()
		if spent <= 0 {
			t.Fatalf("instance a spent %v on a run", spent)
		}
		// The same sum, added up in another order (instance a adds each
		// call as it goes; b reads the database's total): equal to the
		// last bits of a float64.
		if got := dailies[1].Spent(); math.Abs(got-spent) > 1e-12 {
			t.Errorf("instance b sees %v spent today, want a's %v", got, spent)
		}
		// The rest of the day's budget goes on instance a.
		dailies[0].Add(1 - spent)
		v = b.create(a.user, `{"task":"Ferries resume on Monday.","team":"selector","max_messages":2}`)
		got := b.waitFinished(a.user, v.ID)
		if !strings.Contains(got.StopReason, "daily budget") || len(got.PerAgent) != 0 {
			t.Errorf("a run on instance b after a spent the daily budget: %s, stop reason %q, per agent %v; want stopped by the daily budget before any call",
				got.Status, got.StopReason, got.PerAgent)
		}
	})
}
