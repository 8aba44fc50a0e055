package team

import (
	"context"
	"iter"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/termination"
)

// RoundRobinConfig configures a RoundRobin team.
type RoundRobinConfig struct {
	// Participants speak in this order, starting with the first. Required.
	Participants []agent.Agent
	// Termination ends the run; nil means MaxMessages(DefaultMaxMessages).
	Termination termination.Condition
}

// RoundRobin is a team whose participants speak in a fixed order.
type RoundRobin struct {
	base
}

var _ Team = (*RoundRobin)(nil)

// NewRoundRobin returns a round-robin team.
func NewRoundRobin(cfg RoundRobinConfig) (*RoundRobin, error) {
	b, err := newBase("roundrobin", cfg.Participants, cfg.Termination)
	if err != nil {
		return nil, err
	}
	return &RoundRobin{base: b}, nil
}

// Stream runs the task; see Team.
func (t *RoundRobin) Stream(ctx context.Context, task string, opts ...RunOption) iter.Seq2[Event, error] {
	return t.stream(ctx, t, task, opts)
}

// pick chooses the participant after the last speaker, so a resumed run
// continues in order.
func (t *RoundRobin) pick(_ context.Context, st *state) (selection, error) {
	last := st.lastSpeaker()
	for i, p := range t.participants {
		if p.Name() == last {
			return selection{speaker: t.participants[(i+1)%len(t.participants)]}, nil
		}
	}
	return selection{speaker: t.participants[0]}, nil
}
