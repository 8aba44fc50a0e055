package cache_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache"
	"github.com/newsroom-dev/newsroom/model/cache/memory"
)

// scripted is a next Client that answers "answer to <last message>", streams
// it in two pieces when asked, and counts its calls.
type scripted struct {
	calls  atomic.Int32
	finish string
	err    error
	// block, when non-nil, is waited on before answering.
	block chan struct{}
}

func (s *scripted) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	s.calls.Add(1)
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s.err != nil {
		return nil, s.err
	}
	text := "answer to " + req.Messages[len(req.Messages)-1].Content
	if req.OnDelta != nil {
		req.OnDelta(model.Delta{Text: text[:6]})
		req.OnDelta(model.Delta{Text: text[6:]})
	}
	finish := s.finish
	if finish == "" {
		finish = "stop"
	}
	return &model.Response{
		ID: "chatcmpl-1", Model: "gpt-4o-2024-11-20", Content: text, FinishReason: finish,
		Usage: model.Usage{PromptTokens: 20, CompletionTokens: 5, Requests: 1},
	}, nil
}

func request(text string) *model.Request {
	return &model.Request{
		Model:    "gpt-4o",
		Messages: []model.Message{{Role: model.RoleSystem, Content: "You are a reporter."}, {Role: model.RoleUser, Content: text}},
	}
}

func TestClient_Complete_MissThenHit(t *testing.T) {
	next := &scripted{}
	c := cache.Wrap(next, cache.Config{Store: memory.New(memory.Config{}), Namespace: "ns"})
	ctx := context.Background()

	first, err := c.Complete(ctx, request("the storm"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Cached || first.Usage.PromptTokens != 20 {
		t.Errorf("miss: got %+v, want the next client's answer uncached", first)
	}
	second, err := c.Complete(ctx, request("the storm"))
	if err != nil {
		t.Fatal(err)
	}
	want := &model.Response{
		Model: "gpt-4o-2024-11-20", Content: "answer to the storm", FinishReason: "stop",
		Usage:  model.Usage{Requests: 1, CachedResponses: 1, SavedTokens: first.Usage.TotalTokens(), SavedUSD: first.Usage.CostUSD},
		Cached: true,
	}
	if want.Usage.SavedTokens == 0 {
		t.Fatalf("the original call used no tokens: %+v", first.Usage)
	}
	if diff := cmp.Diff(want, second); diff != "" {
		t.Errorf("hit (-want +got):\n%s", diff)
	}
	if n := next.calls.Load(); n != 1 {
		t.Errorf("next called %d times, want 1", n)
	}
	if _, err := c.Complete(ctx, request("the flood")); err != nil {
		t.Fatal(err)
	}
	if n := next.calls.Load(); n != 2 {
		t.Errorf("a different request: next called %d times in all, want 2", n)
	}
}

func TestClient_Complete_StoresOnlyCompleteAnswers(t *testing.T) {
	tests := []struct {
		name      string
		next      *scripted
		wantCalls int32
	}{
		{"finish reason stop is stored", &scripted{finish: "stop"}, 1},
		{"finish reason length is stored", &scripted{finish: "length"}, 1},
		{"a content filter answer is not stored", &scripted{finish: "content_filter"}, 2},
		{"an error is not stored", &scripted{err: errors.New("boom")}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cache.Wrap(tt.next, cache.Config{Store: memory.New(memory.Config{})})
			for range 2 {
				_, err := c.Complete(context.Background(), request("x"))
				if (err != nil) != (tt.next.err != nil) {
					t.Fatalf("err = %v, want the next client's error %v", err, tt.next.err)
				}
			}
			if n := tt.next.calls.Load(); n != tt.wantCalls {
				t.Errorf("next called %d times, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestKey(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	i := func(v int64) *int64 { return &v }
	base := func() *model.Request {
		return &model.Request{
			Model:       "gpt-4o",
			Messages:    []model.Message{{Role: model.RoleSystem, Content: "sys"}, {Role: model.RoleUser, Name: "Editor", Content: "hi"}},
			MaxTokens:   100,
			Temperature: f(0.7),
			TopP:        f(1),
			Seed:        i(1),
			Stop:        []string{"END"},
		}
	}
	baseKey := cache.Key("ns", base())
	if len(baseKey) != 64 || strings.Trim(baseKey, "0123456789abcdef") != "" {
		t.Fatalf("key %q is not a hex SHA-256", baseKey)
	}

	changes := []struct {
		name   string
		ns     string
		change func(*model.Request)
	}{
		{"namespace", "other", func(*model.Request) {}},
		{"model", "ns", func(r *model.Request) { r.Model = "gpt-4o-mini" }},
		{"role", "ns", func(r *model.Request) { r.Messages[1].Role = model.RoleAssistant }},
		{"name", "ns", func(r *model.Request) { r.Messages[1].Name = "Reporter" }},
		{"content", "ns", func(r *model.Request) { r.Messages[1].Content = "hi!" }},
		{"an extra message", "ns", func(r *model.Request) { r.Messages = append(r.Messages, model.Message{Role: model.RoleUser}) }},
		{"max_tokens", "ns", func(r *model.Request) { r.MaxTokens = 101 }},
		{"temperature", "ns", func(r *model.Request) { r.Temperature = f(0.8) }},
		{"temperature unset", "ns", func(r *model.Request) { r.Temperature = nil }},
		{"top_p", "ns", func(r *model.Request) { r.TopP = f(0.9) }},
		{"seed", "ns", func(r *model.Request) { r.Seed = i(2) }},
		{"stop", "ns", func(r *model.Request) { r.Stop = []string{"STOP"} }},
		{"json mode", "ns", func(r *model.Request) { r.JSONMode = true }},
	}
	for _, tt := range changes {
		t.Run("changing the "+tt.name+" changes the key", func(t *testing.T) {
			r := base()
			tt.change(r)
			if cache.Key(tt.ns, r) == baseKey {
				t.Error("key did not change")
			}
		})
	}

	same := []struct {
		name   string
		change func(*model.Request)
	}{
		{"OnDelta", func(r *model.Request) { r.OnDelta = func(model.Delta) {} }},
		{"Meta", func(r *model.Request) {
			r.Meta = model.Meta{RunID: "run-2", Agent: "Editor", Purpose: model.PurposeSelect}
		}},
	}
	for _, tt := range same {
		t.Run("setting "+tt.name+" keeps the key", func(t *testing.T) {
			r := base()
			tt.change(r)
			if got := cache.Key("ns", r); got != baseKey {
				t.Errorf("key changed: %s, want %s", got, baseKey)
			}
		})
	}
}

func TestClient_Complete_StreamingReplay(t *testing.T) {
	next := &scripted{}
	c := cache.Wrap(next, cache.Config{Store: memory.New(memory.Config{})})
	ctx := context.Background()
	long := "the storm that hit the coast on Tuesday night, flooding streets"

	// A streaming miss streams the live answer, not marked cached.
	var live []model.Delta
	req := request(long)
	req.OnDelta = func(d model.Delta) { live = append(live, d) }
	if _, err := c.Complete(ctx, req); err != nil {
		t.Fatal(err)
	}
	if len(live) != 2 || live[0].Cached || live[1].Cached {
		t.Errorf("live stream: got %+v, want the next client's two uncached pieces", live)
	}

	// A streaming hit replays the stored answer in token-sized pieces.
	var replayed []model.Delta
	req = request(long)
	req.OnDelta = func(d model.Delta) { replayed = append(replayed, d) }
	resp, err := c.Complete(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, d := range replayed {
		if !d.Cached || d.Restart {
			t.Errorf("replayed delta %+v: want Cached and not Restart", d)
		}
		text.WriteString(d.Text)
	}
	if text.String() != resp.Content || resp.Content != "answer to "+long {
		t.Errorf("replayed %q, response %q, want both %q", text.String(), resp.Content, "answer to "+long)
	}
	if len(replayed) < 10 {
		t.Errorf("replayed in %d pieces, want token-sized pieces (more than 10)", len(replayed))
	}
	if !resp.Cached || next.calls.Load() != 1 {
		t.Errorf("Cached = %v, next calls = %d; want a cached answer and 1 call", resp.Cached, next.calls.Load())
	}
}

// failingStore fails every operation.
type failingStore struct{}

func (failingStore) Get(context.Context, string) (cache.Entry, bool, error) {
	return cache.Entry{}, false, errors.New("get: connection refused")
}

func (failingStore) Set(context.Context, string, cache.Entry, time.Duration) error {
	return errors.New("set: connection refused")
}

func TestClient_Complete_StoreErrorsDegradeToMiss(t *testing.T) {
	next := &scripted{}
	var mu sync.Mutex
	var ops []string
	c := cache.Wrap(next, cache.Config{Store: failingStore{}, OnError: func(op string, err error) {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op)
	}})
	for range 2 {
		resp, err := c.Complete(context.Background(), request("x"))
		if err != nil || resp.Cached {
			t.Fatalf("got %+v, %v; want an uncached answer and no error", resp, err)
		}
	}
	if diff := cmp.Diff([]string{"get", "set", "get", "set"}, ops); diff != "" {
		t.Errorf("OnError ops (-want +got):\n%s", diff)
	}
	if n := next.calls.Load(); n != 2 {
		t.Errorf("next called %d times, want 2", n)
	}
}

func TestWrap_Disabled(t *testing.T) {
	next := &scripted{}
	for _, cfg := range []cache.Config{{Store: memory.New(memory.Config{}), Disabled: true}, {}} {
		if c := cache.Wrap(next, cfg); c != model.Client(next) {
			t.Errorf("Wrap with %+v returned %T, want the next client itself", cfg, c)
		}
	}
}

func TestClient_Complete_TTL(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	next := &scripted{}
	c := cache.Wrap(next, cache.Config{Store: memory.New(memory.Config{Now: clock}), TTL: time.Hour})
	ctx := context.Background()
	for _, step := range []struct {
		advance   time.Duration
		wantCalls int32
	}{{0, 1}, {59 * time.Minute, 1}, {2 * time.Minute, 2}, {0, 2}} {
		mu.Lock()
		now = now.Add(step.advance)
		mu.Unlock()
		if _, err := c.Complete(ctx, request("x")); err != nil {
			t.Fatal(err)
		}
		if n := next.calls.Load(); n != step.wantCalls {
			t.Fatalf("after %v more: next called %d times, want %d", step.advance, n, step.wantCalls)
		}
	}
}

func TestClient_Complete_DeduplicatesConcurrentMisses(t *testing.T) {
	const callers = 8
	next := &scripted{block: make(chan struct{})}
	gets := &countingStore{Store: memory.New(memory.Config{})}
	c := cache.Wrap(next, cache.Config{Store: gets})

	var wg sync.WaitGroup
	resps := make([]*model.Response, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { resps[i], errs[i] = c.Complete(context.Background(), request("same")) })
	}
	// Release the model once every caller has missed the store.
	for gets.gets.Load() < callers {
		time.Sleep(time.Millisecond)
	}
	close(next.block)
	wg.Wait()

	uncached := 0
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if resps[i].Content != "answer to same" {
			t.Errorf("caller %d got %q", i, resps[i].Content)
		}
		if !resps[i].Cached {
			uncached++
		}
	}
	calls := next.calls.Load()
	if int(calls) != uncached {
		t.Errorf("next called %d times but %d answers are uncached: every answer not paid for must be marked cached", calls, uncached)
	}
	if calls >= callers {
		t.Errorf("next called %d times for %d identical concurrent requests, want them shared", calls, callers)
	}
}

type countingStore struct {
	cache.Store
	gets atomic.Int32
}

func (s *countingStore) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	defer s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func TestClient_Complete_NoDeltaAfterTheCallerGaveUp(t *testing.T) {
	started, returned, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	next := model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
		defer close(finished)
		req.OnDelta(model.Delta{Text: "a"})
		close(started)
		<-returned // the caller has given up and Complete has returned
		req.OnDelta(model.Delta{Text: "b"})
		return nil, ctx.Err()
	})
	c := cache.Wrap(next, cache.Config{Store: memory.New(memory.Config{})})
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []string
	req := request("x")
	req.OnDelta = func(d model.Delta) { mu.Lock(); defer mu.Unlock(); got = append(got, d.Text) }
	done := make(chan error)
	go func() { _, err := c.Complete(ctx, req); done <- err }()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	close(returned)
	<-finished
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"a"}, got); diff != "" {
		t.Errorf("deltas (-want +got):\n%s", diff)
	}
}

func TestClient_Complete_FollowerOutlivesCancelledLeader(t *testing.T) {
	next := &scripted{block: make(chan struct{})}
	gets := &countingStore{Store: memory.New(memory.Config{})}
	c := cache.Wrap(next, cache.Config{Store: gets})
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderDone := make(chan error)
	go func() { _, err := c.Complete(leaderCtx, request("same")); leaderDone <- err }()
	for next.calls.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	followerDone := make(chan *model.Response)
	go func() {
		resp, err := c.Complete(context.Background(), request("same"))
		if err != nil {
			t.Errorf("follower: %v", err)
		}
		followerDone <- resp
	}()
	for gets.gets.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-leaderDone; !errors.Is(err, context.Canceled) {
		t.Errorf("leader: err = %v, want context.Canceled", err)
	}
	close(next.block) // let the follower's own call (if it needs one) answer
	if resp := <-followerDone; resp == nil || resp.Content != "answer to same" {
		t.Errorf("follower got %+v, want the answer", resp)
	}
}

func TestClient_ToolCallAnswersReplayExactlyAndToolsAreInTheKey(t *testing.T) {
	calls := []model.ToolCall{{ID: "call_1", Name: "fetch_url", Arguments: `{"url":"https://a.test/"}`},
		{ID: "call_2", Name: "fetch_url", Arguments: `{"url":"https://b.test/"}`}}
	var n atomic.Int32
	next := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		n.Add(1)
		return &model.Response{ID: "x", Model: "gpt-4o", ToolCalls: calls, FinishReason: "tool_calls",
			Usage: model.Usage{PromptTokens: 30, CompletionTokens: 12, Requests: 1}}, nil
	})
	c := cache.Wrap(next, cache.Config{Store: memory.New(memory.Config{})})
	tool := model.Tool{Name: "fetch_url", Parameters: []byte(`{"type":"object"}`)}
	req := request("Write about https://a.test/ and https://b.test/")
	req.Tools = []model.Tool{tool}
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var deltas int
	again := *req
	again.OnDelta = func(model.Delta) { deltas++ }
	hit, err := c.Complete(context.Background(), &again)
	if err != nil {
		t.Fatal(err)
	}
	if !hit.Cached || n.Load() != 1 || hit.FinishReason != "tool_calls" || deltas != 0 || hit.Usage.TotalTokens() != 0 {
		t.Fatalf("hit %+v after %d calls, %d deltas", hit, n.Load(), deltas)
	}
	if diff := cmp.Diff(calls, hit.ToolCalls); diff != "" {
		t.Fatalf("replayed calls (-want +got):\n%s", diff)
	}
	// The same messages without the tool, or with another tool choice, are other requests.
	if cache.Key("", req) == cache.Key("", request("Write about https://a.test/ and https://b.test/")) {
		t.Fatal("tools are not part of the key")
	}
	choice := *req
	choice.ToolChoice = model.ToolChoiceNone
	if cache.Key("", req) == cache.Key("", &choice) {
		t.Fatal("tool_choice is not part of the key")
	}
}
