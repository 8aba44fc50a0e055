package team

import (
	"context"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/termination"
)

// DefaultSelectorPrompt is the selector's prompt. {roles} is replaced by one
// "name: description" line per participant, {participants} by the candidate
// names as "[A, B]", and {history} by the conversation, one "source: content"
// entry per message, separated by blank lines.
const DefaultSelectorPrompt = `You are the coordinator of a newsroom team. The following roles are available:
{roles}

Read the following conversation. Then select the next role from {participants} to play. Only return the role.

{history}

Read the above conversation. Then select the next role from {participants} to play. Only return the role.`

// DefaultMaxSelectorAttempts is how many model calls the selector makes for
// one turn before it falls back.
const DefaultMaxSelectorAttempts = 3

// SelectorConfig configures a Selector team.
type SelectorConfig struct {
	// Participants, in the order used for fallbacks. At least one required.
	Participants []agent.Agent
	// Termination ends the run; nil means MaxMessages(DefaultMaxMessages).
	Termination termination.Condition
	// Client asks the model for the next speaker; required unless SelectorFunc
	// always answers.
	Client model.Client
	// Model is the deployment or model name for selection calls; empty means
	// the client's default.
	Model string
	// ReasoningEffort and Verbosity are sent with selection calls to a
	// reasoning deployment; empty means the model's default.
	ReasoningEffort, Verbosity string
	// MaxTokens caps each selection call (max_completion_tokens on a
	// reasoning deployment, where the quota limiter then reserves it rather
	// than a guess); 0 means the service default.
	MaxTokens int
	// Prompt is the selection prompt template; empty means DefaultSelectorPrompt.
	Prompt string
	// AllowRepeatedSpeaker lets the same agent speak twice in a row.
	AllowRepeatedSpeaker bool
	// MaxSelectorAttempts bounds the model calls per turn; 0 means DefaultMaxSelectorAttempts.
	MaxSelectorAttempts int
	// SelectorFunc, when set, picks the speaker from the conversation (task
	// first); returning "" defers to the model.
	SelectorFunc func(ctx context.Context, history []agent.Message) (string, error)
	// CandidateFunc, when set, narrows the candidates for a turn; returning
	// none means every participant.
	CandidateFunc func(history []agent.Message) []string
	// Planner names the participant whose plan FollowPlan follows.
	Planner string
	// FollowPlan, with a Planner, picks the speaker from the planner's latest
	// plan without a model call: its numbered lines "N. <agent> : <task>"
	// are steps, and the k-th message after the plan is step k+1. The model
	// is asked only when the plan is missing or finished, or its step names
	// no participant who may speak now.
	FollowPlan bool
	// Context chooses the part of the conversation shown to the selector
	// model; the zero value shows all of it.
	Context agent.ContextPolicy
	// StructuredOutput asks for the speaker with a strict JSON schema (an
	// enum of the candidates; see structured.go) instead of free text. Set
	// it for deployments that take response_format json_schema
	// (model.SupportsStructuredOutputs).
	StructuredOutput bool
}

// Selector is a team whose next speaker is chosen by a model before each turn.
type Selector struct {
	base
	cfg      SelectorConfig
	patterns map[string]*regexp.Regexp // participant name -> mention pattern
	// textOnly is set when the deployment refused the structured format:
	// the selector keeps to text from then on.
	textOnly atomic.Bool
}

var _ Team = (*Selector)(nil)

// NewSelector returns a selector team.
func NewSelector(cfg SelectorConfig) (*Selector, error) {
	b, err := newBase("selector", cfg.Participants, cfg.Termination)
	if err != nil {
		return nil, err
	}
	if cfg.Client == nil && cfg.SelectorFunc == nil {
		return nil, ErrNoSelectorClient
	}
	if cfg.Prompt == "" {
		cfg.Prompt = DefaultSelectorPrompt
	}
	if cfg.MaxSelectorAttempts <= 0 {
		cfg.MaxSelectorAttempts = DefaultMaxSelectorAttempts
	}
	if cfg.FollowPlan && b.byName[cfg.Planner] == nil {
		return nil, fmt.Errorf("%w %q as planner", ErrUnknownSpeaker, cfg.Planner)
	}
	if err := cfg.Context.Validate(); err != nil {
		return nil, fmt.Errorf("team: selector: %w", err)
	}
	t := &Selector{base: b, cfg: cfg, patterns: make(map[string]*regexp.Regexp, len(cfg.Participants))}
	for _, p := range cfg.Participants {
		t.patterns[p.Name()] = mentionPattern(p.Name())
	}
	return t, nil
}

// Stream runs the task; see Team.
func (t *Selector) Stream(ctx context.Context, task string, opts ...RunOption) iter.Seq2[Event, error] {
	return t.stream(ctx, t, task, opts)
}

func (t *Selector) pick(ctx context.Context, st *state) (selection, error) {
	history := st.history()
	last := st.lastSpeaker()
	if t.cfg.SelectorFunc != nil {
		name, err := t.cfg.SelectorFunc(ctx, history)
		if err != nil {
			return selection{}, fmt.Errorf("team: selector function: %w", err)
		}
		if name != "" {
			a, ok := t.byName[name]
			if !ok {
				return selection{}, fmt.Errorf("%w %q from selector function", ErrUnknownSpeaker, name)
			}
			return selection{speaker: a}, nil
		}
	}
	candidates := t.candidates(history, last)
	if len(candidates) == 1 {
		return selection{speaker: t.byName[candidates[0]]}, nil
	}
	if t.cfg.FollowPlan {
		if name, ok := t.planned(st.messages); ok && slices.Contains(candidates, name) {
			return selection{speaker: t.byName[name], planned: true}, nil
		}
	}
	if t.cfg.Client == nil {
		return selection{}, ErrNoSelectorClient
	}
	prompt := t.prompt(t.cfg.Context.Apply(history), candidates)
	msgs := []model.Message{{Role: model.RoleSystem, Content: prompt}}
	sel := selection{deployment: t.cfg.Model}
	meta := model.Meta{Agent: SelectorSource, Purpose: model.PurposeSelect}
	if m, ok := model.MetaFrom(ctx); ok {
		meta.RunID = m.RunID
	}
	for sel.attempts < t.cfg.MaxSelectorAttempts {
		sel.attempts++
		resp, structured, err := t.ask(ctx, &model.Request{Model: t.cfg.Model, Messages: msgs, Meta: meta,
			ReasoningEffort: t.cfg.ReasoningEffort, Verbosity: t.cfg.Verbosity, MaxTokens: t.cfg.MaxTokens}, candidates)
		if err != nil {
			return sel, fmt.Errorf("team: selecting speaker: %w", err)
		}
		sel.usage = sel.usage.Add(resp.Usage)
		if name, ok := parseSpeaker(resp.Content, candidates); structured && ok {
			sel.speaker = t.byName[name]
			return sel, nil
		}
		name, feedback := t.parse(resp.Content, candidates, last)
		if feedback == "" {
			sel.speaker = t.byName[name]
			return sel, nil
		}
		msgs = append(msgs,
			model.Message{Role: model.RoleAssistant, Content: resp.Content},
			model.Message{Role: model.RoleUser, Content: feedback})
	}
	sel.fallback = true
	sel.speaker = t.byName[t.fallback(candidates, last)]
	return sel, nil
}

// ask makes one selection call: with the speaker's schema when the
// selector is structured and the deployment has not refused it, else as
// text. A refused schema is asked again as text, once, and remembered.
func (t *Selector) ask(ctx context.Context, req *model.Request, candidates []string) (*model.Response, bool, error) {
	if !t.cfg.StructuredOutput || t.textOnly.Load() {
		resp, err := t.cfg.Client.Complete(ctx, req)
		return resp, false, err
	}
	sreq := *req
	sreq.ResponseFormat = speakerFormat(candidates)
	resp, err := t.cfg.Client.Complete(ctx, &sreq)
	if err == nil || !refusedFormat(err) {
		return resp, err == nil, err
	}
	t.textOnly.Store(true)
	resp, err = t.cfg.Client.Complete(ctx, req)
	return resp, false, err
}

// planLine is one step of a plan: "1. News_Reporter : Draft the article",
// with optional Markdown emphasis around the name.
var planLine = regexp.MustCompile(`(?m)^\s*\d+[.)]\s*[*_]*([A-Za-z0-9_-]+)[*_]*\s*:\s*\S`)

// planned returns the participant the planner's latest plan assigns the
// next step to: the plan's k-th line, k being the messages since the plan.
func (t *Selector) planned(msgs []agent.Message) (string, bool) {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Source != t.cfg.Planner {
			continue
		}
		steps := planLine.FindAllStringSubmatch(msgs[i].Content, -1)
		k := len(msgs) - 1 - i
		if len(steps) == 0 || k >= len(steps) {
			return "", false // the latest plan is silent or finished
		}
		name := steps[k][1]
		_, ok := t.byName[name]
		return name, ok
	}
	return "", false
}

// candidates are the names the selector may choose from this turn: the
// CandidateFunc's (if any), without the previous speaker unless repeats are
// allowed or no one else is left.
func (t *Selector) candidates(history []agent.Message, last string) []string {
	var names []string
	if t.cfg.CandidateFunc != nil {
		for _, n := range t.cfg.CandidateFunc(history) {
			if _, ok := t.byName[n]; ok && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		for _, p := range t.participants {
			names = append(names, p.Name())
		}
	}
	if !t.cfg.AllowRepeatedSpeaker && len(names) > 1 {
		names = slices.DeleteFunc(names, func(n string) bool { return n == last })
	}
	return names
}

func (t *Selector) prompt(history []agent.Message, candidates []string) string {
	var roles, hist strings.Builder
	for i, p := range t.participants {
		if i > 0 {
			roles.WriteByte('\n')
		}
		fmt.Fprintf(&roles, "%s: %s", p.Name(), p.Description())
	}
	for i, m := range history {
		if i > 0 {
			hist.WriteString("\n\n")
		}
		fmt.Fprintf(&hist, "%s: %s", m.Source, m.Content)
	}
	return strings.NewReplacer(
		"{roles}", roles.String(),
		"{participants}", "["+strings.Join(candidates, ", ")+"]",
		"{history}", hist.String(),
	).Replace(t.cfg.Prompt)
}

// parse finds the one participant a selection reply names. It returns the
// name, or feedback for the model when the reply names none, several, a
// participant who may not speak now, or the previous speaker.
func (t *Selector) parse(reply string, candidates []string, last string) (string, string) {
	list := "[" + strings.Join(candidates, ", ") + "]"
	trimmed := strings.Trim(strings.TrimSpace(reply), "\"'`*.:;!")
	if _, ok := t.byName[trimmed]; ok {
		return t.check(trimmed, candidates, last, list)
	}
	var mentioned []string
	for _, p := range t.participants {
		if t.patterns[p.Name()].MatchString(reply) {
			mentioned = append(mentioned, p.Name())
		}
	}
	switch len(mentioned) {
	case 0:
		return "", "No valid name was mentioned. Answer with exactly one name from " + list + "."
	case 1:
		return t.check(mentioned[0], candidates, last, list)
	}
	// Several names: keep the candidates only; a reply that also names
	// participants who may not speak now is still clear if one candidate remains.
	var valid []string
	for _, n := range mentioned {
		if slices.Contains(candidates, n) {
			valid = append(valid, n)
		}
	}
	if len(valid) == 1 {
		return valid[0], ""
	}
	return "", fmt.Sprintf("Expected exactly one name, but the answer mentions %s. Answer with exactly one name from %s.",
		strings.Join(mentioned, ", "), list)
}

func (t *Selector) check(name string, candidates []string, last, list string) (string, string) {
	if slices.Contains(candidates, name) {
		return name, ""
	}
	if name == last && !t.cfg.AllowRepeatedSpeaker {
		return "", fmt.Sprintf("%s spoke last and may not speak twice in a row. Answer with exactly one name from %s.", name, list)
	}
	return "", fmt.Sprintf("%s may not speak now. Answer with exactly one name from %s.", name, list)
}

// mentionPattern matches a participant's name as a whole word: the exact
// name, the name with spaces for underscores, or with escaped underscores (as
// Markdown writes them), in any case.
func mentionPattern(name string) *regexp.Regexp {
	forms := []string{regexp.QuoteMeta(name)}
	if strings.Contains(name, "_") {
		forms = append(forms,
			regexp.QuoteMeta(strings.ReplaceAll(name, "_", " ")),
			regexp.QuoteMeta(strings.ReplaceAll(name, "_", `\_`)))
	}
	return regexp.MustCompile(`(?i)(^|[^\w])(` + strings.Join(forms, "|") + `)([^\w]|$)`)
}

// fallback picks the next candidate after the previous speaker in
// participant order: never the previous speaker when anyone else may speak,
// so a selector whose model keeps failing still makes progress.
func (t *Selector) fallback(candidates []string, last string) string {
	start := 0
	for i, p := range t.participants {
		if p.Name() == last {
			start = i + 1
		}
	}
	for i := range t.participants {
		n := t.participants[(start+i)%len(t.participants)].Name()
		if slices.Contains(candidates, n) && (n != last || len(candidates) == 1) {
			return n
		}
	}
	return candidates[0]
}
