package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/cachetest"
	"github.com/newsroom-dev/newsroom/model/cache/sqlite"
)

func mustOpen(tb testing.TB, cfg sqlite.Config) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func has(t *testing.T, s *sqlite.Store, key string) bool {
	t.Helper()
	_, ok, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// counter is a next Client that counts its calls.
type counter struct{ calls atomic.Int32 }

func (c *counter) Complete(_ context.Context, req *model.Request) (*model.Response, error) {
	c.calls.Add(1)
	return &model.Response{
		Model: "gpt-4o-mini", Content: "answer to " + req.Messages[0].Content, FinishReason: "stop",
		Usage: model.Usage{PromptTokens: 10, CompletionTokens: 3, Requests: 1},
	}, nil
}

func TestStore_ReopenedFileHits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	req := func() *model.Request {
		return &model.Request{Model: "gpt-4o-mini", Messages: []model.Message{{Role: model.RoleUser, Content: "the storm"}}}
	}

	first := mustOpen(t, sqlite.Config{Path: path})
	next := &counter{}
	if _, err := cache.Wrap(next, cache.Config{Store: first, Namespace: "ep|dep"}).Complete(context.Background(), req()); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	// A new Store on the same file, as a rerun in a new process would open.
	second := mustOpen(t, sqlite.Config{Path: path})
	resp, err := cache.Wrap(next, cache.Config{Store: second, Namespace: "ep|dep"}).Complete(context.Background(), req())
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Cached || resp.Content != "answer to the storm" || resp.Usage.TotalTokens() != 0 {
		t.Errorf("rerun got %+v, want a cached answer with zero tokens", resp)
	}
	if n := next.calls.Load(); n != 1 {
		t.Errorf("next called %d times, want 1", n)
	}
}

func TestOpen_CreatesTheDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "cache.db")
	s := mustOpen(t, sqlite.Config{Path: path})
	if err := s.Set(context.Background(), "k", cache.Entry{Content: "x"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("no cache file: %v", err)
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			t.Errorf("%s has mode %o, want 0600", filepath.Base(p), m)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg")
	if got, err := sqlite.DefaultPath(); err != nil || got != "/tmp/xdg/newsroom/responses.db" {
		t.Errorf("DefaultPath = %q, %v", got, err)
	}
}

func TestStore_GetSet(t *testing.T) {
	s := mustOpen(t, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	want := cache.Entry{
		Content: "hello", Model: "gpt-4o", FinishReason: "length",
		Usage:     model.Usage{PromptTokens: 3, CompletionTokens: 4, Requests: 1},
		CreatedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
	}
	if err := s.Set(context.Background(), "k", want, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(context.Background(), "k")
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Get = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	if has(t, s, "missing") {
		t.Error("found a key never set")
	}
}

func TestStore_TTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := mustOpen(t, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db"), Now: clock})
	if err := s.Set(context.Background(), "k", cache.Entry{Content: "x"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(59 * time.Second)
	mu.Unlock()
	if !has(t, s, "k") {
		t.Fatal("expired before its TTL")
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if has(t, s, "k") {
		t.Fatal("still there at its TTL")
	}
}

func TestStore_EvictsOldest(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := mustOpen(t, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db"), MaxEntries: 3, Now: clock})
	for i := range 5 {
		now = now.Add(time.Second)
		if err := s.Set(context.Background(), fmt.Sprint("k", i), cache.Entry{Content: "x"}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if got, want := has(t, s, fmt.Sprint("k", i)), i >= 2; got != want {
			t.Errorf("has(k%d) = %v, want %v", i, got, want)
		}
	}
	if n, err := s.Len(context.Background()); err != nil || n != 3 {
		t.Errorf("Len = %d, %v; want 3", n, err)
	}
}

func TestStore_ConcurrentAndShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	a := mustOpen(t, sqlite.Config{Path: path})
	b := mustOpen(t, sqlite.Config{Path: path})
	var wg sync.WaitGroup
	for g := range 4 {
		s := a
		if g%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range 25 {
				key := fmt.Sprint(g, "-", i)
				if err := s.Set(context.Background(), key, cache.Entry{Content: key}, time.Hour); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// Every entry written through either Store is visible through the other.
	for g := range 4 {
		for i := range 25 {
			key := fmt.Sprint(g, "-", i)
			e, ok, err := a.Get(context.Background(), key)
			if err != nil || !ok || e.Content != key {
				t.Fatalf("Get(%q) = %+v, %v, %v", key, e, ok, err)
			}
		}
	}
}

func TestStore_Conformance(t *testing.T) {
	cachetest.Conformance(t, mustOpen(t, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")}))
}

func BenchmarkCache_Hit(b *testing.B) {
	cachetest.BenchmarkHit(b, mustOpen(b, sqlite.Config{Path: filepath.Join(b.TempDir(), "c.db")}))
}
