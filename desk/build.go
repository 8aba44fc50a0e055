package desk

import (
	"github.com/newsroom-dev/newsroom/model/profile"

	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
	"github.com/newsroom-dev/newsroom/tokenizer"
	"github.com/newsroom-dev/newsroom/tool"
)

// Team kinds (a team file's kind).
const (
	RoundRobin = "roundrobin"
	Selector   = "selector"
	Graph      = "graph"
)

// Investigations is the shipped graph desk.
const Investigations = "investigations"

// Teams lists the shipped desks.
var Teams = []string{RoundRobin, Selector, Investigations}

// Default caps on messages of the shipped desks (their files say so too).
const (
	DefaultRoundRobinMaxMessages = 10
	DefaultSelectorMaxMessages   = 20
)

// DefaultMaxTokens caps each reply of an agent whose file sets no cap: a
// short article fits well within it. A cap keeps the quota limiter's
// reservations and the budget's worst cases tight.
const DefaultMaxTokens = 1000

// DefaultReasoningMaxTokens is that cap on a reasoning deployment, where it
// is max_completion_tokens and also holds the hidden reasoning. Measured on
// the emulator's model of GPT-5 (reasoning 160 + prompt/6 tokens at medium,
// 480 + prompt/3 at high): the reporter's largest reply on the shipped desks
// takes 289 to 339 completion tokens at medium, 216 to 266 of them
// reasoning (BENCHMARKS.md). 1,500 holds medium effort and a 300-token
// article for prompts up to about 6,200 tokens, high effort up to about
// 2,100. The quota limiter holds the whole cap while a call runs: at 4,000 a
// 30,000 TPM deployment reached 86.7 % of its quota, at 2,000 94.2 %, at
// 1,500 95.6 % (BENCHMARKS.md). Longer tasks set max_tokens in their team
// file; an empty answer is retried once with twice the cap.
const DefaultReasoningMaxTokens = 1500

// ErrUnknownTeam is returned for a desk name that is not known.
var ErrUnknownTeam = errors.New("desk: unknown team")

// Config configures a team built from a desk.
type Config struct {
	// Team names a shipped desk; empty means RoundRobin. Ignored when Spec is set.
	Team string
	// Spec is a desk from a team file; it takes precedence over Team.
	Spec *Spec
	// Client answers every agent's and the selector's calls. Required.
	Client model.Client
	// Model is the deployment or model of agents (and the selector) whose
	// file names none; empty means the client's default.
	Model string
	// SelectorModel, when set, is the selector's deployment or model,
	// whatever the file says.
	SelectorModel string
	// ModelName is the model behind Model (gpt-4o-2024-11-20, gpt-5-mini),
	// for what the deployment can do: the selector and the headline writer
	// use structured outputs where it takes them. Empty means Model's name.
	ModelName string
	// MaxMessages, when positive, replaces the file's max_messages (or caps
	// a desk whose file has none).
	MaxMessages int
	// Extra is or-ed with the desk's stop conditions (timeouts, token limits, external stop).
	Extra termination.Condition
	// MaxTokens caps the replies of agents whose file sets no cap; 0 means
	// DefaultMaxTokens, or DefaultReasoningMaxTokens on a reasoning deployment.
	MaxTokens int
	// ReasoningEffort, when set, is every agent's and the selector's
	// reasoning effort, whatever the file says (--reasoning-effort).
	ReasoningEffort string
	// Profile returns the profile of the model behind a deployment ("" is
	// Model's); nil knows only deployments named after a model.
	Profile func(deployment string) profile.Profile
	// Count counts tokens for budget context policies; nil means the
	// tokenizer of Model (o200k_base when unknown).
	Count func(string) int
	// Tools are the tools agents may be given by name (a team file's
	// agent tools). Nil means none are available: agents then run without
	// tools. A name a file lists that Tools lacks is an error.
	Tools []tool.Tool
	// ExtraTools (MCP servers' tools) are given to every agent that has tools.
	ExtraTools []tool.Tool
	// MCP are the desk's own MCP servers, connected by ConnectMCP; an agent
	// gets the tools of the servers its file lists. When Tools, ExtraTools
	// and MCP are all nil, agents run without tools; otherwise a server an
	// agent lists that MCP lacks is an error.
	MCP *MCP
	// NoTools runs every agent without tools.
	NoTools bool
	// NoGrounding turns the grounding check off, whatever the file says.
	NoGrounding bool
	// Logger receives the agents' WARN lines about failed tool calls; nil means slog.Default().
	Logger *slog.Logger
	// FetchOpen are hosts the run's fetch tools may reach any URL of, besides
	// those the file opens (--fetch-open, NEWSROOM_FETCH_OPEN).
	FetchOpen []string
	// FetchAny turns URL provenance off (--fetch-any), whatever the file says.
	FetchAny bool
}

// New builds the team a desk describes.
func New(cfg Config) (team.Team, error) {
	if cfg.Client == nil {
		return nil, errors.New("desk: model client is required")
	}
	s := cfg.Spec
	if s == nil {
		name := cfg.Team
		if name == "" {
			name = RoundRobin
		}
		d, ok := builtins().Get(name)
		if !ok {
			return nil, fmt.Errorf("%w %q (shipped desks: %v)", ErrUnknownTeam, cfg.Team, Teams)
		}
		s = d.Spec
	}
	return build(s, cfg)
}

func build(s *Spec, cfg Config) (team.Team, error) {
	profileOf := func(deployment string) profile.Profile {
		return profileFor(deployment, LoadOptions{Profile: cfg.Profile})
	}
	count := cfg.Count
	if count == nil {
		count = lazyCounter(cfg.Model)
	}
	d := AgentDefaults{}
	if s.Defaults != nil {
		d = *s.Defaults
	}
	run, gate := untrustedRun(s, cfg), &toolGate{}
	agents := make([]agent.Agent, 0, len(s.Agents))
	for _, as := range s.Agents {
		c := agent.Config{Name: as.Name, Description: as.Description, SystemPrompt: as.Prompt, Client: cfg.Client,
			Model: first(as.Deployment, d.Deployment, cfg.Model), MaxTokens: as.MaxTokens, Temperature: as.Temperature,
			MaxToolRounds: as.MaxToolRounds, ReflectOnToolUse: as.ReflectOnToolUse,
			ReasoningEffort: first(cfg.ReasoningEffort, as.ReasoningEffort), Verbosity: as.Verbosity}
		p := profileOf(c.Model)
		c.MaxOutputTokens = p.MaxOutput
		if c.MaxTokens == 0 {
			c.MaxTokens = d.MaxTokens
		}
		if c.MaxTokens == 0 {
			c.MaxTokens = cfg.MaxTokens
		}
		if c.MaxTokens == 0 && p.Reasoning {
			c.MaxTokens = DefaultReasoningMaxTokens
		}
		if c.MaxTokens == 0 {
			c.MaxTokens = DefaultMaxTokens
		}
		ctx := as.Context
		if ctx == nil {
			ctx = d.Context
		}
		c.Context = policy(ctx, count)
		if as.Name == s.headlineWriter() && cfg.structured(c.Model) {
			c.Output = HeadlineFormat
		}
		if err := giveTools(&c, s, as, cfg, run, gate); err != nil {
			return nil, fmt.Errorf("desk %s: agent %s: %w", s.Name, as.Name, err)
		}
		a, err := agent.NewAssistant(c)
		if err != nil {
			return nil, fmt.Errorf("desk %s: %w", s.Name, err)
		}
		agents = append(agents, a)
	}
	cond := stopCondition(s.Termination, cfg.MaxMessages)
	if cond == nil { // a graph may have no stop condition; no run goes on forever
		cond = termination.MaxMessages(team.DefaultMaxMessages)
	}
	cond = termination.Or(cond, cfg.Extra)
	var (
		t   team.Team
		err error
	)
	switch s.Kind {
	case RoundRobin:
		t, err = team.NewRoundRobin(team.RoundRobinConfig{Participants: agents, Termination: cond})
	case Selector:
		sc := team.SelectorConfig{Participants: agents, Client: cfg.Client, Model: cfg.Model, Termination: cond}
		if sel := s.Selector; sel != nil {
			sc.Model = first(cfg.SelectorModel, sel.Deployment, cfg.Model)
			sc.Prompt = sel.Prompt
			sc.AllowRepeatedSpeaker = sel.AllowRepeatedSpeaker
			sc.MaxSelectorAttempts = sel.MaxAttempts
			sc.Planner = sel.Planner
			sc.FollowPlan = sel.Planner != "" && (sel.FollowPlan == nil || *sel.FollowPlan)
			sc.Context = policy(sel.Context, count)
			sc.ReasoningEffort, sc.Verbosity = sel.ReasoningEffort, sel.Verbosity
		}
		sc.ReasoningEffort = first(cfg.ReasoningEffort, sc.ReasoningEffort)
		if profileOf(sc.Model).Reasoning {
			// The limiter then reserves this, reasoning included, not a guess.
			sc.MaxTokens = DefaultReasoningMaxTokens
		}
		sc.Model = first(cfg.SelectorModel, sc.Model)
		sc.StructuredOutput = cfg.structured(sc.Model)
		t, err = team.NewSelector(sc)
	case Graph:
		gc := team.GraphConfig{Participants: agents, Termination: cond}
		if g := s.Graph; g != nil {
			gc.Start = g.Start
			for _, e := range g.Edges {
				gc.Edges = append(gc.Edges, edge(e))
			}
		}
		t, err = team.NewGraph(gc)
	default:
		return nil, fmt.Errorf("%w: desk %s has kind %q (want roundrobin, selector or graph)", ErrInvalid, s.Name, s.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("desk %s: %w", s.Name, err)
	}
	return grounded(guardedTeam{Team: &named{Team: t, name: s.Name}, run: run, gate: gate}, s, cfg), nil
}

// named reports the desk's name instead of its kind: runs, the store and
// the web page know a team by its desk.
type named struct {
	team.Team
	name string
}

func (n *named) Name() string { return n.name }

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func policy(c *ContextSpec, count func(string) int) agent.ContextPolicy {
	if c == nil {
		return agent.ContextPolicy{}
	}
	return agent.ContextPolicy{Kind: c.Keep, Last: c.Last, Head: c.Head, Tokens: c.Tokens, Count: count}
}

func lazyCounter(model string) func(string) int {
	var once sync.Once
	var tok *tokenizer.Tokenizer
	return func(s string) int {
		once.Do(func() { tok, _ = tokenizer.ForModel(model) })
		if tok == nil {
			return (len(s) + 3) / 4
		}
		return tok.Count(s)
	}
}

func edge(e EdgeSpec) team.Edge {
	te := team.Edge{From: e.From, To: e.To, Otherwise: e.Otherwise, Max: e.Max}
	switch {
	case e.Verdict != "":
		word := e.Verdict
		te.When = func(m agent.Message) bool { return termination.HasVerdict(m.Content, word) }
	case e.Mention != "":
		text := e.Mention
		te.When = func(m agent.Message) bool { return strings.Contains(m.Content, text) }
	}
	return te
}

// stopCondition builds a file's termination; max, when positive, replaces
// its max_messages or is added when it has none.
func stopCondition(c *ConditionSpec, max int) termination.Condition {
	if c == nil {
		if max > 0 {
			return termination.MaxMessages(max)
		}
		return nil
	}
	cond := condition(*c, max)
	if max > 0 && !hasMaxMessages(*c) {
		cond = termination.Or(cond, termination.MaxMessages(max))
	}
	return cond
}

func hasMaxMessages(c ConditionSpec) bool {
	return c.MaxMessages > 0 || slices.ContainsFunc(c.Any, hasMaxMessages) || slices.ContainsFunc(c.All, hasMaxMessages)
}

func condition(c ConditionSpec, max int) termination.Condition {
	list := func(cs []ConditionSpec) []termination.Condition {
		out := make([]termination.Condition, len(cs))
		for i, c := range cs {
			out[i] = condition(c, max)
		}
		return out
	}
	switch {
	case c.Any != nil:
		return termination.Or(list(c.Any)...)
	case c.All != nil:
		return termination.And(list(c.All)...)
	case c.Verdict != nil:
		// A verdict, a text mention or a source match means the work is
		// done (an approval gate pauses there); the others are caps.
		return termination.Done(termination.Verdict(c.Verdict.Word, c.Verdict.Agent))
	case c.TextMention != nil:
		return termination.Done(termination.TextMention(c.TextMention.Text, c.TextMention.Sources...))
	case c.MaxMessages > 0:
		if max > 0 {
			return termination.MaxMessages(max)
		}
		return termination.MaxMessages(c.MaxMessages)
	case c.TokenUsage != nil:
		return termination.TokenUsage(termination.TokenLimits{Total: c.TokenUsage.Total, Prompt: c.TokenUsage.Prompt, Completion: c.TokenUsage.Completion})
	case c.MaxCostUSD > 0:
		return termination.MaxCost(c.MaxCostUSD)
	case c.Timeout != "":
		d, _ := time.ParseDuration(c.Timeout)
		return termination.Timeout(d)
	case c.SourceMatch != nil:
		return termination.Done(termination.SourceMatch(c.SourceMatch...))
	}
	return nil
}

// Baseline returns a copy of s run the way AutoGen runs a team: every agent
// and the selector see the full conversation, and a selector asks its model
// before every turn (no plan-following). `newsroom bench tokens` compares a
// desk with its baseline.
func (s *Spec) Baseline() *Spec {
	b := *s
	b.Agents = slices.Clone(s.Agents)
	for i := range b.Agents {
		b.Agents[i].Context = nil
	}
	if s.Defaults != nil {
		d := *s.Defaults
		d.Context = nil
		b.Defaults = &d
	}
	if s.Selector != nil {
		sel := *s.Selector
		off := false
		sel.FollowPlan, sel.Context = &off, nil
		b.Selector = &sel
	}
	return &b
}

// ArticleOf extracts the finished article from a run of this desk: the body
// from its writer (Writer) and the headlines from the agent its file names
// (by default Headline_Generator).
func (s *Spec) ArticleOf(msgs []agent.Message) Article {
	return articleOf(msgs, s.Writer(), s.headlineWriter())
}

// Writer is the agent whose last message is the desk's article: the one
// its file names in article.body; else News_Reporter when the desk has
// one (the shipped desks); else its first agent that is not the selector's
// planner (a sports desk's Sports_Writer). The grounding check reads the
// writer's article and sends unsupported claims back to the writer.
func (s *Spec) Writer() string {
	if s.Article != nil && s.Article.Body != "" {
		return s.Article.Body
	}
	if byNameHas(s, Reporter) {
		return Reporter
	}
	for _, a := range s.Agents {
		if s.Kind == Selector && s.Selector != nil && a.Name == s.Selector.Planner {
			continue
		}
		return a.Name
	}
	return Reporter
}

// GroundingCheck checks the article of a run of this desk (its writer's last
// message) against the task and the documents the run read.
func (s *Spec) GroundingCheck(msgs []agent.Message, m team.Material) team.Grounding {
	return groundingOf(s.Writer())(msgs, m)
}

// MaxMessages is the desk's message cap (its largest max_messages), 0 when
// its file sets none.
func (s *Spec) MaxMessages() int {
	var walk func(c *ConditionSpec) int
	walk = func(c *ConditionSpec) int {
		if c == nil {
			return 0
		}
		n := c.MaxMessages
		for i := range c.Any {
			n = max(n, walk(&c.Any[i]))
		}
		for i := range c.All {
			n = max(n, walk(&c.All[i]))
		}
		return n
	}
	return walk(s.Termination)
}
