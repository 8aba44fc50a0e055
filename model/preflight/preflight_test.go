package preflight

import (
	"errors"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tokenizer"
)

func TestContextWindow_KnownFamilies(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]int{
		"gpt-4o-2024-11-20": 128000, "GPT-4o-mini": 128000, "gpt-4.1-nano": 1047576, "gpt-4": 8192, "gpt-4-32k-0613": 32768,
		"gpt-4-turbo": 128000, "gpt-35-turbo": 16385, "o1-mini": 128000, "o3-mini": 200000, "gpt-5-mini": 272000,
		"my-prod-deployment": 0, "": 0,
	} {
		if got := ContextWindow(name); got != want {
			t.Errorf("ContextWindow(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestCheckTask(t *testing.T) {
	t.Parallel()
	tok := tokenizer.MustForModel("gpt-4o")
	long := strings.Repeat("The council met on Tuesday and voted on the budget. ", 1000)
	n := taskTokens(t, tok, long)

	if err := CheckTask(long, Limits{Model: "gpt-4o", TokensPerMinute: 30000}); err != nil {
		t.Fatalf("a %d-token task failed: %v", n, err)
	}
	err := CheckTask(long, Limits{Model: "gpt-4o", ContextWindow: n - 1})
	var pe *Error
	if !errors.As(err, &pe) || !errors.Is(err, ErrTooLarge) || pe.Limit != LimitContextWindow || pe.Tokens != n || pe.Max != n-1 {
		t.Fatalf("context window: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, thousands(n)+" tokens") || !strings.Contains(msg, "context window of gpt-4o ("+thousands(n-1)+" tokens)") {
		t.Fatalf("message %q does not name the count and the limit", msg)
	}
	if err := CheckTask(long, Limits{Model: "gpt-4o", ContextWindow: n}); err != nil {
		t.Fatalf("a prompt of exactly the window: %v", err)
	}
	err = CheckTask(long, Limits{Model: "gpt-4o", TokensPerMinute: n - 1})
	if !errors.As(err, &pe) || pe.Limit != LimitTokensPerMin || pe.Tokens != n || !strings.Contains(err.Error(), thousands(n-1)+" tokens per minute") {
		t.Fatalf("quota: %v", err)
	}
	// The family's window applies without an override: gpt-4 takes 8,192.
	if err := CheckTask(long, Limits{Model: "gpt-4"}); !errors.As(err, &pe) || pe.Max != 8192 {
		t.Fatalf("gpt-4's known window: %v", err)
	}
	// An unknown model and no quota: nothing to check.
	if err := CheckTask(long, Limits{Model: "my-deployment"}); err != nil {
		t.Fatal(err)
	}
}

// taskTokens is the prompt size Check counts for a task: the task as
// one user message in the chat format.
func taskTokens(t *testing.T, tok *tokenizer.Tokenizer, task string) int {
	t.Helper()
	n := tok.Count(task)
	if n < 1000 {
		t.Fatalf("test task too short: %d tokens", n)
	}
	return model.PromptTokens(tok.Count, nil) + 3 + tok.Count("user") + n
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1568: "1,568", 1047576: "1,047,576", -12345: "-12,345"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
