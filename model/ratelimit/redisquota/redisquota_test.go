package redisquota_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/model/ratelimit/redisquota"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

// newQuota returns a Quota on the test Redis with its own key prefix; two
// Quotas with the same prefix are two instances of one service.
func newQuota(t *testing.T, prefix string, rpm, tpm int, window time.Duration) *redisquota.Quota {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testsvc.Redis(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	q, err := redisquota.New(redisquota.Config{Client: rdb, RequestsPerMinute: rpm, TokensPerMinute: tpm, Prefix: prefix, Window: window, Margin: -1})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// keyPrefix is a Redis key prefix of this test's own: a test run again
// (-count) must not find the windows its last run left in the shared Redis.
func keyPrefix(t *testing.T) string {
	return fmt.Sprintf("test:%s:%d:", t.Name(), time.Now().UnixNano())
}

// admitted counts the calls of tokens each that Acquire admits before ctx ends.
func admitted(ctx context.Context, t *testing.T, q *redisquota.Quota, calls, tokens int) int {
	t.Helper()
	n := 0
	for range calls {
		err := q.Acquire(ctx, "gpt-4o", tokens)
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func TestQuota_InstancesShareOneWindowThatSlides(t *testing.T) {
	t.Parallel()
	const window = 4 * time.Second
	prefix := keyPrefix(t)
	a, b := newQuota(t, prefix, 5, 0, window), newQuota(t, prefix, 5, 0, window)

	// Long enough for the admitted calls on a loaded machine, shorter than
	// the window, so a call over the quota is seen waiting.
	ctx, cancel := context.WithTimeout(context.Background(), window/4)
	defer cancel()
	if n := admitted(ctx, t, a, 3, 0); n != 3 {
		t.Fatalf("instance A: %d of 3 calls admitted at once, want 3", n)
	}
	if n := admitted(ctx, t, b, 3, 0); n != 2 {
		t.Fatalf("instance B: %d of 3 calls admitted at once after A's 3 (quota 5), want 2", n)
	}

	// The window slides: the units come back a window after they were
	// taken, not a little at a time, so the sixth call waits about a window.
	start := time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 3*window)
	defer cancel()
	if err := b.Acquire(ctx, "gpt-4o", 0); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < window/2 {
		t.Fatalf("the sixth call was admitted after %s, want about the window (%s)", waited, window)
	}
}

func TestQuota_NeverAdmitsMoreThanTheQuotaWithinAWindow(t *testing.T) {
	t.Parallel()
	const (
		window = time.Second
		rpm    = 10
	)
	prefix := keyPrefix(t)
	quotas := []*redisquota.Quota{newQuota(t, prefix, rpm, 0, window), newQuota(t, prefix, rpm, 0, window), newQuota(t, prefix, rpm, 0, window)}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	var (
		mu    sync.Mutex
		times []time.Time
		wg    sync.WaitGroup
	)
	for _, q := range quotas {
		for range 4 {
			wg.Go(func() {
				for q.Acquire(ctx, "gpt-4o", 0) == nil {
					mu.Lock()
					times = append(times, time.Now())
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	// A token bucket with a whole window's burst admits 2 × rpm within its
	// first window; a sliding window at most rpm in any window. Admissions
	// are stamped here, after Redis decided, so allow a little skew.
	for i := rpm; i < len(times); i++ {
		if d := times[i].Sub(times[i-rpm]); d < window-100*time.Millisecond {
			t.Fatalf("%d calls admitted within %s, want at most %d per %s", rpm+1, d, rpm, window)
		}
	}
	if len(times) < 2*rpm {
		t.Fatalf("only %d calls admitted in 2.5 windows of %d", len(times), rpm)
	}
}

func TestQuota_TokensAreCappedAtTheWindowSoALargeCallIsNotRefusedForever(t *testing.T) {
	t.Parallel()
	q := newQuota(t, keyPrefix(t), 0, 1000, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Acquire(ctx, "gpt-4o", 5000); err != nil {
		t.Fatalf("a call larger than the window: %v", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if n := admitted(short, t, q, 1, 1); n != 0 {
		t.Fatal("a token admitted while the window was full")
	}
}

func TestQuota_AnOutageOfRedisDoesNotFailCalls(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	q, err := redisquota.New(redisquota.Config{Client: rdb, RequestsPerMinute: 1, TokensPerMinute: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := q.Acquire(context.Background(), "gpt-4o", 10); err != nil {
			t.Fatalf("Acquire with Redis down: %v, want the call to go on", err)
		}
	}
}

func TestQuota_SettlingGivesBackWhatACallDidNotUse(t *testing.T) {
	t.Parallel()
	prefix := keyPrefix(t)
	q := newQuota(t, prefix, 1, 1000, 10*time.Second)
	// Calls that must be admitted get most of the window (one refused
	// wrongly would wait for the window and miss it); the one that must not
	// gets a second.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()

	settle, err := q.AcquireSettle(ctx, "gpt-4o", 900) // the estimate
	if err != nil {
		t.Fatal(err)
	}
	settle(0) // refused by the service before it did the work: request and tokens come back
	settle, err = q.AcquireSettle(ctx, "gpt-4o", 900)
	if err != nil {
		t.Fatalf("the second call after the first was given back: %v", err)
	}
	settle(100) // it used 100 of the 900 estimated
	if n := admitted(ctx, t, newQuota(t, prefix, 0, 1000, 10*time.Second), 1, 800); n != 1 {
		t.Fatal("800 tokens not admitted with 100 of 1000 used")
	}
	short, cancelShort := context.WithTimeout(context.Background(), time.Second)
	defer cancelShort()
	if n := admitted(short, t, q, 1, 1); n != 0 {
		t.Fatal("a second request admitted within a window of 1 request")
	}
}
