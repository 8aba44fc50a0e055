package retry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/model/retry"
)

// startEmulator serves an emulator on loopback and returns a provider client
// for it.
func startEmulator(t *testing.T, cfg emulator.Config) (*emulator.Running, *provider.Client) {
	t.Helper()
	return emutest.Start(t, cfg, "gpt-4o", nil)
}

func TestIntegration_emulatorFaults(t *testing.T) {
	run, p := startEmulator(t, emulator.Config{
		Seed: 42,
		Faults: emulator.Faults{Rates: map[emulator.Fault]float64{
			emulator.Fault429: 0.1, emulator.Fault500: 0.05, emulator.Fault503: 0.05, emulator.FaultCut: 0.1,
		}},
	})
	var (
		mu      sync.Mutex
		retried []error
		waits   []time.Duration
	)
	c := model.Chain(p, retry.New(retry.Config{
		MaxAttempts: 10,
		// The faults' Retry-After is a second: record the waits instead of
		// sleeping them, so the test stays fast.
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() },
		OnRetry: func(attempt int, err error, wait time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			retried = append(retried, err)
			waits = append(waits, wait)
		},
	}))
	const calls = 30
	for i := range calls {
		t.Run(fmt.Sprintf("call %d", i), func(t *testing.T) {
			req := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: fmt.Sprintf("Write story %d about the harbour.", i)}}}
			var text strings.Builder
			if i%2 == 1 {
				req.OnDelta = func(d model.Delta) {
					if d.Restart {
						text.Reset()
					}
					text.WriteString(d.Text)
				}
			}
			resp, err := c.Complete(t.Context(), req)
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if resp.Content == "" {
				t.Error("empty answer")
			}
			if req.OnDelta != nil && text.String() != resp.Content {
				t.Errorf("streamed text after restarts = %q, want the answer %q", text.String(), resp.Content)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(retried) == 0 {
		t.Fatal("no call was retried: the faults did not reach the middleware")
	}
	if got := run.Count(); got != calls+len(retried) {
		t.Errorf("emulator saw %d requests, want %d calls + %d retries", got, calls, len(retried))
	}
	var throttled, cut int
	for i, err := range retried {
		var me *model.Error
		if errors.As(err, &me) && me.StatusCode == 429 {
			throttled++
			if me.RetryAfter <= 0 || waits[i] != me.RetryAfter {
				t.Errorf("429 with Retry-After %v waited %v", me.RetryAfter, waits[i])
			}
		}
		if errors.Is(err, model.ErrStreamCut) {
			cut++
		}
	}
	t.Logf("%d calls, %d retries (%d throttled, %d cut streams)", calls, len(retried), throttled, cut)
	if throttled == 0 {
		t.Error("no 429 was retried")
	}
}

func TestIntegration_emulatorRefusals(t *testing.T) {
	t.Run("a content filter refusal stops with its category", func(t *testing.T) {
		run, p := startEmulator(t, emulator.Config{
			Faults: emulator.Faults{Rates: map[emulator.Fault]float64{emulator.FaultContentFilter: 1}},
		})
		c := model.Chain(p, retry.New(retry.Config{}))
		_, err := c.Complete(t.Context(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hello"}}})
		reason, ok := model.AsStop(err)
		if !ok {
			t.Fatalf("error %v is not a stop", err)
		}
		if want := "content filter: the prompt was filtered (category: violence)"; reason != want {
			t.Errorf("stop reason = %q, want %q", reason, want)
		}
		if run.Count() != 1 {
			t.Errorf("emulator saw %d requests, want 1", run.Count())
		}
	})
	t.Run("a prompt over the context window says by how much", func(t *testing.T) {
		_, p := startEmulator(t, emulator.Config{ContextWindow: 20})
		c := model.Chain(p, retry.New(retry.Config{}))
		_, err := c.Complete(t.Context(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: strings.Repeat("harbour news ", 20)}}})
		var cl *retry.ContextLengthError
		if !errors.As(err, &cl) {
			t.Fatalf("error = %v, want a *retry.ContextLengthError", err)
		}
		if cl.Limit != 20 || cl.Sent <= 20 {
			t.Errorf("sent, limit = %d, %d; want more than 20, 20", cl.Sent, cl.Limit)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%d tokens", cl.Sent)) {
			t.Errorf("error %q does not say how many tokens were sent", err)
		}
	})
}
