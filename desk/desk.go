// Package desk turns team files into teams. A team file (YAML) describes a
// desk: its agents with their prompts and deployments, how the next speaker
// is chosen (round robin, a selector, a graph), context policies and stop
// conditions. The shipped desks — the original project's round-robin
// Reporter/Editor pair and planner-led selector team, and a graph desk for
// investigations — are embedded team files loaded through the same code, so
// there is one way to make a team. The package also extracts the finished
// article and headlines from a run.
package desk

import (
	"regexp"
	"strings"

	"github.com/newsroom-dev/newsroom/agent"
)

// The agent names of the original project, kept exactly.
const (
	Reporter  = "News_Reporter"
	Editor    = "News_Editor"
	Planner   = "PlanningAgent"
	Headliner = "Headline_Generator"
	// SummaryWriter is the agent whose last message is the article's
	// summary, on a desk that has one (investigations).
	SummaryWriter = "Summary_Writer"
)

// Article is the finished article of a run.
type Article struct {
	// Body is the reporter's last message.
	Body string `json:"body"`
	// Headlines from the headline generator's last message, if any.
	Headlines []string `json:"headlines,omitempty"`
	// Summary is the summary writer's last message, if any (SummaryWriter).
	Summary string `json:"summary,omitempty"`
}

var listItem = regexp.MustCompile(`^\s*(?:\d+[.)]|[-*•])\s+(.*\S)\s*$`)

// ArticleOf extracts the finished article from a run's messages.
func ArticleOf(msgs []agent.Message) Article {
	return articleOf(msgs, Reporter, Headliner)
}

func articleOf(msgs []agent.Message, body, heads string) Article {
	var a Article
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if a.Body == "" && m.Source == body {
			a.Body = m.Content
		}
		if a.Headlines == nil && m.Source == heads {
			a.Headlines = headlines(m.Content)
		}
		if a.Summary == "" && m.Source == SummaryWriter {
			a.Summary = strings.TrimSpace(m.Content)
		}
	}
	return a
}

func headlines(s string) []string {
	if hs, ok := structuredHeadlines(s); ok {
		return hs
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if m := listItem.FindStringSubmatch(line); m != nil {
			out = append(out, strings.Trim(m[1], `*"“” `))
		}
	}
	if out == nil && strings.TrimSpace(s) != "" {
		out = []string{strings.TrimSpace(strings.SplitN(s, "\n", 2)[0])}
	}
	return out
}

// Markdown renders the article: headlines first when there are any.
func (a Article) Markdown() string {
	var b strings.Builder
	if len(a.Headlines) > 0 {
		b.WriteString("# " + a.Headlines[0] + "\n\n")
		for _, h := range a.Headlines[1:] {
			b.WriteString("- " + h + "\n")
		}
		if len(a.Headlines) > 1 {
			b.WriteString("\n")
		}
	}
	b.WriteString(strings.TrimSpace(a.Body))
	b.WriteString("\n")
	return b.String()
}
