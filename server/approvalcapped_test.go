package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/termination"
)

// TestApproval_ACappedRunWaitsForApproveOrReject checks the gate on both
// desks through the API: a run that requires approval and reaches its
// message cap before its editor approves does not end succeeded; it waits
// with approval.capped set to the cap's stop reason; a revision answers 409
// cap_reached and leaves it waiting; approve ends it succeeded, reject
// rejected.
func TestApproval_ACappedRunWaitsForApproveOrReject(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1}})
	eic := e.roleKey(identity.RoleEditorInChief)
	for _, desk := range []string{"roundrobin", "selector"} {
		t.Run(desk, func(t *testing.T) {
			body := `{"task":"Facts: The city council approved a bike lane on Main Street on Tuesday.","approval":"required","team":"` + desk + `","max_messages":2}`
			for _, d := range []struct {
				decision string
				want     store.Status
			}{{"approve", store.StatusSucceeded}, {"reject", store.StatusRejected}} {
				v := e.create(e.user, body)
				w := e.waitStatus(e.user, v.ID, store.StatusAwaitingApproval)
				if w.Approval == nil || !w.Approval.Required || w.Approval.Capped == "" {
					t.Fatalf("waiting run's approval %+v; want required and capped", w.Approval)
				}
				if k := termination.KindOf(w.Approval.Capped); k != termination.KindMaxMessages && k != termination.KindGrounding {
					t.Fatalf("capped by %q (%s), want the message cap or the grounding gate's", w.Approval.Capped, k)
				}
				resp, b := e.decide(eic, v.ID, `{"decision":"revise","note":"Say when construction starts."}`)
				if resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), `"cap_reached"`) {
					t.Fatalf("revise = %d %s, want 409 cap_reached", resp.StatusCode, b)
				}
				if still := e.get(e.user, v.ID); still.Status != store.StatusAwaitingApproval || len(still.Approval.Decisions) != 0 {
					t.Fatalf("after the refused revision the run is %s with decisions %+v", still.Status, still.Approval.Decisions)
				}
				if resp, b := e.decide(eic, v.ID, `{"decision":"`+d.decision+`"}`); resp.StatusCode != http.StatusAccepted {
					t.Fatalf("%s = %d %s", d.decision, resp.StatusCode, b)
				}
				got := e.get(e.user, v.ID)
				if got.Status != d.want || len(got.Approval.Decisions) != 1 || got.Approval.Capped != "" {
					t.Fatalf("%s: run is %s, approval %+v", d.decision, got.Status, got.Approval)
				}
			}
		})
	}
}

// TestApproval_ACappedRunWithoutApprovalEndsAsBefore checks that a run that
// does not require approval still ends at its cap.
func TestApproval_ACappedRunWithoutApprovalEndsAsBefore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1}})
	v := e.create(e.user, `{"task":"Facts: A library opened on Monday.","approval":"none","max_messages":2}`)
	if got := e.waitFinished(e.user, v.ID); got.Status == store.StatusAwaitingApproval || got.Approval != nil || !got.Status.Finished() {
		t.Fatalf("run without approval: %s %+v", got.Status, got.Approval)
	}
}
