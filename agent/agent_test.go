package agent_test

import (
	"context"
	"errors"
	"testing"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
)

func TestNewAssistant_ValidatesItsConfig(t *testing.T) {
	c := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) { return &model.Response{}, nil })
	cases := []struct {
		cfg  agent.Config
		want error
	}{
		{agent.Config{Client: c}, agent.ErrNoName},
		{agent.Config{Name: "News Reporter", Client: c}, agent.ErrBadName},
		{agent.Config{Name: "News_Reporter"}, agent.ErrNoClient},
		{agent.Config{Name: "News_Reporter", Client: c}, nil},
	}
	for _, tc := range cases {
		_, err := agent.NewAssistant(tc.cfg)
		if !errors.Is(err, tc.want) {
			t.Errorf("%+v: err %v, want %v", tc.cfg.Name, err, tc.want)
		}
	}
}

func TestAssistant_ReplyCarriesMetaUsageAndTrimmedContent(t *testing.T) {
	var got *model.Request
	c := model.ClientFunc(func(_ context.Context, r *model.Request) (*model.Response, error) {
		got = r
		return &model.Response{Content: "  draft \n", Usage: model.Usage{PromptTokens: 3, CompletionTokens: 1}, Cached: true}, nil
	})
	a, _ := agent.NewAssistant(agent.Config{Name: "News_Reporter", SystemPrompt: "You are News_Reporter", Client: c, MaxTokens: 77})
	ctx := model.WithMeta(context.Background(), model.Meta{RunID: "run_1"})
	m, err := agent.Reply(ctx, a, agent.Turn{History: []agent.Message{{Source: agent.SourceUser, Content: "task"}, {Source: "odd source!", Content: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Content != "draft" || m.Source != "News_Reporter" || m.Usage.PromptTokens != 3 || !m.Cached {
		t.Fatalf("message %+v", m)
	}
	if got.Meta != (model.Meta{RunID: "run_1", Agent: "News_Reporter", Purpose: model.PurposeReply}) || got.MaxTokens != 77 {
		t.Fatalf("request meta %+v max_tokens %d", got.Meta, got.MaxTokens)
	}
	// A source that is not a valid protocol name is sent without a name.
	if last := got.Messages[len(got.Messages)-1]; last.Name != "" || last.Role != model.RoleUser {
		t.Fatalf("last message %+v", last)
	}
}

func TestAssistant_ReplyWrapsModelErrors(t *testing.T) {
	want := &model.Error{StatusCode: 500, Message: "boom"}
	c := model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) { return nil, want })
	a, _ := agent.NewAssistant(agent.Config{Name: "A", Client: c})
	_, err := agent.Reply(context.Background(), a, agent.Turn{})
	var me *model.Error
	if !errors.As(err, &me) || me != want {
		t.Fatalf("err %v does not wrap the model error", err)
	}
}
