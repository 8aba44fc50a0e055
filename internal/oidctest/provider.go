package oidctest

import (
	_ "embed" // the provider's script
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/internal/proc"
	"github.com/newsroom-dev/newsroom/internal/syncbuf"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
)

// OIDCProviderVersion is the npm oidc-provider release scripts/test.sh
// installs (into the user cache) for StartProvider.
const OIDCProviderVersion = "9.13.3"

// EnvOIDCProvider names the installed oidc-provider package folder
// (scripts/test.sh sets it); unset means the user cache's.
const EnvOIDCProvider = "NEWSROOM_OIDC_PROVIDER"

//go:embed provider.mjs
var providerScript []byte

// ProviderConfig is what StartProvider's provider knows.
type ProviderConfig struct {
	// ClientID and ClientSecret are its one confidential client's; empty
	// means "newsroom" and a random secret.
	ClientID, ClientSecret string
	// Account is the subject of the one person it signs in; empty means
	// "dana".
	Account string
	// Claims are the person's claims (name, email, roles, groups, ...),
	// released at userinfo for the scopes granted: roles and groups under
	// Scope, name under profile, email under email.
	Claims map[string]any
	// Scope is the scope that releases roles and groups; empty means
	// "newsroom".
	Scope string
	// TrailingSlash makes the issuer URL end in "/".
	TrailingSlash bool
}

// Provider is a running oidc-provider.
type Provider struct {
	// Issuer is its issuer URL (http on loopback).
	Issuer                 string
	ClientID, ClientSecret string
	// Scope releases roles and groups.
	Scope string
}

// StartProvider starts npm's oidc-provider (an OpenID Certified
// implementation, independent of this project and of the Entra stand-in)
// with node on a free loopback port; it stops with t. Without node or the
// package the test is skipped, and fails with CI=true.
func StartProvider(t testing.TB, cfg ProviderConfig) *Provider {
	t.Helper()
	node, ok := testsvc.LookBinary("node")
	if !ok {
		testsvc.SkipOrFail(t, "oidc-provider: node is not installed")
	}
	dir := os.Getenv(EnvOIDCProvider)
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			testsvc.SkipOrFail(t, "oidc-provider: %v", err)
		}
		dir = filepath.Join(cache, "newsroom", "oidc-provider-"+OIDCProviderVersion, "node_modules", "oidc-provider")
	}
	if _, err := os.Stat(filepath.Join(dir, "lib", "index.js")); err != nil {
		testsvc.SkipOrFail(t, "oidc-provider is not installed at %s (scripts/test.sh installs it with npm): %v", dir, err)
	}
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{Issuer: "http://127.0.0.1:" + strconv.Itoa(port), ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Scope: cfg.Scope}
	if cfg.TrailingSlash {
		p.Issuer += "/"
	}
	if p.ClientID == "" {
		p.ClientID = "newsroom"
	}
	if p.ClientSecret == "" {
		p.ClientSecret = "secret-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if p.Scope == "" {
		p.Scope = "newsroom"
	}
	account := cfg.Account
	if account == "" {
		account = "dana"
	}
	conf, err := json.Marshal(map[string]any{"port": port, "issuer": p.Issuer, "clientId": p.ClientID, "clientSecret": p.ClientSecret,
		"scope": p.Scope, "account": account, "claims": cfg.Claims})
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "provider.mjs")
	if err := os.WriteFile(script, providerScript, 0o600); err != nil {
		t.Fatal(err)
	}
	out := &syncbuf.Buffer{}
	cmd := exec.Command(node, script)
	cmd.Env = append(os.Environ(), EnvOIDCProvider+"="+dir, "OIDC_TEST_CONFIG="+string(conf), "NODE_ENV=test")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		testsvc.SkipOrFail(t, "oidc-provider: start node: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if err := testsvc.WaitTCP("127.0.0.1:"+strconv.Itoa(port), 20*time.Second); err != nil {
		t.Fatal(fmt.Errorf("oidc-provider did not start: %w\n%s", err, out.String()))
	}
	return p
}
