package storeutil

import (
	"fmt"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// RunWrite is a run's state as UpdateRun and FinishRun write it, checked and
// encoded once for either backend.
type RunWrite struct {
	ID       string    // the run's id as stored (see Text)
	Now      time.Time // the new updated_at
	Finished time.Time // the new finished_at; zero while the run is unfinished
	Usage    []byte    // usage as JSON
	PerAgent []byte    // per-agent usage as JSON, nil when there is none
	Payload  []byte    // FinishRun's final event; nil for UpdateRun
}

// PrepareUpdate is the write of UpdateRun(c, run): a claim on another run
// gives store.ErrFenced. Errors carry no backend prefix.
func PrepareUpdate(c store.Claim, run *store.Run) (RunWrite, error) {
	w := RunWrite{ID: Text(run.ID), Now: Now()}
	w.Finished = Finished(run, w.Now)
	var err error
	if w.Usage, w.PerAgent, err = Usage(run.Usage, run.PerAgent); err != nil {
		return RunWrite{}, fmt.Errorf("update run %s: %w", run.ID, err)
	}
	if c.RunID != run.ID {
		return RunWrite{}, fmt.Errorf("update run %s under a claim on %s: %w", w.ID, Text(c.RunID), store.ErrFenced)
	}
	return w, nil
}

// PrepareFinish is the write of FinishRun(c, run, final): run must have a
// finished status, and a claim on another run gives store.ErrFenced. Errors
// carry no backend prefix.
func PrepareFinish(c store.Claim, run *store.Run, final team.Event) (RunWrite, error) {
	w := RunWrite{ID: Text(run.ID)}
	if !run.Status.Finished() {
		return RunWrite{}, fmt.Errorf("finish run %s with status %q: want a finished status", w.ID, run.Status)
	}
	if c.RunID != run.ID {
		return RunWrite{}, fmt.Errorf("finish run %s under a claim on %s: %w", w.ID, Text(c.RunID), store.ErrFenced)
	}
	w.Now = Now()
	w.Finished = Finished(run, w.Now)
	var err error
	if w.Usage, w.PerAgent, err = Usage(run.Usage, run.PerAgent); err != nil {
		return RunWrite{}, fmt.Errorf("finish run %s: %w", w.ID, err)
	}
	if w.Payload, err = EncodeEvent(final); err != nil {
		return RunWrite{}, fmt.Errorf("finish run %s: %w", w.ID, err)
	}
	return w, nil
}

// Saved records in run the times w wrote: UpdatedAt, and FinishedAt once
// there is one.
func (w RunWrite) Saved(run *store.Run) {
	run.UpdatedAt = w.Now
	if !w.Finished.IsZero() {
		run.FinishedAt = w.Finished
	}
}

// NotFinished explains a FinishRun under token that changed nothing, from
// the run's row read again: whether it was found, its current claim token
// and its status. It is store.ErrNotFound, store.ErrFenced or, for a run
// that is no longer unfinished, store.ErrConflict. It carries no backend
// prefix.
func NotFinished(runID string, token int64, found bool, cur int64, status string) error {
	switch {
	case !found:
		return fmt.Errorf("run %s: %w", runID, store.ErrNotFound)
	case cur != token || token <= 0:
		return fmt.Errorf("finish run %s: %w", runID, store.ErrFenced)
	}
	return fmt.Errorf("finish run %s, which is %s: %w", runID, status, store.ErrConflict)
}

// MissOrFenced explains a write op on a run under a claim that changed
// nothing, from whether the run was found when read again:
// store.ErrNotFound or store.ErrFenced. It carries no backend prefix.
func MissOrFenced(op, runID string, found bool) error {
	if !found {
		return fmt.Errorf("run %s: %w", runID, store.ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, runID, store.ErrFenced)
}
