package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestServer_FreeTextFieldsFollowTheTasksRules sends every string field of
// the request bodies (the task, the editor-in-chief's note, the team, the
// approval, the decision, the sources) invalid UTF-8, a NUL and a lone
// surrogate: each is refused 400 naming the field, none stored as U+FFFD. A
// note over MaxNoteBytes is refused like a task over its limit.
func TestServer_FreeTextFieldsFollowTheTasksRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noStart: true})
	run := e.create(e.user, task)
	decision := "/v1/runs/" + run.ID + "/decision"
	bad := map[string]string{"invalid UTF-8": "caf\xe9", "a NUL": `a\u0000b`, "a lone surrogate": `a\ud800b`, "a lone low surrogate": `a\udc00b`}
	want := map[string]string{"invalid UTF-8": "UTF-8", "a NUL": "NUL", "a lone surrogate": "surrogate", "a lone low surrogate": "surrogate"}
	for name, v := range bad {
		for _, tc := range []struct{ path, body, field string }{
			{"/v1/runs", `{"task":"` + v + `"}`, "task"},
			{"/v1/runs", `{"task":"t","team":"` + v + `"}`, "team"},
			{"/v1/runs", `{"task":"t","approval":"` + v + `"}`, "approval"},
			{"/v1/runs", `{"task":"t","sources":["https://example.com/` + v + `"]}`, "sources"},
			{decision, `{"decision":"revise","note":"` + v + `"}`, "note"},
			{decision, `{"decision":"` + v + `"}`, "decision"},
		} {
			t.Run(tc.field+" with "+name, func(t *testing.T) {
				resp, b := e.do("POST", tc.path, e.admin, tc.body)
				var eb errorBody
				mustJSON(t, b, &eb)
				if resp.StatusCode != 400 || eb.Error.Code != "bad_"+tc.field || eb.Error.Field != tc.field ||
					!strings.Contains(eb.Error.Message, want[name]) {
					t.Errorf("POST %s %q = %d %s, want 400 bad_%s saying %s", tc.path, tc.body, resp.StatusCode, b, tc.field, want[name])
				}
			})
		}
	}
	t.Run("a pair of surrogates is one character", func(t *testing.T) {
		v := e.create(e.user, `{"task":"Facts: a \ud83d\udcf0 newspaper."}`)
		if !strings.Contains(v.Task, "📰") {
			t.Errorf("task = %q", v.Task)
		}
	})
	t.Run("an Idempotency-Key with invalid UTF-8", func(t *testing.T) {
		resp, b := e.do("POST", "/v1/runs", e.user, task, "Idempotency-Key", "k\xff\xfe")
		if resp.StatusCode != 400 || errCode(t, b) != "bad_idempotency_key" {
			t.Errorf("an Idempotency-Key of invalid UTF-8 = %d %s, want 400 bad_idempotency_key", resp.StatusCode, b)
		}
	})
	t.Run("a long note", func(t *testing.T) {
		resp, b := e.do("POST", decision, e.admin, `{"decision":"revise","note":"`+strings.Repeat("x", MaxNoteBytes+1)+`"}`)
		if resp.StatusCode != 400 || errCode(t, b) != "note_too_long" {
			t.Errorf("a note of %d bytes = %d %s, want 400 note_too_long", MaxNoteBytes+1, resp.StatusCode, b)
		}
	})
}

// TestServer_ErrorsQuoteAShortPrefix sends 60,000-character bad values (a
// team, an approval, a status, a decision, a field name): each error is
// short, and quotes an escaped prefix, not the value.
func TestServer_ErrorsQuoteAShortPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noStart: true, cfg: Config{MaxBodyBytes: 1 << 20}})
	run := e.create(e.user, task)
	long := strings.Repeat("<script>", 7500) // 60,000 characters
	tests := []struct {
		name, method, path, body, code string
	}{
		{"team", "POST", "/v1/runs", `{"task":"t","team":"` + long + `"}`, "unknown_team"},
		{"approval", "POST", "/v1/runs", `{"task":"t","approval":"` + long + `"}`, "bad_approval"},
		{"field name", "POST", "/v1/runs", `{"task":"t","` + long + `":1}`, "bad_json"},
		{"decision", "POST", "/v1/runs/" + run.ID + "/decision", `{"decision":"` + long + `"}`, "bad_decision"},
		{"status", "GET", "/v1/runs?status=" + long, "", "bad_status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do(tc.method, tc.path, e.admin, tc.body)
			if resp.StatusCode != 400 || errCode(t, b) != tc.code {
				t.Fatalf("%s = %d %.200s, want 400 %s", tc.name, resp.StatusCode, b, tc.code)
			}
			if len(b) > 600 {
				t.Errorf("the error for a %d-character %s is %d bytes, want a short one: %.200s…", len(long), tc.name, len(b), b)
			}
			if !strings.Contains(string(b), `\u003cscript\u003e`) || !strings.Contains(string(b), "60000 bytes") {
				t.Errorf("the error %s does not quote an escaped prefix and the length", b)
			}
		})
	}
}

// TestServer_JSONRoutesRequireJSON posts a valid body under other media
// types (text/plain, a form, multipart, JSON in another charset): 415; the
// same body as application/json, with or without charset=utf-8, is taken.
func TestServer_JSONRoutesRequireJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noStart: true})
	for _, ct := range []string{"text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x", "application/json; charset=iso-8859-1", "application/jsonx", "nonsense;;", ""} {
		t.Run("as "+ct, func(t *testing.T) {
			resp, b := e.do("POST", "/v1/runs", e.user, task, "Content-Type", ct)
			if resp.StatusCode != http.StatusUnsupportedMediaType || errCode(t, b) != "unsupported_media_type" {
				t.Errorf("POST /v1/runs as %q = %d %s, want 415 unsupported_media_type", ct, resp.StatusCode, b)
			}
		})
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; charset=UTF-8"} {
		if resp, b := e.do("POST", "/v1/runs", e.user, task, "Content-Type", ct); resp.StatusCode != http.StatusAccepted {
			t.Errorf("POST /v1/runs as %q = %d %s, want 202", ct, resp.StatusCode, b)
		}
	}
	run := e.create(e.user, task)
	if resp, b := e.do("POST", "/v1/runs/"+run.ID+"/cancel", e.user, ""); resp.StatusCode != http.StatusAccepted {
		t.Errorf("a cancel without a body = %d %s, want 202", resp.StatusCode, b)
	}
}

// TestServer_PathsAndMethodsAnswerJSON asks for paths that are not canonical
// (a 400 in JSON, never an HTML redirect) and, for every route of the
// table, the methods it does not have: 405 with Allow naming the ones it
// has, in JSON.
func TestServer_PathsAndMethodsAnswerJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noStart: true, cfg: Config{Metrics: http.NotFoundHandler()}})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path string) (*http.Response, errorBody) {
		t.Helper()
		req, err := http.NewRequest(method, e.ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.user)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var eb errorBody
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s %s answered %d as %q, want JSON", method, path, resp.StatusCode, ct)
		} else if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
			t.Errorf("%s %s: the body is not JSON: %v", method, path, err)
		}
		return resp, eb
	}
	for _, p := range []string{"/v1/runs/..", "/v1/runs/../keys", "/v1//runs", "/v1/runs/./x", "/./"} {
		if resp, eb := send("GET", p); resp.StatusCode != 400 || eb.Error.Code != "bad_path" {
			t.Errorf("GET %s = %d %+v, want 400 bad_path", p, resp.StatusCode, eb.Error)
		}
	}
	methods := map[string][]string{}
	for _, rt := range e.srv.routes() {
		m, p, _ := strings.Cut(rt.pattern, " ")
		methods[p] = append(methods[p], m)
	}
	for p, has := range methods {
		if p == "/" {
			continue
		}
		path := wildcard.ReplaceAllString(p, "run_x")
		for _, m := range []string{"GET", "POST", "DELETE", "PUT"} {
			if strings.Contains(strings.Join(has, " "), m) {
				continue
			}
			resp, eb := send(m, path)
			allow := resp.Header.Get("Allow")
			if resp.StatusCode != 405 || eb.Error.Code != "method_not_allowed" {
				t.Errorf("%s %s (the route has %v) = %d %+v, want 405", m, path, has, resp.StatusCode, eb.Error)
			}
			for _, h := range has {
				if !strings.Contains(allow, h) {
					t.Errorf("%s %s: Allow = %q, want it to name %s", m, path, allow, h)
				}
			}
		}
	}
}
