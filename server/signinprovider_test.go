package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/internal/oidctest"
)

// providerSignIn signs in through npm's oidc-provider, following every
// redirect with a cookie jar as a browser would, and returns the client
// holding the session and GET /v1/me as it answers.
func providerSignIn(t *testing.T, e *env) (*http.Client, MeView) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	resp, err := c.Get(e.ts.URL + "/auth/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/" {
		t.Fatalf("the sign-in ended at %s with %d, want the page", resp.Request.URL, resp.StatusCode)
	}
	resp, err = c.Get(e.ts.URL + "/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me MeView
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/me after signing in = %d, %v", resp.StatusCode, err)
	}
	return c, me
}

// TestOIDC_SignInWithOIDCProvider signs in through an independent,
// OpenID-certified provider (npm oidc-provider) that puts the person's
// claims at its userinfo endpoint only (the code flow's default there), with
// the issuer ending in "/", roles sent as one string, and roles released
// under a scope of its own: asked for (--oidc-scopes), the person gets the
// role from userinfo; not asked for, no role and a note saying why.
func TestOIDC_SignInWithOIDCProvider(t *testing.T) {
	t.Parallel()
	p := oidctest.StartProvider(t, oidctest.ProviderConfig{TrailingSlash: true, Account: "dana",
		Claims: map[string]any{"name": "Dana Chief", "email": "dana@example.com", "roles": "editor-in-chief"}})
	v, err := identity.New(context.Background(), identity.Config{Issuer: p.Issuer, ClientID: p.ClientID})
	if err != nil {
		t.Fatal(err)
	}
	signIn := func(scopes []string) MeView {
		e := newEnv(t, envOpts{noStart: true, cfg: Config{KeyRateLimit: -1,
			OIDC: &OIDCConfig{Verifier: v, ClientSecret: p.ClientSecret, Scopes: scopes}}})
		c, me := providerSignIn(t, e)
		// A later request of the session, on any instance, still has the role.
		e2 := newEnv(t, envOpts{noStart: true, cfg: Config{KeyRateLimit: -1,
			OIDC: &OIDCConfig{Verifier: v, ClientSecret: p.ClientSecret, Scopes: scopes}}})
		req, _ := http.NewRequest("GET", e2.ts.URL+"/v1/me", nil)
		for _, ck := range c.Jar.Cookies(req.URL) {
			req.AddCookie(ck)
		}
		for _, ck := range c.Jar.Cookies(mustURL(t, e.ts.URL)) {
			req.AddCookie(ck)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var again MeView
		if err := json.NewDecoder(resp.Body).Decode(&again); err != nil || again.Role != me.Role || again.ID != me.ID {
			t.Errorf("the session on another instance = %+v, %v; want %+v", again, err, me)
		}
		return me
	}
	me := signIn([]string{"openid", "profile", p.Scope})
	if me.ID != "oidc:dana" || me.Role != "editor-in-chief" || !me.CanDecide || me.Name != "Dana Chief" || me.RoleNote != "" {
		t.Errorf("signed in with the roles scope: %+v, want dana as editor-in-chief, named from userinfo", me)
	}
	me = signIn(nil)
	if me.ID != "oidc:dana" || me.Role != "none" || !strings.Contains(me.RoleNote, "--oidc-scopes") {
		t.Errorf("signed in without the roles scope: %+v, want no role and a note naming --oidc-scopes", me)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
