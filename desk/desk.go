// Package desk builds the two newsroom teams of the original project — the
// round-robin Reporter/Editor pair and the selector team led by a Planner —
// with their prompts, descriptions and stop conditions, and extracts the
// finished article and headlines from a run.
package desk

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

// The agent names of the original project, kept exactly.
const (
	Reporter  = "News_Reporter"
	Editor    = "News_Editor"
	Planner   = "PlanningAgent"
	Headliner = "Headline_Generator"
)

// Team kinds.
const (
	RoundRobin = "roundrobin"
	Selector   = "selector"
)

// Teams lists the team kinds.
var Teams = []string{RoundRobin, Selector}

// Default caps on messages, so a run can never go on forever.
const (
	DefaultRoundRobinMaxMessages = 10
	DefaultSelectorMaxMessages   = 20
)

// ErrUnknownTeam is returned for a team kind that does not exist.
var ErrUnknownTeam = errors.New("desk: unknown team (want roundrobin or selector)")

// Config configures a newsroom team.
type Config struct {
	// Team is RoundRobin or Selector; empty means RoundRobin.
	Team string
	// Client answers every agent's and the selector's calls. Required.
	Client model.Client
	// Model is the deployment or model name; empty means the client's default.
	Model string
	// MaxMessages caps the run; 0 means the team's default (10 round robin, 20 selector).
	MaxMessages int
	// Extra is or-ed with the team's stop conditions (timeouts, token limits, external stop).
	Extra termination.Condition
	// MaxTokens caps each agent reply; 0 means DefaultMaxTokens. A cap keeps
	// the quota limiter's reservations and the budget's worst cases tight.
	MaxTokens int
}

// DefaultMaxTokens caps each reply: a short article fits well within it.
const DefaultMaxTokens = 1000

// Prompts of the agents. The first line of each names the agent ("You are
// <name>"); the emulator's personas key on it.
const (
	ReporterPrompt = `You are News_Reporter, a reporter in a newsroom.
Write a news article based on the facts you are given. Keep the article short: a title line, then three to five short paragraphs.
Use only the facts provided; never invent names, numbers or quotes. Attribute claims to their sources.
When the editor gives feedback, rewrite the whole article applying every point, and reply with the revised article only.`

	EditorPrompt = `You are News_Editor, the editor of a newsroom.
Review the reporter's latest article for grammar, readability, clarity, neutrality and fairness, and make sure it ends on a positive, constructive note.
If it needs changes, list them as short, concrete points and end your reply with a line containing only: REVISE
When the article needs no more changes, say so briefly and end your reply with a line containing only: APPROVE
Write APPROVE only on that last line and only when you approve.`

	PlannerPrompt = `You are PlanningAgent, the planner of a newsroom team.
Break the task down into steps and delegate each step to one of your team members:
- News_Reporter: writes and revises news articles from the facts.
- News_Editor: reviews articles and gives feedback; does not write articles.
- Headline_Generator: writes headlines for the finished article.
You only plan and delegate; you do not write articles yourself.
Assign tasks in this format, one per line:
1. <agent> : <task>
When every step is done, summarise the result and end your reply with a line containing only: TERMINATE`

	SelectorEditorPrompt = `You are News_Editor, the editor of a newsroom.
Review the reporter's latest article for grammar, readability, clarity, neutrality and fairness, and suggest a positive, constructive ending.
Give feedback only, as short, concrete points; never rewrite the article yourself.`

	HeadlinerPrompt = `You are Headline_Generator, the headline writer of a newsroom.
Write three short, accurate, neutral headlines for the latest version of the article, as a numbered list. Use only facts from the article.`
)

// Descriptions of the agents, shown to the selector.
const (
	ReporterDescription  = "Writes news articles from the given facts and revises them after the editor's feedback; keeps articles short."
	EditorDescription    = "Reviews the reporter's article for grammar, readability, clarity, neutrality and fairness, and asks for a positive ending."
	PlannerDescription   = "Plans the work, delegates steps to the other agents, and ends the run with a summary and TERMINATE."
	HeadlinerDescription = "Writes three headlines for the finished article."
)

// New builds a newsroom team.
func New(cfg Config) (team.Team, error) {
	if cfg.Client == nil {
		return nil, errors.New("desk: model client is required")
	}
	// The names are constants and the client is checked above, so
	// NewAssistant cannot fail here; a nil agent would fail team creation.
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	mk := func(name, desc, prompt string) agent.Agent {
		a, _ := agent.NewAssistant(agent.Config{Name: name, Description: desc, SystemPrompt: prompt, Client: cfg.Client,
			Model: cfg.Model, MaxTokens: cfg.MaxTokens})
		return a
	}
	switch cfg.Team {
	case "", RoundRobin:
		max := cfg.MaxMessages
		if max <= 0 {
			max = DefaultRoundRobinMaxMessages
		}
		return team.NewRoundRobin(team.RoundRobinConfig{
			Participants: []agent.Agent{
				mk(Reporter, ReporterDescription, ReporterPrompt),
				mk(Editor, EditorDescription, EditorPrompt),
			},
			Termination: termination.Or(termination.Done(termination.Verdict("APPROVE", Editor)), termination.MaxMessages(max), cfg.Extra),
		})
	case Selector:
		max := cfg.MaxMessages
		if max <= 0 {
			max = DefaultSelectorMaxMessages
		}
		return team.NewSelector(team.SelectorConfig{
			Participants: []agent.Agent{
				mk(Planner, PlannerDescription, PlannerPrompt),
				mk(Reporter, ReporterDescription, ReporterPrompt),
				mk(Editor, EditorDescription, SelectorEditorPrompt),
				mk(Headliner, HeadlinerDescription, HeadlinerPrompt),
			},
			Client:      cfg.Client,
			Model:       cfg.Model,
			Termination: termination.Or(termination.Done(termination.TextMention("TERMINATE", Planner)), termination.MaxMessages(max), cfg.Extra),
		})
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownTeam, cfg.Team)
}

// Article is the finished article of a run.
type Article struct {
	// Body is the reporter's last message.
	Body string `json:"body"`
	// Headlines from the headline generator's last message, if any.
	Headlines []string `json:"headlines,omitempty"`
}

var listItem = regexp.MustCompile(`^\s*(?:\d+[.)]|[-*•])\s+(.*\S)\s*$`)

// ArticleOf extracts the finished article from a run's messages.
func ArticleOf(msgs []agent.Message) Article {
	var a Article
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if a.Body == "" && m.Source == Reporter {
			a.Body = m.Content
		}
		if a.Headlines == nil && m.Source == Headliner {
			a.Headlines = headlines(m.Content)
		}
	}
	return a
}

func headlines(s string) []string {
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
