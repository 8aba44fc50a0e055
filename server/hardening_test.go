package server

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
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
