package server

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/sqlite"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

const approvalTask = `{"task":"Facts: The city council approved a bike lane on Main Street on Tuesday.","approval":"required"}`

// roleKey issues a key with role in e's store.
func (e *env) roleKey(role identity.Role) string {
	e.t.Helper()
	secret, _, err := IssueRoleKey(context.Background(), e.st, role.String()+"-"+randomHex(3), role, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// waitStatus polls the run until it has status (bounded; no fixed sleeps).
func (e *env) waitStatus(key, id string, want store.Status) RunView {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := e.get(key, id)
		if v.Status == want {
			return v
		}
		if v.Status.Finished() || time.Now().After(deadline) {
			e.t.Fatalf("run %s is %s (%s %s), want %s", id, v.Status, v.StopReason, v.Error, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) decide(key, id, body string) (*http.Response, []byte) {
	e.t.Helper()
	return e.do("POST", "/v1/runs/"+id+"/decision", key, body)
}

// reporterNoteRequests counts the emulator's reporter requests whose prompt
// ends with the editor-in-chief's note.
func reporterNoteRequests(emu *emulator.Running, note string) int {
	n := 0
	for _, r := range emu.Requests() {
		if len(r.Messages) < 2 || !strings.HasPrefix(r.Messages[0].Content, "You are "+desk.Reporter) {
			continue
		}
		if last := r.Messages[len(r.Messages)-1]; last.Role == model.RoleUser && last.Name == team.EditorInChief && last.Content == note {
			n++
		}
	}
	return n
}

func TestApproval_PauseAndDecisionsAcrossARestart(t *testing.T) {
	onBothBackends(t, testApprovalRestart)
}

func testApprovalRestart(t *testing.T, open func(t testing.TB) store.Store) {
	first := newEnv(t, envOpts{openStore: open, cfg: Config{KeyRateLimit: -1}})
	eic := first.roleKey(identity.RoleEditorInChief)
	v := first.create(first.user, approvalTask)
	if v.Approval == nil || !v.Approval.Required {
		t.Fatalf("created run shows approval %+v", v.Approval)
	}
	waiting := first.waitStatus(first.user, v.ID, store.StatusAwaitingApproval)
	if waiting.Article == "" || waiting.Approval == nil || len(waiting.Approval.Decisions) != 0 {
		t.Fatalf("waiting run: article %q approval %+v", waiting.Article, waiting.Approval)
	}
	calls := first.emu.Count()
	// No decision yet is an empty list, not a missing one.
	if _, raw := first.do("GET", "/v1/runs/"+v.ID, first.user, ""); !strings.Contains(string(raw), `"approval":{"required":true,"decisions":[]}`) {
		t.Fatalf("waiting run's approval: %s", raw)
	}

	// The reporter who submitted it may not decide.
	resp, b := first.decide(first.user, v.ID, `{"decision":"approve"}`)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "editor-in-chief") {
		t.Fatalf("reporter's decision = %d %s, want 403 naming the role", resp.StatusCode, b)
	}

	// The process stops while the run waits; nothing is lost.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	first.srv.Shutdown(ctx)
	cancel()
	second := newEnv(t, envOpts{openStore: open, emulator: first.emu, cfg: Config{KeyRateLimit: -1}})
	if got := second.get(eic, v.ID); got.Status != store.StatusAwaitingApproval {
		t.Fatalf("after restart the run is %s", got.Status)
	}
	if second.emu.Count() != calls {
		t.Fatalf("a waiting run made %d model calls after the restart", second.emu.Count()-calls)
	}
	// Editors-in-chief see every waiting run.
	resp, b = second.do("GET", "/v1/runs?status=awaiting_approval", eic, "")
	var list RunList
	mustJSON(t, b, &list)
	if resp.StatusCode != http.StatusOK || len(list.Runs) != 1 || list.Runs[0].ID != v.ID {
		t.Fatalf("waiting list = %d %s", resp.StatusCode, b)
	}

	for _, c := range []struct{ body, code string }{
		{`{"decision":"publish"}`, "bad_decision"},
		{`{"decision":"revise"}`, "note_required"},
		{`{"decision":"revise","note":"   "}`, "note_required"},
	} {
		resp, b := second.decide(eic, v.ID, c.body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), c.code) {
			t.Fatalf("decision %s = %d %s, want 400 %s", c.body, resp.StatusCode, b, c.code)
		}
	}

	const note = "Say when construction starts."
	resp, b = second.decide(eic, v.ID, fmt.Sprintf(`{"decision":"revise","note":%q}`, note))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("revise = %d %s", resp.StatusCode, b)
	}
	var accepted RunView
	mustJSON(t, b, &accepted)
	if a := accepted.Approval; a == nil || !a.Required || len(a.Decisions) != 1 || a.Decisions[0].Decision != "revise" || a.Decisions[0].Note != note {
		t.Fatalf("the 202 of the revision shows approval %+v, want the decision just made", accepted.Approval)
	}
	again := second.waitStatus(eic, v.ID, store.StatusAwaitingApproval)
	if reporterNoteRequests(second.emu, note) != 1 {
		t.Fatal("the reporter's next prompt does not end with the editor-in-chief's note")
	}
	if n := len(again.Messages); n < 2 || again.Messages[n-2].Source != desk.Reporter {
		t.Fatalf("after the revision the team did not go on from the note: %d messages", n)
	}

	resp, b = second.decide(eic, v.ID, `{"decision":"approve","note":"Run it."}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("approve = %d %s", resp.StatusCode, b)
	}
	mustJSON(t, b, &accepted)
	if a := accepted.Approval; a == nil || len(a.Decisions) != 2 || a.Decisions[1].Decision != "approve" || accepted.Status != store.StatusSucceeded {
		t.Fatalf("the 202 of the approval: %s %+v", accepted.Status, accepted.Approval)
	}
	done := second.get(eic, v.ID)
	if done.Status != store.StatusSucceeded || done.StopReason != team.StopApproved || done.StopReasonKind != termination.KindApproved || done.FinishedAt.IsZero() {
		t.Fatalf("approved run: %s %q", done.Status, done.StopReason)
	}
	ds := done.Approval.Decisions
	if len(ds) != 2 || ds[0].Decision != "revise" || ds[0].Note != note || ds[1].Decision != "approve" ||
		!strings.HasPrefix(ds[0].By, "key_") || ds[1].At.IsZero() {
		t.Fatalf("decisions %+v", ds)
	}

	// A replayed decision is refused and changes nothing.
	resp, b = second.decide(eic, v.ID, `{"decision":"reject"}`)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), "not_awaiting_approval") {
		t.Fatalf("replayed decision = %d %s", resp.StatusCode, b)
	}
	if after := second.get(eic, v.ID); after.Status != store.StatusSucceeded || len(after.Approval.Decisions) != 2 {
		t.Fatalf("after the replay: %s, %d decisions", after.Status, len(after.Approval.Decisions))
	}
}

// TestApproval_RevisionWhileAnExecutorHoldsTheRun decides a revision while
// an executor of this instance still holds the run, in the two orders a busy
// machine produces, and checks that the team goes on at once from the note
// (the reporter's new draft, then the editor's new review) and waits again.
// No scan runs, so nothing but the decision's own path can start the run.
func TestApproval_RevisionWhileAnExecutorHoldsTheRun(t *testing.T) {
	onBothBackends(t, testRevisionWhileHeld)
}

func testRevisionWhileHeld(t *testing.T, open func(t testing.TB) store.Store) {
	e := newEnv(t, envOpts{openStore: open, cfg: Config{KeyRateLimit: -1, ScanInterval: -1}})
	eic := e.roleKey(identity.RoleEditorInChief)
	ctx := context.Background()

	// The executor that paused the run has not ended when the decision comes.
	// (Not subtests: the env's helpers fail the test that made it.)
	{
		const note = "Name the street first."
		v := e.create(e.user, approvalTask)
		paused := e.waitStatus(e.user, v.ID, store.StatusAwaitingApproval)
		e.waitIdle(v.ID)
		held := e.srv.newExecutor(v.ID) // stands in for the executor that paused the run
		if held == nil {
			t.Fatal("an executor still holds the waiting run")
		}
		if resp, b := e.decide(eic, v.ID, fmt.Sprintf(`{"decision":"revise","note":%q}`, note)); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("revise = %d %s", resp.StatusCode, b)
		}
		e.waitAgain(held)
		e.srv.forget(held)
		assertRevised(t, e, v.ID, paused, note)
	}

	// A new executor took the run (a scan) before the decision queued it.
	{
		const note = "Give the cost in the lead."
		v := e.create(e.user, approvalTask)
		paused := e.waitStatus(e.user, v.ID, store.StatusAwaitingApproval)
		e.waitIdle(v.ID)
		// The first half of a decision: the revision is stored, the run queued.
		cp, _, err := e.srv.checkpointOf(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		d := team.Decision{Decision: team.DecisionRevise, Note: note, By: "test", At: time.Now()}
		events, _, err := team.Decide(cp, d, d.At)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.ResolveWaiting(ctx, v.ID, events, store.StatusQueued, ""); err != nil {
			t.Fatal(err)
		}
		// A scan gives the queued run to an executor here, which claims it;
		// then the decision's second half queues it.
		x := e.srv.newExecutor(v.ID)
		if x == nil {
			t.Fatal("an executor still holds the run")
		}
		if _, ok := x.acquire(); !ok {
			t.Fatal("the executor could not claim the revised run")
		}
		e.srv.requeue(ctx, v.ID, v.CreatedAt)
		if ok, err := e.st.RenewClaim(ctx, x.claim, time.Minute); err != nil || !ok {
			t.Fatalf("queueing the revision superseded the claim of the executor holding the run (renew: %v, %v)", ok, err)
		}
		e.srv.forget(x) // it ends without running the team: the run is queued again
		x.release()
		assertRevised(t, e, v.ID, paused, note)
	}
}

// TestApproval_WaitingIsSavedBeforeItIsAnnounced holds the write that saves
// a run as awaiting approval and checks that approval_requested reaches no
// follower before it: a page that refreshes the run on that event must find
// it waiting (it used to find it running, and kept showing that).
func TestApproval_WaitingIsSavedBeforeItIsAnnounced(t *testing.T) {
	t.Parallel()
	held := &pauseWrite{blocked: make(chan struct{}, 1), release: make(chan struct{})}
	e := newEnv(t, envOpts{cfg: Config{KeyRateLimit: -1}, openStore: func(t testing.TB) store.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "newsroom.db"))
		if err != nil {
			t.Fatal(err)
		}
		held.Store = st
		return held
	}})
	t.Cleanup(held.open) // before the server's shutdown, which waits for the held write
	e.client.holdFrom(1) // nothing is published before the test follows the run
	v := e.create(e.user, approvalTask)
	sub, unsubscribe := e.srv.hub.subscribe(v.ID)
	defer unsubscribe()
	e.client.release()

	timeout := time.After(30 * time.Second)
	for {
		select {
		case <-held.blocked:
			// The executor is saving the run as waiting: what it published
			// before is in the buffer already.
			for more := true; more; {
				select {
				case it := <-sub.ch:
					if it.Event.Type == team.EventApprovalRequested {
						t.Fatal("approval_requested was published before the run was saved as awaiting approval")
					}
				default:
					more = false
				}
			}
			held.open()
		case it := <-sub.ch:
			if it.Event.Type != team.EventApprovalRequested {
				continue
			}
			if got := e.get(e.user, v.ID); got.Status != store.StatusAwaitingApproval {
				t.Fatalf("on approval_requested the run reads %s", got.Status)
			}
			return
		case <-sub.lag:
			t.Fatal("the test fell behind the run's events")
		case <-timeout:
			t.Fatal("no approval_requested")
		}
	}
}

// pauseWrite is a store whose write of a run awaiting approval waits until
// the test opens it.
type pauseWrite struct {
	store.Store
	blocked chan struct{}
	release chan struct{}
	once    sync.Once
}

func (p *pauseWrite) UpdateRun(ctx context.Context, c store.Claim, run *store.Run) error {
	if run.Status == store.StatusAwaitingApproval {
		select {
		case p.blocked <- struct{}{}:
		default:
		}
		<-p.release
	}
	return p.Store.UpdateRun(ctx, c, run)
}

func (p *pauseWrite) open() { p.once.Do(func() { close(p.release) }) }

// waitIdle waits until no executor of e's server holds the run.
func (e *env) waitIdle(id string) {
	e.t.Helper()
	e.pollServer("the run's executor to end", func() bool { return e.srv.active[id] == nil })
}

// waitAgain waits until the run was queued to execute while x held it.
func (e *env) waitAgain(x *executor) {
	e.t.Helper()
	e.pollServer("the run to be queued again", func() bool { return x.again })
}

// pollServer polls cond under the server's lock (bounded; no fixed sleeps).
func (e *env) pollServer(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.srv.mu.Lock()
		ok := cond()
		e.srv.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// assertRevised waits for the revised run to wait again and checks that the
// team went on from the note: the reporter rewrote with the note as the last
// thing in its prompt, then the editor reviewed the rewrite.
func assertRevised(t *testing.T, e *env, id string, paused RunView, note string) {
	t.Helper()
	again := e.waitStatus(e.admin, id, store.StatusAwaitingApproval)
	n := len(paused.Messages)
	var got []string
	for _, m := range again.Messages[n:] {
		got = append(got, m.Source)
	}
	if want := []string{team.EditorInChief, desk.Reporter, desk.Editor}; !slices.Equal(got, want) {
		t.Fatalf("after the revision the run has %v, want %v", got, want)
	}
	if again.Messages[n].Content != note {
		t.Fatalf("the revision message is %q, want the note", again.Messages[n].Content)
	}
	if got := reporterNoteRequests(e.emu, note); got != 1 {
		t.Fatalf("%d reporter prompts end with the note, want 1", got)
	}
}

func TestApproval_RejectExpireAndSSE(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	e := newEnv(t, envOpts{cfg: Config{RequireApproval: true, ApprovalSweep: -1, KeyRateLimit: -1,
		Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }}})
	eic := e.roleKey(identity.RoleEditorInChief)

	// --require-approval is the default; "none" opts out.
	plain := e.create(e.user, `{"task":"Facts: A library opened.","approval":"none"}`)
	if got := e.waitFinished(e.user, plain.ID); got.Status != store.StatusSucceeded || got.Approval != nil {
		t.Fatalf("run without approval: %s %+v", got.Status, got.Approval)
	}

	rj := e.create(e.user, `{"task":"Facts: A library opened."}`)
	e.waitStatus(e.user, rj.ID, store.StatusAwaitingApproval)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	streamed := make(chan []sseEvent, 1)
	go func() { streamed <- e.events(ctx, e.user, rj.ID, "") }()
	if resp, b := e.decide(eic, rj.ID, `{"decision":"reject","note":"Not news."}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("reject = %d %s", resp.StatusCode, b)
	}
	evs := <-streamed
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	joined := strings.Join(types, ",")
	if !strings.Contains(joined, "approval_requested") || !strings.HasSuffix(joined, "approval_decided,run_finished") {
		t.Fatalf("SSE events %s", joined)
	}
	if got := e.get(e.user, rj.ID); got.Status != store.StatusRejected || got.StopReasonKind != termination.KindRejected {
		t.Fatalf("rejected run is %s (kind %q)", got.Status, got.StopReasonKind)
	}

	ex := e.create(e.user, `{"task":"Facts: A bridge reopened."}`)
	if w := e.waitStatus(e.user, ex.ID, store.StatusAwaitingApproval); w.StopReasonKind != termination.KindAwaitingApproval {
		t.Fatalf("waiting run's stop reason kind %q", w.StopReasonKind)
	}
	if n, err := e.srv.expireWaiting(context.Background()); err != nil || n != 0 {
		t.Fatalf("expired %d (err %v) before the timeout", n, err)
	}
	skew.Store(int64(DefaultApprovalTimeout + time.Minute))
	if n, err := e.srv.expireWaiting(context.Background()); err != nil || n != 1 {
		t.Fatalf("expired %d (err %v), want 1", n, err)
	}
	if got := e.get(e.user, ex.ID); got.Status != store.StatusExpired || !strings.Contains(got.StopReason, "72h") || got.StopReasonKind != termination.KindExpired {
		t.Fatalf("forgotten run: %s %q (kind %q)", got.Status, got.StopReason, got.StopReasonKind)
	}
	if resp, _ := e.decide(eic, ex.ID, `{"decision":"approve"}`); resp.StatusCode != http.StatusConflict {
		t.Fatalf("decision on an expired run = %d", resp.StatusCode)
	}
}

func TestApproval_DecisionRacingACancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{RequireApproval: true, KeyRateLimit: -1}})
	eic := e.roleKey(identity.RoleEditorInChief)
	for i := range 4 {
		v := e.create(e.user, fmt.Sprintf(`{"task":"Facts: Race number %d."}`, i))
		e.waitStatus(e.user, v.ID, store.StatusAwaitingApproval)
		var wg sync.WaitGroup
		var cancelCode, decideCode int
		wg.Go(func() {
			resp, _ := e.do("POST", "/v1/runs/"+v.ID+"/cancel", e.user, "")
			cancelCode = resp.StatusCode
		})
		wg.Go(func() {
			resp, _ := e.decide(eic, v.ID, `{"decision":"approve"}`)
			decideCode = resp.StatusCode
		})
		wg.Wait()
		got := e.get(eic, v.ID)
		switch {
		case cancelCode == http.StatusAccepted && decideCode == http.StatusConflict:
			if got.Status != store.StatusCancelled || len(got.Approval.Decisions) != 0 {
				t.Fatalf("cancel won but the run is %s with %d decisions", got.Status, len(got.Approval.Decisions))
			}
		case decideCode == http.StatusAccepted && cancelCode == http.StatusConflict:
			if got.Status != store.StatusSucceeded || len(got.Approval.Decisions) != 1 {
				t.Fatalf("approval won but the run is %s with %d decisions", got.Status, len(got.Approval.Decisions))
			}
		default:
			t.Fatalf("cancel %d, decision %d: want exactly one to win", cancelCode, decideCode)
		}
	}
}

// metricsStub stands in for the Prometheus handler: the matrix checks who
// may reach /metrics, not what it says.
var metricsStub = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("up 1\n")) })

func TestRoles_MatrixOnEveryEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{RequireApproval: true, KeyRateLimit: -1, Metrics: metricsStub}})
	callers := map[identity.Role]string{}
	for _, r := range []identity.Role{identity.RoleReader, identity.RoleReporter, identity.RoleEditorInChief, identity.RoleAdmin} {
		callers[r] = e.roleKey(r)
	}
	roleMatrix(t, e, callers, e.roleKey(identity.RoleReporter))

	// Keys made before roles keep what they could do: admin keys are admin,
	// the others reporters.
	if resp, _ := e.do("GET", "/v1/keys", e.admin, ""); resp.StatusCode != 200 {
		t.Errorf("an old admin key lists keys: %d", resp.StatusCode)
	}
	someone := e.create(e.user, `{"task":"Facts: A ferry resumed service."}`)
	e.waitStatus(e.user, someone.ID, store.StatusAwaitingApproval)
	if resp, _ := e.do("POST", "/v1/runs/"+someone.ID+"/decision", e.admin, `{"decision":"approve"}`); resp.StatusCode != 202 {
		t.Errorf("an old admin key decides: %d", resp.StatusCode)
	}
}

// TestRoles_MatrixWithSignedInPeople runs the role matrix again with
// OpenID Connect tokens whose roles claim carries each role.
func TestRoles_MatrixWithSignedInPeople(t *testing.T) {
	t.Parallel()
	e, iss, _ := oidcEnv(t, Config{RequireApproval: true, Metrics: metricsStub})
	callers := map[identity.Role]string{}
	for _, r := range []identity.Role{identity.RoleReader, identity.RoleReporter, identity.RoleEditorInChief, identity.RoleAdmin} {
		callers[r] = iss.Sign(t, claimsWith(iss.Claims("sub-"+r.String()), "oid", "oid-"+r.String(), "roles", []string{r.String()}))
	}
	owner := iss.Sign(t, claimsWith(iss.Claims("sub-owner"), "oid", "oid-owner", "roles", []string{"reporter"}))
	roleMatrix(t, e, callers, owner)
}

// roleMatrix checks what each role may do on every endpoint, callers
// holding a bearer secret (an API key or a token) per role; owner, a
// reporter, owns the runs the others act on.
func roleMatrix(t *testing.T, e *env, callers map[identity.Role]string, owner string) {
	t.Helper()
	waitingRun := func(by string) string {
		v := e.create(by, `{"task":"Facts: A ferry resumed service."}`)
		e.waitStatus(by, v.ID, store.StatusAwaitingApproval)
		return v.ID
	}
	someone := waitingRun(owner)
	type want map[identity.Role]int
	all := func(code int) want {
		return want{identity.RoleReader: code, identity.RoleReporter: code, identity.RoleEditorInChief: code, identity.RoleAdmin: code}
	}
	cases := []struct {
		name   string
		method string
		path   func(caller string) string
		body   string
		want   want
	}{
		{"submit a run", "POST", func(string) string { return "/v1/runs" }, `{"task":"Facts: x.","approval":"none"}`,
			want{identity.RoleReader: 403, identity.RoleReporter: 202, identity.RoleEditorInChief: 202, identity.RoleAdmin: 202}},
		{"list runs", "GET", func(string) string { return "/v1/runs" }, "", all(200)},
		{"see someone else's run", "GET", func(string) string { return "/v1/runs/" + someone }, "",
			want{identity.RoleReader: 404, identity.RoleReporter: 404, identity.RoleEditorInChief: 200, identity.RoleAdmin: 200}},
		{"cancel someone else's run", "POST", func(string) string { return "/v1/runs/" + waitingRun(owner) + "/cancel" }, "",
			want{identity.RoleReader: 404, identity.RoleReporter: 404, identity.RoleEditorInChief: 403, identity.RoleAdmin: 202}},
		{"cancel their own run", "POST", func(caller string) string { return "/v1/runs/" + waitingRun(caller) + "/cancel" }, "",
			want{identity.RoleReporter: 202, identity.RoleEditorInChief: 202, identity.RoleAdmin: 202}},
		{"decide on someone else's run", "POST", func(string) string { return "/v1/runs/" + waitingRun(owner) + "/decision" }, `{"decision":"reject"}`,
			want{identity.RoleReader: 403, identity.RoleReporter: 403, identity.RoleEditorInChief: 202, identity.RoleAdmin: 202}},
		{"decide on a run that does not exist", "POST", func(string) string { return "/v1/runs/run_doesnotexist/decision" }, `{"decision":"reject"}`,
			want{identity.RoleReader: 403, identity.RoleReporter: 403, identity.RoleEditorInChief: 404, identity.RoleAdmin: 404}},
		{"list keys", "GET", func(string) string { return "/v1/keys" }, "",
			want{identity.RoleReader: 403, identity.RoleReporter: 403, identity.RoleEditorInChief: 403, identity.RoleAdmin: 200}},
		{"who am I", "GET", func(string) string { return "/v1/me" }, "", all(200)},
		{"list teams", "GET", func(string) string { return "/v1/teams" }, "", all(200)},
		{"sign out", "POST", func(string) string { return "/auth/logout" }, "", all(204)},
		{"read the metrics", "GET", func(string) string { return "/metrics" }, "",
			want{identity.RoleReader: 403, identity.RoleReporter: 403, identity.RoleEditorInChief: 403, identity.RoleAdmin: 200}},
	}
	for _, c := range cases {
		for role, code := range c.want {
			resp, b := e.do(c.method, c.path(callers[role]), callers[role], c.body)
			if resp.StatusCode != code {
				t.Errorf("%s as %s = %d %s, want %d", c.name, role, resp.StatusCode, b, code)
				continue
			}
			if code == http.StatusForbidden && !strings.Contains(string(b), "needs the ") {
				t.Errorf("%s as %s: 403 without the role needed: %s", c.name, role, b)
			}
		}
		if resp, _ := e.do(c.method, c.path(owner), "", c.body); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without a key = %d, want 401", c.name, resp.StatusCode)
		}
	}
	// What /v1/me says each may do.
	for role, caller := range callers {
		_, b := e.do("GET", "/v1/me", caller, "")
		var me MeView
		mustJSON(t, b, &me)
		if me.Role != role.String() || me.CanDecide != role.Allows(identity.RoleEditorInChief) {
			t.Errorf("me as %s = %s", role, b)
		}
	}
	// The events of someone else's run follow the same rule as the run.
	for role, code := range (want{identity.RoleReader: 404, identity.RoleReporter: 404, identity.RoleEditorInChief: 200}) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/v1/runs/"+someone+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+callers[role])
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode != code {
			t.Errorf("events as %s = %d, want %d", role, resp.StatusCode, code)
		}
	}
	// A reader sees only their own runs in the list; an editor-in-chief all.
	_, b := e.do("GET", "/v1/runs", callers[identity.RoleReader], "")
	var list RunList
	mustJSON(t, b, &list)
	if len(list.Runs) != 0 {
		t.Errorf("a reader's list shows %d runs of others", len(list.Runs))
	}
	_, b = e.do("GET", "/v1/runs?status=awaiting_approval", callers[identity.RoleEditorInChief], "")
	mustJSON(t, b, &list)
	if len(list.Runs) == 0 || list.Runs[0].Status != store.StatusAwaitingApproval {
		t.Errorf("the editor-in-chief's waiting list: %s", b)
	}
}
