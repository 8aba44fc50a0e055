package agent

import "fmt"

// Context policy kinds: which part of the conversation an agent (or the
// selector) is shown. Whatever the policy, the task is always kept.
const (
	ContextFull     = "full"      // every message
	ContextLast     = "last"      // the task and the last N messages
	ContextHeadTail = "head_tail" // the task, the first Head and the last N messages
	ContextBudget   = "budget"    // the task and the newest messages that fit in Tokens
)

// ContextKinds lists the context policy kinds.
var ContextKinds = []string{ContextFull, ContextLast, ContextHeadTail, ContextBudget}

// ContextPolicy chooses the messages a model call sees. The zero value shows
// the full conversation.
//
// Trimming the oldest messages saves prompt tokens on long runs, but it also
// changes the prompt's prefix from call to call, which defeats the service's
// prompt caching; head_tail keeps a stable head for that reason.
type ContextPolicy struct {
	// Kind is one of ContextKinds; empty means ContextFull.
	Kind string
	// Last is how many of the newest messages ContextLast and ContextHeadTail keep.
	Last int
	// Head is how many of the oldest messages (after the task) ContextHeadTail keeps.
	Head int
	// Tokens is ContextBudget's budget for the messages after the task.
	Tokens int
	// Count counts the tokens of a text for ContextBudget; nil means an
	// estimate of four characters per token.
	Count func(string) int
}

// Validate reports a policy that cannot be applied.
func (p ContextPolicy) Validate() error {
	switch p.Kind {
	case "", ContextFull:
	case ContextLast:
		if p.Last <= 0 {
			return fmt.Errorf("agent: context %q needs last > 0", p.Kind)
		}
	case ContextHeadTail:
		if p.Last <= 0 || p.Head <= 0 {
			return fmt.Errorf("agent: context %q needs head > 0 and last > 0", p.Kind)
		}
	case ContextBudget:
		if p.Tokens <= 0 {
			return fmt.Errorf("agent: context %q needs tokens > 0", p.Kind)
		}
	default:
		return fmt.Errorf("agent: unknown context policy %q (want full, last, head_tail or budget)", p.Kind)
	}
	return nil
}

// Apply returns the messages of history (the task first) the policy keeps,
// in their original order. The task, history[0], is always kept; the
// result shares history's backing array only when nothing is dropped.
func (p ContextPolicy) Apply(history []Message) []Message {
	if len(history) <= 1 {
		return history
	}
	task, rest := history[0], history[1:]
	keep := func(parts ...[]Message) []Message {
		out := []Message{task}
		for _, part := range parts {
			out = append(out, part...)
		}
		return out
	}
	switch p.Kind {
	case ContextLast:
		if p.Last > 0 && len(rest) > p.Last {
			return keep(rest[len(rest)-p.Last:])
		}
	case ContextHeadTail:
		if p.Head >= 0 && p.Last > 0 && len(rest) > p.Head+p.Last {
			return keep(rest[:p.Head], rest[len(rest)-p.Last:])
		}
	case ContextBudget:
		count := p.Count
		if count == nil {
			count = func(s string) int { return (len(s) + 3) / 4 }
		}
		// The newest message is kept even when it alone is over budget:
		// an agent must see what it answers.
		used, from := count(rest[len(rest)-1].Content), len(rest)-1
		for i := len(rest) - 2; i >= 0; i-- {
			used += count(rest[i].Content)
			if used > p.Tokens {
				break
			}
			from = i
		}
		if from > 0 {
			return keep(rest[from:])
		}
	}
	return history
}
