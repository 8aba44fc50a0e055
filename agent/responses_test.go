package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/tool"
)

type urlArgs struct {
	URL string `json:"url"`
}

// TestAssistant_ToolLoopOnTheResponsesAPIHandsBackTheReasoning: a reply
// whose model reasons, calls a tool and then writes, over the Responses
// API. The emulator refuses the second round unless the first round's
// reasoning item comes back with the call, so the reply proves the loop
// carries it.
func TestAssistant_ToolLoopOnTheResponsesAPIHandsBackTheReasoning(t *testing.T) {
	em, err := emulator.Start(emulator.Config{APIKey: "k", ModelName: "gpt-5-mini"}, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = em.Close() })
	c, err := provider.New(provider.Config{Endpoint: em.URL, Deployment: "gpt-5-mini", APIKey: "k", API: provider.APIResponses})
	if err != nil {
		t.Fatal(err)
	}
	fetch := tool.MustFunc(emulator.ToolFetchURL, "Fetch a web page.", func(_ context.Context, a urlArgs) (tool.Result, error) {
		return tool.Result{Content: `{"title":"Fair","text":"The town fair opened on Saturday with 40 stalls and a parade."}`,
			Source: tool.NewSource(a.URL, "Fair", "The town fair opened.", time.Now())}, nil
	})
	a, err := agent.NewAssistant(agent.Config{Name: "News_Reporter", SystemPrompt: "You are News_Reporter, a reporter.",
		Client: c, Tools: []tool.Tool{fetch}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := agent.Reply(context.Background(), a, agent.Turn{History: []agent.Message{{Source: agent.SourceUser,
		Content: "Write a short article from https://fair.example/news about the fair."}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.ToolCalls) != 1 || !strings.Contains(msg.Content, "40 stalls") || msg.Usage.ReasoningTokens == 0 || msg.Usage.Requests != 2 {
		t.Errorf("reply = %+v", msg)
	}
	reqs := em.Requests()
	if len(reqs) != 2 || reqs[0].Status != 200 || reqs[1].Status != 200 {
		t.Fatalf("requests %+v", reqs)
	}
}
