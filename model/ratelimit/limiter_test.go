package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
)

const dep = "gpt-4o"

type result struct {
	res ratelimit.Reservation
	err error
}

// acquire starts Acquire in a goroutine and returns where its result lands.
func acquire(ctx context.Context, l *ratelimit.Limiter, tokens int) <-chan result {
	ch := make(chan result, 1)
	go func() {
		res, err := l.Acquire(ctx, dep, tokens)
		ch <- result{res, err}
	}()
	return ch
}

func done(ch <-chan result) (result, bool) {
	select {
	case r := <-ch:
		return r, true
	default:
		return result{}, false
	}
}

// stillWaiting lets the bubble's goroutines settle, then fails the test
// with why if the call behind ch has returned.
func stillWaiting(t *testing.T, ch <-chan result, why string) {
	t.Helper()
	synctest.Wait()
	if _, ok := done(ch); ok {
		t.Fatal(why)
	}
}

// wentThrough lets the bubble's goroutines settle, then fails the test with
// why unless the call behind ch has gone through.
func wentThrough(t *testing.T, ch <-chan result, why string) {
	t.Helper()
	synctest.Wait()
	if r, ok := done(ch); !ok || r.err != nil {
		t.Fatalf("%s: %v", why, r.err)
	}
}

func mustAcquire(t *testing.T, l *ratelimit.Limiter, tokens int) ratelimit.Reservation {
	t.Helper()
	res, err := l.Acquire(t.Context(), dep, tokens)
	if err != nil {
		t.Fatalf("Acquire(%d): %v", tokens, err)
	}
	return res
}

func newLimiter(clock *fakeClock, rpm, tpm int) *ratelimit.Limiter {
	return ratelimit.NewLimiter(ratelimit.LimiterConfig{
		RequestsPerMinute: rpm,
		TokensPerMinute:   tpm,
		Margin:            time.Second,
		ObserveLag:        -1,
		Clock:             clock,
	})
}

func TestLimiter_Acquire_waitsForRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		l := newLimiter(clock, 3, 1000)
		for range 3 {
			mustAcquire(t, l, 10)
			clock.Advance(10 * time.Second)
		}
		ch := acquire(t.Context(), l, 10)
		stillWaiting(t, ch, "a fourth request within the minute did not wait")
		if got := l.Stats(dep); got.Waiting != 1 || got.RequestsAvailable != 0 {
			t.Errorf("stats = %+v, want 1 waiting and no request available", got)
		}
		// The first request was taken 30s ago: it comes back after the
		// window and the margin, 31s from now, not before.
		clock.Advance(30 * time.Second)
		stillWaiting(t, ch, "the request went through before the window (plus margin) passed")
		clock.Advance(time.Second)
		wentThrough(t, ch, "the request did not go through once the window passed")
		if got := l.Stats(dep).Waiting; got != 0 {
			t.Errorf("waiting = %d, want 0", got)
		}
	})
}

func TestLimiter_Acquire_waitsForTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		l := newLimiter(clock, 100, 1000)
		mustAcquire(t, l, 600)
		clock.Advance(20 * time.Second)
		mustAcquire(t, l, 300)
		ch := acquire(t.Context(), l, 500)
		stillWaiting(t, ch, "500 tokens went through with 100 left")
		// Freeing the 600 is enough; the 300 is not needed.
		clock.Advance(41 * time.Second)
		wentThrough(t, ch, "not through after the first tokens came back")
		if got := l.Stats(dep).TokensAvailable; got != 200 {
			t.Errorf("tokens available = %d, want 200", got)
		}
	})
}

func TestReservation_Settle(t *testing.T) {
	tests := []struct {
		name     string
		estimate int
		used     int
		want     int // tokens available afterwards, of 1000
	}{
		{name: "a call that used less is refunded", estimate: 800, used: 300, want: 700},
		{name: "a call that used more is charged", estimate: 300, used: 450, want: 550},
		{name: "an exact estimate changes nothing", estimate: 400, used: 400, want: 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(newFakeClock(), 10, 1000)
			res := mustAcquire(t, l, tt.estimate)
			if got := l.Stats(dep).TokensAvailable; got != 1000-tt.estimate {
				t.Fatalf("tokens available before settling = %d, want %d", got, 1000-tt.estimate)
			}
			res.Settle(tt.used)
			if got := l.Stats(dep).TokensAvailable; got != tt.want {
				t.Errorf("tokens available = %d, want %d", got, tt.want)
			}
		})
	}
	t.Run("a refund lets a waiting call through at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(newFakeClock(), 10, 1000)
			res := mustAcquire(t, l, 900)
			ch := acquire(t.Context(), l, 500)
			stillWaiting(t, ch, "went through with 100 tokens left")
			res.Settle(400)
			wentThrough(t, ch, "the refund did not wake the waiting call")
		})
	})
	t.Run("cancel gives back the request and the tokens", func(t *testing.T) {
		l := newLimiter(newFakeClock(), 2, 1000)
		mustAcquire(t, l, 100)
		mustAcquire(t, l, 200).Cancel()
		got := l.Stats(dep)
		if got.RequestsAvailable != 1 || got.TokensAvailable != 900 {
			t.Errorf("stats = %+v, want 1 request and 900 tokens available", got)
		}
	})
	t.Run("settling after the window passed changes nothing", func(t *testing.T) {
		clock := newFakeClock()
		l := newLimiter(clock, 10, 1000)
		res := mustAcquire(t, l, 500)
		clock.Advance(2 * time.Minute)
		res.Settle(900)
		if got := l.Stats(dep).TokensAvailable; got != 1000 {
			t.Errorf("tokens available = %d, want 1000", got)
		}
	})
}

func TestLimiter_Observe(t *testing.T) {
	tests := []struct {
		name                string
		remReq, remTok      int
		wantReqs, wantToks  int
		wantUsedAtLeast     float64
		takenReqs, takenTok int
	}{
		{name: "fewer tokens left than counted lowers the bucket", remReq: -1, remTok: 300, wantReqs: 9, wantToks: 300, wantUsedAtLeast: 0.7},
		{name: "fewer requests left than counted lowers the bucket", remReq: 2, remTok: -1, wantReqs: 2, wantToks: 900, wantUsedAtLeast: 0.8},
		{name: "more left than counted changes nothing", remReq: 10, remTok: 1000, wantReqs: 9, wantToks: 900},
		{name: "absent headers change nothing", remReq: -1, remTok: -1, wantReqs: 9, wantToks: 900},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			l := newLimiter(clock, 10, 1000)
			mustAcquire(t, l, 100)
			l.Observe(dep, tt.remReq, tt.remTok)
			got := l.Stats(dep)
			if got.RequestsAvailable != tt.wantReqs || got.TokensAvailable != tt.wantToks {
				t.Errorf("available = %d requests, %d tokens; want %d, %d", got.RequestsAvailable, got.TokensAvailable, tt.wantReqs, tt.wantToks)
			}
			if got.UsedFraction < tt.wantUsedAtLeast {
				t.Errorf("used fraction = %v, want at least %v", got.UsedFraction, tt.wantUsedAtLeast)
			}
			// Observing the same figure again does not lower it twice.
			l.Observe(dep, tt.remReq, tt.remTok)
			if again := l.Stats(dep); again.TokensAvailable != got.TokensAvailable || again.RequestsAvailable != got.RequestsAvailable {
				t.Errorf("a repeated observation lowered the buckets again: %+v then %+v", got, again)
			}
			// The lowering is held for ObserveHold, then given back.
			clock.Advance(ratelimit.DefaultObserveHold - time.Second)
			if again := l.Stats(dep); again.TokensAvailable != got.TokensAvailable || again.RequestsAvailable != got.RequestsAvailable {
				t.Errorf("the lowering ended early: %+v then %+v", got, again)
			}
			clock.Advance(time.Second)
			if got := l.Stats(dep); got.TokensAvailable != 900 || got.RequestsAvailable != 9 {
				t.Errorf("after the hold: %+v, want 9 requests and 900 tokens", got)
			}
		})
	}
	t.Run("units that just came back are not mistaken for someone else's", func(t *testing.T) {
		clock := newFakeClock()
		l := ratelimit.NewLimiter(ratelimit.LimiterConfig{
			RequestsPerMinute: 10, TokensPerMinute: 1000, Margin: -1, ObserveLag: 5 * time.Second, Clock: clock,
		})
		mustAcquire(t, l, 400)
		clock.Advance(61 * time.Second) // the 400 came back a second ago
		// A response admitted before they came back reports them as used.
		l.Observe(dep, 9, 600)
		if got := l.Stats(dep).TokensAvailable; got != 1000 {
			t.Errorf("tokens available = %d, want 1000", got)
		}
		// A figure lower than even that is someone else's usage.
		l.Observe(dep, 9, 500)
		if got := l.Stats(dep).TokensAvailable; got != 900 {
			t.Errorf("tokens available = %d, want 900", got)
		}
	})
}

func TestLimiter_Observe_wait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		l := newLimiter(clock, 10, 1000)
		mustAcquire(t, l, 100)
		l.Observe(dep, -1, 0) // another process used the rest
		ch := acquire(t.Context(), l, 100)
		stillWaiting(t, ch, "a call went through with nothing left")
		clock.Advance(ratelimit.DefaultObserveHold)
		wentThrough(t, ch, "the call did not go through when the hold ended")
	})
}

func TestLimiter_Pause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		l := newLimiter(clock, 100, 10000)
		l.Pause(dep, 10*time.Second)
		l.Pause(dep, 2*time.Second) // a shorter pause does not cut it short
		if got := l.Stats(dep).Paused; got != 10*time.Second {
			t.Errorf("paused = %v, want 10s", got)
		}
		first := acquire(t.Context(), l, 10)
		synctest.Wait()
		second := acquire(t.Context(), l, 10)
		synctest.Wait()
		clock.Advance(9 * time.Second)
		stillWaiting(t, first, "a call went through during the pause")
		clock.Advance(time.Second)
		synctest.Wait()
		for i, ch := range []<-chan result{first, second} {
			if r, ok := done(ch); !ok || r.err != nil {
				t.Errorf("call %d not through after the pause: %v", i+1, r.err)
			}
		}
	})
}

func TestLimiter_Pause_default(t *testing.T) {
	l := ratelimit.NewLimiter(ratelimit.LimiterConfig{DefaultPause: 3 * time.Second, Clock: newFakeClock()})
	l.Pause(dep, 0)
	if got := l.Stats(dep).Paused; got != 3*time.Second {
		t.Errorf("paused = %v, want 3s", got)
	}
}

func TestLimiter_Acquire_neverFits(t *testing.T) {
	l := ratelimit.NewLimiter(ratelimit.LimiterConfig{
		Deployments: map[string]ratelimit.Quota{dep: {TokensPerMinute: 8000}},
		Clock:       newFakeClock(),
	})
	_, err := l.Acquire(t.Context(), dep, 8001)
	if !errors.Is(err, ratelimit.ErrTooLarge) {
		t.Fatalf("error = %v, want ErrTooLarge", err)
	}
	const want = "ratelimit: request needs 8001 tokens but the deployment's quota is 8000 tokens per minute"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if _, err := l.Acquire(t.Context(), dep, 8000); err != nil {
		t.Errorf("a request of exactly the quota failed: %v", err)
	}
	if q := l.Quota("other"); q != (ratelimit.Quota{RequestsPerMinute: 180, TokensPerMinute: 30000}) {
		t.Errorf("default quota = %+v, want 180 RPM / 30000 TPM", q)
	}
}

func TestLimiter_Acquire_fifo(t *testing.T) {
	t.Run("callers go through in arrival order", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clock := newFakeClock()
			l := newLimiter(clock, 1, 100000)
			mustAcquire(t, l, 1)
			const n = 6
			var (
				mu    sync.Mutex
				order []int
				wg    sync.WaitGroup
			)
			for i := range n {
				wg.Go(func() {
					if _, err := l.Acquire(t.Context(), dep, 1); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					order = append(order, i)
					mu.Unlock()
				})
				synctest.Wait() // fixes the arrival order
			}
			for range n {
				clock.Advance(time.Minute + time.Second)
				synctest.Wait()
			}
			wg.Wait()
			if diff := cmp.Diff([]int{0, 1, 2, 3, 4, 5}, order); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	})
	t.Run("a small call does not overtake a large one that waits", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clock := newFakeClock()
			l := newLimiter(clock, 100, 1000)
			mustAcquire(t, l, 900)
			large := acquire(t.Context(), l, 800)
			synctest.Wait()
			small := acquire(t.Context(), l, 50)
			stillWaiting(t, small, "the small call overtook the large one")
			clock.Advance(time.Minute + time.Second)
			synctest.Wait()
			for name, ch := range map[string]<-chan result{"large": large, "small": small} {
				if r, ok := done(ch); !ok || r.err != nil {
					t.Errorf("%s call not through: %v", name, r.err)
				}
			}
		})
	})
	t.Run("many concurrent callers all get through within the quota", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clock := newFakeClock()
			const rpm, callers = 10, 50
			l := newLimiter(clock, rpm, 1000000)
			var through atomic.Int64
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					res, err := l.Acquire(t.Context(), dep, 100)
					if err != nil {
						t.Error(err)
						return
					}
					res.Settle(50)
					through.Add(1)
				})
			}
			synctest.Wait()
			var perWindow []int64
			last := int64(0)
			for through.Load() < callers {
				perWindow = append(perWindow, through.Load()-last)
				last = through.Load()
				clock.Advance(time.Minute + time.Second)
				synctest.Wait()
			}
			perWindow = append(perWindow, through.Load()-last)
			wg.Wait()
			if diff := cmp.Diff([]int64{10, 10, 10, 10, 10}, perWindow); diff != "" {
				t.Errorf("calls through per window (-want +got):\n%s", diff)
			}
		})
	})
}

func TestLimiter_Acquire_cancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		l := newLimiter(clock, 1, 1000)
		mustAcquire(t, l, 1)
		ctx, cancel := context.WithCancel(t.Context())
		first := acquire(ctx, l, 1)
		synctest.Wait()
		second := acquire(t.Context(), l, 1)
		synctest.Wait()
		cancel()
		synctest.Wait()
		r, ok := done(first)
		if !ok {
			t.Fatal("a cancelled wait did not return")
		}
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", r.err)
		}
		if got := l.Stats(dep).Waiting; got != 1 {
			t.Errorf("waiting = %d, want 1", got)
		}
		// The next in line took over the head of the queue.
		clock.Advance(time.Minute + time.Second)
		synctest.Wait()
		if r, ok := done(second); !ok || r.err != nil {
			t.Errorf("the next caller did not go through: %v", r.err)
		}
		if got := l.Stats(dep).RequestsAvailable; got != 0 {
			t.Errorf("requests available = %d, want 0 (the cancelled call took nothing)", got)
		}
		ctx2, cancel2 := context.WithCancel(t.Context())
		cancel2()
		if _, err := l.Acquire(ctx2, dep, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("Acquire with a done context = %v, want context.Canceled", err)
		}
	})
}

// benchClock is a clock for benchmarks that moves 1ms on every reading, so
// the quota windows keep turning over.
type benchClock struct {
	base time.Time
	n    atomic.Int64
}

func (c *benchClock) Now() time.Time {
	return c.base.Add(time.Duration(c.n.Add(1)) * time.Millisecond)
}

func (c *benchClock) NewTimer(d time.Duration) ratelimit.Timer {
	return (&fakeClock{}).NewTimer(0) // unused: the quota is never exhausted
}

func BenchmarkLimiter_Acquire(b *testing.B) {
	l := ratelimit.NewLimiter(ratelimit.LimiterConfig{
		RequestsPerMinute: 1 << 30,
		TokensPerMinute:   1 << 30,
		Clock:             &benchClock{base: time.Now()},
	})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := l.Acquire(ctx, dep, 1000)
			if err != nil {
				b.Fatal(err)
			}
			res.Settle(800)
		}
	})
}
