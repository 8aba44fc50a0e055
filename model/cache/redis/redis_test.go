package redis_test

import (
	"context"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/cachetest"
	"github.com/newsroom-dev/newsroom/model/cache/redis"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

// newStore returns a Store on the test binary's redis-server, under a key
// prefix of the test's own.
func newStore(tb testing.TB) (*redis.Store, *goredis.Client, string) {
	tb.Helper()
	addr := testsvc.Redis(tb)
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	tb.Cleanup(func() { rdb.Close() })
	prefix := testPrefix(tb)
	s, err := redis.New(redis.Config{Client: rdb, Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Ping(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s, rdb, prefix
}

// testPrefix is a key prefix of the test's own, new on every run of it
// (-count), since all tests share the test binary's redis-server.
func testPrefix(tb testing.TB) string {
	return "test:" + tb.Name() + ":" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
}

type counter struct{ calls atomic.Int32 }

func (c *counter) Complete(_ context.Context, req *model.Request) (*model.Response, error) {
	c.calls.Add(1)
	return &model.Response{
		Model: "gpt-4o", Content: "answer to " + req.Messages[0].Content, FinishReason: "stop",
		Usage: model.Usage{PromptTokens: 10, CompletionTokens: 3, Requests: 1},
	}, nil
}

func TestStore_SharedByInstances(t *testing.T) {
	addr := testsvc.Redis(t)
	prefix := testPrefix(t)
	req := func() *model.Request {
		return &model.Request{Model: "gpt-4o", Messages: []model.Message{{Role: model.RoleUser, Content: "the storm"}}}
	}
	next := &counter{}
	// Two instances, each with its own connection (by Addr), one server.
	for i, wantCached := range []bool{false, true} {
		s, err := redis.New(redis.Config{Addr: addr, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cache.Wrap(next, cache.Config{Store: s}).Complete(context.Background(), req())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Cached != wantCached || resp.Content != "answer to the storm" {
			t.Errorf("instance %d: got %+v, want Cached %v", i, resp, wantCached)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := next.calls.Load(); n != 1 {
		t.Errorf("next called %d times, want 1", n)
	}
}

func TestStore_KeyPrefixAndTTL(t *testing.T) {
	s, rdb, prefix := newStore(t)
	ctx := context.Background()
	want := cache.Entry{Content: "x", Model: "gpt-4o", FinishReason: "stop", CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.Set(ctx, "k", want, 90*time.Minute); err != nil {
		t.Fatal(err)
	}
	ttl, err := rdb.TTL(ctx, prefix+"k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 89*time.Minute || ttl > 90*time.Minute {
		t.Errorf("TTL of the prefixed key = %v, want about 90m", ttl)
	}
	got, ok, err := s.Get(ctx, "k")
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Get = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	if _, ok, err := s.Get(ctx, "missing"); ok || err != nil {
		t.Errorf("Get(missing) = %v, %v; want a miss", ok, err)
	}
}

func TestStore_Expires(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	if err := s.Set(ctx, "k", cache.Entry{Content: "x"}, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(ctx, "k"); !ok || err != nil {
		t.Fatalf("Get right after Set = %v, %v; want a hit", ok, err)
	}
	// A bounded wait for the server's own expiry (EX 1).
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, ok, err := s.Get(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the entry did not expire within 5s of a 1s TTL")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestStore_ServerDownIsAStoreError(t *testing.T) {
	port, err := testsvc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// No server listens there; no retries, so the test is quick.
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1})
	defer rdb.Close()
	s, err := redis.New(redis.Config{Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	var failures atomic.Int32
	next := &counter{}
	c := cache.Wrap(next, cache.Config{Store: s, OnError: func(string, error) { failures.Add(1) }})
	resp, err := c.Complete(context.Background(), &model.Request{Messages: []model.Message{{Content: "x"}}})
	if err != nil || resp.Cached {
		t.Fatalf("got %+v, %v; want the model's answer despite the store", resp, err)
	}
	if failures.Load() != 2 {
		t.Errorf("OnError called %d times, want 2 (get and set)", failures.Load())
	}
}

func TestStore_Conformance(t *testing.T) {
	s, _, _ := newStore(t)
	cachetest.Conformance(t, s)
}

func BenchmarkCache_Hit(b *testing.B) {
	s, _, _ := newStore(b)
	cachetest.BenchmarkHit(b, s)
}
