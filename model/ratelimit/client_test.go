package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/tokenizer"
)

var hello = []model.Message{{Role: model.RoleSystem, Content: "You are a reporter."}, {Role: model.RoleUser, Content: "Write about the harbour."}}

func TestClient_Complete(t *testing.T) {
	prompt := model.PromptTokens(tokenizer.MustForModel(dep).Count, hello)
	const tpm = 10000
	tests := []struct {
		name        string
		req         model.Request
		resp        *model.Response
		err         error
		wantDuring  int // tokens available while the call runs
		wantAfter   int // tokens available after it
		wantReqsAft int // requests available after it, of 10
	}{
		{
			name:        "without max_tokens the default completion estimate is reserved",
			req:         model.Request{Model: dep, Messages: hello},
			resp:        &model.Response{Content: "ok", Usage: model.Usage{PromptTokens: prompt, CompletionTokens: 120}},
			wantDuring:  tpm - prompt - 1000,
			wantAfter:   tpm - prompt - 120,
			wantReqsAft: 9,
		},
		{
			name:        "max_tokens is reserved when set",
			req:         model.Request{Model: dep, Messages: hello, MaxTokens: 200},
			resp:        &model.Response{Content: "ok", Usage: model.Usage{PromptTokens: prompt, CompletionTokens: 250}},
			wantDuring:  tpm - prompt - 200,
			wantAfter:   tpm - prompt - 250,
			wantReqsAft: 9,
		},
		{
			name:        "an empty model uses the configured deployment",
			req:         model.Request{Messages: hello, MaxTokens: 100},
			resp:        &model.Response{Content: "ok", Usage: model.Usage{PromptTokens: prompt, CompletionTokens: 10}},
			wantDuring:  tpm - prompt - 100,
			wantAfter:   tpm - prompt - 10,
			wantReqsAft: 9,
		},
		{
			name:        "a response without usage is counted with the tokenizer",
			req:         model.Request{Model: dep, Messages: hello, MaxTokens: 500},
			resp:        &model.Response{Content: "one two three"},
			wantDuring:  tpm - prompt - 500,
			wantAfter:   tpm - prompt - tokenizer.MustForModel(dep).Count("one two three"),
			wantReqsAft: 9,
		},
		{
			name:        "an error status gives the reservation back",
			req:         model.Request{Model: dep, Messages: hello, MaxTokens: 100},
			err:         &model.Error{StatusCode: 400, Code: "content_filter"},
			wantDuring:  tpm - prompt - 100,
			wantAfter:   tpm,
			wantReqsAft: 10,
		},
		{
			name:        "a broken connection keeps the estimate",
			req:         model.Request{Model: dep, Messages: hello, MaxTokens: 100},
			err:         &model.Error{Message: "read: connection reset", Err: syscall.ECONNRESET},
			wantDuring:  tpm - prompt - 100,
			wantAfter:   tpm - prompt - 100,
			wantReqsAft: 9,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ratelimit.NewLimiter(ratelimit.LimiterConfig{RequestsPerMinute: 10, TokensPerMinute: tpm, Clock: newFakeClock()})
			calls := 0
			next := model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
				calls++
				if got := l.Stats(dep).TokensAvailable; got != tt.wantDuring {
					t.Errorf("tokens available during the call = %d, want %d", got, tt.wantDuring)
				}
				return tt.resp, tt.err
			})
			c := ratelimit.New(ratelimit.Config{Limiter: l, Deployment: dep})(next)
			req := tt.req
			_, err := c.Complete(t.Context(), &req)
			if !errors.Is(err, tt.err) {
				t.Errorf("error = %v, want %v", err, tt.err)
			}
			if calls != 1 {
				t.Errorf("calls = %d, want 1", calls)
			}
			got := l.Stats(dep)
			if got.TokensAvailable != tt.wantAfter || got.RequestsAvailable != tt.wantReqsAft {
				t.Errorf("available after = %d tokens, %d requests; want %d, %d", got.TokensAvailable, got.RequestsAvailable, tt.wantAfter, tt.wantReqsAft)
			}
		})
	}
}

func TestClient_Complete_throttled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock()
		l := ratelimit.NewLimiter(ratelimit.LimiterConfig{Clock: clock})
		throttle := true
		next := model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
			if throttle {
				throttle = false
				return nil, &model.Error{StatusCode: 429, Code: "429", RetryAfter: 7 * time.Second}
			}
			return &model.Response{Content: "ok", Usage: model.Usage{PromptTokens: 10, CompletionTokens: 10}}, nil
		})
		c := ratelimit.New(ratelimit.Config{Limiter: l, CountPrompt: func(*model.Request) int { return 10 }})(next)
		_, err := c.Complete(t.Context(), &model.Request{Model: dep, MaxTokens: 10})
		var me *model.Error
		if !errors.As(err, &me) || me.StatusCode != 429 {
			t.Fatalf("error = %v, want the 429 passed through", err)
		}
		got := l.Stats(dep)
		if got.Paused != 7*time.Second {
			t.Errorf("paused = %v, want the Retry-After, 7s", got.Paused)
		}
		if got.RequestsAvailable != 180 || got.TokensAvailable != 30000 {
			t.Errorf("stats = %+v, want the refused call given back", got)
		}
		// Another run's call waits out the pause instead of hitting the service.
		ch := make(chan error, 1)
		go func() {
			_, err := c.Complete(t.Context(), &model.Request{Model: dep, MaxTokens: 10})
			ch <- err
		}()
		synctest.Wait()
		select {
		case err := <-ch:
			t.Fatalf("a call went through during the pause: %v", err)
		default:
		}
		clock.Advance(7 * time.Second)
		synctest.Wait()
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("after the pause: %v", err)
			}
		default:
			t.Fatal("the call did not go through after the pause")
		}
	})
}

func TestClient_Complete_defaultEstimateFitsTheQuota(t *testing.T) {
	l := ratelimit.NewLimiter(ratelimit.LimiterConfig{TokensPerMinute: 800, Clock: newFakeClock()})
	next := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		if got := l.Stats(dep).TokensAvailable; got != 0 {
			t.Errorf("tokens available during the call = %d, want 0 (the whole quota reserved)", got)
		}
		return &model.Response{Usage: model.Usage{PromptTokens: 100, CompletionTokens: 50}}, nil
	})
	c := ratelimit.New(ratelimit.Config{Limiter: l, CountPrompt: func(*model.Request) int { return 100 }})(next)
	if _, err := c.Complete(t.Context(), &model.Request{Model: dep}); err != nil {
		t.Fatalf("a call whose only excess is the default guess failed: %v", err)
	}
	if got := l.Stats(dep).TokensAvailable; got != 650 {
		t.Errorf("tokens available after = %d, want 650", got)
	}
}

func TestClient_Complete_neverFits(t *testing.T) {
	l := ratelimit.NewLimiter(ratelimit.LimiterConfig{TokensPerMinute: 1000, Clock: newFakeClock()})
	next := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		t.Error("a call that can never fit reached the service")
		return nil, fmt.Errorf("unreachable")
	})
	c := ratelimit.New(ratelimit.Config{Limiter: l, CountPrompt: func(*model.Request) int { return 100 }})(next)
	_, err := c.Complete(t.Context(), &model.Request{Model: dep, MaxTokens: 4096})
	const want = "ratelimit: request needs 4196 tokens but the deployment's quota is 1000 tokens per minute"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// BenchmarkClient_Complete is the middleware's cost per call: counting the
// prompt with the tokenizer, acquiring and settling.
func BenchmarkClient_Complete(b *testing.B) {
	l := ratelimit.NewLimiter(ratelimit.LimiterConfig{
		RequestsPerMinute: 1 << 30,
		TokensPerMinute:   1 << 30,
		Clock:             &benchClock{base: time.Now()},
	})
	resp := &model.Response{Content: "ok", Usage: model.Usage{PromptTokens: 20, CompletionTokens: 5}}
	next := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) { return resp, nil })
	c := ratelimit.New(ratelimit.Config{Limiter: l, Deployment: dep})(next)
	req := &model.Request{Messages: hello, MaxTokens: 100}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Complete(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestClient_Complete_countsLikeTheTokenizer(t *testing.T) {
	l := ratelimit.NewLimiter(ratelimit.LimiterConfig{TokensPerMinute: 100000, Clock: newFakeClock()})
	var before, reserved int
	next := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		reserved = before - l.Stats(dep).TokensAvailable
		return &model.Response{Usage: model.Usage{PromptTokens: 1}}, nil
	})
	c := ratelimit.New(ratelimit.Config{Limiter: l})(next)
	history := append([]model.Message(nil), hello...)
	for turn, m := range []model.Message{
		{Role: model.RoleAssistant, Name: "Reporter", Content: "The harbour reopened on Tuesday after a week of repairs."},
		{Role: model.RoleAssistant, Name: "Editor", Content: "Good. Add a quote from the harbour master; APPROVE after that."},
		{Role: model.RoleUser, Content: "The harbour reopened on Tuesday after a week of repairs."},
	} {
		history = append(history, m)
		req := &model.Request{Model: dep, Messages: history, MaxTokens: 10}
		before = l.Stats(dep).TokensAvailable
		if _, err := c.Complete(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		want := model.PromptTokens(tokenizer.MustForModel(dep).Count, history) + 10
		if reserved != want {
			t.Errorf("turn %d: reserved %d tokens, want the tokenizer's %d + max_tokens", turn, reserved, want)
		}
	}
}

// settler is a SharedSettler that records what the calls were settled to.
type settler struct{ settled []int }

func (s *settler) Acquire(context.Context, string, int) error { return nil }

func (s *settler) AcquireSettle(context.Context, string, int) (func(int), error) {
	return func(used int) { s.settled = append(s.settled, used) }, nil
}

func TestClient_SettlesTheSharedQuotaWithWhatTheCallUsed(t *testing.T) {
	for _, tt := range []struct {
		name string
		resp *model.Response
		err  error
		want []int
	}{
		{"an answer settles to its usage", &model.Response{Content: "ok", Usage: model.Usage{PromptTokens: 30, CompletionTokens: 12}}, nil, []int{42}},
		{"a 429 gives the call back", nil, &model.Error{StatusCode: 429, RetryAfter: time.Millisecond}, []int{0}},
		{"a cut stream keeps the estimate", nil, fmt.Errorf("read: %w", syscall.ECONNRESET), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &settler{}
			next := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) { return tt.resp, tt.err })
			c := ratelimit.Wrap(next, ratelimit.Config{Limiter: ratelimit.NewLimiter(ratelimit.LimiterConfig{RequestsPerMinute: 10, TokensPerMinute: 10000}),
				Deployment: dep, Shared: s})
			_, _ = c.Complete(context.Background(), &model.Request{Model: dep, Messages: hello})
			if fmt.Sprint(s.settled) != fmt.Sprint(tt.want) {
				t.Errorf("settled %v, want %v", s.settled, tt.want)
			}
		})
	}
}

// Tool definitions and the messages of a tool round (the assistant's
// tool calls, the tool's result) are prompt tokens the service bills: the
// limiter reserves them.
func TestClient_Complete_reservesTheTokensOfToolsAndToolMessages(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewLimiter(ratelimit.LimiterConfig{TokensPerMinute: 1_000_000, Clock: newFakeClock()})
	var before, reserved int
	next := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		reserved = before - l.Stats(dep).TokensAvailable
		return &model.Response{Usage: model.Usage{PromptTokens: 1}}, nil
	})
	c := ratelimit.New(ratelimit.Config{Limiter: l})(next)
	reserve := func(req *model.Request) int {
		t.Helper()
		before = l.Stats(dep).TokensAvailable
		if _, err := c.Complete(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		return reserved
	}
	tools := []model.Tool{{Name: "fetch_url", Description: "Fetch a web page (http or https) and return its readable text.",
		Parameters: []byte(`{"type":"object","properties":{"url":{"type":"string","description":"an absolute http or https URL"}},"required":["url"]}`)}}
	tok := tokenizer.MustForModel(dep)

	plain := reserve(&model.Request{Model: dep, Messages: hello, MaxTokens: 10})
	withTools := reserve(&model.Request{Model: dep, Messages: hello, Tools: tools, MaxTokens: 10})
	if want := model.PromptTokens(tok.Count, hello) + model.ToolTokens(tok.Count, tools) + 10; withTools != want || withTools <= plain {
		t.Errorf("with tools: reserved %d, want %d (without them %d)", withTools, want, plain)
	}

	// The same conversation, once with its tool round and once without.
	round := append(append([]model.Message(nil), hello...),
		model.Message{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{{ID: "call_1", Name: "fetch_url", Arguments: `{"url":"https://example.org/harbour"}`}}},
		model.Message{Role: model.RoleTool, ToolCallID: "call_1", Content: `{"title":"Harbour","text":"The harbour reopened on Tuesday."}`})
	bare := append(append([]model.Message(nil), hello...), model.Message{Role: model.RoleAssistant}, model.Message{Role: model.RoleTool})
	withRound := reserve(&model.Request{Model: dep, Messages: round, MaxTokens: 10})
	withoutRound := reserve(&model.Request{Model: dep, Messages: bare, MaxTokens: 10})
	if want := model.PromptTokens(tok.Count, round) + 10; withRound != want || withRound <= withoutRound {
		t.Errorf("tool round: reserved %d, want %d (the same messages without calls and results: %d)", withRound, want, withoutRound)
	}
	if want := model.PromptTokens(tok.Count, bare) + 10; withoutRound != want {
		t.Errorf("without the round's calls and results: reserved %d, want %d", withoutRound, want)
	}
}
