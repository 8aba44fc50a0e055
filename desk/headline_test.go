package desk_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/team"
)

// formats records the response format each agent (and the selector) asked for.
type formats struct {
	next model.Client
	mu   sync.Mutex
	by   map[string][]string
}

func (f *formats) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	name := ""
	if req.ResponseFormat != nil {
		name = req.ResponseFormat.Name
	}
	f.mu.Lock()
	f.by[req.Meta.Agent] = append(f.by[req.Meta.Agent], name)
	f.mu.Unlock()
	return f.next.Complete(ctx, req)
}

// runSelectorDesk runs the shipped selector desk on the emulator as
// modelName, the default deployment named deployment.
func runSelectorDesk(t *testing.T, modelName, deployment, api string) (*formats, []agent.Message) {
	t.Helper()
	_, c := emutest.Start(t, emulator.Config{ModelName: modelName}, deployment, func(pc *provider.Config) { pc.API = api })
	f := &formats{next: c, by: map[string][]string{}}
	tm, err := desk.New(desk.Config{Team: desk.Selector, Client: f, Model: deployment})
	if err != nil {
		t.Fatal(err)
	}
	res, err := team.Run(context.Background(), tm, task)
	if err != nil {
		t.Fatal(err)
	}
	return f, res.Messages
}

func TestSelectorDesk_StructuredHeadlinesAndSelection(t *testing.T) {
	t.Parallel()
	structured, msgs := runSelectorDesk(t, "gpt-4o-2024-11-20", "gpt-4o", provider.APIChat)
	text, textMsgs := runSelectorDesk(t, "gpt-4o-2024-11-20", "gpt-35-turbo", provider.APIChat)

	if got := structured.by[desk.Headliner]; len(got) == 0 || slices.ContainsFunc(got, func(n string) bool { return n != "headlines" }) {
		t.Errorf("the headline writer asked for %q, want the headlines schema", got)
	}
	if got := structured.by[team.SelectorSource]; len(got) == 0 || slices.ContainsFunc(got, func(n string) bool { return n != team.SpeakerFormatName }) {
		t.Errorf("the selector asked for %q, want the speaker schema", got)
	}
	for who, got := range text.by {
		if slices.ContainsFunc(got, func(n string) bool { return n != "" }) {
			t.Errorf("%s asked for %q on a deployment without structured outputs", who, got)
		}
	}
	var raw string
	for _, m := range msgs {
		if m.Source == desk.Headliner {
			raw = m.Content
		}
	}
	h, err := agent.ParseOutput[desk.Headlines](agent.Message{Content: raw})
	if err != nil {
		t.Fatalf("the headline writer's message %q: %v", raw, err)
	}
	a, b := desk.ArticleOf(msgs), desk.ArticleOf(textMsgs)
	if len(a.Headlines) != 3 || a.Headlines[0] != h.Headline || !slices.Equal(a.Headlines[1:], h.Alternatives) {
		t.Errorf("article headlines %q from %+v", a.Headlines, h)
	}
	if !slices.Equal(a.Headlines, b.Headlines) || a.Body == "" || a.Body != b.Body {
		t.Errorf("structured article %+v, text article %+v: want the same", a, b)
	}
}

// TestSelectorDesk_OnTheResponsesAPI: the shipped selector desk runs on a
// GPT-5 deployment that speaks the Responses API, with structured
// selection and headlines, and gives the article the chat desk gives.
func TestSelectorDesk_OnTheResponsesAPI(t *testing.T) {
	t.Parallel()
	f, msgs := runSelectorDesk(t, "gpt-5-mini", "gpt-5-mini", provider.APIResponses)
	_, chatMsgs := runSelectorDesk(t, "gpt-4o-2024-11-20", "gpt-4o", provider.APIChat)
	if got := f.by[desk.Headliner]; len(got) == 0 || got[0] != "headlines" {
		t.Errorf("the headline writer asked for %q", got)
	}
	a, b := desk.ArticleOf(msgs), desk.ArticleOf(chatMsgs)
	if len(a.Headlines) != 3 || a.Body == "" || a.Body != b.Body || !slices.Equal(a.Headlines, b.Headlines) {
		t.Errorf("responses article %+v, chat article %+v", a, b)
	}
	if sources(msgs) != sources(chatMsgs) {
		t.Errorf("speakers %s, on chat %s", sources(msgs), sources(chatMsgs))
	}
	var reasoning int
	for _, m := range msgs {
		reasoning += m.Usage.ReasoningTokens
	}
	if reasoning == 0 {
		t.Error("no reasoning tokens counted")
	}
}

func sources(msgs []agent.Message) string {
	var s string
	for _, m := range msgs {
		s += m.Source + " "
	}
	return s
}
