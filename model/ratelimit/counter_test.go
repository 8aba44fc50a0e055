package ratelimit

import (
	"testing"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tokenizer"
)

func TestCounter_MatchesTheTokenizerAndTellsLookAlikesApart(t *testing.T) {
	c := &Client{}
	ct, err := c.counter("gpt-4o")
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenizer.MustForModel("gpt-4o")
	prompts := [][]model.Message{
		{{Role: model.RoleSystem, Content: "You are a reporter."}, {Role: model.RoleUser, Content: "ab"}},
		// Same text split differently between name and content, and
		// another role: each must be counted on its own, not from the
		// cache entry of a look-alike.
		{{Role: model.RoleUser, Name: "a", Content: "b"}},
		{{Role: model.RoleAssistant, Content: "ab"}},
		{{Role: model.RoleUser, Content: "ab"}, {Role: model.RoleUser, Content: "ab"}},
	}
	for range 2 { // the second pass is answered from the cache
		for _, p := range prompts {
			if got, want := ct.count(p), model.PromptTokens(tok.Count, p); got != want {
				t.Errorf("count(%v) = %d, want %d", p, got, want)
			}
		}
	}
	if n := len(ct.seen); n != 4 {
		t.Errorf("cache holds %d entries, want 4 distinct messages", n)
	}
}
