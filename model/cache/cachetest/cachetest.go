// Package cachetest holds what the tests of every cache.Store share: a
// conformance test and the cache-hit benchmark.
package cachetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache"
)

// Conformance checks the behaviour every Store shares: a miss is not an
// error, a Set is read back whole, a second Set replaces the first, keys do
// not collide, and concurrent use is safe.
func Conformance(t *testing.T, s cache.Store) {
	ctx := context.Background()
	t.Run("a key never set is a miss, not an error", func(t *testing.T) {
		if e, ok, err := s.Get(ctx, "cachetest-missing"); ok || err != nil {
			t.Errorf("Get = %+v, %v, %v; want a miss", e, ok, err)
		}
	})
	t.Run("an entry is read back whole", func(t *testing.T) {
		want := cache.Entry{
			Content: "Fire at the harbour — «two» ships 🚢 lost.\nSecond line.", Model: "gpt-4o-2024-11-20",
			FinishReason: "length",
			Usage:        model.Usage{PromptTokens: 120, CompletionTokens: 40, CachedPromptTokens: 64, Requests: 1, CostUSD: 0.0007},
			CreatedAt:    time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC),
		}
		if err := s.Set(ctx, "cachetest-whole", want, time.Hour); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Get(ctx, "cachetest-whole")
		if err != nil || !ok {
			t.Fatalf("Get = %v, %v; want a hit", ok, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("entry (-want +got):\n%s", diff)
		}
	})
	t.Run("a second Set replaces the first", func(t *testing.T) {
		for _, c := range []string{"first", "second"} {
			if err := s.Set(ctx, "cachetest-replace", cache.Entry{Content: c}, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if e, _, err := s.Get(ctx, "cachetest-replace"); err != nil || e.Content != "second" {
			t.Errorf("Get = %q, %v; want %q", e.Content, err, "second")
		}
	})
	t.Run("concurrent use", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 20 {
					key := fmt.Sprintf("cachetest-conc-%d-%d", g, i)
					if err := s.Set(ctx, key, cache.Entry{Content: key}, time.Hour); err != nil {
						t.Error(err)
						return
					}
					if e, ok, err := s.Get(ctx, key); err != nil || !ok || e.Content != key {
						t.Errorf("Get(%s) = %q, %v, %v", key, e.Content, ok, err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

// BenchmarkHit measures a cached turn through the cache middleware on s: a
// 500-word prompt hashed into its key, a 300-word answer read back, and for
// "stream" replayed in token pieces.
func BenchmarkHit(b *testing.B, s cache.Store) {
	c := cache.Wrap(model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		b.Fatal("the model was called on a hit")
		return nil, nil
	}), cache.Config{Store: s, Namespace: "bench"})
	req := &model.Request{Model: "gpt-4o", Messages: []model.Message{
		{Role: model.RoleSystem, Content: "You are a reporter."},
		{Role: model.RoleUser, Content: strings.Repeat("context ", 500)},
	}}
	entry := cache.Entry{Content: strings.Repeat("answer ", 300), Model: "gpt-4o", FinishReason: "stop"}
	if err := s.Set(context.Background(), cache.Key("bench", req), entry, time.Hour); err != nil {
		b.Fatal(err)
	}
	for _, stream := range []bool{false, true} {
		name := "complete"
		if stream {
			name = "stream"
		}
		b.Run(name, func(b *testing.B) {
			r := *req
			var n int
			if stream {
				r.OnDelta = func(d model.Delta) { n += len(d.Text) }
			}
			b.ReportAllocs()
			for b.Loop() {
				if resp, err := c.Complete(context.Background(), &r); err != nil || !resp.Cached {
					b.Fatal(resp, err)
				}
			}
			if stream && n == 0 {
				b.Fatal("nothing replayed")
			}
		})
	}
}
