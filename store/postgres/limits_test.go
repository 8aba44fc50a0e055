package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/store/postgres"
)

var _ budget.SpendStore = (*postgres.Spend)(nil)

// TestKeyLimiter_SharedByTwoInstances: two stores on one database (two
// instances) allow a key perMinute requests together, tell the refused ones
// when to come back, and keep other keys apart.
func TestKeyLimiter_SharedByTwoInstances(t *testing.T) {
	t.Parallel()
	dsn := testsvc.Postgres(t)
	const perMinute = 4
	var limiters []*postgres.KeyLimiter
	for range 2 {
		kl, err := open(t, dsn).KeyLimiter(perMinute)
		if err != nil {
			t.Fatal(err)
		}
		limiters = append(limiters, kl)
	}
	ctx := context.Background()
	allowed := 0
	for i := range 3 * perMinute {
		wait, ok, err := limiters[i%2].Allow(ctx, "key-a")
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		if ok {
			allowed++
			continue
		}
		// One request frees up every 15 s; the burst is used up.
		if wait <= 0 || wait > 15*time.Second {
			t.Errorf("refused request %d: wait %v, want (0, 15s]", i, wait)
		}
	}
	if allowed != perMinute {
		t.Errorf("two instances allowed %d requests of one key, want %d in total", allowed, perMinute)
	}
	if _, ok, err := limiters[1].Allow(ctx, "key-b"); err != nil || !ok {
		t.Errorf("another key's first request = %v, %v; want allowed", ok, err)
	}
}

// TestKeyLimiter_ConcurrentRequestsGetTheBurstOnly: requests racing from
// two instances are allowed exactly the burst, none more.
func TestKeyLimiter_ConcurrentRequestsGetTheBurstOnly(t *testing.T) {
	t.Parallel()
	dsn := testsvc.Postgres(t)
	const perMinute = 5
	a, err := open(t, dsn).KeyLimiter(perMinute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := open(t, dsn).KeyLimiter(perMinute)
	if err != nil {
		t.Fatal(err)
	}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 24 {
		kl := a
		if i%2 == 1 {
			kl = b
		}
		wg.Go(func() {
			_, ok, err := kl.Allow(context.Background(), "key")
			if err != nil {
				t.Errorf("Allow: %v", err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != perMinute {
		t.Errorf("%d concurrent requests allowed, want %d", n, perMinute)
	}
}

func TestStore_KeyLimiterRejectsANonPositiveRate(t *testing.T) {
	t.Parallel()
	s := open(t, testsvc.Postgres(t))
	for _, n := range []int{0, -1} {
		if _, err := s.KeyLimiter(n); err == nil {
			t.Errorf("KeyLimiter(%d) succeeded", n)
		}
	}
}

// TestSpend_DailyBudgetSharedAcrossInstances: two processes' daily budgets
// on one database hold the budget together: what one spent stops the
// other, concurrent additions all count, and days are kept apart.
func TestSpend_DailyBudgetSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	dsn := testsvc.Postgres(t)
	now := func() time.Time { return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) }
	instance := func() *budget.Daily {
		return budget.NewDaily(budget.DailyConfig{BudgetUSD: 1, Enforce: true, Now: now, Shared: open(t, dsn).Spend()})
	}
	a, b := instance(), instance()
	a.Add(0.75)
	if got := b.Spent(); got != 0.75 {
		t.Errorf("the other instance sees %v spent today, want 0.75", got)
	}
	// The other instance's next call could cost up to 0.40: over the budget together.
	c := budget.Wrap(model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		return &model.Response{Content: "x", Usage: model.Usage{CostUSD: 0.01}}, nil
	}), budget.Config{Daily: b, Model: "gpt-4o", CompletionCeiling: 40_000})
	_, err := c.Complete(context.Background(), &model.Request{Model: "gpt-4o", Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})
	var se *budget.StopError
	if !errors.As(err, &se) || se.Scope != "daily" {
		t.Errorf("a call over the shared daily budget = %v, want a daily budget stop", err)
	}

	sp := open(t, dsn).Spend()
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := sp.Add(ctx, "2026-12-01", 0.125); err != nil {
				t.Errorf("Add: %v", err)
			}
		})
	}
	wg.Wait()
	for day, want := range map[string]float64{"2026-11-30": 0.75, "2026-12-01": 2.5, "2026-11-29": 0} {
		if got, err := sp.Spent(ctx, day); err != nil || got != want {
			t.Errorf("Spent(%s) = %v, %v; want %v", day, got, err, want)
		}
	}
	if _, err := sp.Add(ctx, "yesterday", 1); err == nil {
		t.Error("Add with a malformed day succeeded")
	}
}
