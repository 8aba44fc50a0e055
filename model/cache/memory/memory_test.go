package memory_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/cachetest"
	"github.com/newsroom-dev/newsroom/model/cache/memory"
)

func has(t *testing.T, s *memory.Store, key string) bool {
	t.Helper()
	_, ok, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func set(t *testing.T, s *memory.Store, key string, e cache.Entry, ttl time.Duration) {
	t.Helper()
	if err := s.Set(context.Background(), key, e, ttl); err != nil {
		t.Fatal(err)
	}
}

func TestStore_GetSet(t *testing.T) {
	s := memory.New(memory.Config{})
	want := cache.Entry{Content: "hello", Model: "gpt-4o", FinishReason: "stop", Usage: model.Usage{PromptTokens: 3}}
	set(t, s, "k", want, time.Hour)
	got, ok, err := s.Get(context.Background(), "k")
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Get = %+v, %v, %v; want %+v, true, nil", got, ok, err, want)
	}
	if has(t, s, "other") {
		t.Error("a key never set was found")
	}
}

func TestStore_LRUEviction(t *testing.T) {
	t.Run("by entries, least recently used first", func(t *testing.T) {
		s := memory.New(memory.Config{MaxEntries: 2})
		set(t, s, "a", cache.Entry{Content: "a"}, time.Hour)
		set(t, s, "b", cache.Entry{Content: "b"}, time.Hour)
		has(t, s, "a") // a is now more recently used than b
		set(t, s, "c", cache.Entry{Content: "c"}, time.Hour)
		for key, want := range map[string]bool{"a": true, "b": false, "c": true} {
			if got := has(t, s, key); got != want {
				t.Errorf("has(%q) = %v, want %v", key, got, want)
			}
		}
		if s.Len() != 2 {
			t.Errorf("Len = %d, want 2", s.Len())
		}
	})
	t.Run("by bytes", func(t *testing.T) {
		big := cache.Entry{Content: strings.Repeat("x", 1000)}
		s := memory.New(memory.Config{MaxBytes: 2*(big.Size()+1) + 10})
		for _, k := range []string{"a", "b", "c"} {
			set(t, s, k, big, time.Hour)
		}
		if has(t, s, "a") || !has(t, s, "b") || !has(t, s, "c") {
			t.Error("want the oldest entry evicted to stay within MaxBytes")
		}
	})
	t.Run("an entry larger than the bound is not stored", func(t *testing.T) {
		s := memory.New(memory.Config{MaxBytes: 200})
		set(t, s, "small", cache.Entry{Content: "x"}, time.Hour)
		set(t, s, "huge", cache.Entry{Content: strings.Repeat("x", 1000)}, time.Hour)
		if has(t, s, "huge") || !has(t, s, "small") {
			t.Error("want the huge entry dropped and the small one kept")
		}
	})
}

func TestStore_TTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := memory.New(memory.Config{Now: func() time.Time { return now }})
	set(t, s, "k", cache.Entry{Content: "x"}, time.Minute)
	now = now.Add(59 * time.Second)
	if !has(t, s, "k") {
		t.Fatal("expired before its TTL")
	}
	now = now.Add(time.Second)
	if has(t, s, "k") {
		t.Fatal("still there at its TTL")
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d after expiry, want the expired entry dropped", s.Len())
	}
}

func TestStore_Concurrent(t *testing.T) {
	s := memory.New(memory.Config{MaxEntries: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				key := fmt.Sprint(i % 80)
				if err := s.Set(context.Background(), key, cache.Entry{Content: key}, time.Hour); err != nil {
					t.Error(err)
				}
				if e, ok, _ := s.Get(context.Background(), fmt.Sprint((i+g)%80)); ok && e.Content != fmt.Sprint((i+g)%80) {
					t.Errorf("key %d holds %q", (i+g)%80, e.Content)
				}
			}
		})
	}
	wg.Wait()
	if s.Len() > 50 {
		t.Errorf("Len = %d, want at most 50", s.Len())
	}
}

func TestStore_Conformance(t *testing.T) {
	cachetest.Conformance(t, memory.New(memory.Config{}))
}

func BenchmarkCache_Hit(b *testing.B) {
	cachetest.BenchmarkHit(b, memory.New(memory.Config{}))
}
