package server

import "github.com/newsroom-dev/newsroom/team"

// keepGrounding checkpoints a grounding check the run's stream yielded
// (held, nil for none) once the event after it, next, is known: a run that
// ends without a check having run yields the check of its final article
// just before run_finished, and a run handed back at shutdown must not keep
// it, or the run, resumed, would end without checking its final article.
func (e *executor) keepGrounding(held *team.Event, next team.Event) (stop, bool) {
	if held == nil || (next.Type == team.EventRunFinished && e.handsBack(next)) {
		return 0, true
	}
	return e.checkpoint(*held)
}

// handsBack reports whether a run_finished event ends the run's execution
// here without finishing the run: a shutdown interrupted it, and it resumes
// at the next start.
func (e *executor) handsBack(ev team.Event) bool {
	return !e.cancelled.Load() && e.s.draining.Load() && (ev.StopReason == drainReason || e.ctx.Err() != nil)
}
