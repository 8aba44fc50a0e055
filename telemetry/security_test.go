package telemetry_test

import (
	"context"
	"iter"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/telemetry"
	"github.com/newsroom-dev/newsroom/untrusted"
)

func TestRunObserver_CountsSecurityEventsByAClosedSetOfKinds(t *testing.T) {
	tp := mustProvider(t, telemetry.Config{})
	obs := telemetry.NewRunObserver(tp.Provider, telemetry.RunInfo{RunID: "run-1", Team: "roundrobin"})
	ctx := obs.Start(context.Background())
	now := time.Now()
	evs := []team.Event{{Type: team.EventRunStarted, Time: now, Task: "t"}}
	for _, k := range []string{untrusted.KindNoProvenance, untrusted.KindNoProvenance, untrusted.KindRedirect, "made-up kind https://x/?d=secret"} {
		evs = append(evs, team.Event{Type: team.EventSecurity, Time: now, Security: &untrusted.Event{Kind: k}})
	}
	evs = append(evs, team.Event{Type: team.EventRunFinished, Time: now, StopReason: "max messages"})
	var seq iter.Seq2[team.Event, error] = func(yield func(team.Event, error) bool) {
		for _, e := range evs {
			if !yield(e, nil) {
				return
			}
		}
	}
	for _, err := range obs.Wrap(ctx, seq) {
		if err != nil {
			t.Fatal(err)
		}
	}
	rm := tp.collect(t)
	for kind, want := range map[string]int64{untrusted.KindNoProvenance: 2, untrusted.KindRedirect: 1, "other": 1} {
		if got := sumInt(t, rm, telemetry.MetricSecurityEvents, telemetry.AttrSecurityKind.String(kind)); got != want {
			t.Errorf("%s: %d, want %d", kind, got, want)
		}
	}
}
