package desk

import (
	"context"
	"fmt"
	"iter"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/grounding"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// ToolsPrompt is added to the system prompt of an agent that has tools.
const ToolsPrompt = `When the assignment names web pages or feeds, fetch each of them with your tools before you write, and write only from what they say.
Cite the documents you use by their source number in brackets, as [1] or [2], after the sentence that uses them.`

// giveTools sets the tools a file lists for an agent (built-in tools by
// name, and the tools of its MCP servers), and the extra tools.
func giveTools(c *agent.Config, s *Spec, as AgentSpec, cfg Config, run *untrusted.Run, gate *toolGate) error {
	if cfg.NoTools || (len(as.Tools) == 0 && len(as.MCP) == 0) || (cfg.Tools == nil && len(cfg.ExtraTools) == 0 && cfg.MCP == nil) {
		return nil
	}
	for _, n := range as.Tools {
		var found tool.Tool
		for _, t := range cfg.Tools {
			if t.Definition().Name == n {
				found = t
				break
			}
		}
		if found == nil {
			if cfg.Tools == nil {
				continue
			}
			return fmt.Errorf("tool %q is not available", n)
		}
		c.Tools = append(c.Tools, Spotlight(found, run, false))
	}
	for _, m := range as.MCP {
		ts, ok := cfg.MCP.tools(m.Name)
		if !ok {
			return fmt.Errorf("MCP server %q is not connected (desk.ConnectMCP connects a desk's servers)", m.Name)
		}
		entry := s.mcpEntry(m.Name)
		for _, t := range ts {
			if acts(t, entry) {
				t = &gated{Tool: t, gate: gate}
			}
			c.Tools = append(c.Tools, Spotlight(t, run, true))
		}
	}
	for _, t := range cfg.ExtraTools {
		if acts(t, MCPSpec{}) {
			t = &gated{Tool: t, gate: gate}
		}
		c.Tools = append(c.Tools, Spotlight(t, run, true))
	}
	seen := map[string]bool{}
	for _, t := range c.Tools {
		n := t.Definition().Name
		if seen[n] {
			return fmt.Errorf("two of its tools are named %q (an MCP server's tools are named <server>_<tool>; rename a server)", n)
		}
		seen[n] = true
	}
	c.Logger = cfg.Logger
	if len(c.Tools) > 0 {
		c.SystemPrompt += "\n" + ToolsPrompt + "\n" + untrusted.Prompt
	}
	return nil
}

// Grounding checks the run's article (News_Reporter's last message) against
// the task and the documents the run read: the shipped desks'
// team.GroundingFunc. A desk's own check is Spec.GroundingCheck.
func Grounding(msgs []agent.Message, m team.Material) team.Grounding {
	return groundingOf(Reporter)(msgs, m)
}

func groundingOf(author string) team.GroundingFunc {
	return func(msgs []agent.Message, m team.Material) team.Grounding {
		a := articleOf(msgs, author, "")
		r := grounding.Check(a.Body, append([]string{m.Task}, m.Documents...))
		return team.Grounding{Checked: r.Checked, Unsupported: r.Unsupported, Author: author}
	}
}

// FinalGrounding is the grounding check of the final article of a run of
// this desk that ended before a check ran (a cap, a failure), so that every
// run reports one: the desk's check against the task and the documents in
// the messages, or {Skipped: "no sources"} when there is nothing to check
// against. It is nil when the desk turns grounding off.
func (s *Spec) FinalGrounding(task string, msgs []agent.Message) *team.Grounding {
	if s.Grounding != nil && !*s.Grounding {
		return nil
	}
	m := team.MaterialOf(task, msgs)
	if !m.HasMaterial() {
		return &team.Grounding{Skipped: "no sources"}
	}
	g := s.GroundingCheck(msgs, m)
	return &g
}

// groundedTeam is a desk's team with the grounding check on by default: a
// run option team.WithGrounding(nil) given by the caller turns it off.
type groundedTeam struct {
	team.Team
	check team.GroundingFunc
}

func (g groundedTeam) Stream(ctx context.Context, task string, opts ...team.RunOption) iter.Seq2[team.Event, error] {
	return g.Team.Stream(ctx, task, append([]team.RunOption{team.WithGrounding(g.check)}, opts...)...)
}

// grounded wraps a desk's team unless the desk or the run turns grounding off.
func grounded(t team.Team, s *Spec, cfg Config) team.Team {
	if cfg.NoGrounding || (s.Grounding != nil && !*s.Grounding) {
		return t
	}
	return groundedTeam{Team: t, check: s.GroundingCheck}
}
