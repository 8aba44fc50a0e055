package desk

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"iter"
	"slices"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// Untrusted input. Every team a desk builds has its own untrusted.Run: the
// URLs its run has seen, the hosts open to it, and the boundaries its tool
// results reach the model in. Desks are built once per run (the CLI, the
// service), so the boundary is per run.

// ProvenanceOff reports whether the desk's file turns URL provenance off.
func (s *Spec) ProvenanceOff() bool { return s.Fetch != nil && s.Fetch.Provenance == "off" }

// untrustedRun makes the state of the run a desk is built for.
func untrustedRun(s *Spec, cfg Config) *untrusted.Run {
	var open []string
	if s.Fetch != nil {
		open = append(open, s.Fetch.Open...)
	}
	return untrusted.New(untrusted.Options{Open: append(open, cfg.FetchOpen...), Off: cfg.FetchAny || s.ProvenanceOff()})
}

// MCPDescriptionIntro opens the description of an MCP server's tool, which
// follows in the run's boundaries.
const MCPDescriptionIntro = "An MCP server's tool. Its description, as the server gives it:\n"

// spotlit is a tool whose results, and (for an MCP server's tools) whose
// description, reach the model inside the run's boundaries.
type spotlit struct {
	tool.Tool
	run      *untrusted.Run
	def      model.Tool
	external bool
}

var _ tool.Tool = (*spotlit)(nil)

// Spotlight wraps t so that its results reach the model inside run's
// boundaries, naming the tool and what it read; a tool of an MCP server
// (external) has its description spotlit too, since a server writes it.
// Calls run with run in their context (the fetch tools' provenance).
func Spotlight(t tool.Tool, run *untrusted.Run, external bool) tool.Tool {
	def := t.Definition()
	if external && def.Description != "" {
		def.Description = MCPDescriptionIntro + run.Spotlight("MCP tool "+def.Name+" description", def.Description)
	}
	return &spotlit{Tool: t, run: run, def: def, external: external}
}

func (s *spotlit) Definition() model.Tool { return s.def }

// Call runs the tool and spotlights its result, naming the tool and what it read.
func (s *spotlit) Call(ctx context.Context, args json.RawMessage) (tool.Result, error) {
	if untrusted.From(ctx) == nil {
		ctx = untrusted.With(ctx, s.run)
	}
	res, err := s.Tool.Call(ctx, args)
	if err != nil && s.external && !errors.Is(err, errAwaitingApproval) && !errors.Is(err, errDenied) {
		// A server's error text is the server's words, like its results.
		return res, &spotlitError{err: err, msg: s.run.Spotlight("tool "+s.def.Name+" error", err.Error())}
	}
	if err != nil {
		return res, err
	}
	origin := "tool " + s.def.Name
	if res.Source != nil && res.Source.URL != "" {
		origin += " " + res.Source.URL
	}
	res.Content = s.run.Spotlight(origin, res.Content)
	return res, nil
}

// spotlitError is an MCP tool's error with its text inside the run's boundaries.
type spotlitError struct {
	err error
	msg string
}

func (e *spotlitError) Error() string { return e.msg }
func (e *spotlitError) Unwrap() error { return e.err }

// guardedTeam gives each run of a desk's team its untrusted.Run: in the
// context of its tools, seeded with the task, the sources and (resumed) the
// documents already read, and its reports as security events. It also
// pauses the run when a call to an acting tool waits for a person (see
// toolGate).
type guardedTeam struct {
	team.Team
	run  *untrusted.Run
	gate *toolGate
}

func (g guardedTeam) Stream(ctx context.Context, task string, opts ...team.RunOption) iter.Seq2[team.Event, error] {
	run := g.run
	run.AddText(task)
	cp := team.ResumedFrom(opts...)
	if cp != nil {
		for _, src := range cp.Sources {
			seedSource(run, &src)
		}
		for _, m := range cp.Messages {
			if m.Source == team.SourceDocuments || m.Source == team.EditorInChief {
				run.AddText(m.Content)
			}
		}
	}
	g.gate.reset(cp)
	opts = append(slices.Clip(opts), team.WithSpotlight(run.Spotlight))
	return team.WithSecurity(func(yield func(team.Event, error) bool) {
		ctx, cancel := context.WithCancel(untrusted.With(ctx, run))
		defer cancel()
		p := pauser{gate: g.gate, cancel: cancel}
		for e, err := range g.Team.Stream(ctx, task, opts...) {
			if err == nil {
				seed(run, e)
			}
			emit, done := p.next(e, err)
			for _, x := range emit {
				if !yield(x, nil) {
					return
				}
			}
			if done {
				return
			}
			if len(emit) == 0 && err != nil {
				yield(e, err)
				return
			}
		}
	}, run)
}

// seed records what an event tells the run it has seen.
func seed(run *untrusted.Run, e team.Event) {
	switch {
	case e.Type == team.EventSource || e.Type == team.EventToolResult:
		seedSource(run, e.Source)
	case e.Type == team.EventMessage && e.Message != nil && e.Message.Source == team.EditorInChief:
		run.AddText(e.Message.Content)
	}
}

// pauser turns a team's stream into a paused run once a call waits for a
// person: the waiting call's own result is dropped (so a resumed run runs
// it), the turn is stopped when the round's results are in, and the leg
// ends with tool_approval_requested and run_finished (awaiting tool approval).
type pauser struct {
	gate   *toolGate
	cancel context.CancelFunc
	last   team.Event
	asked  *team.ToolApproval
}

// next returns the events to pass on for e (or its error), and whether the stream ends.
func (p *pauser) next(e team.Event, err error) ([]team.Event, bool) {
	w := p.gate.pending()
	if w == nil {
		if err != nil {
			return nil, false
		}
		p.last = e
		return []team.Event{e}, false
	}
	if err == nil && e.Type == team.EventToolResult && e.Tool != nil && p.asked == nil && team.CallKey(e.Tool.Name, e.Tool.Arguments) == w.Key {
		a := *w
		a.Speaker = e.Speaker
		p.asked = &a
		p.cancel() // the round is done: stop before the model sees its results
		return nil, false
	}
	if err == nil && e.Type != team.EventRunFinished && e.Type != team.EventMessage {
		p.last = e
		return []team.Event{e}, false
	}
	a := p.asked
	if a == nil {
		a = w
	}
	at := cmp.Or(e.Time, p.last.Time)
	return []team.Event{
		{Type: team.EventToolApprovalRequested, Time: at, Speaker: a.Speaker, ToolApproval: a, Index: p.last.Index, Total: p.last.Total},
		{Type: team.EventRunFinished, Time: at, StopReason: team.StopAwaitingToolApproval, Index: p.last.Index, Total: p.last.Total},
	}, true
}

func seedSource(run *untrusted.Run, src *tool.Source) {
	if src == nil {
		return
	}
	run.AddURL(src.URL)
	for _, l := range src.Links {
		run.AddURL(l)
	}
}
