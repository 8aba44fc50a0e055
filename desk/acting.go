package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
)

// Acting tools. A call to a tool that acts (an MCP tool whose file entry
// says effect: write or approval: required, or whose server's annotations
// say it is not read-only) does not run until a person allows it: the
// call asks the run's gate, which records the call and the run pauses
// (team.StopAwaitingToolApproval) when the round's results are in. A person's
// decision (team.EventToolDecided) is in the checkpoint the run resumes
// from; the turn is replayed and the call runs, or is a tool error to the
// model when denied.

// errAwaitingApproval is the call's result while it waits: the run pauses
// before the model sees it.
var errAwaitingApproval = errors.New("this call waits for the editor-in-chief's approval")

// errDenied is wrapped by the result of a call a person denied.
var errDenied = errors.New("the editor-in-chief denied this call")

// acts reports whether t needs a person's yes under the file entry m.
func acts(t tool.Tool, m MCPSpec) bool {
	switch {
	case m.Approval == "required" || m.Effect == "write":
		return true
	case m.Approval == "none" || m.Effect == "read":
		return false
	}
	a, ok := t.(tool.Acting)
	return ok && a.Acts()
}

// toolGate holds a run's tool approvals: the decisions made so far and the
// call waiting, if any.
type toolGate struct {
	mu        sync.Mutex
	decisions map[string]team.ToolApproval
	waiting   *team.ToolApproval
}

// reset starts a leg of the run with the decisions of its checkpoint.
func (g *toolGate) reset(cp *team.Checkpoint) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.decisions, g.waiting = map[string]team.ToolApproval{}, nil
	if cp != nil {
		for _, d := range cp.ToolDecisions {
			g.decisions[d.Key] = d
		}
	}
}

// ask returns the decision on a call, or records it as waiting (the first
// of a round only: one question at a time).
func (g *toolGate) ask(a team.ToolApproval) (team.ToolApproval, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if d, ok := g.decisions[a.Key]; ok {
		delete(g.decisions, a.Key) // a decision answers one call; the same call later asks again
		return d, true
	}
	if g.waiting == nil {
		g.waiting = &a
	}
	return team.ToolApproval{}, false
}

func (g *toolGate) pending() *team.ToolApproval {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

// gated is an acting tool behind a run's gate.
type gated struct {
	tool.Tool
	gate *toolGate
}

var _ tool.Tool = (*gated)(nil)

func (g *gated) Call(ctx context.Context, args json.RawMessage) (tool.Result, error) {
	name := g.Definition().Name
	d, ok := g.gate.ask(team.ToolApproval{Tool: name, Arguments: redactArgs(args), Key: team.CallKey(name, string(args))})
	switch {
	case !ok:
		return tool.Result{}, errAwaitingApproval
	case d.Decision != team.ToolAllow:
		note := ""
		if d.Note != "" {
			note = ": " + d.Note
		}
		return tool.Result{}, fmt.Errorf("%w%s; do not try it again, go on without it", errDenied, note)
	}
	return g.Tool.Call(ctx, args)
}

var secretKeyRe = regexp.MustCompile(`(?i)pass|secret|token|api[-_]?key|auth|credential|cookie|private`)

// redactArgs returns the arguments as a person sees them: the values of
// secret-looking keys replaced, the whole cut to 2,000 bytes.
func redactArgs(args json.RawMessage) string {
	var v any
	if json.Unmarshal(args, &v) != nil {
		return "(not JSON)"
	}
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			for k, val := range t {
				if secretKeyRe.MatchString(k) {
					t[k] = "[redacted]"
				} else {
					t[k] = walk(val)
				}
			}
		case []any:
			for i := range t {
				t[i] = walk(t[i])
			}
		}
		return x
	}
	b, _ := json.Marshal(walk(v))
	s := string(b)
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return strings.ToValidUTF8(s, "")
}
