package a2aserver_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/a2aproject/a2a-go/a2a"
	"github.com/a2aproject/a2a-go/a2aclient"
	"github.com/a2aproject/a2a-go/a2aclient/agentcard"

	"github.com/newsroom-dev/newsroom/apiclient"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/protocols/a2aserver"
	"github.com/newsroom-dev/newsroom/protocols/internal/svctest"
)

func start(t *testing.T, o svctest.Options) *svctest.Service {
	t.Helper()
	o.Mount = func(s *svctest.Service) map[string]http.Handler {
		api := apiclient.Handler(s.Srv.Handler())
		return map[string]http.Handler{
			"/a2a":                         a2aserver.Handler(api),
			"/.well-known/agent-card.json": a2aserver.CardHandler(a2aserver.CardConfig{Desks: s.Srv.TeamInfos(), Version: "test"}),
		}
	}
	return svctest.Start(t, o)
}

func client(t *testing.T, s *svctest.Service, auth string) *a2aclient.Client {
	t.Helper()
	ctx := context.Background()
	card, err := agentcard.NewResolver(http.DefaultClient).Resolve(ctx, s.HTTP.URL)
	if err != nil {
		t.Fatalf("resolve the agent card: %v", err)
	}
	c, err := a2aclient.NewFromCard(ctx, card, a2aclient.WithJSONRPCTransport(svctest.HTTPClient(auth)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func msg(text string, meta map[string]any) *a2a.MessageSendParams {
	m := a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: text})
	m.Metadata = meta
	return &a2a.MessageSendParams{Message: m}
}

func blocking(p *a2a.MessageSendParams) *a2a.MessageSendParams {
	b := true
	p.Config = &a2a.MessageSendConfig{Blocking: &b}
	return p
}

func articleText(t *a2a.Task) string {
	for _, a := range t.Artifacts {
		for _, p := range a.Parts {
			if tp, ok := p.(a2a.TextPart); ok {
				return tp.Text
			}
		}
	}
	return ""
}

func TestA2A_TheCardListsTheDesksAsSkills(t *testing.T) {
	t.Parallel()
	s := start(t, svctest.Options{})
	card, err := agentcard.NewResolver(http.DefaultClient).Resolve(context.Background(), s.HTTP.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !card.Capabilities.Streaming || card.URL != s.HTTP.URL+"/a2a" || len(card.Skills) != len(s.Srv.TeamInfos()) {
		t.Fatalf("card %+v", card)
	}
	if _, ok := card.SecuritySchemes["apiKey"]; !ok {
		t.Errorf("security schemes %v: want the API key", card.SecuritySchemes)
	}
}

func TestA2A_AMessageBecomesARunAndTheArticleAnArtifact(t *testing.T) {
	t.Parallel()
	s := start(t, svctest.Options{})
	c := client(t, s, s.Keys["reporter"])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := c.SendMessage(ctx, blocking(msg("Facts: The harbour bridge reopened on Monday after repairs costing 3 million euros.", map[string]any{"approval": "none"})))
	if err != nil {
		t.Fatal(err)
	}
	task, ok := res.(*a2a.Task)
	if !ok || task.Status.State != a2a.TaskStateCompleted || !strings.Contains(articleText(task), "bridge") {
		t.Fatalf("result %+v: want a completed task with the article", res)
	}
	got, err := c.GetTask(ctx, &a2a.TaskQueryParams{ID: task.ID})
	if err != nil || got.Status.State != a2a.TaskStateCompleted || len(got.History) < 3 {
		t.Fatalf("tasks/get: %+v %v", got, err)
	}
	// Streamed: the task, a working update per message, the artifact, the end.
	var states []a2a.TaskState
	var artifact bool
	for ev, err := range c.SendStreamingMessage(ctx, msg("Facts: The ferry to the island runs again from Friday.", map[string]any{"approval": "none"})) {
		if err != nil {
			t.Fatal(err)
		}
		switch e := ev.(type) {
		case *a2a.TaskStatusUpdateEvent:
			states = append(states, e.Status.State)
		case *a2a.TaskArtifactUpdateEvent:
			artifact = true
		}
	}
	if len(states) < 3 || states[0] != a2a.TaskStateWorking || states[len(states)-1] != a2a.TaskStateCompleted || !artifact {
		t.Errorf("streamed states %v, artifact %v", states, artifact)
	}
}

func TestA2A_InputRequiredIsAnsweredOnlyByAnEditorInChief(t *testing.T) {
	t.Parallel()
	s := start(t, svctest.Options{RequireApproval: true})
	reporter, chief := client(t, s, s.Keys["reporter"]), client(t, s, s.Keys["editor-in-chief"])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := reporter.SendMessage(ctx, blocking(msg("Facts: The library opens on Saturday.", nil)))
	if err != nil {
		t.Fatal(err)
	}
	task := res.(*a2a.Task)
	if task.Status.State != a2a.TaskStateInputRequired {
		t.Fatalf("state %s, want input-required", task.Status.State)
	}
	answer := a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "approve"})
	answer.TaskID = task.ID
	if _, err := reporter.SendMessage(ctx, &a2a.MessageSendParams{Message: answer}); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("the reporter's approve: %v, want newsroom's forbidden", err)
	}
	if _, err := chief.SendMessage(ctx, blocking(&a2a.MessageSendParams{Message: answer})); err != nil {
		t.Fatal(err)
	}
	got, err := chief.GetTask(ctx, &a2a.TaskQueryParams{ID: task.ID})
	if err != nil || got.Status.State != a2a.TaskStateCompleted || articleText(got) == "" {
		t.Fatalf("after approval: %+v %v", got, err)
	}
}

func TestA2A_CancelAndBadInput(t *testing.T) {
	t.Parallel()
	held := make(chan struct{}, 16)
	s := start(t, svctest.Options{Wrap: func(model.Client) model.Client {
		return model.ClientFunc(func(ctx context.Context, _ *model.Request) (*model.Response, error) {
			held <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		})
	}})
	c := client(t, s, s.Keys["reporter"])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := c.SendMessage(ctx, msg("Facts: The ferry runs again.", map[string]any{"approval": "none"}))
	if err != nil {
		t.Fatal(err)
	}
	<-held
	got, err := c.CancelTask(ctx, &a2a.TaskIDParams{ID: res.(*a2a.Task).ID})
	if err != nil || got.Status.State != a2a.TaskStateCanceled {
		t.Fatalf("tasks/cancel: %+v %v", got, err)
	}
	if _, err := c.SendMessage(ctx, msg("  ", nil)); !errors.Is(err, a2a.ErrInvalidParams) {
		t.Errorf("an empty message: %v, want invalid params", err)
	}
	if _, err := c.GetTask(ctx, &a2a.TaskQueryParams{ID: "run_nope"}); !errors.Is(err, a2a.ErrTaskNotFound) {
		t.Errorf("an unknown task: %v, want task not found", err)
	}
	if _, err := client(t, s, s.Keys["reader"]).SendMessage(ctx, msg("Facts: x.", nil)); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("a reader's message: %v, want forbidden", err)
	}
	if _, err := client(t, s, "").SendMessage(ctx, msg("Facts: x.", nil)); err == nil {
		t.Error("no credentials: accepted")
	}
}
