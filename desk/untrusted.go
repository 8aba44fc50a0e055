package desk

import (
	"context"
	"encoding/json"
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
	run *untrusted.Run
	def model.Tool
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
	return &spotlit{Tool: t, run: run, def: def}
}

func (s *spotlit) Definition() model.Tool { return s.def }

// Call runs the tool and spotlights its result, naming the tool and what it read.
func (s *spotlit) Call(ctx context.Context, args json.RawMessage) (tool.Result, error) {
	if untrusted.From(ctx) == nil {
		ctx = untrusted.With(ctx, s.run)
	}
	res, err := s.Tool.Call(ctx, args)
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

// guardedTeam gives each run of a desk's team its untrusted.Run: in the
// context of its tools, seeded with the task, the sources and (resumed) the
// documents already read, and its reports as security events.
type guardedTeam struct {
	team.Team
	run *untrusted.Run
}

func (g guardedTeam) Stream(ctx context.Context, task string, opts ...team.RunOption) iter.Seq2[team.Event, error] {
	run := g.run
	run.AddText(task)
	if cp := team.ResumedFrom(opts...); cp != nil {
		for _, src := range cp.Sources {
			seedSource(run, &src)
		}
		for _, m := range cp.Messages {
			if m.Source == team.SourceDocuments || m.Source == team.EditorInChief {
				run.AddText(m.Content)
			}
		}
	}
	ctx = untrusted.With(ctx, run)
	opts = append(slices.Clip(opts), team.WithSpotlight(run.Spotlight))
	events := g.Team.Stream(ctx, task, opts...)
	seeded := func(yield func(team.Event, error) bool) {
		for e, err := range events {
			switch {
			case err != nil:
			case e.Type == team.EventSource || e.Type == team.EventToolResult:
				seedSource(run, e.Source)
			case e.Type == team.EventMessage && e.Message != nil && e.Message.Source == team.EditorInChief:
				run.AddText(e.Message.Content)
			}
			if !yield(e, err) {
				return
			}
		}
	}
	return team.WithSecurity(seeded, run)
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
