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
	if r.OutageCalls == 0 || r.OutageSecondaryShare < 0.5 {
		t.Errorf("during the outage %d calls, %.2f answered by the secondary: want most", r.OutageCalls, r.OutageSecondaryShare)
	}
	// Some calls met the failing primary (its first failures, the failed
	// probes): they are the switch, a part of the outage's calls.
	if r.SwitchCalls == 0 || r.SwitchCalls > r.OutageCalls || r.P95AddedLatencyMS > r.MaxAddedLatencyMS || r.MaxAddedLatencyMS == 0 {
		t.Errorf("switch: %d of %d outage calls, p95 %.1f ms, max %.1f ms", r.SwitchCalls, r.OutageCalls, r.P95AddedLatencyMS, r.MaxAddedLatencyMS)
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

// TestFailoverReport_p95IsOverTheSwitch: most calls of an outage skip the
// open breaker and lose nothing; the goal is about the calls that met the
// failing primary, so the p95 must be theirs, not the outage's.
func TestFailoverReport_p95IsOverTheSwitch(t *testing.T) {
	t.Parallel()
	failAt, recoverAt := 30*time.Second, 50*time.Second
	var calls []failoverCall
	for i := range 10 {
		calls = append(calls, failoverCall{start: time.Duration(i) * time.Second, added: time.Millisecond, deployment: "primary", attempts: 1})
	}
	for i := range 95 { // sent straight to the secondary by the open breaker
		calls = append(calls, failoverCall{start: failAt + time.Duration(i)*100*time.Millisecond, added: 500 * time.Microsecond,
			deployment: "secondary", attempts: 1})
	}
	for i, ms := range []int{100, 200, 300, 1000, 1700} { // met the failing primary first
		calls = append(calls, failoverCall{start: failAt + time.Duration(i)*time.Second, added: time.Duration(ms) * time.Millisecond,
			deployment: "secondary", attempts: 2})
	}
	calls = append(calls, failoverCall{start: recoverAt + 2*time.Second, deployment: "primary", attempts: 1})

	r := &FailoverReport{ReturnAfterS: -1}
	r.summarize(calls, failAt, recoverAt)
	if r.SwitchCalls != 5 || r.P95AddedLatencyMS != 1700 || r.MaxAddedLatencyMS != 1700 {
		t.Errorf("switch: %d calls, p95 %.1f ms, max %.1f ms; want 5, 1700, 1700", r.SwitchCalls, r.P95AddedLatencyMS, r.MaxAddedLatencyMS)
	}
	if r.OutageCalls != 100 || r.OutageP95AddedMS != 0.5 || r.OutageSecondaryShare != 1 {
		t.Errorf("outage: %d calls, p95 %.1f ms, secondary share %.2f; want 100, 0.5, 1", r.OutageCalls, r.OutageP95AddedMS, r.OutageSecondaryShare)
	}
	if r.BaselineP95AddedMS != 1 || r.ReturnAfterS != 2 || r.Calls != len(calls) {
		t.Errorf("baseline p95 %.1f ms, back after %.2f s, %d calls", r.BaselineP95AddedMS, r.ReturnAfterS, r.Calls)
	}
}
