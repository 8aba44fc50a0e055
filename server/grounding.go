package server

import (
	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/team"
)

// FinalGrounder is implemented by Teams whose desks check a run's final
// article when the run ended before a check ran (a cap, a failure): the
// service then stores that check with the run, as `newsroom run` reports
// it, so every finished run with grounding on shows one.
type FinalGrounder interface {
	// FinalGrounding is the check of the run's final article (desk.Spec's
	// FinalGrounding), nil when the desk turns grounding off.
	FinalGrounding(name, task string, msgs []agent.Message) *team.Grounding
}

// groundFinal checkpoints the grounding check of the run's final article
// when no check ran and the run has grounding on: an EventGrounding event,
// stored and published before the run_finished event.
func (e *executor) groundFinal() (stop, bool) {
	g, ok := e.s.cfg.Teams.(FinalGrounder)
	if !ok || e.run.Options.NoGrounding || e.cp.Grounding != nil {
		return 0, true
	}
	check := g.FinalGrounding(e.run.Team, e.run.Task, e.cp.Messages)
	if check == nil {
		return 0, true
	}
	return e.checkpoint(team.Event{Type: team.EventGrounding, Time: e.s.now(), Grounding: check,
		Index: len(e.cp.Messages), Total: e.cp.Usage})
}
