package agent_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/agent"
)

func TestContextPolicy_Apply(t *testing.T) {
	h := []agent.Message{{Source: "user", Content: "task"}}
	for _, c := range []string{"aaaa", "bbbb", "cccc", "dddd", "eeee"} {
		h = append(h, agent.Message{Source: "A", Content: c})
	}
	contents := func(ms []agent.Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Content)
		}
		return out
	}
	cases := []struct {
		name string
		p    agent.ContextPolicy
		want []string
	}{
		{"full", agent.ContextPolicy{}, []string{"task", "aaaa", "bbbb", "cccc", "dddd", "eeee"}},
		{"last 2 keeps the task", agent.ContextPolicy{Kind: agent.ContextLast, Last: 2}, []string{"task", "dddd", "eeee"}},
		{"last more than there are", agent.ContextPolicy{Kind: agent.ContextLast, Last: 9}, []string{"task", "aaaa", "bbbb", "cccc", "dddd", "eeee"}},
		{"head and tail", agent.ContextPolicy{Kind: agent.ContextHeadTail, Head: 1, Last: 2}, []string{"task", "aaaa", "dddd", "eeee"}},
		{"budget of two messages", agent.ContextPolicy{Kind: agent.ContextBudget, Tokens: 2, Count: func(s string) int { return 1 }}, []string{"task", "dddd", "eeee"}},
		{"budget keeps the newest even when over", agent.ContextPolicy{Kind: agent.ContextBudget, Tokens: 1, Count: func(s string) int { return 5 }}, []string{"task", "eeee"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, contents(tc.p.Apply(h))); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	if err := (agent.ContextPolicy{Kind: "most"}).Validate(); err == nil {
		t.Fatal("an unknown policy must be refused")
	}
	if err := (agent.ContextPolicy{Kind: agent.ContextLast}).Validate(); err == nil {
		t.Fatal("last without N must be refused")
	}
}
