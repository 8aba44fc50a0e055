package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/newsroom-dev/newsroom/emulator"
)

// Dist summarises measured values.
type Dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

func distOf(xs []float64) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	return Dist{N: len(xs), P50: round1(percentile(xs, 0.5)), P95: round1(percentile(xs, 0.95)), Max: round1(slices.Max(xs))}
}

// ClusterTask is the task of the k-th run of a cluster benchmark: a
// newsroom task with a fact of its own, so every run's model calls differ.
func ClusterTask(k int) string {
	return fmt.Sprintf("%s The desk filed this as item %d.", Tasks[k%len(Tasks)], k+1)
}

// FollowReport is a run executed on one instance and followed on another.
type FollowReport struct {
	RunIDs    []string `json:"run_ids"`
	Runs      int      `json:"runs"`
	Succeeded int      `json:"succeeded"`
	// RunFinishedReceived counts the followers on another instance that
	// received run_finished (goal: every run).
	RunFinishedReceived int `json:"run_finished_received"`
	// StoreToClientMS is, for each event stored while the follower was
	// connected, the time from its stored timestamp (written by the
	// executing instance with the event) to the follower on ANOTHER
	// instance receiving it.
	StoreToClientMS Dist `json:"store_to_client_ms"`
	// SameInstanceMS is the same for a follower on the executing instance.
	SameInstanceMS Dist `json:"same_instance_ms"`
}

// waitClaim polls until the run is claimed and returns the claiming instance.
func waitClaim(ctx context.Context, c *Cluster, id string, notBy int, minToken int64) (int, int64, error) {
	for {
		runs, err := c.Runs(ctx, []string{id})
		if err != nil {
			return -1, 0, err
		}
		r := runs[id]
		if i := c.InstanceOf(r.ClaimedBy); i >= 0 && i != notBy && r.Token > minToken {
			return i, r.Token, nil
		}
		if finishedStatus(r.Status) {
			return -1, r.Token, fmt.Errorf("bench: run %s finished (%s) before it was claimed", id, r.Status)
		}
		if ctx.Err() != nil {
			return -1, 0, fmt.Errorf("bench: run %s not claimed: %w", id, ctx.Err())
		}
		sleepCtx(ctx, 10*time.Millisecond)
	}
}

// liveLatencies returns, for the events received that were stored after
// the follower connected, store-to-receipt times in milliseconds.
func liveLatencies(f *Follow, got []Received, stored []StoredEvent) []float64 {
	at := map[int64]time.Time{}
	for _, e := range stored {
		at[e.Seq] = e.Stored
	}
	var out []float64
	for _, r := range got {
		if s, ok := at[r.Seq]; ok && s.After(f.Connected) {
			out = append(out, float64(r.At.Sub(s).Microseconds())/1000)
		}
	}
	return out
}

// MeasureFollow runs n runs one after another; each is followed on the
// instance that executes it and on another one.
func MeasureFollow(ctx context.Context, c *Cluster, n, first int) (FollowReport, error) {
	rep := FollowReport{Runs: n}
	if len(c.Instances) < 2 {
		return rep, fmt.Errorf("%w: following on another instance needs 2 instances", ErrConfig)
	}
	var remote, local []float64
	for k := range n {
		id, err := c.Submit(ctx, k%len(c.Instances), ClusterTask(first+k))
		if err != nil {
			return rep, err
		}
		rep.RunIDs = append(rep.RunIDs, id)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		exec, _, err := waitClaim(wctx, c, id, -1, 0)
		if err != nil {
			cancel()
			return rep, err
		}
		other := (exec + 1) % len(c.Instances)
		fo, err := c.Follow(wctx, other, id)
		if err != nil {
			cancel()
			return rep, err
		}
		fl, err := c.Follow(wctx, exec, id)
		if err != nil {
			cancel()
			return rep, err
		}
		gotO, finished, _ := fo.Wait(wctx)
		gotL, _, _ := fl.Wait(wctx)
		cancel()
		if finished {
			rep.RunFinishedReceived++
		}
		runs, err := c.WaitFinished(ctx, []string{id})
		if err != nil {
			return rep, err
		}
		if runs[id].Status == "succeeded" {
			rep.Succeeded++
		}
		stored, err := c.Events(ctx, []string{id})
		if err != nil {
			return rep, err
		}
		remote = append(remote, liveLatencies(fo, gotO, stored)...)
		local = append(local, liveLatencies(fl, gotL, stored)...)
	}
	rep.StoreToClientMS, rep.SameInstanceMS = distOf(remote), distOf(local)
	return rep, nil
}

// TakeoverTrial is one kill -9 of the instance executing a run.
type TakeoverTrial struct {
	RunID string `json:"run_id"`
	// MessagesBeforeKill is how many messages the run had stored.
	MessagesBeforeKill int `json:"messages_before_kill"`
	// ResumeS is the time from the kill to another instance's claim;
	// FirstEventS to the first event that instance stored.
	ResumeS     float64 `json:"resume_s"`
	FirstEventS float64 `json:"first_event_s"`
	Status      string  `json:"status"`
	// RunFinishedReceived: a follower on a surviving instance, connected
	// before the kill, received run_finished.
	RunFinishedReceived bool    `json:"run_finished_received"`
	Repeats             Repeats `json:"repeated_calls"`
	DuplicateMessages   int     `json:"duplicate_messages"`
}

// TakeoverReport is the kill -9 of the executing instance, repeated.
type TakeoverReport struct {
	Trials  []TakeoverTrial `json:"trials"`
	ResumeS Dist            `json:"resume_s"`
	// RepeatedStoredCalls sums the checkpointed calls done again (goal 0);
	// DuplicateMessages the messages stored twice (goal 0).
	RepeatedStoredCalls int  `json:"repeated_stored_calls"`
	RepeatedCalls       int  `json:"repeated_calls"`
	DuplicateMessages   int  `json:"duplicate_messages"`
	Succeeded           int  `json:"succeeded"`
	GoalMet             bool `json:"goal_met"`
}

// MeasureTakeover submits a run, kills (SIGKILL) the instance executing it
// once it has stored afterMessages messages, and follows the run to its end
// on a surviving instance; the killed instance is restarted for the next
// trial.
func MeasureTakeover(ctx context.Context, c *Cluster, trials, afterMessages, first int) (TakeoverReport, error) {
	var rep TakeoverReport
	if len(c.Instances) < 2 {
		return rep, fmt.Errorf("%w: a takeover needs 2 instances", ErrConfig)
	}
	var resume []float64
	for k := range trials {
		tr, err := takeoverTrial(ctx, c, ClusterTask(first+k), afterMessages)
		if err != nil {
			return rep, fmt.Errorf("takeover trial %d: %w", k+1, err)
		}
		rep.Trials = append(rep.Trials, tr)
		resume = append(resume, tr.ResumeS)
		rep.RepeatedStoredCalls += tr.Repeats.Stored
		rep.RepeatedCalls += tr.Repeats.Calls
		rep.DuplicateMessages += tr.DuplicateMessages
		if tr.Status == "succeeded" {
			rep.Succeeded++
		}
	}
	rep.ResumeS = distOf(resume)
	rep.GoalMet = rep.Succeeded == trials && rep.RepeatedStoredCalls == 0 && rep.DuplicateMessages == 0 && rep.ResumeS.Max < 10
	return rep, nil
}

func takeoverTrial(ctx context.Context, c *Cluster, task string, afterMessages int) (TakeoverTrial, error) {
	var tr TakeoverTrial
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	id, err := c.Submit(ctx, 0, task)
	if err != nil {
		return tr, err
	}
	tr.RunID = id
	// Wait until the run is under way: claimed, and afterMessages stored.
	var victim int
	var token int64
	for {
		if victim, token, err = waitClaim(ctx, c, id, -1, 0); err != nil {
			return tr, err
		}
		evs, err := c.Events(ctx, []string{id})
		if err != nil {
			return tr, err
		}
		tr.MessagesBeforeKill = 0
		for _, e := range evs {
			if e.Type == "message" {
				tr.MessagesBeforeKill++
			}
		}
		if tr.MessagesBeforeKill >= afterMessages {
			break
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
	survivor := (victim + 1) % len(c.Instances)
	f, err := c.Follow(ctx, survivor, id)
	if err != nil {
		return tr, err
	}
	killedAt := c.Kill(victim)
	if _, _, err := waitClaim(ctx, c, id, victim, token); err != nil {
		return tr, err
	}
	tr.ResumeS = round2(time.Since(killedAt).Seconds())
	for tr.FirstEventS == 0 {
		evs, err := c.Events(ctx, []string{id})
		if err != nil {
			return tr, err
		}
		for _, e := range evs {
			if e.Stored.After(killedAt) {
				tr.FirstEventS = round2(e.Stored.Sub(killedAt).Seconds())
				break
			}
		}
		if ctx.Err() != nil {
			return tr, ctx.Err()
		}
		sleepCtx(ctx, 10*time.Millisecond)
	}
	runs, err := c.WaitFinished(ctx, []string{id})
	if err != nil {
		return tr, err
	}
	tr.Status = runs[id].Status
	_, tr.RunFinishedReceived, _ = f.Wait(ctx)
	evs, err := c.Events(ctx, []string{id})
	if err != nil {
		return tr, err
	}
	tr.DuplicateMessages = DuplicateMessages(evs)
	tr.Repeats = CountRepeats(c.Emulator.Requests(), evs, killedAt)
	return tr, c.Restart(ctx, victim)
}

// FaultReport is many runs on three instances against an emulator injecting
// faults, with one instance killed part-way.
type FaultReport struct {
	Runs      int `json:"runs"`
	Instances int `json:"instances"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Errors are the failed runs' errors (distinct).
	Errors []string `json:"errors,omitempty"`
	// KilledInstance was killed KillAfterS after the first submission,
	// holding KilledRuns claims (running or queued there). TakeoverS is, for
	// each of them, the time from the kill until another instance claimed
	// it: the survivors take them as their workers free up, so beyond the
	// lease it measures the cluster's spare capacity.
	// TakeoverRunningS covers the runs that were executing at the kill,
	// TakeoverQueuedS those still waiting in the killed instance's queue.
	KilledInstance   string  `json:"killed_instance"`
	KillAfterS       float64 `json:"kill_after_s"`
	KilledRuns       int     `json:"killed_runs"`
	TakeoverS        Dist    `json:"takeover_s"`
	TakeoverRunningS Dist    `json:"takeover_running_s"`
	TakeoverQueuedS  Dist    `json:"takeover_queued_s"`
	// ChatRequests and the faults the emulator gave them.
	ChatRequests int            `json:"chat_requests"`
	Faults       map[string]int `json:"faults"`
	// RepeatedAfterKill are the calls after the kill that repeated one
	// answered in full (Stored: one already checkpointed; goal 0).
	RepeatedAfterKill Repeats  `json:"repeated_after_kill"`
	DuplicateMessages int      `json:"duplicate_messages"`
	Panics            []string `json:"panics"`
	WallS             float64  `json:"wall_s"`
	GoalMet           bool     `json:"goal_met"`
}

// MeasureFaults submits runs spread over the instances, kills the instance
// holding the most claims killAfter in, and waits for every run to end.
func MeasureFaults(ctx context.Context, c *Cluster, runs int, killAfter, timeout time.Duration, first int) (FaultReport, error) {
	rep := FaultReport{Runs: runs, Instances: len(c.Instances), Faults: map[string]int{}}
	start := time.Now()
	ids := make([]string, 0, runs)
	for k := range runs {
		id, err := c.Submit(ctx, k%len(c.Instances), ClusterTask(first+k))
		if err != nil {
			return rep, err
		}
		ids = append(ids, id)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sleepCtx(ctx, time.Until(start.Add(killAfter)))
	states, err := c.Runs(ctx, ids)
	if err != nil {
		return rep, err
	}
	held := make([][]string, len(c.Instances))
	wasRunning := map[string]bool{}
	for id, r := range states {
		wasRunning[id] = r.Status == "running"
		if i := c.InstanceOf(r.ClaimedBy); i >= 0 && !finishedStatus(r.Status) {
			held[i] = append(held[i], id)
		}
	}
	victim := 0
	for i := range held {
		if len(held[i]) > len(held[victim]) {
			victim = i
		}
	}
	killedAt := c.Kill(victim)
	rep.KilledInstance, rep.KilledRuns = c.Instances[victim].Name, len(held[victim])
	rep.KillAfterS = round1(killedAt.Sub(start).Seconds())

	// Until every run ends: when was each of the victim's runs taken over?
	pending := map[string]bool{}
	for _, id := range held[victim] {
		pending[id] = true
	}
	var takeover, running, queued []float64
	for {
		states, err = c.Runs(ctx, ids)
		if err != nil {
			return rep, err
		}
		done := 0
		for id, r := range states {
			if finishedStatus(r.Status) {
				done++
			}
			if pending[id] && (finishedStatus(r.Status) || (r.ClaimedBy != "" && c.InstanceOf(r.ClaimedBy) != victim)) {
				delete(pending, id)
				d := time.Since(killedAt).Seconds()
				takeover = append(takeover, d)
				if wasRunning[id] {
					running = append(running, d)
				} else {
					queued = append(queued, d)
				}
			}
		}
		if done == len(ids) {
			break
		}
		if ctx.Err() != nil {
			return rep, fmt.Errorf("bench: %d of %d runs finished: %w", done, len(ids), ctx.Err())
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	rep.WallS = round1(time.Since(start).Seconds())
	rep.TakeoverS, rep.TakeoverRunningS, rep.TakeoverQueuedS = distOf(takeover), distOf(running), distOf(queued)
	errs := map[string]bool{}
	for _, r := range states {
		if r.Status == "succeeded" {
			rep.Succeeded++
		} else {
			rep.Failed++
			errs[r.Status+": "+r.Error] = true
		}
	}
	for e := range errs {
		rep.Errors = append(rep.Errors, e)
	}
	sort.Strings(rep.Errors)
	evs, err := c.Events(context.WithoutCancel(ctx), ids)
	if err != nil {
		return rep, err
	}
	reqs := c.Emulator.Requests()
	for _, q := range reqs {
		if q.Method == "POST" && len(q.Messages) > 0 {
			rep.ChatRequests++
			switch {
			case q.Fault != emulator.FaultNone:
				rep.Faults[string(q.Fault)]++
			case q.Status == 429:
				rep.Faults["quota_429"]++
			}
		}
	}
	rep.RepeatedAfterKill = CountRepeats(reqs, evs, killedAt)
	rep.DuplicateMessages = DuplicateMessages(evs)
	rep.Panics = c.Panics()
	if rep.Panics == nil {
		rep.Panics = []string{}
	}
	rep.GoalMet = rep.Failed == 0 && rep.RepeatedAfterKill.Stored == 0 && rep.DuplicateMessages == 0 && len(rep.Panics) == 0
	return rep, nil
}

// QuotaModeReport is N instances sharing one deployment's quota.
type QuotaModeReport struct {
	// Mode is "postgres" (each instance limits itself) or "redis" (the
	// quota windows shared through Redis).
	Mode      string `json:"mode"`
	Instances int    `json:"instances"`
	RPM       int    `json:"rpm"`
	TPM       int    `json:"tpm"`
	// ChatRequests the emulator received in the window, Throttled of them
	// refused with 429 by its quota.
	ChatRequests  int     `json:"chat_requests"`
	Throttled     int     `json:"throttled"`
	ThrottledPct  float64 `json:"throttled_pct"`
	RequestsPerM  float64 `json:"served_requests_per_min"`
	RPMUsedPct    float64 `json:"rpm_used_pct"`
	CompletedRuns int     `json:"completed_runs"`
	FailedRuns    int     `json:"failed_runs"`
	WindowS       float64 `json:"window_s"`
	GoalMet       bool    `json:"goal_met"`
}

// MeasureQuota keeps inFlight runs per instance going for d and counts the
// emulator's quota 429s. The cluster's emulator must enforce the quota the
// instances were told.
func MeasureQuota(ctx context.Context, c *Cluster, mode string, inFlight int, d time.Duration, first int) (QuotaModeReport, error) {
	rep := QuotaModeReport{Mode: mode, Instances: len(c.Instances), RPM: c.opts.RPM, TPM: c.opts.TPM}
	c.Emulator.Reset()
	start := time.Now()
	next := first
	active := map[string]bool{}
	for time.Since(start) < d && ctx.Err() == nil {
		for len(active) < inFlight*len(c.Instances) {
			id, err := c.Submit(ctx, next%len(c.Instances), ClusterTask(next))
			if err != nil {
				return rep, err
			}
			next++
			active[id] = true
		}
		sleepCtx(ctx, 200*time.Millisecond)
		var list []string
		for id := range active {
			list = append(list, id)
		}
		states, err := c.Runs(ctx, list)
		if err != nil {
			return rep, err
		}
		for id, r := range states {
			if finishedStatus(r.Status) {
				delete(active, id)
				if r.Status == "succeeded" {
					rep.CompletedRuns++
				} else {
					rep.FailedRuns++
				}
			}
		}
	}
	end := time.Now()
	rep.WindowS = round1(end.Sub(start).Seconds())
	served := 0
	for _, q := range c.Emulator.Requests() {
		if q.Method != "POST" || len(q.Messages) == 0 || q.Start.After(end) {
			continue
		}
		rep.ChatRequests++
		switch {
		case q.Status == 429 && q.Fault == emulator.FaultNone:
			rep.Throttled++
		case q.Status == 200:
			served++
		}
	}
	if rep.ChatRequests > 0 {
		rep.ThrottledPct = round2(100 * float64(rep.Throttled) / float64(rep.ChatRequests))
	}
	rep.RequestsPerM = round1(float64(served) / end.Sub(start).Minutes())
	if rep.RPM > 0 {
		rep.RPMUsedPct = round1(100 * rep.RequestsPerM / float64(rep.RPM))
	}
	rep.GoalMet = rep.ThrottledPct <= 1
	if ctx.Err() != nil {
		return rep, errors.Join(errors.New("bench: quota phase cut short"), ctx.Err())
	}
	return rep, nil
}
