package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
)

// streamer streams its answer word by word when the request streams, and
// records whether the call's context was cancelled.
type streamer struct{ cancelled bool }

func (s *streamer) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	const text = "one two three"
	if req.OnDelta != nil {
		for _, w := range strings.SplitAfter(text, " ") {
			req.OnDelta(model.Delta{Text: w})
			if ctx.Err() != nil {
				s.cancelled = true
				return nil, ctx.Err()
			}
		}
	}
	return &model.Response{Content: text, Usage: model.Usage{PromptTokens: 4, CompletionTokens: 3}}, nil
}

// A streamed turn yields its text as deltas, in order, then the message
// (its usage in it); an unstreamed one yields only the message.
func TestAssistant_RunYieldsTheDeltasThenTheMessage(t *testing.T) {
	a, _ := agent.NewAssistant(agent.Config{Name: "A", Client: &streamer{}})
	for _, stream := range []bool{true, false} {
		var got []string
		for e, err := range a.Run(context.Background(), agent.Turn{Stream: stream}) {
			if err != nil {
				t.Fatal(err)
			}
			switch e.Type {
			case agent.EventDelta:
				got = append(got, "delta "+e.Delta.Text)
			case agent.EventMessage:
				got = append(got, "message "+e.Message.Content)
				if e.Message.Usage.CompletionTokens != 3 || e.Message.Source != "A" {
					t.Errorf("message %+v", e.Message)
				}
			}
		}
		want := []string{"message one two three"}
		if stream {
			want = []string{"delta one ", "delta two ", "delta three", "message one two three"}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stream %v: events (-want +got):\n%s", stream, diff)
		}
	}
}

// A consumer that stops reading a turn cancels the turn's model call, and
// the turn yields nothing more.
func TestAssistant_AConsumerThatStopsCancelsTheTurn(t *testing.T) {
	s := &streamer{}
	a, _ := agent.NewAssistant(agent.Config{Name: "A", Client: s})
	n := 0
	for range a.Run(context.Background(), agent.Turn{Stream: true}) {
		n++
		break
	}
	if n != 1 || !s.cancelled {
		t.Fatalf("%d events read, call cancelled %v: want the call cancelled after the first delta", n, s.cancelled)
	}
}

// Reply folds a turn into its message, or its error.
func TestReply_FoldsATurn(t *testing.T) {
	a, _ := agent.NewAssistant(agent.Config{Name: "A", Client: &streamer{}})
	m, err := agent.Reply(context.Background(), a, agent.Turn{Stream: true})
	if err != nil || m.Content != "one two three" {
		t.Fatalf("message %+v err %v", m, err)
	}
	boom := errors.New("boom")
	b, _ := agent.NewAssistant(agent.Config{Name: "B", Client: model.ClientFunc(func(context.Context, *model.Request) (*model.Response, error) { return nil, boom })})
	if _, err := agent.Reply(context.Background(), b, agent.Turn{}); !errors.Is(err, boom) {
		t.Fatalf("err %v, want the model's", err)
	}
}
