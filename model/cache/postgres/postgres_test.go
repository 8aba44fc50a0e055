package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/cachetest"
	"github.com/newsroom-dev/newsroom/model/cache/postgres"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newPool(t *testing.T) *pgxpool.Pool {
	pool, err := pgxpool.New(t.Context(), testsvc.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestStore_Conformance(t *testing.T) {
	s, err := postgres.New(t.Context(), postgres.Config{Pool: newPool(t)})
	if err != nil {
		t.Fatal(err)
	}
	cachetest.Conformance(t, s)
}

func TestStore_Expiry(t *testing.T) {
	pool := newPool(t)
	clk := &clock{t: time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)}
	s, err := postgres.New(t.Context(), postgres.Config{Pool: pool, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Set(ctx, "k", cache.Entry{Content: "answer"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(ctx, "k"); !ok || err != nil {
		t.Fatalf("a live entry: %v, %v", ok, err)
	}
	clk.add(time.Minute)
	if _, ok, err := s.Get(ctx, "k"); ok || err != nil {
		t.Errorf("an expired entry: hit %v, %v; want a miss", ok, err)
	}
	if n, err := s.Prune(ctx); n != 1 || err != nil {
		t.Errorf("Prune = %d, %v; want the one expired entry", n, err)
	}
	// A second store on the same database (another instance) sees the table.
	other, err := postgres.New(ctx, postgres.Config{Pool: pool, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "shared", cache.Entry{Content: "x"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if e, ok, err := other.Get(ctx, "shared"); !ok || err != nil || e.Content != "x" {
		t.Errorf("another instance: %q, %v, %v", e.Content, ok, err)
	}
}

func BenchmarkHit(b *testing.B) {
	pool, err := pgxpool.New(b.Context(), testsvc.Postgres(b))
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	s, err := postgres.New(b.Context(), postgres.Config{Pool: pool})
	if err != nil {
		b.Fatal(err)
	}
	cachetest.BenchmarkHit(b, s)
}
