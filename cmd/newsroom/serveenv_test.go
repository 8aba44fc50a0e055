package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/internal/oidctest"
)

// TestRunServe_SignInFromTheEnvironment starts serve configured for sign-in
// only through NEWSROOM_OIDC_ISSUER and NEWSROOM_OIDC_CLIENT_ID (as the
// Azure template's app settings do): the page offers sign-in and a token of
// that issuer for that client is accepted, with its role.
func TestRunServe_SignInFromTheEnvironment(t *testing.T) {
	dir := isolate(t)
	const clientID = "22222222-3333-4444-8555-666666666666"
	iss := oidctest.StartPlain(t, clientID)
	t.Setenv("NEWSROOM_OIDC_ISSUER", iss.URL())
	t.Setenv("NEWSROOM_OIDC_CLIENT_ID", clientID)
	t.Setenv("NEWSROOM_REQUIRE_APPROVAL", "")
	srv := startServe(t, dir, "--drain-delay", "0s")

	resp, err := http.Get(srv.base + "/auth/info")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]bool
	_ = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if !info["sign_in"] {
		t.Fatalf("/auth/info = %v, want sign-in offered", info)
	}
	me := func(token string) (int, string) {
		req, _ := http.NewRequest("GET", srv.base+"/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	chief := iss.Sign(t, map[string]any{"iss": iss.URL(), "aud": clientID, "sub": "s-gil", "oid": "oid-gil", "roles": []string{"editor-in-chief"},
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	if code, b := me(chief); code != 200 || !strings.Contains(b, `"id":"oidc:oid-gil"`) || !strings.Contains(b, `"role":"editor-in-chief"`) {
		t.Fatalf("me with the issuer's token = %d %s", code, b)
	}
	other := iss.Sign(t, map[string]any{"iss": iss.URL(), "aud": "another-app", "sub": "s-gil", "roles": []string{"editor-in-chief"},
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	if code, _ := me(other); code != 401 {
		t.Fatalf("me with a token for another client = %d, want 401", code)
	}
}

// TestRunServe_SignInEnvironmentErrors checks that a half-configured or
// unreachable issuer from the environment stops serve with the usual exit
// codes (2 for usage and configuration), naming what is wrong.
func TestRunServe_SignInEnvironmentErrors(t *testing.T) {
	isolate(t)
	t.Setenv("NEWSROOM_OIDC_ISSUER", "http://127.0.0.1:1/tenant/v2.0")
	t.Setenv("NEWSROOM_OIDC_CLIENT_ID", "")
	err := runServe(context.Background(), []string{"--addr", "127.0.0.1:0", "--no-cache"}, io.Discard, io.Discard)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "go together") {
		t.Errorf("serve with only NEWSROOM_OIDC_ISSUER = %v, want a usage error", err)
	}
	t.Setenv("NEWSROOM_OIDC_CLIENT_ID", "33333333-4444-4555-8666-777777777777")
	err = runServe(context.Background(), []string{"--addr", "127.0.0.1:0", "--no-cache"}, io.Discard, io.Discard)
	if !errors.Is(err, errConfig) || !strings.Contains(err.Error(), "http://127.0.0.1:1/tenant/v2.0") {
		t.Errorf("serve with an unreachable issuer = %v, want a configuration error naming it", err)
	}
}

// TestRunServe_RequireApprovalFromTheEnvironment starts serve with
// NEWSROOM_REQUIRE_APPROVAL=true: a run that does not ask otherwise waits
// for a decision.
func TestRunServe_RequireApprovalFromTheEnvironment(t *testing.T) {
	dir := isolate(t)
	t.Setenv("NEWSROOM_OIDC_ISSUER", "")
	t.Setenv("NEWSROOM_OIDC_CLIENT_ID", "")
	t.Setenv("NEWSROOM_REQUIRE_APPROVAL", "true")
	srv := startServe(t, dir, "--drain-delay", "0s")
	resp := srv.do(t, "POST", "/v1/runs", `{"task":"Facts: The market reopens on Friday."}`)
	var run map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	id, _ := run["id"].(string)
	if resp.StatusCode != http.StatusAccepted || id == "" {
		t.Fatalf("POST /v1/runs = %d %v", resp.StatusCode, run)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp := srv.do(t, "GET", "/v1/runs/"+id, "")
		var got struct {
			Status   string `json:"status"`
			Approval *struct {
				Required bool `json:"required"`
			} `json:"approval"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if got.Status == "awaiting_approval" {
			if got.Approval == nil || !got.Approval.Required {
				t.Fatalf("waiting run without approval.required: %+v", got)
			}
			return
		}
		if got.Status == "succeeded" || got.Status == "failed" || time.Now().After(deadline) {
			t.Fatalf("run is %s, want awaiting_approval (NEWSROOM_REQUIRE_APPROVAL=true)", got.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunServe_OIDCScopesAndAnInsecureIssuer asks serve for the scopes of
// NEWSROOM_OIDC_SCOPES (the sign-in's authorization request carries them,
// openid first), and refuses at start an issuer over plain http that is not
// on loopback, before any request.
func TestRunServe_OIDCScopesAndAnInsecureIssuer(t *testing.T) {
	dir := isolate(t)
	const clientID = "44444444-5555-4666-8777-888888888888"
	iss := oidctest.StartPlain(t, clientID)
	t.Setenv("NEWSROOM_OIDC_ISSUER", iss.URL())
	t.Setenv("NEWSROOM_OIDC_CLIENT_ID", clientID)
	t.Setenv("NEWSROOM_OIDC_SCOPES", "profile,groups")
	srv := startServe(t, dir, "--drain-delay", "0s")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(srv.base + "/auth/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("/auth/login = %d without a Location: %v", resp.StatusCode, err)
	}
	if got := loc.Query().Get("scope"); got != "openid profile groups" {
		t.Errorf("the authorization request asks for scope %q, want \"openid profile groups\"", got)
	}

	t.Setenv("NEWSROOM_OIDC_SCOPES", "")
	t.Setenv("NEWSROOM_OIDC_ISSUER", "http://login.example.com/tenant/v2.0")
	err = runServe(context.Background(), []string{"--addr", "127.0.0.1:0", "--no-cache"}, io.Discard, io.Discard)
	if !errors.Is(err, errConfig) || !strings.Contains(err.Error(), "https") {
		t.Errorf("serve with a plain-http issuer off loopback = %v, want a configuration error asking for https", err)
	}
}
