package redisspend_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/budget/redisspend"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

func prefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test:" + hex.EncodeToString(b) + ":"
}

// TestDaily_SharedAcrossInstances: two processes' daily budgets on one
// Redis hold the budget together: what one spent stops the other.
func TestDaily_SharedAcrossInstances(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testsvc.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	st, err := redisspend.New(redisspend.Config{Client: rdb, Prefix: prefix()})
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) }
	instance := func() *budget.Daily {
		return budget.NewDaily(budget.DailyConfig{BudgetUSD: 1, Enforce: true, Now: now, Shared: st})
	}
	a, b := instance(), instance()
	a.Add(0.75)
	if got := b.Spent(); got != 0.75 {
		t.Errorf("the other instance sees %v spent today, want 0.75", got)
	}
	// The other instance's next call could cost up to 0.40: over the budget together.
	c := budget.Wrap(model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) {
		return &model.Response{Content: "x", Usage: model.Usage{CostUSD: 0.01}}, nil
	}), budget.Config{Daily: b, Model: "gpt-4o", CompletionCeiling: 40_000})
	_, err = c.Complete(context.Background(), &model.Request{Model: "gpt-4o", Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})
	var se *budget.StopError
	if !errors.As(err, &se) || se.Scope != "daily" {
		t.Errorf("a call over the shared daily budget = %v, want a daily budget stop", err)
	}
	if got, err := st.Spent(context.Background(), "2026-11-30"); err != nil || got != 0.75 {
		t.Errorf("stored total = %v, %v", got, err)
	}
	if got, err := st.Spent(context.Background(), "2026-11-29"); err != nil || got != 0 {
		t.Errorf("another day = %v, %v, want 0", got, err)
	}
}
