package telemetry_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/telemetry"
	"github.com/newsroom-dev/newsroom/termination"
)

// scrape returns the Prometheus exposition of p and its number of series
// (sample lines).
func scrape(t *testing.T, p *telemetry.Provider) (string, int) {
	t.Helper()
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	n := 0
	for l := range strings.SplitSeq(body, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return body, n
}

// TestMetrics_DistinctBudgetsDoNotGrowSeries runs 1,000 teams, each with its
// own budget that stops it at its first call (so each stop reason names a
// different amount), through the telemetry middleware and the run observer
// as the service wires them; /metrics must not gain a series per run.
func TestMetrics_DistinctBudgetsDoNotGrowSeries(t *testing.T) {
	p, err := telemetry.Setup(context.Background(), telemetry.Config{Prometheus: true, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	var reasons []string
	run := func(i int) {
		// telemetry -> budget -> model, the order of the pipeline.
		tr := budget.NewTracker(budget.Run{MaxUSD: 0.001 + float64(i)*0.000001})
		c := telemetry.Middleware(p, telemetry.MiddlewareOptions{})(budget.Wrap(fixedReply("draft"), budget.Config{Tracker: tr}))
		tm, err := team.NewRoundRobin(team.RoundRobinConfig{
			Participants: []agent.Agent{assistant(t, "Reporter", c), assistant(t, "Editor", c)},
			Termination:  termination.MaxMessages(4),
		})
		if err != nil {
			t.Fatal(err)
		}
		obs := telemetry.NewRunObserver(p, telemetry.RunInfo{RunID: "run", Team: tm.Name(), Logger: logger})
		ctx := obs.Start(context.Background())
		res, err := team.Collect("Write about otters", team.Checkpoint{}, obs.Wrap(ctx, tm.Stream(ctx, "Write about otters")), nil)
		if err != nil {
			t.Fatal(err)
		}
		if termination.KindOf(res.StopReason) != termination.KindBudget {
			t.Fatalf("run %d stopped with %q, want a budget stop", i, res.StopReason)
		}
		reasons = append(reasons, res.StopReason)
	}
	for i := range 10 {
		run(i)
	}
	before, seriesBefore := scrape(t, p)
	for i := 10; i < 1000; i++ {
		run(i)
	}
	after, seriesAfter := scrape(t, p)
	if reasons[0] == reasons[999] {
		t.Fatalf("the stop reasons do not differ (%q); the test proves nothing", reasons[0])
	}
	if seriesAfter != seriesBefore {
		t.Errorf("/metrics grew from %d to %d series (%d to %d bytes) over 990 runs with distinct budgets",
			seriesBefore, seriesAfter, len(before), len(after))
	}
	if strings.Contains(after, "0.001") || strings.Contains(after, "budget:") {
		t.Errorf("/metrics carries a stop reason's text:\n%s", after)
	}
	if !strings.Contains(after, `newsroom_stop_kind="budget"`) {
		t.Errorf("/metrics has no run counted by its stop kind:\n%s", after)
	}
}

// TestRunObserver_NoFinishLine: the service logs a run's end itself, so its
// observer writes message lines only and a run has one "run finished" line.
func TestRunObserver_NoFinishLine(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	var logs strings.Builder
	logger := telemetry.NewLogger(&logs, "json", slog.LevelInfo)
	tm, err := team.NewRoundRobin(team.RoundRobinConfig{
		Participants: []agent.Agent{assistant(t, "Reporter", fixedReply("draft"))},
		Termination:  termination.MaxMessages(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	obs := telemetry.NewRunObserver(tp.Provider, telemetry.RunInfo{RunID: "r", Team: tm.Name(), Logger: logger, NoFinishLine: true})
	ctx := obs.Start(context.Background())
	if _, err := team.Collect("t", team.Checkpoint{}, obs.Wrap(ctx, tm.Stream(ctx, "t")), nil); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), `"msg":"run finished"`); n != 0 {
		t.Errorf("%d run finished lines, want 0:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"message"`) {
		t.Errorf("no message line:\n%s", logs.String())
	}
}
