package server

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestOIDC_SignInWithManyGroups signs in, through the whole flow, a person
// whose ID token lists 150 groups (about 8 KB, as Entra ID sends for people
// in many groups): every cookie of the session must fit the 4 KB a browser
// keeps, the session must work, and signing out must clear all of it.
func TestOIDC_SignInWithManyGroups(t *testing.T) {
	t.Parallel()
	e, iss, logs := oidcEnv(t, Config{})
	groups := []string{"grp-chiefs"}
	for i := range 149 {
		groups = append(groups, fmt.Sprintf("%08x-aaaa-4bbb-8ccc-%012d", i, i))
	}
	iss.SetUser(map[string]any{"sub": "s-erin", "oid": "oid-erin", "name": "Erin Many", "groups": groups})
	c, cookies := signIn(t, e, iss)

	var parts, csrf []*http.Cookie
	for _, ck := range cookies {
		if len(ck.Name)+len(ck.Value) >= 4000 {
			t.Errorf("cookie %s is %d bytes: a browser drops a cookie over 4096", ck.Name, len(ck.Name)+len(ck.Value))
		}
		switch {
		case strings.HasPrefix(ck.Name, sessionCookie) && ck.MaxAge > 0:
			parts = append(parts, ck)
		case ck.Name == csrfCookie:
			csrf = append(csrf, ck)
		}
	}
	if len(parts) < 2 || len(csrf) != 1 {
		t.Fatalf("callback set %d session cookies and %d CSRF cookies; want the token split across several", len(parts), len(csrf))
	}
	for _, ck := range parts {
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
			t.Errorf("session cookie %s: HttpOnly=%v SameSite=%v Path=%q", ck.Name, ck.HttpOnly, ck.SameSite, ck.Path)
		}
	}

	call := func(method, path string, hdr ...string) (*http.Response, string) {
		req, _ := http.NewRequest(method, e.ts.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	// The group mapped to editor-in-chief is deep in the token: the whole
	// token came back together.
	if resp, b := call("GET", "/v1/me"); resp.StatusCode != 200 || !strings.Contains(b, `"role":"editor-in-chief"`) {
		t.Fatalf("me with the split session = %d %s", resp.StatusCode, b)
	}

	resp, _ := call("POST", "/auth/logout", CSRFHeader, csrf[0].Value)
	if resp.StatusCode != 204 {
		t.Fatalf("logout = %d", resp.StatusCode)
	}
	cleared := map[string]bool{}
	for _, ck := range resp.Cookies() {
		if ck.MaxAge < 0 {
			cleared[ck.Name] = true
		}
	}
	for _, ck := range parts {
		if !cleared[ck.Name] {
			t.Errorf("logout left session cookie %s", ck.Name)
		}
	}
	if resp, _ := call("GET", "/v1/me"); resp.StatusCode != 401 {
		t.Fatalf("me after logout = %d, want 401", resp.StatusCode)
	}
	for _, ck := range parts {
		assertNoSecret(t, logs.String(), ck.Value)
	}
}

// TestReadSession_RefusesAnIncompleteSession checks that a session with a
// part missing (a browser that dropped one) is no session, not a
// truncated token.
func TestReadSession_RefusesAnIncompleteSession(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		cookies map[string]string
		want    string
		ok      bool
	}{
		{"one part", map[string]string{sessionCookie: "1.abc.def.ghi"}, "abc.def.ghi", true},
		{"three parts", map[string]string{sessionCookie: "3.ab", sessionCookie + "_1": "cd", sessionCookie + "_2": "ef"}, "abcdef", true},
		{"a part missing", map[string]string{sessionCookie: "3.ab", sessionCookie + "_2": "ef"}, "", false},
		{"no count", map[string]string{sessionCookie: "abc"}, "", false},
		{"too many parts", map[string]string{sessionCookie: "99.ab"}, "", false},
		{"no session", nil, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			for n, v := range c.cookies {
				r.AddCookie(&http.Cookie{Name: n, Value: v})
			}
			got, ok := readSession(r)
			if got != c.want || ok != c.ok {
				t.Errorf("readSession = %q %v, want %q %v", got, ok, c.want, c.ok)
			}
		})
	}
}

// tlsProxy is a TLS-terminating proxy in front of the service, as App
// Service's front end is: the browser speaks https to host, the service
// gets plain HTTP with X-Forwarded-Proto: https.
type tlsProxy struct {
	next http.RoundTripper
	host string
}

func (p tlsProxy) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" || r.URL.Host != p.host {
		return p.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.URL.Scheme = "http"
	r.Header.Set("X-Forwarded-Proto", "https")
	return p.next.RoundTrip(r)
}

// TestOIDC_CookiesAreSecureBehindTLS signs in through a TLS-terminating
// proxy: the login, session and CSRF cookies must all be Secure, and the
// session must work over https.
func TestOIDC_CookiesAreSecureBehindTLS(t *testing.T) {
	t.Parallel()
	e, iss, _ := oidcEnv(t, Config{})
	iss.SetUser(map[string]any{"sub": "s-fay", "oid": "oid-fay", "name": "Fay Secure", "roles": []string{"reporter"}})
	host := strings.TrimPrefix(e.ts.URL, "http://")
	c, _, all := signInAt(t, "https://"+host, tlsProxy{next: iss.Client().Transport, host: host}, iss)
	seen := map[string]bool{}
	for _, ck := range all {
		if strings.HasPrefix(ck.Name, "newsroom_") {
			seen[strings.TrimRight(ck.Name, "_0123456789")] = true
			if !ck.Secure {
				t.Errorf("cookie %s (max-age %d) is not Secure behind TLS", ck.Name, ck.MaxAge)
			}
		}
	}
	for _, name := range []string{loginCookie, sessionCookie, csrfCookie} {
		if !seen[name] {
			t.Errorf("the sign-in set no %s cookie (saw %v)", name, seen)
		}
	}
	resp, err := c.Get("https://" + host + "/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("me over https with the Secure session = %d", resp.StatusCode)
	}
}
