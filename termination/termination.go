// Package termination holds the conditions that end a team run: text
// mention, editor verdict, max messages, token usage, cost, timeout, external
// stop and source match, composable with Or and And.
//
// A Condition is a pure function of the run's state, checked after every
// message. Because it keeps no hidden state it needs no reset, works the same
// on a resumed run, and may be shared by concurrent runs (External is the one
// condition with state, and it is safe for concurrent use).
//
// The task is not part of State.Messages, so the task text can never trigger a
// condition: a task that says "TERMINATE" or "APPROVE" does not end the run.
package termination

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
)

// State is what a condition sees.
type State struct {
	// Messages written by the participants so far, oldest first, without the task.
	Messages []agent.Message
	// Usage is the run's total model usage, the selector's calls included.
	Usage model.Usage
	// Started is when the run started (for a resumed run, that long before
	// its resumption which it had worked before: time spent waiting or
	// down does not count); Now is the time of the check.
	Started, Now time.Time
}

// Last returns the newest message, or false when there is none.
func (s *State) Last() (agent.Message, bool) {
	if len(s.Messages) == 0 {
		return agent.Message{}, false
	}
	return s.Messages[len(s.Messages)-1], true
}

// Condition decides whether a run stops. Check is called after every message
// (and once before the first turn of a resumed run) and returns the stop
// reason when the run must stop.
type Condition interface {
	Check(s *State) (reason string, stop bool)
}

// Deadliner is implemented by conditions with a deadline; the team bounds its
// model calls by it, so a hung call is interrupted when the time is up.
type Deadliner interface {
	Deadline(started time.Time) (time.Time, bool)
}

// Func adapts a function to the Condition interface.
type Func func(s *State) (string, bool)

// Check calls f.
func (f Func) Check(s *State) (string, bool) { return f(s) }

func fromSource(m agent.Message, sources []string) bool {
	return len(sources) == 0 || slices.Contains(sources, m.Source)
}

// TextMention stops when the newest message contains text (case-sensitive),
// optionally only when that message comes from one of sources.
func TextMention(text string, sources ...string) Condition {
	return Func(func(s *State) (string, bool) {
		m, ok := s.Last()
		if !ok || !fromSource(m, sources) || !strings.Contains(m.Content, text) {
			return "", false
		}
		return fmt.Sprintf("text mention: %q from %s", text, m.Source), true
	})
}

// Verdict stops when the newest message, from one of sources (any when none
// given), ends with a verdict line for word (see HasVerdict). This is how the
// editor's APPROVE and the planner's TERMINATE are recognised.
func Verdict(word string, sources ...string) Condition {
	return Func(func(s *State) (string, bool) {
		m, ok := s.Last()
		if !ok || !fromSource(m, sources) || !HasVerdict(m.Content, word) {
			return "", false
		}
		return fmt.Sprintf("verdict %s from %s", strings.ToUpper(word), m.Source), true
	})
}

// MaxMessages stops when the participants have written n messages (the task
// not counted). n <= 0 never stops.
func MaxMessages(n int) Condition {
	return Func(func(s *State) (string, bool) {
		if n <= 0 || len(s.Messages) < n {
			return "", false
		}
		return fmt.Sprintf("max messages reached (%d)", n), true
	})
}

// TokenLimits are the limits of TokenUsage; zero means no limit.
type TokenLimits struct {
	Total, Prompt, Completion int
}

// TokenUsage stops when the run's usage reaches one of the limits.
func TokenUsage(l TokenLimits) Condition {
	return Func(func(s *State) (string, bool) {
		u := s.Usage
		switch {
		case l.Total > 0 && u.TotalTokens() >= l.Total:
			return fmt.Sprintf("token limit reached: %d of %d total tokens", u.TotalTokens(), l.Total), true
		case l.Prompt > 0 && u.PromptTokens >= l.Prompt:
			return fmt.Sprintf("token limit reached: %d of %d prompt tokens", u.PromptTokens, l.Prompt), true
		case l.Completion > 0 && u.CompletionTokens >= l.Completion:
			return fmt.Sprintf("token limit reached: %d of %d completion tokens", u.CompletionTokens, l.Completion), true
		}
		return "", false
	})
}

// MaxCost stops when the run's cost reaches usd. usd <= 0 never stops.
func MaxCost(usd float64) Condition {
	return Func(func(s *State) (string, bool) {
		if usd <= 0 || s.Usage.CostUSD < usd {
			return "", false
		}
		return fmt.Sprintf("cost limit reached: $%.6f of $%.6f", s.Usage.CostUSD, usd), true
	})
}

// SourceMatch stops when the newest message comes from one of sources.
func SourceMatch(sources ...string) Condition {
	return Func(func(s *State) (string, bool) {
		m, ok := s.Last()
		if !ok || !slices.Contains(sources, m.Source) {
			return "", false
		}
		return "message from " + m.Source, true
	})
}

type timeout time.Duration

// Timeout stops the run once d has passed since it started. The team also
// bounds its model calls by this deadline, so a hung call is interrupted.
func Timeout(d time.Duration) Condition { return timeout(d) }

func (t timeout) Check(s *State) (string, bool) {
	if s.Now.Sub(s.Started) < time.Duration(t) {
		return "", false
	}
	return fmt.Sprintf("timeout after %s", time.Duration(t)), true
}

func (t timeout) Deadline(started time.Time) (time.Time, bool) {
	return started.Add(time.Duration(t)), true
}

// External is a condition stopped from outside the run, for example by a
// cancel button; the run ends after the message in progress.
type External struct {
	mu     sync.Mutex
	reason string
	set    bool
}

// NewExternal returns an External condition that has not fired.
func NewExternal() *External { return &External{} }

// Stop makes the condition fire at the next check with reason.
func (e *External) Stop(reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if reason == "" {
		reason = "stopped externally"
	}
	e.reason, e.set = reason, true
}

// Check reports whether Stop was called.
func (e *External) Check(*State) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reason, e.set
}

type or []Condition

// Or stops when any of the conditions stops; the reason is the first one's.
func Or(cs ...Condition) Condition { return or(compact(cs)) }

func (o or) Check(s *State) (string, bool) {
	for _, c := range o {
		if r, ok := c.Check(s); ok {
			return r, true
		}
	}
	return "", false
}

// Deadline is the earliest deadline of the conditions.
func (o or) Deadline(started time.Time) (time.Time, bool) {
	var best time.Time
	found := false
	for _, c := range o {
		if d, ok := c.(Deadliner); ok {
			if t, ok := d.Deadline(started); ok && (!found || t.Before(best)) {
				best, found = t, true
			}
		}
	}
	return best, found
}

type and []Condition

// And stops when all of the conditions stop at the same check; the reason
// joins theirs.
func And(cs ...Condition) Condition { return and(compact(cs)) }

func (a and) Check(s *State) (string, bool) {
	if len(a) == 0 {
		return "", false
	}
	reasons := make([]string, 0, len(a))
	for _, c := range a {
		r, ok := c.Check(s)
		if !ok {
			return "", false
		}
		reasons = append(reasons, r)
	}
	return strings.Join(reasons, " and "), true
}

// Deadline is the latest deadline when every condition has one.
func (a and) Deadline(started time.Time) (time.Time, bool) {
	var latest time.Time
	for _, c := range a {
		d, ok := c.(Deadliner)
		if !ok {
			return time.Time{}, false
		}
		t, ok := d.Deadline(started)
		if !ok {
			return time.Time{}, false
		}
		if t.After(latest) {
			latest = t
		}
	}
	return latest, len(a) > 0
}

func compact(cs []Condition) []Condition {
	out := make([]Condition, 0, len(cs))
	for _, c := range cs {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// done marks the stops of a condition as "the work is done".
type done struct{ c Condition }

// Done marks c's stops as meaning the work is done (an editor's approval, a
// planner's TERMINATE), as opposed to a cap (messages, tokens, cost, time) or
// an outside stop. A run that requires a person's approval pauses on such a
// stop instead of ending; see Evaluate. Done does not change c's Check.
func Done(c Condition) Condition { return done{c} }

func (d done) Check(s *State) (string, bool) { return d.c.Check(s) }

// Deadline is c's deadline, if it has one.
func (d done) Deadline(started time.Time) (time.Time, bool) {
	if dl, ok := d.c.(Deadliner); ok {
		return dl.Deadline(started)
	}
	return time.Time{}, false
}

// Outcome is the result of Evaluate.
type Outcome struct {
	// Reason and Stop are what Check returns.
	Reason string
	Stop   bool
	// Done is true when the stop came from a condition marked with Done.
	Done bool
}

// evaluator is implemented by the conditions that know whether a stop is
// Done; with capsOnly, the conditions marked Done do not stop.
type evaluator interface {
	evaluate(s *State, capsOnly bool) Outcome
}

// Evaluate checks c like c.Check and also says whether the stop means the work
// is done. Or reports the first stopping condition in order, like its Check;
// And is done when any of its conditions is.
func Evaluate(c Condition, s *State) Outcome { return evaluate(c, s, false) }

// EvaluateCaps is Evaluate with the conditions marked Done left out: what
// stops a run whose newest message is not the team's work, such as a
// person's revision note. The work is done only when the team says so after
// the note, not because the note mentions the word, nor because of an
// approval it answers.
func EvaluateCaps(c Condition, s *State) Outcome { return evaluate(c, s, true) }

func evaluate(c Condition, s *State, capsOnly bool) Outcome {
	if e, ok := c.(evaluator); ok {
		return e.evaluate(s, capsOnly)
	}
	r, ok := c.Check(s)
	return Outcome{Reason: r, Stop: ok}
}

func (d done) evaluate(s *State, capsOnly bool) Outcome {
	if capsOnly {
		return Outcome{}
	}
	r, ok := d.c.Check(s)
	return Outcome{Reason: r, Stop: ok, Done: ok}
}

func (o or) evaluate(s *State, capsOnly bool) Outcome {
	for _, c := range o {
		if out := evaluate(c, s, capsOnly); out.Stop {
			return out
		}
	}
	return Outcome{}
}

func (a and) evaluate(s *State, capsOnly bool) Outcome {
	if len(a) == 0 {
		return Outcome{}
	}
	reasons := make([]string, 0, len(a))
	isDone := false
	for _, c := range a {
		out := evaluate(c, s, capsOnly)
		if !out.Stop {
			return Outcome{}
		}
		reasons = append(reasons, out.Reason)
		isDone = isDone || out.Done
	}
	return Outcome{Reason: strings.Join(reasons, " and "), Stop: true, Done: isDone}
}
