package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/retry"
)

// step is one scripted attempt: the deltas it streams, then its result.
type step struct {
	deltas []string
	err    error
}

// script is a model.Client that plays its steps in order, one per call.
type script struct {
	mu    sync.Mutex
	steps []step
	calls int
}

func (s *script) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	s.mu.Lock()
	i := s.calls
	s.calls++
	s.mu.Unlock()
	if i >= len(s.steps) {
		return nil, fmt.Errorf("script: unexpected call %d", i+1)
	}
	st := s.steps[i]
	var text strings.Builder
	for _, d := range st.deltas {
		text.WriteString(d)
		if req.OnDelta != nil {
			req.OnDelta(model.Delta{Text: d})
		}
	}
	if st.err != nil {
		return nil, st.err
	}
	return &model.Response{Content: text.String(), Usage: model.Usage{Requests: 1}}, nil
}

// fakeTime is a clock whose Sleep records the wait and moves the clock on.
type fakeTime struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeTime() *fakeTime { return &fakeTime{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.now = f.now.Add(d)
	return ctx.Err()
}

func (f *fakeTime) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// config returns a Config on ft whose jitter always picks the ceiling, so
// backoff waits are 1s, 2s, 4s, ... capped at 10s.
func config(ft *fakeTime) retry.Config {
	return retry.Config{
		BaseDelay: time.Second,
		MaxDelay:  10 * time.Second,
		Sleep:     ft.Sleep,
		Now:       ft.Now,
		Rand:      func() float64 { return 1 },
	}
}

func status(code int) error {
	return &model.Error{StatusCode: code, Code: fmt.Sprint(code), Message: http.StatusText(code)}
}

func throttled(after time.Duration) error {
	return &model.Error{StatusCode: 429, Code: "429", Message: "rate limited", RetryAfter: after}
}

var errScript = errors.New("script: should not be reached")

func TestClient_Complete_retries(t *testing.T) {
	ok := step{deltas: []string{"done"}}
	tests := []struct {
		name       string
		steps      []step
		cfg        func(*retry.Config)
		wantCalls  int
		wantSleeps []time.Duration
		wantErr    error // matched with errors.Is; nil means success
		wantStatus int   // when non-zero, errors.As finds a *model.Error with this status
	}{
		{
			name:       "a success is returned at once",
			steps:      []step{ok},
			wantCalls:  1,
			wantSleeps: nil,
		},
		{
			name:       "retryable statuses back off exponentially",
			steps:      []step{{err: status(500)}, {err: status(502)}, {err: status(503)}, {err: status(504)}, {err: status(408)}, ok},
			wantCalls:  6,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second},
		},
		{
			name:       "Retry-After is honoured instead of the backoff",
			steps:      []step{{err: throttled(1500 * time.Millisecond)}, {err: throttled(20 * time.Second)}, ok},
			wantCalls:  3,
			wantSleeps: []time.Duration{1500 * time.Millisecond, 20 * time.Second},
		},
		{
			name:       "a 429 without Retry-After backs off",
			steps:      []step{{err: throttled(0)}, ok},
			wantCalls:  2,
			wantSleeps: []time.Duration{time.Second},
		},
		{
			name: "transport failures are retried",
			steps: []step{
				{err: &model.Error{Message: "read", Err: syscall.ECONNRESET}},
				{err: fmt.Errorf("post: %w", syscall.ECONNREFUSED)},
				{err: &model.Error{Err: io.ErrUnexpectedEOF}},
				{err: fmt.Errorf("attempt timed out: %w", context.DeadlineExceeded)},
				ok,
			},
			wantCalls:  5,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second},
		},
		{
			name:       "attempts are bounded",
			steps:      []step{{err: status(503)}, {err: status(503)}, {err: status(503)}, {err: errScript}},
			cfg:        func(c *retry.Config) { c.MaxAttempts = 3 },
			wantCalls:  3,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second},
			wantStatus: 503,
		},
		{
			name:       "the default is six attempts",
			steps:      []step{{err: status(500)}, {err: status(500)}, {err: status(500)}, {err: status(500)}, {err: status(500)}, {err: status(500)}, {err: errScript}},
			wantCalls:  6,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second},
			wantStatus: 500,
		},
		{
			name:       "total time is bounded",
			steps:      []step{{err: throttled(30 * time.Second)}, {err: throttled(30 * time.Second)}, {err: throttled(30 * time.Second)}, {err: errScript}},
			cfg:        func(c *retry.Config) { c.MaxElapsed = time.Minute },
			wantCalls:  3,
			wantSleeps: []time.Duration{30 * time.Second, 30 * time.Second},
			wantStatus: 429,
		},
		{
			name:       "a Retry-After beyond the total time is not waited for",
			steps:      []step{{err: throttled(5 * time.Minute)}, {err: errScript}},
			wantCalls:  1,
			wantStatus: 429,
		},
		{
			name:       "insufficient quota is not retried",
			steps:      []step{{err: &model.Error{StatusCode: 429, Code: "insufficient_quota"}}, {err: errScript}},
			wantCalls:  1,
			wantStatus: 429,
		},
		{
			name:      "an unknown error is not retried",
			steps:     []step{{err: errScript}},
			wantCalls: 1,
			wantErr:   errScript,
		},
		{
			name:      "a cancellation that is not the caller's is not retried",
			steps:     []step{{err: fmt.Errorf("inner: %w", context.Canceled)}, ok},
			wantCalls: 1,
			wantErr:   context.Canceled,
		},
	}
	for _, code := range []int{400, 401, 403, 404, 422} {
		tests = append(tests, struct {
			name       string
			steps      []step
			cfg        func(*retry.Config)
			wantCalls  int
			wantSleeps []time.Duration
			wantErr    error
			wantStatus int
		}{
			name:       fmt.Sprintf("status %d is never retried", code),
			steps:      []step{{err: status(code)}, ok},
			wantCalls:  1,
			wantStatus: code,
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := newFakeTime()
			cfg := config(ft)
			var hooked []time.Duration
			cfg.OnRetry = func(attempt int, err error, wait time.Duration) {
				if attempt != len(hooked)+1 {
					t.Errorf("OnRetry attempt = %d, want %d", attempt, len(hooked)+1)
				}
				if err == nil {
					t.Error("OnRetry got a nil error")
				}
				hooked = append(hooked, wait)
			}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			s := &script{steps: tt.steps}
			c := model.Chain(s, retry.New(cfg))
			resp, err := c.Complete(t.Context(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})

			if s.calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", s.calls, tt.wantCalls)
			}
			if diff := cmp.Diff(tt.wantSleeps, ft.Sleeps()); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSleeps, hooked); diff != "" {
				t.Errorf("OnRetry waits (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantErr == nil && tt.wantStatus == 0:
				if err != nil {
					t.Fatalf("Complete: %v", err)
				}
				if resp.Content != "done" {
					t.Errorf("content = %q, want %q", resp.Content, "done")
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error = %v, want %v", err, tt.wantErr)
				}
			default:
				var me *model.Error
				if !errors.As(err, &me) || me.StatusCode != tt.wantStatus {
					t.Errorf("error = %v, want a *model.Error with status %d", err, tt.wantStatus)
				}
			}
		})
	}
}

func TestClient_Complete_jitter(t *testing.T) {
	ft := newFakeTime()
	cfg := config(ft)
	draws := []float64{0.5, 0.25, 0}
	cfg.Rand = func() float64 {
		r := draws[0]
		draws = draws[1:]
		return r
	}
	s := &script{steps: []step{{err: status(500)}, {err: status(500)}, {err: status(500)}, {}}}
	if _, err := retry.New(cfg)(s).Complete(t.Context(), &model.Request{}); err != nil {
		t.Fatal(err)
	}
	// Ceilings 1s, 2s, 4s times the draws.
	want := []time.Duration{500 * time.Millisecond, 500 * time.Millisecond, 0}
	if diff := cmp.Diff(want, ft.Sleeps()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
}

func TestClient_Complete_callerCancellation(t *testing.T) {
	t.Run("a cancelled caller is not retried", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		s := &script{steps: []step{{err: status(503)}, {err: errScript}}}
		c := retry.New(config(newFakeTime()))(model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
			cancel()
			return s.Complete(ctx, req)
		}))
		_, err := c.Complete(ctx, &model.Request{})
		if s.calls != 1 {
			t.Errorf("calls = %d, want 1", s.calls)
		}
		var me *model.Error
		if !errors.As(err, &me) || me.StatusCode != 503 {
			t.Errorf("error = %v, want the 503", err)
		}
	})
	t.Run("cancellation during the wait ends the call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cfg := config(newFakeTime())
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}
		s := &script{steps: []step{{err: status(503)}, {err: errScript}}}
		_, err := retry.New(cfg)(s).Complete(ctx, &model.Request{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
		if s.calls != 1 {
			t.Errorf("calls = %d, want 1", s.calls)
		}
	})
	t.Run("a wait past the caller's deadline is not started", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		ft := newFakeTime()
		s := &script{steps: []step{{err: throttled(2 * time.Hour)}, {err: errScript}}}
		cfg := config(ft)
		cfg.MaxElapsed = 24 * time.Hour
		_, err := retry.New(cfg)(s).Complete(ctx, &model.Request{})
		var me *model.Error
		if !errors.As(err, &me) || me.StatusCode != 429 {
			t.Errorf("error = %v, want the 429", err)
		}
		if len(ft.Sleeps()) != 0 {
			t.Errorf("slept %v, want no wait", ft.Sleeps())
		}
	})
}

func TestClient_Complete_streamRestart(t *testing.T) {
	cut := fmt.Errorf("provider: reading stream: %w", model.ErrStreamCut)
	tests := []struct {
		name  string
		steps []step
		want  []model.Delta
	}{
		{
			name:  "a cut stream is restarted after its partial text",
			steps: []step{{deltas: []string{"Hel", "lo"}, err: cut}, {deltas: []string{"Hello", " world"}}},
			want:  []model.Delta{{Text: "Hel"}, {Text: "lo"}, {Restart: true}, {Text: "Hello"}, {Text: " world"}},
		},
		{
			name:  "a failure before any text sends no restart",
			steps: []step{{err: throttled(time.Second)}, {deltas: []string{"Hi"}}},
			want:  []model.Delta{{Text: "Hi"}},
		},
		{
			name: "each cut with text gets its own restart",
			steps: []step{
				{deltas: []string{"a"}, err: cut},
				{err: status(503)},
				{deltas: []string{"b"}, err: cut},
				{deltas: []string{"c"}},
			},
			want: []model.Delta{{Text: "a"}, {Restart: true}, {Text: "b"}, {Restart: true}, {Text: "c"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []model.Delta
			req := &model.Request{OnDelta: func(d model.Delta) { got = append(got, d) }}
			s := &script{steps: tt.steps}
			resp, err := retry.New(config(newFakeTime()))(s).Complete(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
			if s.calls != len(tt.steps) {
				t.Errorf("calls = %d, want %d", s.calls, len(tt.steps))
			}
			if last := tt.want[len(tt.want)-1]; !strings.HasSuffix(resp.Content, last.Text) {
				t.Errorf("content = %q", resp.Content)
			}
		})
	}
}

// azureFilterMessage is what a provider passes on for Azure's content filter
// refusal: the message followed by the innererror object.
const azureFilterMessage = `The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. ` +
	`{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}}`

func TestClient_Complete_contentFilter(t *testing.T) {
	tests := []struct {
		name           string
		err            *model.Error
		wantReason     string
		wantCategories []string
	}{
		{
			name:           "Azure's verdict names the category",
			err:            &model.Error{StatusCode: 400, Code: "content_filter", Message: azureFilterMessage, RequestID: "req-1"},
			wantReason:     "content filter: the prompt was filtered (category: violence)",
			wantCategories: []string{"violence"},
		},
		{
			name: "several filtered categories are all named",
			err: &model.Error{StatusCode: 400, Code: "content_filter", Message: `The response was filtered due to the prompt triggering Azure OpenAI's content management policy. ` +
				`{"error":{"innererror":{"content_filter_results":{"violence":{"filtered":true},"hate":{"filtered":true},"sexual":{"filtered":false}}}}}`},
			wantReason:     "content filter: the prompt was filtered (categories: hate, violence)",
			wantCategories: []string{"hate", "violence"},
		},
		{
			name: "the provider's note names the categories",
			err: &model.Error{StatusCode: 400, Code: "content_filter",
				Message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. [content filter: jailbreak, violence]"},
			wantReason:     "content filter: the prompt was filtered (categories: jailbreak, violence)",
			wantCategories: []string{"jailbreak", "violence"},
		},
		{
			name:           "an error event in a started stream filtered the answer",
			err:            &model.Error{Code: "content_filter", Message: "the service ended the stream with an error [content filter: sexual]"},
			wantReason:     "content filter: the response was filtered (category: sexual)",
			wantCategories: []string{"sexual"},
		},
		{
			name:           "a 400 about the content management policy without a code",
			err:            &model.Error{StatusCode: 400, Message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy."},
			wantReason:     "content filter: the prompt was filtered",
			wantCategories: nil,
		},
		{
			name:           "without a verdict object the message's words are used",
			err:            &model.Error{StatusCode: 400, Code: "content_filter", Message: "prompt refused by the content filter (category: self_harm)"},
			wantReason:     "content filter: the prompt was filtered (category: self_harm)",
			wantCategories: []string{"self_harm"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{steps: []step{{err: tt.err}, {err: errScript}}}
			_, err := retry.New(config(newFakeTime()))(s).Complete(t.Context(), &model.Request{})
			if s.calls != 1 {
				t.Errorf("calls = %d, want 1 (a refusal is not retried)", s.calls)
			}
			reason, ok := model.AsStop(err)
			if !ok {
				t.Fatalf("error %v is not a model.StopError", err)
			}
			if reason != tt.wantReason {
				t.Errorf("stop reason = %q, want %q", reason, tt.wantReason)
			}
			var cf *retry.ContentFilterError
			if !errors.As(err, &cf) {
				t.Fatalf("error %T is not a *retry.ContentFilterError", err)
			}
			if diff := cmp.Diff(tt.wantCategories, cf.Categories); diff != "" {
				t.Errorf("categories (-want +got):\n%s", diff)
			}
			var me *model.Error
			if !errors.As(err, &me) || me != tt.err {
				t.Error("the service's *model.Error is not reachable with errors.As")
			}
		})
	}
}

func TestClient_Complete_contextLength(t *testing.T) {
	me := &model.Error{
		StatusCode: 400,
		Code:       "context_length_exceeded",
		Message:    "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens. Please reduce the length of the messages.",
	}
	s := &script{steps: []step{{err: me}, {err: errScript}}}
	_, err := retry.New(config(newFakeTime()))(s).Complete(t.Context(), &model.Request{})
	if s.calls != 1 {
		t.Errorf("calls = %d, want 1", s.calls)
	}
	var cl *retry.ContextLengthError
	if !errors.As(err, &cl) {
		t.Fatalf("error = %v, want a *retry.ContextLengthError", err)
	}
	if cl.Sent != 130512 || cl.Limit != 128000 {
		t.Errorf("sent, limit = %d, %d; want 130512, 128000", cl.Sent, cl.Limit)
	}
	for _, want := range []string{"130512 tokens", "128000 tokens"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, ok := model.AsStop(err); ok {
		t.Error("a context length error is not a graceful stop")
	}
}

func BenchmarkRetry_Passthrough(b *testing.B) {
	resp := &model.Response{Content: "ok"}
	next := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) { return resp, nil })
	c := retry.New(retry.Config{})(next)
	req := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Complete(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRetry_ThrottlingLastsAsLongAsTheDeadline: 429s are retried, honouring
// Retry-After, past MaxAttempts and MaxElapsed while the caller's deadline
// allows; failures of other kinds stay bounded by MaxAttempts.
func TestRetry_ThrottlingLastsAsLongAsTheDeadline(t *testing.T) {
	throttled := &model.Error{StatusCode: http.StatusTooManyRequests, RetryAfter: 20 * time.Second}
	t.Run("twenty 429s then an answer, within an hour's deadline", func(t *testing.T) {
		var steps []step
		for range 20 {
			steps = append(steps, step{err: throttled})
		}
		steps = append(steps, step{})
		s := &script{steps: steps}
		ft := newFakeTime()
		c := retry.Wrap(s, retry.Config{MaxAttempts: 3, MaxElapsed: time.Minute, Sleep: ft.Sleep, Now: ft.Now})
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if _, err := c.Complete(ctx, &model.Request{}); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if s.calls != 21 {
			t.Errorf("calls = %d, want 21", s.calls)
		}
		for i, d := range ft.Sleeps() {
			if d != throttled.RetryAfter {
				t.Errorf("wait %d = %v, want the Retry-After %v", i, d, throttled.RetryAfter)
			}
		}
	})
	t.Run("429s stop when the next wait would pass the deadline", func(t *testing.T) {
		s := &script{steps: []step{{err: throttled}, {err: throttled}}}
		ft := newFakeTime()
		c := retry.Wrap(s, retry.Config{Sleep: ft.Sleep, Now: ft.Now})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.Complete(ctx, &model.Request{})
		var me *model.Error
		if !errors.As(err, &me) || me.StatusCode != http.StatusTooManyRequests || s.calls != 1 {
			t.Errorf("Complete = %v after %d calls, want the 429 at once", err, s.calls)
		}
	})
	t.Run("without a deadline, 429s are bounded by MaxElapsed", func(t *testing.T) {
		var steps []step
		for range 10 {
			steps = append(steps, step{err: throttled})
		}
		s := &script{steps: steps}
		ft := newFakeTime()
		c := retry.Wrap(s, retry.Config{MaxElapsed: time.Minute, Sleep: ft.Sleep, Now: ft.Now})
		if _, err := c.Complete(context.Background(), &model.Request{}); err == nil || s.calls != 4 {
			t.Errorf("Complete = %v after %d calls, want giving up after 4 (three 20s waits fill the minute)", err, s.calls)
		}
	})
	t.Run("500s stay bounded by MaxAttempts, 429s in between do not count", func(t *testing.T) {
		failed := &model.Error{StatusCode: http.StatusInternalServerError}
		s := &script{steps: []step{{err: failed}, {err: throttled}, {err: throttled}, {err: failed}, {err: failed}, {}}}
		ft := newFakeTime()
		c := retry.Wrap(s, retry.Config{MaxAttempts: 3, Sleep: ft.Sleep, Now: ft.Now, Rand: func() float64 { return 0 }})
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		_, err := c.Complete(ctx, &model.Request{})
		if err == nil || !strings.Contains(err.Error(), "giving up after 5 attempts") || s.calls != 5 {
			t.Errorf("Complete = %v after %d calls, want giving up at the third 500 (5 attempts)", err, s.calls)
		}
	})
}
