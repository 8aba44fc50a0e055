package desk

import (
	"context"
	"fmt"
	"iter"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/grounding"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
)

// ToolsPrompt is added to the system prompt of an agent that has tools.
const ToolsPrompt = `When the assignment names web pages or feeds, fetch each of them with your tools before you write, and write only from what they say.
Cite the documents you use by their source number in brackets, as [1] or [2], after the sentence that uses them.`

// giveTools sets the tools a file lists for an agent, and the extra tools.
func giveTools(c *agent.Config, names []string, cfg Config) error {
	if cfg.NoTools || len(names) == 0 || (cfg.Tools == nil && len(cfg.ExtraTools) == 0) {
		return nil
	}
	for _, n := range names {
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
		c.Tools = append(c.Tools, found)
	}
	c.Tools = append(c.Tools, cfg.ExtraTools...)
	c.Logger = cfg.Logger
	if len(c.Tools) > 0 {
		c.SystemPrompt += "\n" + ToolsPrompt
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
