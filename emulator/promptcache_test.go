package emulator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
)

// TestPromptCache_ReportsRepeatedPrefixesLikeAzure: a prompt that starts
// with an earlier prompt's messages, 1,024 tokens or more of them, reports
// that prefix as cached_tokens, rounded down to 128; shorter prefixes,
// other deployments and changed prefixes report none.
func TestPromptCache_ReportsRepeatedPrefixesLikeAzure(t *testing.T) {
	t.Parallel()
	_, client := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
	long := strings.Repeat("The harbour library opens on Saturday with a reading room. ", 120) // about 1,300 tokens
	short := "You are News_Reporter, a reporter."
	call := func(deployment string, msgs ...model.Message) model.Usage {
		t.Helper()
		resp, err := client.Complete(context.Background(), &model.Request{Model: deployment, Messages: msgs, MaxTokens: 50})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Usage
	}
	sys := model.Message{Role: model.RoleSystem, Content: long}
	task := model.Message{Role: model.RoleUser, Name: "user", Content: "Facts: it opens on Saturday."}
	first := call("gpt-4o", sys, task)
	if first.CachedPromptTokens != 0 {
		t.Fatalf("a first prompt has nothing cached: %+v", first)
	}
	second := call("gpt-4o", sys, task, model.Message{Role: model.RoleAssistant, Content: "Draft"}, model.Message{Role: model.RoleUser, Name: "News_Editor", Content: "Notes"})
	if c := second.CachedPromptTokens; c < 1024 || c%128 != 0 || c > first.PromptTokens || first.PromptTokens-c >= 128+3 {
		t.Fatalf("cached %d of %d (first prompt %d): want the first prompt rounded down to 128", c, second.PromptTokens, first.PromptTokens)
	}
	if u := call("gpt-4o-mini", sys, task); u.CachedPromptTokens != 0 {
		t.Fatalf("another deployment shares no cache: %+v", u)
	}
	if u := call("gpt-4o", model.Message{Role: model.RoleSystem, Content: "x" + long}, task); u.CachedPromptTokens != 0 {
		t.Fatalf("a changed first message shares no prefix: %+v", u)
	}
	small := model.Message{Role: model.RoleSystem, Content: short}
	call("gpt-4o", small, task)
	if u := call("gpt-4o", small, task); u.CachedPromptTokens != 0 {
		t.Fatalf("a repeated prompt under 1,024 tokens is not cached: %+v", u)
	}
	// Streaming reports it in the usage chunk as well.
	var streamed model.Usage
	resp, err := client.Complete(context.Background(), &model.Request{Model: "gpt-4o", Messages: []model.Message{sys, task}, MaxTokens: 50,
		OnDelta: func(model.Delta) {}})
	if err != nil {
		t.Fatal(err)
	}
	streamed = resp.Usage
	if streamed.CachedPromptTokens < 1024 {
		t.Fatalf("streamed usage %+v", streamed)
	}
}
