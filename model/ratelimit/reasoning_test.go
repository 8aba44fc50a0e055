package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
)

// TestClient_ReservesMaxCompletionTokensForAReasoningCall: while a call to
// a GPT-5 deployment runs, the limiter holds its prompt plus the whole
// max_completion_tokens (the hidden reasoning draws on it too); once it is
// answered, the hold is settled to what the call used, reasoning included.
func TestClient_ReservesMaxCompletionTokensForAReasoningCall(t *testing.T) {
	const quota, maxCompletion = 100000, 5000
	_, p := emutest.Start(t, emulator.Config{Latency: emulator.Latency{TimeToFirstToken: 50 * time.Millisecond}}, "gpt-5", nil)
	l := ratelimit.NewLimiter(ratelimit.LimiterConfig{RequestsPerMinute: 1000, TokensPerMinute: quota})
	c := ratelimit.Wrap(p, ratelimit.Config{Limiter: l, Deployment: "gpt-5"})
	held := -1
	req := &model.Request{MaxTokens: maxCompletion, ReasoningEffort: "high",
		Messages: []model.Message{{Role: model.RoleUser, Content: "Write a short story about the harbour."}},
		OnDelta: func(model.Delta) {
			if held < 0 {
				held = quota - l.Stats("gpt-5").TokensAvailable
			}
		}}
	resp, err := c.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if held < maxCompletion || held > maxCompletion+100 {
		t.Errorf("held %d tokens during the call, want the prompt plus all %d of max_completion_tokens", held, maxCompletion)
	}
	u := resp.Usage
	if u.ReasoningTokens < 480 {
		t.Fatalf("usage %+v: want high effort's reasoning", u)
	}
	if used := quota - l.Stats("gpt-5").TokensAvailable; used != u.TotalTokens() {
		t.Errorf("after the call %d tokens counted, want the %d used (%d of them reasoning)", used, u.TotalTokens(), u.ReasoningTokens)
	}
}
