package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// callCost is what every model call of TestApproval_TheBudgetCoversEveryLeg
// costs: far more than a call's worst case at list prices (the desk's 1000
// max_tokens and the prompt: about $0.011), so the budget binds on what
// was spent, not on what is in flight.
const callCost = 0.10

// TestApproval_TheBudgetCoversEveryLeg checks that budget_usd is the whole
// run's, not each leg's: a revision goes on with what the first leg spent
// counted, and a run whose first leg spent nearly all of it stops on the
// budget before its second leg makes a call. (Each leg with a fresh budget
// would draft and review again and wait once more.)
func TestApproval_TheBudgetCoversEveryLeg(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1}, wrap: func(c model.Client) model.Client {
		priced := model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
			resp, err := c.Complete(ctx, req)
			if resp != nil {
				resp.Usage.CostUSD = callCost
			}
			return resp, err
		})
		return budget.Wrap(priced, budget.Config{Model: "gpt-4o"})
	}})
	eic := e.roleKey(identity.RoleEditorInChief)

	// What the first leg costs, measured on a run without a budget (the
	// emulator answers the same task the same way).
	free := e.create(e.user, approvalTask)
	spent := e.waitStatus(e.user, free.ID, store.StatusAwaitingApproval).Usage.CostUSD
	if spent < 2*callCost {
		t.Fatalf("the first leg cost $%v: the test needs at least two calls", spent)
	}

	// Room for the first leg and a little more, never for another call
	// (whose worst case is over $0.01).
	body := strings.Replace(approvalTask, `{`, fmt.Sprintf(`{"budget_usd":%v,`, spent+0.005), 1)
	v := e.create(e.user, body)
	waiting := e.waitStatus(e.user, v.ID, store.StatusAwaitingApproval)
	if waiting.Usage.CostUSD != spent {
		t.Fatalf("the budgeted first leg cost $%v, the free one $%v", waiting.Usage.CostUSD, spent)
	}
	calls := e.emu.Count()

	if resp, b := e.decide(eic, v.ID, `{"decision":"revise","note":"Say when construction starts."}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("revise = %d %s", resp.StatusCode, b)
	}
	done := e.waitDecided(e.user, v.ID, 1)
	// The budget is a cap: the run waits again, for approve or reject only.
	if done.Status != store.StatusAwaitingApproval || !strings.Contains(done.Approval.Capped, "run budget") {
		t.Fatalf("the revised run is %s (%+v) after %d more calls; want a wait capped by the run budget", done.Status, done.Approval, e.emu.Count()-calls)
	}
	if e.emu.Count() != calls || done.Usage.CostUSD != spent {
		t.Fatalf("the second leg made %d calls and the run cost $%v; want none past the budget", e.emu.Count()-calls, done.Usage.CostUSD)
	}
	if ds := done.Approval.Decisions; len(ds) != 1 || ds[0].Decision != "revise" {
		t.Fatalf("decisions %+v", ds)
	}
}

// waitDecided polls the run until, after its decisions-th decision, it has
// finished or waits again (bounded; no fixed sleeps).
func (e *env) waitDecided(key, id string, decisions int) RunView {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := e.get(key, id)
		if v.Approval != nil && len(v.Approval.Decisions) >= decisions && (v.Status.Finished() || v.Status == store.StatusAwaitingApproval) {
			return v
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("run %s is %s after %s", id, v.Status, 30*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExecutor_AResumedRunKeepsWhatItSpent resumes a run whose instance
// died after its first message (a crash: the claim released, the events
// stored): the spending of that message counts against budget_usd, so the
// resumed run stops on the budget before another call. A fresh budget per
// resumption would let the editor's call through.
func TestExecutor_AResumedRunKeepsWhatItSpent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noStart: true, cfg: Config{KeyRateLimit: -1}, wrap: func(c model.Client) model.Client {
		return budget.Wrap(c, budget.Config{Model: "gpt-4o"})
	}})
	ctx := context.Background()
	// $0.119 spent leaves $0.001: less than any call's worst case (the
	// desk's max_tokens at list prices). A fresh $0.12 is plenty for the
	// emulator's calls (about $0.002 each).
	v := e.create(e.user, `{"task":"Facts: The museum reopens on Saturday.","budget_usd":0.12}`)
	c := seize(t, e.st, v.ID)
	at := time.Now().UTC()
	for _, ev := range []team.Event{
		{Type: team.EventRunStarted, Task: "Facts: The museum reopens on Saturday."},
		{Type: team.EventMessage, Message: &agent.Message{Source: desk.Reporter, Content: "# Museum Reopens\n\nThe museum reopens on Saturday.",
			Usage: model.Usage{PromptTokens: 400, CompletionTokens: 100, Requests: 1, CostUSD: 0.119}, Time: at}},
	} {
		ev.Time = at
		if _, err := e.st.AppendEvent(ctx, c, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.ReleaseRun(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := e.waitFinished(e.user, v.ID)
	if !strings.Contains(done.StopReason, "run budget") || e.emu.Count() != 0 {
		var srcs []string
		for _, m := range e.get(e.user, v.ID).Messages {
			srcs = append(srcs, fmt.Sprintf("%s $%v", m.Source, m.Usage.CostUSD))
		}
		t.Fatalf("the resumed run is %s (%q) after %d model calls (%v, usage %+v); want a stop on the run budget before any", done.Status, done.StopReason, e.emu.Count(), srcs, done.Usage)
	}
}
