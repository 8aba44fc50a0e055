package desk_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
)

// TestNew_DefaultsAndOverrides: an agent's own settings win over the file's
// defaults, which win over the run's; --max-messages replaces the file's cap.
func TestNew_DefaultsAndOverrides(t *testing.T) {
	t.Parallel()
	const file = `name: pair
kind: roundrobin
defaults: {deployment: cheap, max_tokens: 200, context: {keep: last, last: 1}}
agents:
  - {name: A, description: a, prompt: You are A, deployment: big, max_tokens: 900, context: {keep: full}}
  - {name: B, description: b, prompt: You are B}
termination: {any: [{max_messages: 9}]}
`
	s, err := desk.Parse("pair.yaml", []byte(file), desk.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxMessages() != 9 {
		t.Fatalf("MaxMessages %d", s.MaxMessages())
	}
	type call struct {
		Model     string
		MaxTokens int
		Messages  int
	}
	var mu sync.Mutex
	calls := map[string][]call{}
	c := model.ClientFunc(func(_ context.Context, r *model.Request) (*model.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		calls[r.Meta.Agent] = append(calls[r.Meta.Agent], call{r.Model, r.MaxTokens, len(r.Messages)})
		return &model.Response{Content: "ok", Usage: model.Usage{Requests: 1}}, nil
	})
	tm, err := desk.New(desk.Config{Spec: s, Client: c, Model: "run-default", MaxMessages: 4})
	if err != nil {
		t.Fatal(err)
	}
	res, err := team.Run(context.Background(), tm, "task")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 4 || res.StopReason != "max messages reached (4)" {
		t.Fatalf("%d messages, stop %q", len(res.Messages), res.StopReason)
	}
	want := map[string][]call{
		// A sees everything (system, task, then 0 and 2 earlier messages).
		"A": {{"big", 900, 2}, {"big", 900, 4}},
		// B keeps the task and the last message only.
		"B": {{"cheap", 200, 3}, {"cheap", 200, 3}},
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
}
