package modelstack_test

import (
	"context"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/modelstack"
	"github.com/newsroom-dev/newsroom/store/postgres"
)

// TestBuild_DailyBudgetSharedThroughPostgreSQL: without Redis, two stacks
// given the PostgreSQL store's spend (as serve does) count one daily total:
// a call made through one is spent for the other.
func TestBuild_DailyBudgetSharedThroughPostgreSQL(t *testing.T) {
	t.Parallel()
	dsn := testsvc.Postgres(t)
	em := startEmulator(t, emulator.Config{APIKey: "right"})
	stack := func() (*modelstack.Stack, *postgres.Spend) {
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		cfg := azure(em, "right")
		cfg.DailyBudgetUSD = 5
		cfg.Model.Model = "gpt-4o"
		return mustBuild(t, modelstack.Options{Config: cfg, NoCache: true, Spend: st.Spend()}), st.Spend()
	}
	a, spend := stack()
	b, _ := stack()
	day := time.Now().UTC().Format(time.DateOnly)
	resp, err := a.Root().Complete(context.Background(), &model.Request{
		Messages: []model.Message{{Role: model.RoleUser, Content: "Harbour reopens after storm repairs."}}})
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if resp.Usage.CostUSD <= 0 {
		t.Fatalf("the call cost %v; want it priced", resp.Usage.CostUSD)
	}
	if time.Now().UTC().Format(time.DateOnly) != day {
		t.Skip("the call crossed midnight UTC: its day is ambiguous")
	}
	stored, err := spend.Spent(context.Background(), day)
	if err != nil || stored != resp.Usage.CostUSD {
		t.Errorf("stored spending today = %v, %v; want the call's %v", stored, err, resp.Usage.CostUSD)
	}
	if got := b.Daily.Spent(); got != resp.Usage.CostUSD {
		t.Errorf("the other stack sees %v spent today, want %v", got, resp.Usage.CostUSD)
	}
}
