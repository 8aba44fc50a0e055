package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
)

func reporter(t *testing.T, maxTokens int, effort string) (*agent.Assistant, *emulator.Running) {
	t.Helper()
	em, client := emutest.Start(t, emulator.Config{}, "gpt-5", nil)
	a, err := agent.NewAssistant(agent.Config{Name: "News_Reporter", SystemPrompt: "You are News_Reporter, a reporter.",
		Client: client, MaxTokens: maxTokens, ReasoningEffort: effort, MaxOutputTokens: 128000})
	if err != nil {
		t.Fatal(err)
	}
	return a, em
}

var bridge = []agent.Message{{Source: agent.SourceUser, Content: "Facts: The bridge reopened on Monday."}}

func TestAssistant_EmptyLengthAnswerIsRetriedWithMoreRoom(t *testing.T) {
	// Medium effort spends about 170 reasoning tokens here: 150 leave no
	// room for text, twice that does.
	a, em := reporter(t, 150, "medium")
	msg, err := agent.Reply(context.Background(), a, agent.Turn{History: bridge})
	if err != nil {
		t.Fatal(err)
	}
	reqs := em.Requests()
	if len(reqs) != 2 || reqs[0].MaxTokens != 150 || reqs[1].MaxTokens != 300 || reqs[0].Answer != "" {
		t.Fatalf("requests %+v, want an empty answer at 150 and a retry at 300", reqs)
	}
	if msg.Content == "" || msg.Usage.Requests != 2 || msg.Usage.ReasoningTokens <= 150 {
		t.Errorf("message %q usage %+v, want text and both calls' tokens (the first one's 150 of reasoning included)", msg.Content, msg.Usage)
	}
}

func TestAssistant_EmptyLengthAnswerTwiceFailsSayingWhatToRaise(t *testing.T) {
	// High effort spends about 490 reasoning tokens: neither 100 nor 200 is enough.
	a, em := reporter(t, 100, "high")
	_, err := agent.Reply(context.Background(), a, agent.Turn{History: bridge})
	if !errors.Is(err, agent.ErrEmptyAnswer) {
		t.Fatalf("error %v, want ErrEmptyAnswer", err)
	}
	for _, want := range []string{"News_Reporter", "max_completion_tokens 200", "raise max_tokens", "reasoning_effort", `"high"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := em.Count(); n != 2 {
		t.Errorf("%d calls, want the call and one retry", n)
	}
}
