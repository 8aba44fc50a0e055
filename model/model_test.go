package model_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/model"
)

func TestChain_FirstMiddlewareIsOutermost(t *testing.T) {
	var order []string
	mw := func(name string) model.Middleware {
		return func(next model.Client) model.Client {
			return model.ClientFunc(func(ctx context.Context, r *model.Request) (*model.Response, error) {
				order = append(order, name)
				return next.Complete(ctx, r)
			})
		}
	}
	base := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		order = append(order, "base")
		return &model.Response{}, nil
	})
	if _, err := model.Chain(base, mw("a"), nil, mw("b")).Complete(context.Background(), &model.Request{}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ","); got != "a,b,base" {
		t.Fatalf("order %s", got)
	}
}

func TestUsage_AddSumsEveryField(t *testing.T) {
	a := model.Usage{PromptTokens: 1, CompletionTokens: 2, CachedPromptTokens: 3, ReasoningTokens: 1, Requests: 4, CachedResponses: 5, CostUSD: 0.5, SavedTokens: 6, SavedUSD: 0.25,
		EmbeddingTokens: 7, EmbeddingUSD: 0.125}
	if got := a.Add(a); got != (model.Usage{2, 4, 6, 2, 8, 10, 1, 12, 0.5, 14, 0.25}) || got.TotalTokens() != 6 {
		t.Fatalf("%+v", got)
	}
}

type stop struct{}

func (stop) Error() string      { return "stop" }
func (stop) StopReason() string { return "budget" }

func TestError_MessageAndStop(t *testing.T) {
	e := &model.Error{StatusCode: 429, Code: "429", Message: "slow down", RequestID: "abc", RetryAfter: time.Second}
	if got := e.Error(); got != "model: HTTP 429 429: slow down (request id abc)" {
		t.Fatalf("%q", got)
	}
	if r, ok := model.AsStop(fmt.Errorf("wrapped: %w", stop{})); !ok || r != "budget" {
		t.Fatal("AsStop must see through wrapping")
	}
	if _, ok := model.AsStop(errors.New("plain")); ok {
		t.Fatal("a plain error is not a stop")
	}
}

func TestUsage_RoundedCostsAreExactDecimalsInJSON(t *testing.T) {
	t.Parallel()
	// Two calls' costs summed in float64: 0.0017950000000000002.
	first, tenth := 0.00101, 0.1 // variables: Go's constant arithmetic is exact
	u := model.Usage{PromptTokens: 529, CompletionTokens: 425, CostUSD: first + 0.000785, SavedUSD: tenth + 0.2}
	if u.CostUSD == 0.001795 {
		t.Fatal("the test's sum happens to be exact; pick another")
	}
	b, err := json.Marshal(u.Rounded())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"prompt_tokens":529,"completion_tokens":425,"cost_usd":0.001795,"saved_usd":0.3}`
	if string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
	if u.Rounded().CostUSD != 0.001795 || u.CostUSD == 0.001795 {
		t.Fatal("Rounded changed its receiver or did not round")
	}
	if got := model.RoundUSD(1e-10); got != 0 {
		t.Fatalf("RoundUSD(1e-10) = %v", got)
	}
}
