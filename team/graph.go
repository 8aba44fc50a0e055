package team

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/termination"
)

// StopGraphDone is the stop reason of a graph run that ran out of steps:
// the last nodes had no edge to follow.
const StopGraphDone = "graph finished: no next step"

// Edge is a step of a graph: after From speaks, To runs if When holds for
// From's message.
type Edge struct {
	From, To string
	// When decides on From's message; nil means always. Ignored when Otherwise is set.
	When func(agent.Message) bool
	// Otherwise makes the edge fire only when no other edge from From fires.
	Otherwise bool
	// Max is how many times the edge may fire in a run; 0 means no limit.
	Max int
}

// GraphConfig configures a Graph team.
type GraphConfig struct {
	// Participants are the nodes. At least one required.
	Participants []agent.Agent
	// Edges in order; the order decides the order of a fan-out's messages.
	Edges []Edge
	// Start are the nodes that run first; empty means the first participant.
	Start []string
	// Termination ends the run early; nil means MaxMessages(DefaultMaxMessages).
	// The run also ends when no edge fires.
	Termination termination.Condition
}

// Graph is a team that runs its agents along the edges of a graph, like
// AutoGen's GraphFlow: nodes whose edges fired on the same step have no
// dependency on each other and run at once (a fan-out), and their messages
// are appended in edge order, so a run is deterministic.
//
// The position in the graph is never stored: it is replayed from the
// messages, so a resumed run continues where it stopped.
type Graph struct {
	base
	edges []Edge
	start []string
}

var _ Team = (*Graph)(nil)

// ErrBadEdge is returned for an edge or start node naming no participant.
var ErrBadEdge = errors.New("team: graph edge names an unknown participant")

// NewGraph returns a graph team.
func NewGraph(cfg GraphConfig) (*Graph, error) {
	b, err := newBase("graph", cfg.Participants, cfg.Termination)
	if err != nil {
		return nil, err
	}
	start := cfg.Start
	if len(start) == 0 {
		start = []string{cfg.Participants[0].Name()}
	}
	for _, s := range start {
		if b.byName[s] == nil {
			return nil, fmt.Errorf("%w: start %q", ErrBadEdge, s)
		}
	}
	for _, e := range cfg.Edges {
		if b.byName[e.From] == nil || b.byName[e.To] == nil {
			return nil, fmt.Errorf("%w: %s -> %s", ErrBadEdge, e.From, e.To)
		}
	}
	return &Graph{base: b, edges: slices.Clone(cfg.Edges), start: slices.Clone(start)}, nil
}

// Stream runs the task; see Team.
func (g *Graph) Stream(ctx context.Context, task string, opts ...RunOption) iter.Seq2[Event, error] {
	return g.stream(ctx, g, task, opts)
}

func (g *Graph) replays() {}

// pick replays the graph over the messages so far and returns the nodes
// still to run on the current step.
func (g *Graph) pick(_ context.Context, st *state) (selection, error) {
	pending, err := g.pending(st.messages)
	if err != nil {
		return selection{}, err
	}
	if len(pending) == 0 {
		return selection{stop: StopGraphDone}, nil
	}
	sel := selection{speaker: g.byName[pending[0]]}
	for _, n := range pending {
		sel.batch = append(sel.batch, g.byName[n])
	}
	return sel, nil
}

func (g *Graph) pending(msgs []agent.Message) ([]string, error) {
	used := make([]int, len(g.edges))
	frontier, next, j := g.start, []string(nil), 0
	advance := func() { // the step is over: the nodes its edges reached run next
		if j == len(frontier) && len(next) > 0 {
			frontier, next, j = next, nil, 0
		}
	}
	for i, m := range msgs {
		if g.byName[m.Source] == nil {
			// A person's revision note (EditorInChief) sends the work back
			// to the start of the graph; the edges' caps keep counting.
			frontier, next, j = g.start, nil, 0
			continue
		}
		advance()
		if j == len(frontier) {
			return nil, fmt.Errorf("%w %q: the graph had finished before message %d", ErrUnknownSpeaker, m.Source, i)
		}
		if node := frontier[j]; m.Source != node {
			return nil, fmt.Errorf("%w %q: the graph expected %s at message %d", ErrUnknownSpeaker, m.Source, node, i)
		}
		j++
		for _, to := range g.fire(m.Source, m, used) {
			if !slices.Contains(next, to) {
				next = append(next, to)
			}
		}
	}
	advance()
	return frontier[j:], nil
}

// fire returns the targets of the edges from node that fire on m, and
// counts them against their caps.
func (g *Graph) fire(node string, m agent.Message, used []int) []string {
	var out []string
	take := func(i int) {
		used[i]++
		out = append(out, g.edges[i].To)
	}
	open := func(i int) bool { return g.edges[i].Max == 0 || used[i] < g.edges[i].Max }
	for i, e := range g.edges {
		if e.From == node && !e.Otherwise && open(i) && (e.When == nil || e.When(m)) {
			take(i)
		}
	}
	if len(out) > 0 {
		return out
	}
	for i, e := range g.edges {
		if e.From == node && e.Otherwise && open(i) {
			take(i)
		}
	}
	return out
}
