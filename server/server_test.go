package server

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
	"github.com/newsroom-dev/newsroom/store/sqlite"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
)

const task = `{"task":"City council approves new cycle lanes on Main Street. Work starts in March. The project costs 2.4 million euros."}`

func errCode(t *testing.T, b []byte) string {
	t.Helper()
	var eb errorBody
	mustJSON(t, b, &eb)
	if eb.Error.Message == "" {
		t.Errorf("error body %s has no message", b)
	}
	return eb.Error.Code
}

func TestServer_StatusCodes(t *testing.T) {
	e := newEnv(t, envOpts{noStart: true, cfg: Config{MaxTaskBytes: 200, MaxBodyBytes: 1024, QueueSize: 2}})
	mine := e.create(e.user, task)
	ctx := context.Background()
	revoked, k, err := IssueKey(ctx, e.st, "gone", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	// A finished run to cancel.
	done := e.create(e.user, task)
	if resp, b := e.do("POST", "/v1/runs/"+done.ID+"/cancel", e.user, ""); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("cancel queued = %d %s", resp.StatusCode, b)
	}

	tests := []struct {
		name, method, path, key, body string
		hdr                           []string
		status                        int
		code                          string
	}{
		{"an empty task is refused", "POST", "/v1/runs", e.user, `{"task":"   "}`, nil, 400, "empty_task"},
		{"an oversized task is refused", "POST", "/v1/runs", e.user, `{"task":"` + strings.Repeat("x", 201) + `"}`, nil, 400, "task_too_long"},
		{"an unknown team is refused", "POST", "/v1/runs", e.user, `{"task":"t","team":"sports"}`, nil, 400, "unknown_team"},
		{"bad JSON is refused", "POST", "/v1/runs", e.user, `{"task":`, nil, 400, "bad_json"},
		{"an empty body is refused", "POST", "/v1/runs", e.user, ``, nil, 400, "bad_json"},
		{"unknown fields are refused", "POST", "/v1/runs", e.user, `{"task":"t","temperature":2}`, nil, 400, "bad_json"},
		{"data after the object is refused", "POST", "/v1/runs", e.user, `{"task":"t"} {"task":"u"}`, nil, 400, "bad_json"},
		{"a negative max_messages is refused", "POST", "/v1/runs", e.user, `{"task":"t","max_messages":-1}`, nil, 400, "bad_max_messages"},
		{"a negative budget is refused", "POST", "/v1/runs", e.user, `{"task":"t","budget_usd":-1}`, nil, 400, "bad_budget"},
		{"a bad status filter is refused", "GET", "/v1/runs?status=done", e.user, "", nil, 400, "bad_status"},
		{"a bad limit is refused", "GET", "/v1/runs?limit=1000", e.user, "", nil, 400, "bad_limit"},
		{"a bad cursor is refused", "GET", "/v1/runs?cursor=nonsense", e.user, "", nil, 400, "bad_cursor"},
		{"a bad Last-Event-ID is refused", "GET", "/v1/runs/" + mine.ID + "/events", e.user, "", []string{"Last-Event-ID", "x"}, 400, "bad_last_event_id"},
		{"a missing key is refused", "GET", "/v1/runs", "", "", nil, 401, "unauthorized"},
		{"an unknown key is refused", "GET", "/v1/runs", "nr_notakey", "", nil, 401, "unauthorized"},
		{"a revoked key is refused", "GET", "/v1/runs", revoked, "", nil, 401, "unauthorized"},
		{"a non-admin cannot list keys", "GET", "/v1/keys", e.user, "", nil, 403, "forbidden"},
		{"an unknown endpoint is not found", "GET", "/v1/nothing", e.user, "", nil, 404, "not_found"},
		{"an unknown run is not found", "GET", "/v1/runs/run_nope", e.user, "", nil, 404, "not_found"},
		{"another key's run is not found", "GET", "/v1/runs/" + mine.ID, e.other, "", nil, 404, "not_found"},
		{"another key's events are not found", "GET", "/v1/runs/" + mine.ID + "/events", e.other, "", nil, 404, "not_found"},
		{"another key cannot cancel", "POST", "/v1/runs/" + mine.ID + "/cancel", e.other, "", nil, 404, "not_found"},
		{"cancelling a finished run conflicts", "POST", "/v1/runs/" + done.ID + "/cancel", e.user, "", nil, 409, "run_finished"},
		{"a body over the limit is too large", "POST", "/v1/runs", e.user, `{"task":"` + strings.Repeat("x", 2000) + `"}`, nil, 413, "body_too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do(tc.method, tc.path, tc.key, tc.body, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, b, tc.status)
			}
			if got := errCode(t, b); got != tc.code {
				t.Errorf("error code = %q, want %q", got, tc.code)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}

	t.Run("a full queue answers 429 with Retry-After", func(t *testing.T) {
		// QueueSize 2 and nothing started: mine and done... done was removed on cancel, so one slot is left.
		e.create(e.user, task)
		resp, b := e.do("POST", "/v1/runs", e.user, task)
		if resp.StatusCode != http.StatusTooManyRequests || errCode(t, b) != "queue_full" {
			t.Fatalf("POST on a full queue = %d %s, want 429 queue_full", resp.StatusCode, b)
		}
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After = %q, want whole seconds", resp.Header.Get("Retry-After"))
		}
		if got := e.srv.QueueDepth(); got != 2 {
			t.Errorf("QueueDepth = %d, want 2", got)
		}
	})
	t.Run("an admin lists keys without hashes", func(t *testing.T) {
		resp, b := e.do("GET", "/v1/keys", e.admin, "")
		if resp.StatusCode != 200 {
			t.Fatalf("GET /v1/keys as admin = %d %s", resp.StatusCode, b)
		}
		if strings.Contains(string(b), HashKey(e.user)) || strings.Contains(string(b), e.user) {
			t.Error("key list leaks a hash or a secret")
		}
	})
}

func TestServer_RateLimitPerKey(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := newEnv(t, envOpts{noStart: true, cfg: Config{KeyRateLimit: 3, Now: func() time.Time { return now }}})
	for i := range 3 {
		if resp, b := e.do("GET", "/v1/runs", e.user, ""); resp.StatusCode != 200 {
			t.Fatalf("request %d = %d %s", i+1, resp.StatusCode, b)
		}
	}
	resp, b := e.do("GET", "/v1/runs", e.user, "")
	if resp.StatusCode != http.StatusTooManyRequests || errCode(t, b) != "rate_limited" {
		t.Fatalf("4th request in a minute = %d %s, want 429 rate_limited", resp.StatusCode, b)
	}
	if got := resp.Header.Get("Retry-After"); got != "20" {
		t.Errorf("Retry-After = %q, want 20 (one token per 20s)", got)
	}
	if resp, _ := e.do("GET", "/v1/runs", e.other, ""); resp.StatusCode != 200 {
		t.Errorf("another key is limited too: %d", resp.StatusCode)
	}
	now = now.Add(20 * time.Second)
	if resp, _ := e.do("GET", "/v1/runs", e.user, ""); resp.StatusCode != 200 {
		t.Errorf("after the refill = %d, want 200", resp.StatusCode)
	}
}

func TestServer_RunToArticle(t *testing.T) {
	e := newEnv(t, envOpts{})
	v := e.create(e.user, task)
	if v.Status != store.StatusQueued || v.Links["events"] != "/v1/runs/"+v.ID+"/events" || v.MaxMessages != 10 {
		t.Errorf("created run = %+v", v)
	}
	got := e.waitFinished(e.user, v.ID)
	if got.Status != store.StatusSucceeded {
		t.Fatalf("status = %s (%s, %s), want succeeded", got.Status, got.StopReason, got.Error)
	}
	if !strings.Contains(got.StopReason, "APPROVE") {
		t.Errorf("stop reason = %q, want the editor's APPROVE", got.StopReason)
	}
	if got.StopReasonKind != termination.KindVerdict {
		t.Errorf("stop_reason_kind = %q, want verdict", got.StopReasonKind)
	}
	if len(got.Messages) < 2 || got.Messages[0].Source != "News_Reporter" {
		t.Errorf("messages = %+v", got.Messages)
	}
	if got.Article == "" || !strings.Contains(got.Article, "cycle") {
		t.Errorf("article = %q", got.Article)
	}
	if got.Usage.TotalTokens() == 0 || got.Usage.Requests != len(got.Messages) {
		t.Errorf("usage = %+v for %d messages", got.Usage, len(got.Messages))
	}

	t.Run("an admin sees it, another key does not", func(t *testing.T) {
		if a := e.get(e.admin, v.ID); a.ID != v.ID {
			t.Errorf("admin GET = %+v", a)
		}
		resp, b := e.do("GET", "/v1/runs", e.other, "")
		var l RunList
		mustJSON(t, b, &l)
		if resp.StatusCode != 200 || len(l.Runs) != 0 {
			t.Errorf("other key's list = %d %+v, want empty", resp.StatusCode, l.Runs)
		}
	})
	t.Run("the same Idempotency-Key returns the same run", func(t *testing.T) {
		a := e.create(e.user, task, "Idempotency-Key", "abc")
		resp, b := e.do("POST", "/v1/runs", e.user, task, "Idempotency-Key", "abc")
		var again RunView
		mustJSON(t, b, &again)
		if resp.StatusCode != 202 || again.ID != a.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retried create = %d %s, want the run %s", resp.StatusCode, again.ID, a.ID)
		}
		e.waitFinished(e.user, a.ID)
	})
	t.Run("the list is newest first and paged", func(t *testing.T) {
		resp, b := e.do("GET", "/v1/runs?limit=1&status=succeeded", e.user, "")
		var p1 RunList
		mustJSON(t, b, &p1)
		if resp.StatusCode != 200 || len(p1.Runs) != 1 || p1.NextCursor == "" {
			t.Fatalf("page 1 = %d %s", resp.StatusCode, b)
		}
		_, b = e.do("GET", "/v1/runs?limit=1&status=succeeded&cursor="+p1.NextCursor, e.user, "")
		var p2 RunList
		mustJSON(t, b, &p2)
		if len(p2.Runs) != 1 || p2.Runs[0].ID != v.ID || p1.Runs[0].ID == v.ID {
			t.Errorf("pages = %s then %+v, want the newer run first and %s second", p1.Runs[0].ID, p2.Runs, v.ID)
		}
	})
	t.Run("counts", func(t *testing.T) {
		c := e.srv.Counts()
		if c.Succeeded != 2 || c.Running != 0 || c.Queued != 0 {
			t.Errorf("Counts = %+v", c)
		}
	})
}

func TestServer_EventsResumeWithoutGapsOrDuplicates(t *testing.T) {
	e := newEnv(t, envOpts{})
	v := e.create(e.user, `{"task":"Harbour reopens after storm repairs. Ferries resume Monday.","team":"selector"}`)
	e.waitFinished(e.user, v.ID)
	ctx := context.Background()
	all := e.events(ctx, e.user, v.ID, "")
	if len(all) < 4 {
		t.Fatalf("only %d events", len(all))
	}
	for i, ev := range all {
		if ev.ID != strconv.Itoa(i+1) || ev.Event.Seq != int64(i+1) || ev.Type != string(ev.Event.Type) {
			t.Fatalf("event %d = id %q seq %d type %q/%q, want id %d", i, ev.ID, ev.Event.Seq, ev.Type, ev.Event.Type, i+1)
		}
		if ev.Event.Type == team.EventDelta {
			t.Errorf("a replay contains a delta: deltas are not stored")
		}
	}
	for _, after := range []int{1, len(all) / 2, len(all) - 1, len(all)} {
		rest := e.events(ctx, e.user, v.ID, strconv.Itoa(after))
		var got, want []string
		for _, ev := range rest {
			got = append(got, ev.ID)
		}
		for _, ev := range all[after:] {
			want = append(want, ev.ID)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Last-Event-ID %d: ids (-want +got):\n%s", after, diff)
		}
	}
}

func TestServer_LiveStreamHasDeltasAndEveryEvent(t *testing.T) {
	e := newEnv(t, envOpts{noStart: true})
	v := e.create(e.user, task)
	e.client.holdFrom(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan []sseEvent, 1)
	go func() { got <- e.events(ctx, e.user, v.ID, "") }()
	if err := e.srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-e.client.waiting // the run is live and the stream open (it subscribes before replaying)
	e.client.release()
	evs := <-got
	var deltas int
	var seqs []int64
	for _, ev := range evs {
		if ev.Type == "delta" {
			deltas++
			if ev.ID != "" {
				t.Errorf("delta with id %q", ev.ID)
			}
			continue
		}
		seqs = append(seqs, ev.Event.Seq)
	}
	if deltas == 0 {
		t.Error("a live stream carried no deltas")
	}
	stored, err := e.st.Events(ctx, v.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, s := range stored {
		want = append(want, s.Seq)
	}
	if diff := cmp.Diff(want, seqs); diff != "" {
		t.Errorf("live durable events (-stored +streamed):\n%s", diff)
		for _, ev := range evs[max(0, len(evs)-4):] {
			t.Logf("streamed: %s %s %+v", ev.ID, ev.Type, ev.Event)
		}
		for _, ev := range stored[max(0, len(stored)-3):] {
			t.Logf("stored: %d %s %+v", ev.Seq, ev.Type, ev.Event)
		}
	}
}

func TestServer_Cancel(t *testing.T) {
	t.Run("a running run stops now and keeps its messages", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.client.holdFrom(2) // the reporter answers, the editor's call waits
		v := e.create(e.user, task)
		<-e.client.waiting
		resp, b := e.do("POST", "/v1/runs/"+v.ID+"/cancel", e.user, "")
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("cancel = %d %s", resp.StatusCode, b)
		}
		got := e.waitFinished(e.user, v.ID)
		if got.Status != store.StatusCancelled || got.StopReason != cancelReason || got.Error != "" {
			t.Errorf("after cancel: status %s, stop %q, error %q", got.Status, got.StopReason, got.Error)
		}
		if got.StopReasonKind != termination.KindCancelled {
			t.Errorf("stop_reason_kind = %q, want cancelled", got.StopReasonKind)
		}
		if len(got.Messages) != 1 || got.Article == "" {
			t.Errorf("messages = %d, article %q: want the reporter's draft kept", len(got.Messages), got.Article)
		}
		if resp, _ := e.do("POST", "/v1/runs/"+v.ID+"/cancel", e.user, ""); resp.StatusCode != http.StatusConflict {
			t.Errorf("second cancel = %d, want 409", resp.StatusCode)
		}
	})
	t.Run("a run cancelled through another instance stops after its turn", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.client.holdFrom(2)
		v := e.create(e.user, task)
		<-e.client.waiting
		// Another instance on the same database cancels it: it is not running there.
		other, err := New(Config{Store: e.st, Teams: e.srv.cfg.Teams, Logger: e.srv.log})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.cancel(context.Background(), v.ID); err != nil {
			t.Fatalf("cancel through the other instance: %v", err)
		}
		e.client.release()
		got := e.waitFinished(e.user, v.ID)
		for e.srv.Running() > 0 {
			time.Sleep(time.Millisecond)
		}
		final := e.get(e.user, v.ID)
		evs, _ := e.st.Events(context.Background(), v.ID, 0)
		var finished int
		for i, ev := range evs {
			if ev.Type == team.EventRunFinished {
				finished++
				if i != len(evs)-1 {
					t.Errorf("events after run_finished: %+v", evs[i+1:])
				}
			}
		}
		if got.Status != store.StatusCancelled || final.Status != store.StatusCancelled || finished != 1 {
			t.Errorf("status %s then %s, %d run_finished events; want cancelled and one", got.Status, final.Status, finished)
		}
	})
	t.Run("a queued run never starts", func(t *testing.T) {
		e := newEnv(t, envOpts{noStart: true})
		v := e.create(e.user, task)
		if resp, b := e.do("POST", "/v1/runs/"+v.ID+"/cancel", e.admin, ""); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("admin cancel = %d %s", resp.StatusCode, b)
		}
		if err := e.srv.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := e.waitFinished(e.user, v.ID)
		if got.Status != store.StatusCancelled || e.building.Load() != 0 || e.emu.Count() != 0 {
			t.Errorf("status %s, teams built %d, model calls %d", got.Status, e.building.Load(), e.emu.Count())
		}
	})
}

// TestServer_ResumeAfterInterruption stops a server in the middle of a
// selector run's model call, starts a new one on the same database, and checks
// that the run finishes with the same result as an uninterrupted run and
// that no completed model call was made twice.
func TestServer_ResumeAfterInterruption(t *testing.T) {
	onBothBackends(t, testResume)
}

func testResume(t *testing.T, open func(t testing.TB) store.Store) {
	const body = `{"task":"Library extends opening hours to 10pm from June. Funded by a local grant.","team":"selector"}`
	ref := newEnv(t, envOpts{})
	rv := ref.create(ref.user, body)
	want := ref.waitFinished(ref.user, rv.ID)
	if want.Status != store.StatusSucceeded {
		t.Fatalf("reference run: %s %s", want.Status, want.Error)
	}
	refCalls := ref.emu.Count()

	first := newEnv(t, envOpts{openStore: open})
	first.client.holdFrom(4) // three calls complete; the fourth hangs when the server stops
	v := first.create(first.user, body)
	<-first.client.waiting
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	first.srv.Shutdown(ctx) // the grace period ends while the call hangs
	cancel()
	mid, err := first.st.GetRun(context.Background(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mid.Status != store.StatusRunning {
		t.Fatalf("interrupted run is %s, want running (to resume)", mid.Status)
	}
	callsBefore := first.emu.Count()
	if callsBefore != 3 {
		t.Fatalf("model calls before the stop = %d, want 3", callsBefore)
	}

	second := newEnv(t, envOpts{openStore: open, emulator: first.emu})
	got := second.waitFinished(first.user, v.ID)
	if got.Status != store.StatusSucceeded {
		t.Fatalf("resumed run: %s %s", got.Status, got.Error)
	}
	if total := first.emu.Count(); total != refCalls {
		t.Errorf("model calls = %d (before %d), want %d like an uninterrupted run", total, callsBefore, refCalls)
	}
	if got.Article != want.Article {
		t.Errorf("article differs from the uninterrupted run:\n%s", cmp.Diff(want.Article, got.Article))
	}
	strip := func(v RunView) []string {
		var out []string
		for _, m := range v.Messages {
			out = append(out, m.Source+": "+m.Content)
		}
		return out
	}
	if diff := cmp.Diff(strip(want), strip(got)); diff != "" {
		t.Errorf("messages (-uninterrupted +resumed):\n%s", diff)
	}
	if got.Usage.TotalTokens() != want.Usage.TotalTokens() {
		t.Errorf("tokens = %d, want %d", got.Usage.TotalTokens(), want.Usage.TotalTokens())
	}
}

func TestServer_ShutdownLetsTheTurnFinish(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.client.holdFrom(2)
	v := e.create(e.user, task)
	<-e.client.waiting
	done := make(chan struct{})
	go func() {
		e.srv.Shutdown(context.Background()) // no deadline: waits for the turn
		close(done)
	}()
	for !e.srv.draining.Load() {
		time.Sleep(time.Millisecond)
	}
	if resp, b := e.do("POST", "/v1/runs", e.user, task); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("POST while draining = %d %s, want 503 with Retry-After", resp.StatusCode, b)
	}
	e.client.release()
	<-done
	run, err := e.st.GetRun(context.Background(), v.ID)
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := e.st.Events(context.Background(), v.ID, 0)
	var msgs int
	for _, ev := range evs {
		if ev.Type == team.EventMessage {
			msgs++
		}
		if ev.Type == team.EventRunFinished {
			t.Errorf("a drained run has run_finished stored: %+v", ev.Event)
		}
	}
	if run.Status != store.StatusRunning || msgs != 2 {
		t.Errorf("after shutdown: status %s with %d messages, want running with the editor's turn kept (2)", run.Status, msgs)
	}
}

func TestServer_SecurityHeadersAndCORS(t *testing.T) {
	e := newEnv(t, envOpts{noStart: true, cfg: Config{CORSOrigins: []string{"https://desk.example"}}})
	for _, p := range []string{"/", "/app.js", "/style.css", "/healthz", "/readyz", "/openapi.json", "/v1/runs", "/nope"} {
		resp, _ := e.do("GET", p, "", "", "Origin", "https://evil.example")
		h := resp.Header
		if h.Get("Content-Security-Policy") != contentSecurityPolicy || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: security headers missing: %v", p, h)
		}
		if h.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: CORS open to an unknown origin", p)
		}
	}
	resp, _ := e.do("OPTIONS", "/v1/runs", "", "", "Origin", "https://desk.example", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://desk.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight from a configured origin = %d %v", resp.StatusCode, resp.Header)
	}
	t.Run("the page has no inline script or style", func(t *testing.T) {
		resp, b := e.do("GET", "/", "", "")
		html := string(b)
		if resp.StatusCode != 200 || !strings.Contains(html, `<script src="/app.js"`) {
			t.Fatalf("GET / = %d", resp.StatusCode)
		}
		if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>|<style|\sstyle=|\son[a-z]+=`).MatchString(html) {
			t.Error("index.html has inline script, style or event handler attributes")
		}
	})
}

func TestServer_HealthAndReadiness(t *testing.T) {
	var modelErr error
	e := newEnv(t, envOpts{noStart: true, cfg: Config{ModelReady: func(context.Context) error { return modelErr }}})
	if resp, _ := e.do("GET", "/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("/healthz = %d", resp.StatusCode)
	}
	resp, b := e.do("GET", "/readyz", "", "")
	var r Readiness
	mustJSON(t, b, &r)
	if resp.StatusCode != 200 || !r.Ready || !r.Emulator {
		t.Errorf("/readyz = %d %s", resp.StatusCode, b)
	}
	modelErr = context.DeadlineExceeded
	if resp, b := e.do("GET", "/readyz", "", ""); resp.StatusCode != 503 || strings.Contains(string(b), "deadline") {
		t.Errorf("/readyz with the model down = %d %s, want 503 without internals", resp.StatusCode, b)
	}
	modelErr = nil
	e.st.Close()
	if resp, _ := e.do("GET", "/readyz", "", ""); resp.StatusCode != 503 {
		t.Errorf("/readyz with the store closed = %d, want 503", resp.StatusCode)
	}
}

func TestOpenAPI_CoversEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	s := &Server{}
	for _, rt := range s.routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		ops, ok := doc.Paths[path]
		if !ok {
			t.Errorf("route %q: path missing from openapi.json", rt.pattern)
			continue
		}
		if _, ok := ops[strings.ToLower(method)]; !ok {
			t.Errorf("route %q: method missing from openapi.json", rt.pattern)
		}
	}
	// Every $ref resolves.
	var all map[string]any
	_ = json.Unmarshal(openAPIDoc, &all)
	for _, ref := range regexp.MustCompile(`"\$ref":\s*"#/([^"]+)"`).FindAllStringSubmatch(string(openAPIDoc), -1) {
		var cur any = all
		for _, part := range strings.Split(ref[1], "/") {
			m, _ := cur.(map[string]any)
			cur = m[part]
		}
		if cur == nil {
			t.Errorf("unresolved $ref #/%s", ref[1])
		}
	}
}

func TestNewKey(t *testing.T) {
	a, b := NewKey(), NewKey()
	if a == b || !strings.HasPrefix(a, KeyPrefix) || len(a) != len(KeyPrefix)+32 {
		t.Errorf("NewKey = %q, %q", a, b)
	}
	if HashKey(a) == HashKey(b) || len(HashKey(a)) != 64 || strings.Contains(HashKey(a), a) {
		t.Errorf("HashKey(%q) = %q", a, HashKey(a))
	}
}

func TestServer_InstrumentSeesEveryEvent(t *testing.T) {
	var mu sync.Mutex
	seen := map[team.EventType]int{}
	var runIDs []string
	e := newEnv(t, envOpts{cfg: Config{Instrument: func(ctx context.Context, runID, kind string) (context.Context, []team.RunOption, func(Events) Events) {
		mu.Lock()
		runIDs = append(runIDs, runID+"/"+kind)
		mu.Unlock()
		return ctx, nil, func(ev Events) Events {
			return func(yield func(team.Event, error) bool) {
				for e, err := range ev {
					mu.Lock()
					seen[e.Type]++
					mu.Unlock()
					if !yield(e, err) {
						return
					}
				}
			}
		}
	}}})
	v := e.create(e.user, task)
	got := e.waitFinished(e.user, v.ID)
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{v.ID + "/roundrobin"}, runIDs); diff != "" {
		t.Errorf("Instrument calls (-want +got):\n%s", diff)
	}
	if seen[team.EventMessage] != len(got.Messages) || seen[team.EventRunFinished] != 1 || seen[team.EventDelta] == 0 {
		t.Errorf("instrumented events = %v for %d messages", seen, len(got.Messages))
	}
}

// onBothBackends runs a restart test on SQLite and on PostgreSQL: open opens
// the same database again each time it is called.
func onBothBackends(t *testing.T, test func(t *testing.T, open func(t testing.TB) store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "newsroom.db")
		test(t, func(t testing.TB) store.Store {
			st, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := testsvc.Postgres(t)
		test(t, func(t testing.TB) store.Store {
			st, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
}
