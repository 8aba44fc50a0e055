package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/internal/syncbuf"
	"github.com/newsroom-dev/newsroom/team"
)

// TestServer_ErrorsAreJSON checks the answers no handler of ours writes
// (unknown paths, wrong methods, a missing asset) and the bodies clients get
// wrong: each is a JSON error with a code, and no message names a Go type.
func TestServer_ErrorsAreJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noStart: true})
	tests := []struct {
		name, method, path, key, body string
		status                        int
		code                          string
		inMessage                     string
	}{
		{"an unknown API path", "GET", "/v1/nothing", e.user, "", 404, "not_found", ""},
		{"an unknown page", "GET", "/nope.html", "", "", 404, "not_found", ""},
		{"a wrong method on the API", "DELETE", "/v1/runs", e.user, "", 405, "method_not_allowed", "allowed: GET"},
		{"a wrong method on the page", "POST", "/", "", "", 405, "method_not_allowed", ""},
		{"a field with another case", "POST", "/v1/runs", e.user, `{"Task":"t"}`, 400, "bad_json", `unknown field "Task"`},
		{"an unknown field names the known ones", "POST", "/v1/runs", e.user, `{"task":"t","temperature":2}`, 400, "bad_json", "task, team, max_messages, budget_usd"},
		{"a field of the wrong type", "POST", "/v1/runs", e.user, `{"task":"t","max_messages":"ten"}`, 400, "bad_json", `"max_messages" must be a whole number, not a JSON string`},
		{"a body that is not an object", "POST", "/v1/runs", e.user, `["task"]`, 400, "bad_json", "must be a JSON object"},
		{"a null body", "POST", "/v1/runs", e.user, `null`, 400, "bad_json", "must be a JSON object"},
		{"a syntax error", "POST", "/v1/runs", e.user, `{"task" "t"}`, 400, "bad_json", "not valid JSON"},
		{"a task with invalid UTF-8", "POST", "/v1/runs", e.user, "{\"task\":\"caf\xe9 opens\"}", 400, "bad_task", "UTF-8"},
		{"a task with a NUL", "POST", "/v1/runs", e.user, `{"task":"a\u0000b"}`, 400, "bad_task", "NUL"},
		{"a task with a lone surrogate", "POST", "/v1/runs", e.user, `{"task":"a\ud800b"}`, 400, "bad_task", "surrogate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do(tc.method, tc.path, tc.key, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, b, tc.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			var eb errorBody
			if err := json.Unmarshal(b, &eb); err != nil {
				t.Fatalf("body %q is not JSON: %v", b, err)
			}
			if eb.Error.Code != tc.code || !strings.Contains(eb.Error.Message, tc.inMessage) {
				t.Errorf("error = %+v, want code %q with %q in the message", eb.Error, tc.code, tc.inMessage)
			}
			for _, goName := range []string{"Go ", "struct", "CreateRunRequest", " int", "float64", "json:"} {
				if strings.Contains(eb.Error.Message, goName) {
					t.Errorf("message %q names Go internals (%q)", eb.Error.Message, goName)
				}
			}
		})
	}
	t.Run("a replacement character written by the client is kept", func(t *testing.T) {
		v := e.create(e.user, `{"task":"caf\ufffd opens \ufffd"}`)
		if !strings.Contains(v.Task, "\ufffd") {
			t.Errorf("task = %q", v.Task)
		}
	})
}

// TestServer_NetHTTPErrorsAreJSON sends requests net/http refuses before any
// handler runs; through Server.Listener they are JSON errors too.
func TestServer_NetHTTPErrorsAreJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noStart: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := e.srv.HTTPServer("")
	go func() { _ = hs.Serve(e.srv.Listener(ln)) }()
	t.Cleanup(func() { _ = hs.Close() })

	tests := []struct {
		name, request string
		status        int
		code          string
	}{
		{"a malformed header", "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, "bad_request"},
		{"a missing Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, "bad_request"},
		{"headers too large", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 40<<10) + "\r\n\r\n", 431, "headers_too_large"},
		{"an unsupported transfer encoding", "POST /v1/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write([]byte(tc.request)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var eb errorBody
			if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
				t.Fatalf("%d response is not JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tc.status || eb.Error.Code != tc.code || eb.Error.Message == "" {
				t.Errorf("got %d %+v, want %d %s", resp.StatusCode, eb.Error, tc.status, tc.code)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
	t.Run("an ordinary request passes through", func(t *testing.T) {
		resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("/healthz = %d", resp.StatusCode)
		}
	})
}

func TestServer_IdempotencyKeyReusedWithAnotherBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noStart: true})
	first := e.create(e.user, `{"task":"Council votes on the budget"}`, "Idempotency-Key", "k-1")
	resp, b := e.do("POST", "/v1/runs", e.user, `{"task":"Council votes on the budget"}`, "Idempotency-Key", "k-1")
	var again RunView
	mustJSON(t, b, &again)
	if resp.StatusCode != http.StatusAccepted || again.ID != first.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("same key, same body = %d %s, want the first run replayed", resp.StatusCode, b)
	}
	for _, body := range []string{
		`{"task":"Council votes on the zoo"}`,
		`{"task":"Council votes on the budget","team":"selector"}`,
		`{"task":"Council votes on the budget","max_messages":3}`,
		`{"task":"Council votes on the budget","budget_usd":0.5}`,
	} {
		resp, b := e.do("POST", "/v1/runs", e.user, body, "Idempotency-Key", "k-1")
		if resp.StatusCode != http.StatusUnprocessableEntity || errCode(t, b) != "idempotency_key_reused" {
			t.Errorf("same key, body %s = %d %s, want 422 idempotency_key_reused", body, resp.StatusCode, b)
		}
	}
}

// TestServer_DeletedDatabaseIsNoticed deletes the SQLite file under a
// serving instance: /readyz answers 503 naming the store, and new runs are
// refused instead of being written into an unlinked file.
func TestServer_DeletedDatabaseIsNoticed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noStart: true})
	if resp, b := e.do("GET", "/readyz", "", ""); resp.StatusCode != 200 {
		t.Fatalf("/readyz before = %d %s", resp.StatusCode, b)
	}
	e.create(e.user, task)
	if err := os.Remove(e.dbPath); err != nil {
		t.Fatal(err)
	}
	resp, b := e.do("GET", "/readyz", "", "")
	var r Readiness
	mustJSON(t, b, &r)
	if resp.StatusCode != 503 || r.Ready || r.Checks["store"] == "ok" || r.Checks["model"] == "" {
		t.Errorf("/readyz with the file deleted = %d %s, want 503 naming the store", resp.StatusCode, b)
	}
	if got := resp.Header.Get("X-Failing-Checks"); got != "store" {
		t.Errorf("X-Failing-Checks = %q, want store", got)
	}
	resp, b = e.do("POST", "/v1/runs", e.user, task)
	if resp.StatusCode != 503 || errCode(t, b) != "store_unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("POST with the file deleted = %d %s, want 503 store_unavailable with Retry-After", resp.StatusCode, b)
	}
}

func TestServer_Metrics(t *testing.T) {
	t.Parallel()
	exposition := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("newsroom_runs_started_total 3\n"))
	})
	private := newEnv(t, envOpts{noStart: true, cfg: Config{Metrics: exposition, MetricsKey: "scrape-secret"}})
	public := newEnv(t, envOpts{noStart: true, cfg: Config{Metrics: exposition, MetricsPublic: true}})
	tests := []struct {
		name   string
		e      *env
		key    string
		status int
	}{
		{"no key is refused", private, "", 401},
		{"a wrong key is refused", private, "nr_wrong", 401},
		{"a user key is forbidden", private, private.user, 403},
		{"an admin key reads", private, private.admin, 200},
		{"the metrics key reads", private, "scrape-secret", 200},
		{"public metrics need no key", public, "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := tc.e.do("GET", "/metrics", tc.key, "")
			if resp.StatusCode != tc.status {
				t.Fatalf("GET /metrics = %d %s, want %d", resp.StatusCode, b, tc.status)
			}
			if tc.status == 200 && !strings.Contains(string(b), "newsroom_runs_started_total 3") {
				t.Errorf("body = %s", b)
			}
			if tc.status != 200 {
				errCode(t, b)
			}
			if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("security headers missing: %v", resp.Header)
			}
		})
	}
	if resp, b := newEnv(t, envOpts{noStart: true}).do("GET", "/metrics", "", ""); resp.StatusCode != 404 {
		t.Errorf("/metrics without a Metrics handler = %d %s, want 404", resp.StatusCode, b)
	}
}

func TestServer_FailedAuthIsRateLimitedPerAddress(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, envOpts{noStart: true, cfg: Config{AuthFailureRate: 1, AuthFailureBurst: 3, ClientIPHeader: "X-Forwarded-For", Now: clock}})
	from := func(addr string) []string { return []string{"X-Forwarded-For", "203.0.113.9, " + addr} }
	for i := range 3 {
		if resp, b := e.do("GET", "/v1/runs", "nr_bad"+strconv.Itoa(i), "", from("198.51.100.1")...); resp.StatusCode != 401 {
			t.Fatalf("bad key %d = %d %s, want 401", i, resp.StatusCode, b)
		}
	}
	if resp, _ := e.do("GET", "/v1/runs", "", "", from("198.51.100.1")...); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("no key after the burst = %d, want 429 with Retry-After", resp.StatusCode)
	}
	for range 20 {
		resp, b := e.do("GET", "/v1/runs", "nr_flood", "", from("198.51.100.1")...)
		if resp.StatusCode != 429 || errCode(t, b) != "rate_limited" {
			t.Fatalf("flood = %d %s, want 429 rate_limited", resp.StatusCode, b)
		}
	}
	if resp, b := e.do("GET", "/v1/runs", e.user, "", from("198.51.100.2")...); resp.StatusCode != 200 {
		t.Errorf("another address = %d %s, want 200", resp.StatusCode, b)
	}
	if resp, b := e.do("GET", "/v1/runs", e.user, "", from("198.51.100.1")...); resp.StatusCode != 200 {
		t.Errorf("a good key from the flooding address = %d %s, want 200", resp.StatusCode, b)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if resp, b := e.do("GET", "/v1/runs", "nr_bad", "", from("198.51.100.1")...); resp.StatusCode != 401 {
		t.Errorf("a bad key after the bucket refilled = %d %s, want 401", resp.StatusCode, b)
	}
}

// TestServer_RevokedKeyEndsItsStreams follows a running run, revokes the
// key, and expects the stream to end without run_finished while the run goes on.
func TestServer_RevokedKeyEndsItsStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.client.holdFrom(1)
	secret, k, err := IssueKey(context.Background(), e.st, "leaving", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v := e.create(secret, task)
	<-e.client.waiting
	ended := make(chan []sseEvent, 1)
	opened := make(chan struct{})
	go func() {
		req, _ := http.NewRequest("GET", e.ts.URL+"/v1/runs/"+v.ID+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			ended <- nil
			return
		}
		defer resp.Body.Close()
		close(opened)
		ended <- readSSE(t, resp.Body)
	}()
	<-opened
	if err := e.st.RevokeKey(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case evs := <-ended:
		for _, ev := range evs {
			if ev.Type == string(team.EventRunFinished) {
				t.Errorf("the stream ended with run_finished; want it cut by the revocation")
			}
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stream of a revoked key is still open")
	}
	e.client.release()
}

// TestServer_DrainingAnswersButTakesNoWork: during the grace period the
// listener still answers; new work is 503 shutting_down, /readyz is 503,
// and open streams end with a reconnect hint.
func TestServer_DrainingAnswersButTakesNoWork(t *testing.T) {
	t.Parallel()
	logs := &syncbuf.Buffer{}
	e := newEnv(t, envOpts{cfg: Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))}})
	e.client.holdFrom(1)
	v := e.create(e.user, task)
	<-e.client.waiting
	streamDone := make(chan string, 1)
	opened := make(chan struct{})
	go func() {
		req, _ := http.NewRequest("GET", e.ts.URL+"/v1/runs/"+v.ID+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+e.user)
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			streamDone <- ""
			return
		}
		defer resp.Body.Close()
		close(opened)
		b, _ := io.ReadAll(resp.Body)
		streamDone <- string(b)
	}()
	<-opened
	shut := make(chan struct{})
	go func() { e.srv.Shutdown(context.Background()); close(shut) }()
	if body := <-streamDone; !strings.Contains(body, "retry: ") {
		t.Errorf("the open stream ended without a reconnect hint: %q", body)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/runs", task},
		{"GET", "/v1/runs/" + v.ID + "/events", ""},
	} {
		resp, b := e.do(c.method, c.path, e.user, c.body)
		if resp.StatusCode != 503 || errCode(t, b) != "shutting_down" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s while draining = %d %s, want 503 shutting_down with Retry-After", c.method, c.path, resp.StatusCode, b)
		}
	}
	if resp, b := e.do("GET", "/readyz", "", ""); resp.StatusCode != 503 || !strings.Contains(string(b), "shutting down") {
		t.Errorf("/readyz while draining = %d %s", resp.StatusCode, b)
	}
	if resp, _ := e.do("GET", "/v1/runs/"+v.ID, e.user, ""); resp.StatusCode != 200 {
		t.Errorf("reading a run while draining = %d, want 200", resp.StatusCode)
	}
	e.client.release()
	<-shut
	// A planned shutdown's refusals are not failures: no ERROR line for them.
	if strings.Contains(logs.String(), "shutting_down") || strings.Contains(logs.String(), `"level":"ERROR","msg":"request failed"`) {
		t.Errorf("the refusals while draining were logged as failures:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "request refused while shutting down") {
		t.Errorf("the refusals while draining were not logged at all")
	}
}
