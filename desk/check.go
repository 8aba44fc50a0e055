package desk

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model/profile"
	"github.com/newsroom-dev/newsroom/tool/mcp"
)

// check finds the mistakes a well-formed file can still hold: names, the
// agents conditions and edges refer to, deployments, loops without a cap,
// stop conditions that can never fire.
func (l *loader) check(s *Spec, opts LoadOptions) {
	if !agent.ValidName(s.Name) {
		l.At("name", fmt.Sprintf("%q is not a valid desk name; use letters, digits, '_' or '-' (at most 64)", s.Name))
	}
	if len(s.Agents) == 0 {
		l.At("agents", "a desk needs at least one agent")
	}
	byName := map[string]int{}
	for i, a := range s.Agents {
		f := "agents[" + strconv.Itoa(i) + "]"
		switch {
		case !agent.ValidName(a.Name):
			l.At(f+".name", fmt.Sprintf("%q is not a valid agent name; use letters, digits, '_' or '-' (at most 64)", a.Name))
		case byName[a.Name] > 0:
			l.At(f+".name", fmt.Sprintf("duplicate agent name %q (also agents[%d]); names must be unique", a.Name, byName[a.Name]-1))
		default:
			byName[a.Name] = i + 1
		}
		if strings.TrimSpace(a.Prompt) == "" {
			l.At(f+".prompt", "empty prompt; every agent needs a system prompt")
		}
		if strings.TrimSpace(a.Description) == "" {
			l.At(f+".description", "empty description; the selector and people choosing a desk read it")
		}
		l.deployment(f+".deployment", a.Deployment, opts)
		tools := opts.Tools
		if tools == nil {
			tools = KnownTools
		}
		for j, t := range a.Tools {
			if !slices.Contains(tools, t) {
				l.At(f+".tools["+strconv.Itoa(j)+"]", fmt.Sprintf("unknown tool %q; known: %s", t, strings.Join(tools, ", ")))
			}
		}
		l.context(f+".context", a.Context)
		dep := a.Deployment
		if dep == "" && s.Defaults != nil {
			dep = s.Defaults.Deployment
		}
		l.reasoning(f, dep, a.Temperature != nil, a.ReasoningEffort, opts)
	}
	if s.Selector != nil {
		l.reasoning("selector", s.Selector.Deployment, false, s.Selector.ReasoningEffort, opts)
	}
	l.mcp(s)
	known := func(field, name string) bool {
		if byName[name] > 0 {
			return true
		}
		l.At(field, fmt.Sprintf("unknown agent %q; the agents are %s", name, strings.Join(agentNames(s), ", ")))
		return false
	}
	if d := s.Defaults; d != nil {
		l.deployment("defaults.deployment", d.Deployment, opts)
		l.context("defaults.context", d.Context)
	}
	if s.Termination != nil {
		l.condition("termination", s.Termination, known)
	}
	if s.Kind != Selector && s.Selector != nil {
		l.At("selector", fmt.Sprintf("only a desk of kind selector has a selector (this one is %s)", s.Kind))
	}
	if s.Kind != Graph && s.Graph != nil {
		l.At("graph", fmt.Sprintf("only a desk of kind graph has a graph (this one is %s)", s.Kind))
	}
	switch s.Kind {
	case RoundRobin, Selector:
		if s.Termination == nil {
			l.At("termination", "missing: a "+s.Kind+" desk needs a stop condition (for example max_messages)")
		}
	}
	if sel := s.Selector; sel != nil && s.Kind == Selector {
		l.deployment("selector.deployment", sel.Deployment, opts)
		l.context("selector.context", sel.Context)
		if sel.Planner != "" {
			known("selector.planner", sel.Planner)
		}
		if sel.FollowPlan != nil && *sel.FollowPlan && sel.Planner == "" {
			l.At("selector.follow_plan", "needs selector.planner: the agent whose plan is followed")
		}
		if sel.Prompt != "" && !strings.Contains(sel.Prompt, "{participants}") {
			l.At("selector.prompt", "must contain {participants}, where the candidate names are filled in")
		}
	}
	if s.Kind == Graph {
		l.graph(s, known)
	}
	if a := s.Article; a != nil {
		if a.Body != "" {
			known("article.body", a.Body)
		}
		if a.Headlines != "" {
			known("article.headlines", a.Headlines)
		}
	}
}

func agentNames(s *Spec) []string {
	out := make([]string, len(s.Agents))
	for i, a := range s.Agents {
		out[i] = a.Name
	}
	return out
}

func (l *loader) deployment(field, name string, opts LoadOptions) {
	if name == "" || opts.Deployments == nil || slices.Contains(opts.Deployments, name) {
		return
	}
	known := "none is configured"
	if len(opts.Deployments) > 0 {
		known = "known: " + strings.Join(opts.Deployments, ", ")
	}
	l.At(field, fmt.Sprintf("unknown deployment %q; %s", name, known))
}

func (l *loader) context(field string, c *ContextSpec) {
	if c == nil {
		return
	}
	switch c.Keep {
	case agent.ContextLast:
		if c.Last <= 0 {
			l.At(field, "keep: last needs last: N (how many of the newest messages to keep)")
		}
	case agent.ContextHeadTail:
		if c.Last <= 0 || c.Head <= 0 {
			l.At(field, "keep: head_tail needs head: N and last: N")
		}
	case agent.ContextBudget:
		if c.Tokens <= 0 {
			l.At(field, "keep: budget needs tokens: N")
		}
	}
}

// condition checks a stop condition: exactly one kind per entry, known
// agents, and that it can fire at all.
func (l *loader) condition(field string, c *ConditionSpec, known func(string, string) bool) {
	set := c.kinds()
	switch len(set) {
	case 0:
		l.At(field, "empty condition; give one of any, all, verdict, text_mention, max_messages, token_usage, max_cost_usd, timeout, source_match")
		return
	case 1:
	default:
		l.At(field, fmt.Sprintf("one condition per entry, found %s; combine several with any or all", strings.Join(set, " and ")))
		return
	}
	switch {
	case c.Any != nil || c.All != nil:
		list, name := c.Any, "any"
		if c.All != nil {
			list, name = c.All, "all"
		}
		if len(list) == 0 {
			l.At(field+"."+name, "an empty list can never fire")
		}
		for i := range list {
			l.condition(field+"."+name+"["+strconv.Itoa(i)+"]", &list[i], known)
		}
		if c.All != nil {
			l.allCanFire(field+".all", c.All)
		}
	case c.Verdict != nil:
		if strings.TrimSpace(c.Verdict.Word) == "" || strings.ContainsAny(c.Verdict.Word, "\n") {
			l.At(field+".verdict.word", "a verdict word is one word, such as APPROVE")
		}
		known(field+".verdict.agent", c.Verdict.Agent)
	case c.TextMention != nil:
		if c.TextMention.Text == "" {
			l.At(field+".text_mention.text", "empty text would stop on every message")
		}
		for i, s := range c.TextMention.Sources {
			known(field+".text_mention.sources["+strconv.Itoa(i)+"]", s)
		}
	case c.SourceMatch != nil:
		if len(c.SourceMatch) == 0 {
			l.At(field+".source_match", "an empty list can never fire")
		}
		for i, s := range c.SourceMatch {
			known(field+".source_match["+strconv.Itoa(i)+"]", s)
		}
	case c.TokenUsage != nil:
		if *c.TokenUsage == (TokenUsageSpec{}) {
			l.At(field+".token_usage", "no limit given; set total, prompt or completion")
		}
	case c.Timeout != "":
		if d, err := time.ParseDuration(c.Timeout); err != nil || d <= 0 {
			l.At(field+".timeout", fmt.Sprintf("%q is not a positive duration; write it like 90s or 5m", c.Timeout))
		}
	}
}

// kinds lists the condition kinds set in c.
func (c *ConditionSpec) kinds() []string {
	var set []string
	add := func(ok bool, name string) {
		if ok {
			set = append(set, name)
		}
	}
	add(c.Any != nil, "any")
	add(c.All != nil, "all")
	add(c.Verdict != nil, "verdict")
	add(c.TextMention != nil, "text_mention")
	add(c.MaxMessages != 0, "max_messages")
	add(c.TokenUsage != nil, "token_usage")
	add(c.MaxCostUSD != 0, "max_cost_usd")
	add(c.Timeout != "", "timeout")
	add(c.SourceMatch != nil, "source_match")
	return set
}

// sources returns the agents whose newest message alone can fire c, and
// whether c is tied to the newest message's source at all.
func (c *ConditionSpec) sources() ([]string, bool) {
	switch {
	case c.Verdict != nil:
		return []string{c.Verdict.Agent}, true
	case c.TextMention != nil && len(c.TextMention.Sources) > 0:
		return c.TextMention.Sources, true
	case c.SourceMatch != nil:
		return c.SourceMatch, true
	}
	return nil, false
}

// allCanFire reports an "all" whose members demand the newest message come
// from agents no one agent satisfies: it can never fire.
func (l *loader) allCanFire(field string, all []ConditionSpec) {
	var allowed []string
	tied := false
	for _, c := range all {
		src, ok := c.sources()
		if !ok {
			continue
		}
		if !tied {
			allowed, tied = slices.Clone(src), true
			continue
		}
		allowed = slices.DeleteFunc(allowed, func(a string) bool { return !slices.Contains(src, a) })
	}
	if tied && len(allowed) == 0 {
		l.At(field, "can never fire: its conditions need the newest message to come from different agents at once")
	}
}

// graph checks a graph desk: edges between known agents, one condition per
// edge, every agent reachable, and a cap on every edge that closes a loop.
func (l *loader) graph(s *Spec, known func(string, string) bool) {
	g := s.Graph
	if g == nil || len(g.Edges) == 0 {
		if len(s.Agents) > 1 {
			l.At("graph", "missing: a graph desk with several agents needs graph.edges")
		}
		return
	}
	ok := true
	for i, st := range g.Start {
		ok = known("graph.start["+strconv.Itoa(i)+"]", st) && ok
	}
	for i, e := range g.Edges {
		f := "graph.edges[" + strconv.Itoa(i) + "]"
		if !known(f+".from", e.From) {
			ok = false
		}
		if byNameHas(s, e.To) {
			continue
		}
		l.At(f+".to", fmt.Sprintf("edge to nowhere: no agent is named %q; the agents are %s", e.To, strings.Join(agentNames(s), ", ")))
		ok = false
	}
	for i, e := range g.Edges {
		f := "graph.edges[" + strconv.Itoa(i) + "]"
		n := 0
		for _, set := range []bool{e.Verdict != "", e.Mention != "", e.Otherwise} {
			if set {
				n++
			}
		}
		if n > 1 {
			l.At(f, "an edge has at most one of verdict, mention and otherwise")
		}
	}
	if !ok {
		return
	}
	start := g.Start
	if len(start) == 0 {
		start = []string{s.Agents[0].Name}
	}
	next := map[string][]string{}
	for _, e := range g.Edges {
		next[e.From] = append(next[e.From], e.To)
	}
	reach := func(from string) map[string]bool {
		seen := map[string]bool{}
		stack := []string{from}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, m := range next[n] {
				if !seen[m] {
					seen[m] = true
					stack = append(stack, m)
				}
			}
		}
		return seen
	}
	reached := map[string]bool{}
	for _, st := range start {
		reached[st] = true
		for n := range reach(st) {
			reached[n] = true
		}
	}
	for i, a := range s.Agents {
		if !reached[a.Name] {
			l.At("agents["+strconv.Itoa(i)+"].name", fmt.Sprintf("agent %q is never reached: no edge leads to it from %s", a.Name, strings.Join(start, ", ")))
		}
	}
	// Every loop needs an edge with a cap: without the capped edges, the
	// graph must have no cycle.
	uncapped := map[string][]int{}
	for i, e := range g.Edges {
		if e.Max == 0 {
			uncapped[e.From] = append(uncapped[e.From], i)
		}
	}
	state := map[string]int{} // 0 new, 1 on the path, 2 done
	var visit func(n string) bool
	visit = func(n string) bool {
		state[n] = 1
		for _, i := range uncapped[n] {
			to := g.Edges[i].To
			if state[to] == 1 {
				e := g.Edges[i]
				l.At("graph.edges["+strconv.Itoa(i)+"]", fmt.Sprintf("the edge %s -> %s closes a loop in which no edge has a cap; give one of its edges max: N so the loop ends", e.From, e.To))
				return false
			}
			if state[to] == 0 && !visit(to) {
				return false
			}
		}
		state[n] = 2
		return true
	}
	for _, a := range s.Agents {
		if state[a.Name] == 0 && !visit(a.Name) {
			return
		}
	}
}

func byNameHas(s *Spec, name string) bool {
	return slices.ContainsFunc(s.Agents, func(a AgentSpec) bool { return a.Name == name })
}

// mcp checks the agents' MCP server entries: valid names, a command or a
// URL (not both), one definition per server (the agents that list it share
// one process), and references only to servers an entry defines.
func (l *loader) mcp(s *Spec) {
	definedAt := map[string]string{} // server name -> the field of its definition
	defs := map[string]MCPSpec{}
	tried := map[string]bool{} // names with a definition, valid or not: no second error for their references
	for i, a := range s.Agents {
		listed := map[string]bool{}
		for j, m := range a.MCP {
			f := "agents[" + strconv.Itoa(i) + "].mcp[" + strconv.Itoa(j) + "]"
			if !mcp.ValidName(m.Name) {
				l.At(f+".name", fmt.Sprintf("%q is not a valid server name; use a letter, then letters, digits, '_' or '-' (at most 32)", m.Name))
				continue
			}
			if listed[m.Name] {
				l.At(f+".name", fmt.Sprintf("server %q is listed twice for this agent", m.Name))
				continue
			}
			listed[m.Name] = true
			tried[m.Name] = tried[m.Name] || m.Command != "" || m.URL != ""
			switch {
			case m.Command != "" && m.URL != "":
				l.At(f, "give command (a program speaking MCP on stdio) or url (streamable HTTP), not both")
				continue
			case m.URL != "":
				if u, err := url.Parse(m.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					l.At(f+".url", fmt.Sprintf("%q is not an http:// or https:// URL", m.URL))
					continue
				}
				if len(m.Args) > 0 {
					l.At(f+".args", "args go with command; a server at a url takes none")
					continue
				}
			case m.Command != "":
				if strings.TrimSpace(m.Command) != m.Command {
					l.At(f+".command", "the command has leading or trailing spaces; give the program alone and its arguments in args")
					continue
				}
			default:
				if len(m.Args) > 0 {
					l.At(f+".args", "args without a command; give the command too")
				}
				continue // a reference, checked below
			}
			if at, ok := definedAt[m.Name]; ok {
				if d := defs[m.Name]; d.Command != m.Command || d.URL != m.URL || !slices.Equal(d.Args, m.Args) {
					l.At(f, fmt.Sprintf("server %q is defined differently at %s; the agents that list a server share one process, so give it one definition (other entries may give only its name)", m.Name, at))
				}
				continue
			}
			definedAt[m.Name], defs[m.Name] = f, m
		}
	}
	for i, a := range s.Agents {
		for j, m := range a.MCP {
			if m.Command != "" || m.URL != "" || !mcp.ValidName(m.Name) || tried[m.Name] {
				continue
			}
			known := "none is defined"
			if len(definedAt) > 0 {
				names := make([]string, 0, len(definedAt))
				for n := range definedAt {
					names = append(names, n)
				}
				slices.Sort(names)
				known = "defined: " + strings.Join(names, ", ")
			}
			l.At("agents["+strconv.Itoa(i)+"].mcp["+strconv.Itoa(j)+"].name",
				fmt.Sprintf("server %q has no definition: give it a command or a url here or in another agent's entry (%s)", m.Name, known))
		}
	}
}

// reasoning refuses what the model behind a deployment does not take: a
// temperature on a reasoning model (which takes reasoning_effort and
// verbosity instead), a reasoning effort the model lacks.
func (l *loader) reasoning(f, deployment string, temperature bool, effort string, opts LoadOptions) {
	p := profileFor(deployment, opts)
	if !p.Reasoning {
		return
	}
	what := "the run's deployment"
	if deployment != "" {
		what = "deployment " + strconv.Quote(deployment)
	}
	if temperature {
		l.At(f+".temperature", fmt.Sprintf("%s is %s, a reasoning model, which takes no temperature: remove temperature and set reasoning_effort (%s) and verbosity (low, medium, high) instead",
			what, p.Name, strings.Join(p.Efforts, ", ")))
	}
	if effort != "" && !p.AcceptsEffort(effort) {
		l.At(f+".reasoning_effort", fmt.Sprintf("%s is %s, which has no reasoning_effort %q; it has %s", what, p.Name, effort, strings.Join(p.Efforts, ", ")))
	}
}

func profileFor(deployment string, opts LoadOptions) profile.Profile {
	if opts.Profile != nil {
		return opts.Profile(deployment)
	}
	p, _ := profile.Default().Lookup(deployment)
	return p
}
