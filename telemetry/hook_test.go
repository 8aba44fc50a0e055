package telemetry_test

import (
	"context"
	"testing"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/telemetry"
	"github.com/newsroom-dev/newsroom/termination"
)

func TestHookedTeam(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	c := telemetry.Middleware(tp.Provider, telemetry.MiddlewareOptions{})(fixedReply("draft"))
	tm, _ := team.NewRoundRobin(team.RoundRobinConfig{Participants: []agent.Agent{assistant(t, "Reporter", c), assistant(t, "Editor", c)}, Termination: termination.MaxMessages(2)})
	obs := telemetry.NewRunObserver(tp.Provider, telemetry.RunInfo{RunID: "r"})
	ctx := obs.Start(context.Background())
	for _, err := range obs.Wrap(ctx, tm.Stream(ctx, "x", team.WithObserver(obs))) {
		if err != nil {
			t.Fatal(err)
		}
	}
	spans := tp.ended(t)
	for _, name := range []string{"Reporter", "Editor"} {
		turn := one(t, spans, "invoke_agent "+name)
		n := 0
		for _, s := range byName(spans, "chat gpt-4o") {
			if s.Parent.SpanID() == turn.SpanContext.SpanID() {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s turn has %d model spans, want 1", name, n)
		}
	}
	if len(byName(spans, telemetry.SpanSelect)) != 2 || len(byName(spans, telemetry.SpanRun)) != 1 {
		t.Errorf("spans: %v", len(spans))
	}
}
