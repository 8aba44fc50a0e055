package model_test

import (
	"testing"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tokenizer"
)

func TestPromptTokens(t *testing.T) {
	tk := tokenizer.MustForModel("gpt-4o")
	msgs := []model.Message{
		{Role: model.RoleSystem, Content: "hello world"},             // 3 + 1 + 2
		{Role: model.RoleUser, Name: "user", Content: "hello world"}, // 3 + 1 + 2 + 1 + 1
		{Role: model.RoleAssistant, Content: "hello world"},          // 3 + 1 + 2
	}
	want := 3 + (3 + 1 + 2) + (3 + 1 + 2 + 1 + 1) + (3 + 1 + 2)
	if got := model.PromptTokens(tk.Count, msgs); got != want {
		t.Errorf("PromptTokens = %d, want %d", got, want)
	}
	if got := model.PromptTokens(tk.Count, nil); got != 3 {
		t.Errorf("PromptTokens(nil) = %d, want 3 (reply priming)", got)
	}
}

func TestToolTokens(t *testing.T) {
	t.Parallel()
	tk := tokenizer.MustForModel("gpt-4o")
	fetch := model.Tool{Name: "fetch_url", Description: "Fetch a web page and return its readable text.",
		Parameters: []byte(`{"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}`)}
	feed := model.Tool{Name: "read_feed", Description: "Read a feed.", Parameters: []byte(`{"type":"object"}`)}
	if n := model.ToolTokens(tk.Count, nil); n != 0 {
		t.Errorf("no tools: %d tokens, want 0", n)
	}
	one := model.ToolTokens(tk.Count, []model.Tool{fetch})
	if floor := tk.Count(fetch.Name) + tk.Count(fetch.Description) + tk.Count(string(fetch.Parameters)); one <= floor {
		t.Errorf("one tool: %d tokens, want more than its name, description and schema (%d)", one, floor)
	}
	if both := model.ToolTokens(tk.Count, []model.Tool{fetch, feed}); both != one+model.ToolTokens(tk.Count, []model.Tool{feed}) {
		t.Errorf("two tools: %d tokens, want the sum of each (%d + %d)", both, one, model.ToolTokens(tk.Count, []model.Tool{feed}))
	}
	// A richer schema costs what its extra text costs.
	rich := fetch
	rich.Parameters = []byte(`{"type":"object","properties":{"url":{"type":"string","description":"an absolute http or https URL"}},"required":["url"]}`)
	if got, want := model.ToolTokens(tk.Count, []model.Tool{rich})-one, tk.Count(string(rich.Parameters))-tk.Count(string(fetch.Parameters)); got != want || got <= 0 {
		t.Errorf("richer schema: %d more tokens, want %d", got, want)
	}
}
