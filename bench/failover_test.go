package bench

import (
	"testing"
	"time"
)

func TestFailover_runsSurviveThePrimaryGoingDown(t *testing.T) {
	t.Parallel()
	r, err := Failover(t.Context(), FailoverConfig{Runs: 4, Duration: 9 * time.Second, FailAt: time.Second,
		StormFor: time.Second, StallFor: 2 * time.Second, StallTimeout: time.Second,
		CoolDown: 400 * time.Millisecond, TTFT: 10 * time.Millisecond, TokensPerSecond: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if r.FailedRuns != 0 || r.CompletedRuns == 0 {
		t.Errorf("%d runs failed (first: %s), %d completed: want none failed", r.FailedRuns, r.FirstError, r.CompletedRuns)
	}
	if r.SwitchCalls == 0 || r.OutageSecondaryShare < 0.5 {
		t.Errorf("during the outage %d calls, %.2f answered by the secondary: want most", r.SwitchCalls, r.OutageSecondaryShare)
	}
	if r.Failovers == 0 {
		t.Error("no failover was recorded")
	}
	if r.ReturnAfterS < 0 {
		t.Error("traffic never returned to the primary after it recovered")
	}
}

func TestFailover_badTimeline(t *testing.T) {
	t.Parallel()
	if _, err := Failover(t.Context(), FailoverConfig{Duration: 10 * time.Second, FailAt: 5 * time.Second}); err == nil {
		t.Error("a primary recovering after the end was accepted")
	}
}
