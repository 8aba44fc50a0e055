package server

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/internal/oidctest"
	"github.com/newsroom-dev/newsroom/internal/syncbuf"
	"github.com/newsroom-dev/newsroom/store"
)

const testClientID = "11111111-2222-4333-8444-555555555555"

// oidcEnv is a server with sign-in against a test issuer, logging into logs.
func oidcEnv(t *testing.T, cfg Config) (*env, *oidctest.Issuer, *syncbuf.Buffer) {
	t.Helper()
	iss := oidctest.Start(t, testClientID)
	v, err := identity.New(context.Background(), identity.Config{Issuer: iss.URL(), ClientID: testClientID, HTTPClient: iss.Client(),
		RoleMap: identity.RoleMap{"grp-chiefs": identity.RoleEditorInChief}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	cfg.OIDC = &OIDCConfig{Verifier: v}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.KeyRateLimit = -1
	return newEnv(t, envOpts{cfg: cfg}), iss, logs
}

func claimsWith(c map[string]any, kv ...any) map[string]any {
	out := maps.Clone(c)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// assertNoSecret fails when logs hold any part of token.
func assertNoSecret(t *testing.T, logs, token string) {
	t.Helper()
	for part := range strings.SplitSeq(token, ".") {
		if len(part) >= 12 && strings.Contains(logs, part) {
			t.Fatalf("the logs contain part of a token or cookie value")
		}
	}
}

func TestOIDC_BearerTokensAndTheBadTokenMatrix(t *testing.T) {
	t.Parallel()
	e, iss, logs := oidcEnv(t, Config{RequireApproval: true})
	chief := claimsWith(iss.Claims("sub-chief"), "oid", "oid-chief", "name", "Carol Chief", "groups", []string{"grp-chiefs"})
	good := iss.Sign(t, chief)

	resp, b := e.do("GET", "/v1/me", good, "")
	var me MeView
	mustJSON(t, b, &me)
	if resp.StatusCode != 200 || me.ID != "oidc:oid-chief" || me.Role != "editor-in-chief" || !me.CanDecide || !me.SignIn {
		t.Fatalf("me = %d %s", resp.StatusCode, b)
	}

	now := time.Now()
	bad := map[string]string{
		"expired":          iss.Sign(t, claimsWith(chief, "exp", now.Add(-time.Hour).Unix(), "iat", now.Add(-2*time.Hour).Unix())),
		"not yet valid":    iss.Sign(t, claimsWith(chief, "nbf", now.Add(time.Hour).Unix())),
		"wrong audience":   iss.Sign(t, claimsWith(chief, "aud", "another-app")),
		"wrong issuer":     iss.Sign(t, claimsWith(chief, "iss", "https://login.example.com/other/v2.0")),
		"unknown key":      oidctest.SignRS256(t, oidctest.NewKey(t), "stranger", chief),
		"alg none":         oidctest.Unsigned(t, chief),
		"HS256 public key": oidctest.SignHS256(t, iss.PublicKeyBytes(), iss.CurrentKID(), chief),
	}
	waiting := e.create(e.user, `{"task":"Facts: A school reopened."}`)
	e.waitStatus(e.user, waiting.ID, store.StatusAwaitingApproval)
	for name, tok := range bad {
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/v1/me", ""}, {"GET", "/v1/runs", ""},
			{"POST", "/v1/runs/" + waiting.ID + "/decision", `{"decision":"approve"}`},
		} {
			resp, b := e.do(c.method, c.path, tok, c.body)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: %s %s = %d %s, want 401", name, c.method, c.path, resp.StatusCode, b)
			}
		}
	}
	if got := e.get(e.user, waiting.ID); got.Status != store.StatusAwaitingApproval || len(got.Approval.Decisions) != 0 {
		t.Fatalf("after the bad tokens the run is %s with %d decisions", got.Status, len(got.Approval.Decisions))
	}

	// A person without a role may do nothing; a reporter may not decide.
	nobody := iss.Sign(t, iss.Claims("sub-nobody"))
	if resp, b := e.do("GET", "/v1/runs", nobody, ""); resp.StatusCode != 200 {
		t.Fatalf("list as nobody = %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do("POST", "/v1/runs", nobody, `{"task":"x"}`); resp.StatusCode != 403 || !strings.Contains(string(b), "reporter") {
		t.Fatalf("submit as nobody = %d %s, want 403 naming reporter", resp.StatusCode, b)
	}
	// A person whose token left out their groups (too many) learns why.
	crowded := iss.Sign(t, claimsWith(iss.Claims("sub-crowd"), "_claim_names", map[string]any{"groups": "src1"},
		"_claim_sources", map[string]any{"src1": map[string]any{"endpoint": "https://graph.windows.net/t/users/x/getMemberObjects"}}))
	if resp, b := e.do("POST", "/v1/runs", crowded, `{"task":"x"}`); resp.StatusCode != 403 || !strings.Contains(string(b), "left out the person's groups") {
		t.Fatalf("submit with a group overage token = %d %s, want 403 saying the groups were left out", resp.StatusCode, b)
	}
	if _, b := e.do("GET", "/v1/me", crowded, ""); !strings.Contains(string(b), `"role_note":"the token left out`) {
		t.Fatalf("me with a group overage token = %s, want the role note", b)
	}
	reporter := iss.Sign(t, claimsWith(iss.Claims("sub-rep"), "roles", []string{"reporter"}))
	// 403 naming the role, the same for any run id: nothing leaks.
	for _, id := range []string{waiting.ID, "run_doesnotexist"} {
		if resp, b := e.do("POST", "/v1/runs/"+id+"/decision", reporter, `{"decision":"approve"}`); resp.StatusCode != 403 ||
			!strings.Contains(string(b), "editor-in-chief") {
			t.Fatalf("a reporter deciding on run %s = %d %s, want 403 naming editor-in-chief", id, resp.StatusCode, b)
		}
	}

	// The editor-in-chief decides; the decision names the person.
	if resp, b := e.do("POST", "/v1/runs/"+waiting.ID+"/decision", good, `{"decision":"approve"}`); resp.StatusCode != 202 {
		t.Fatalf("decision = %d %s", resp.StatusCode, b)
	}
	if d := e.get(good, waiting.ID).Approval.Decisions; len(d) != 1 || d[0].By != "oidc:oid-chief" {
		t.Fatalf("decisions %+v", d)
	}
	for _, tok := range append([]string{good, nobody, reporter}, func() []string {
		var out []string
		for _, v := range bad {
			out = append(out, v)
		}
		return out
	}()...) {
		assertNoSecret(t, logs.String(), tok)
	}
}

// signIn runs the authorization code flow as a browser would and returns
// the client holding the session cookies and the callback's cookies.
func signIn(t *testing.T, e *env, iss *oidctest.Issuer) (*http.Client, []*http.Cookie) {
	t.Helper()
	c, cookies, _ := signInAt(t, e.ts.URL, iss.Client().Transport, iss)
	return c, cookies
}

// signInAt is signIn against the service at base, through transport; it
// also returns every cookie the service set on the way.
func signInAt(t *testing.T, base string, transport http.RoundTripper, iss *oidctest.Issuer) (*http.Client, []*http.Cookie, []*http.Cookie) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := base + "/auth/login"
	var all []*http.Cookie
	for range 4 {
		resp, err := c.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if strings.HasPrefix(next, base) {
			all = append(all, resp.Cookies()...)
		}
		if strings.Contains(next, "/auth/callback") {
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("callback = %d", resp.StatusCode)
			}
			return c, resp.Cookies(), all
		}
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("GET %s = %d", next, resp.StatusCode)
		}
		loc, err := resp.Location()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(loc.String(), iss.URL()) {
			q := loc.Query()
			if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
				t.Fatalf("authorization request without PKCE, nonce or state: %s", loc.RawQuery)
			}
		}
		next = loc.String()
	}
	t.Fatal("the sign-in did not reach the callback")
	return nil, nil, nil
}

func TestOIDC_SignInSessionAndCSRF(t *testing.T) {
	t.Parallel()
	e, iss, logs := oidcEnv(t, Config{})
	iss.SetUser(map[string]any{"sub": "s-dana", "oid": "oid-dana", "name": "Dana Desk", "roles": []string{"reporter"}})
	c, cookies := signIn(t, e, iss)
	var session, csrf *http.Cookie
	for _, ck := range cookies {
		switch ck.Name {
		case sessionCookie:
			session = ck
		case csrfCookie:
			csrf = ck
		}
	}
	if session == nil || csrf == nil {
		t.Fatalf("callback cookies %v", cookies)
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure {
		t.Fatalf("session cookie HttpOnly=%v SameSite=%v Secure=%v (plain HTTP: not Secure)", session.HttpOnly, session.SameSite, session.Secure)
	}
	if csrf.HttpOnly || len(csrf.Value) < 16 {
		t.Fatal("the CSRF cookie must be readable by the page and long")
	}

	call := func(method, path, body string, hdr ...string) (int, string) {
		req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := new(bytes.Buffer)
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.String()
	}
	if code, b := call("GET", "/v1/me", ""); code != 200 || !strings.Contains(b, `"oidc:oid-dana"`) || !strings.Contains(b, `"reporter"`) {
		t.Fatalf("me with the session = %d %s", code, b)
	}
	body := `{"task":"Facts: The pool opens on Monday.","approval":"none"}`
	for _, c := range []struct {
		name string
		hdr  []string
	}{
		{"no CSRF header", nil},
		{"a wrong CSRF header", []string{CSRFHeader, strings.Repeat("x", 26)}},
		{"another site's origin", []string{CSRFHeader, csrf.Value, "Origin", "https://evil.example"}},
	} {
		if code, b := call("POST", "/v1/runs", body, c.hdr...); code != 403 || !strings.Contains(b, "csrf") {
			t.Errorf("%s: POST = %d %s, want 403 csrf", c.name, code, b)
		}
	}
	if code, b := call("POST", "/v1/runs", body, CSRFHeader, csrf.Value, "Origin", e.ts.URL); code != 202 {
		t.Fatalf("POST with the CSRF header = %d %s", code, b)
	}
	if code, _ := call("POST", "/auth/logout", "", CSRFHeader, csrf.Value); code != 204 {
		t.Fatalf("logout = %d", code)
	}
	if code, _ := call("GET", "/v1/me", ""); code != 401 {
		t.Fatalf("me after logout = %d, want 401", code)
	}
	assertNoSecret(t, logs.String(), session.Value)
	assertNoSecret(t, logs.String(), csrf.Value)

	// A callback whose state is not the one this browser started is refused.
	jar, _ := cookiejar.New(nil)
	stranger := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := stranger.Get(e.ts.URL + "/auth/callback?" + url.Values{"code": {"c"}, "state": {"forged"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("forged callback = %d, want 400", resp.StatusCode)
	}
}
