package keyvault_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/keyvault"
)

const (
	testToken = "test-access-token"
	tenant    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

// vault is a loopback Key Vault speaking the get-secret protocol: a 401
// bearer challenge for a request without a token, then the secret as JSON.
type vault struct {
	srv      *httptest.Server
	resource string // the challenge's resource

	mu       sync.Mutex
	secrets  map[string]string // "name/version" and "name/" (latest)
	gets     map[string]int    // authorized GETs by path
	noAuth   int               // requests answered with the challenge
	versions []string          // api-version query values seen
}

func newVault(t *testing.T, resource string) *vault {
	v := &vault{resource: resource, gets: map[string]int{}, secrets: map[string]string{
		"openai-key/": "sk-latest-value",
		"openai-key/0123456789abcdef0123456789abcdef": "sk-old-value",
		"db-password/": "pg-value",
	}}
	v.srv = httptest.NewTLSServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.srv.Close)
	return v
}

func (v *vault) serve(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.versions = append(v.versions, r.URL.Query().Get("api-version"))
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		v.noAuth++
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/`+tenant+`", resource="`+v.resource+`"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/secrets/")
	if r.Method != http.MethodGet || !ok {
		http.Error(w, `{"error":{"code":"BadParameter","message":"unsupported"}}`, http.StatusBadRequest)
		return
	}
	if !strings.Contains(rest, "/") {
		rest += "/"
	}
	v.gets[rest]++
	name, _, _ := strings.Cut(rest, "/")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if name == "forbidden" {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.","innererror":{"code":"ForbiddenByRbac"}}}`))
		return
	}
	value, ok := v.secrets[rest]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"SecretNotFound","message":"A secret with (name/id) ` + name + ` was not found in this key vault."}}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"value":      value,
		"id":         "https://" + r.Host + "/secrets/" + rest,
		"attributes": map[string]any{"enabled": true, "created": 1764000000, "updated": 1764000000, "recoveryLevel": "Recoverable+Purgeable"},
	})
}

func (v *vault) count(path string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.gets[path]
}

// credential is a fake azcore.TokenCredential that records what it was asked for.
type credential struct {
	mu     sync.Mutex
	scopes []string
	tenant string
	err    error
}

func (c *credential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, o.Scopes...)
	c.tenant = o.TenantID
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: testToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// directResolver maps every vault name to the test server's URL; the host is
// 127.0.0.1, so the challenge resource cannot match it.
func directResolver(v *vault, cred azcore.TokenCredential, verify bool) *keyvault.Resolver {
	return keyvault.NewResolver(cred, keyvault.Options{
		VaultURL: func(string) string { return v.srv.URL },
		ClientOptions: &azsecrets.ClientOptions{
			ClientOptions:                        azcore.ClientOptions{Transport: v.srv.Client()},
			DisableChallengeResourceVerification: !verify,
		},
	})
}

// dnsResolver keeps real vault host names under the suffix "vault.test" and
// dials every one of them to the test server, trusting its certificate.
func dnsResolver(v *vault, cred azcore.TokenCredential) *keyvault.Resolver {
	pool := x509.NewCertPool()
	pool.AddCert(v.srv.Certificate())
	addr := v.srv.Listener.Addr().String()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		// httptest's certificate is issued to example.com.
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com", MinVersion: tls.VersionTLS12},
	}
	return keyvault.NewResolver(cred, keyvault.Options{
		DNSSuffix:     "vault.test",
		ClientOptions: &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: &http.Client{Transport: tr}}},
	})
}

func TestResolver_Resolve(t *testing.T) {
	v := newVault(t, "https://vault.test")
	cred := &credential{}
	r := dnsResolver(v, cred)
	tests := []struct {
		ref, want string
	}{
		{"keyvault://newsroom-kv/openai-key", "sk-latest-value"},
		{"keyvault://newsroom-kv/openai-key/0123456789abcdef0123456789abcdef", "sk-old-value"},
		{"@Microsoft.KeyVault(SecretUri=https://newsroom-kv.vault.test/secrets/db-password/)", "pg-value"},
		{"@Microsoft.KeyVault(SecretUri=https://newsroom-kv.vault.test/secrets/openai-key/0123456789abcdef0123456789abcdef)", "sk-old-value"},
		{"@Microsoft.KeyVault(VaultName=newsroom-kv;SecretName=openai-key)", "sk-latest-value"},
		{"@Microsoft.KeyVault(VaultName=newsroom-kv;SecretName=openai-key;SecretVersion=0123456789abcdef0123456789abcdef)", "sk-old-value"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			if !keyvault.IsReference(tt.ref) {
				t.Errorf("IsReference(%q) = false", tt.ref)
			}
			got, err := r.Resolve(context.Background(), tt.ref)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got != tt.want {
				t.Errorf("Resolve = %q, want %q", got, tt.want)
			}
		})
	}
	if v.noAuth == 0 {
		t.Error("the client never met the bearer challenge")
	}
	if cred.tenant != tenant || len(cred.scopes) == 0 || cred.scopes[0] != "https://vault.test/.default" {
		t.Errorf("token asked for scopes %v tenant %q, want the challenge's resource and tenant", cred.scopes, cred.tenant)
	}
	for _, av := range v.versions {
		if av == "" {
			t.Error("a request without api-version")
		}
	}
	if n := v.count("openai-key/"); n != 1 {
		t.Errorf("latest openai-key fetched %d times, want 1 (cached)", n)
	}
	if n := v.count("openai-key/0123456789abcdef0123456789abcdef"); n != 1 {
		t.Errorf("versioned openai-key fetched %d times, want 1 (cached)", n)
	}
}

func TestResolver_VaultURLOverride(t *testing.T) {
	v := newVault(t, "https://vault.azure.net")
	got, err := directResolver(v, &credential{}, false).Resolve(context.Background(), "keyvault://newsroom-kv/db-password")
	if err != nil || got != "pg-value" {
		t.Fatalf("Resolve = %q, %v; want pg-value", got, err)
	}
}

func TestResolver_ChallengeResourceMustMatchTheVault(t *testing.T) {
	v := newVault(t, "https://vault.azure.net")
	cred := &credential{}
	_, err := directResolver(v, cred, true).Resolve(context.Background(), "keyvault://newsroom-kv/db-password")
	if !errors.Is(err, keyvault.ErrResolve) {
		t.Fatalf("err = %v, want ErrResolve", err)
	}
	if len(cred.scopes) != 0 || v.count("db-password/") != 0 {
		t.Error("a token was requested or sent for a vault whose challenge did not match")
	}
}

func TestResolver_Errors(t *testing.T) {
	v := newVault(t, "https://vault.test")
	tests := []struct {
		name    string
		cred    *credential
		ref     string
		want    error
		wantMsg string
	}{
		{"a missing secret", &credential{}, "keyvault://newsroom-kv/nope", keyvault.ErrNotFound, "keyvault://newsroom-kv.vault.test/nope: HTTP 404 SecretNotFound"},
		{"a forbidden secret", &credential{}, "keyvault://newsroom-kv/forbidden", keyvault.ErrAccessDenied, "HTTP 403 Forbidden"},
		{"a failing credential", &credential{err: errors.New("azidentity: no managed identity endpoint")}, "keyvault://newsroom-kv/db-password", keyvault.ErrResolve, "no managed identity endpoint"},
		{"a malformed reference", &credential{}, "keyvault://newsroom-kv", keyvault.ErrInvalidReference, "want keyvault://VAULT/SECRET"},
		{"a bad secret name", &credential{}, "keyvault://newsroom-kv/bad_name", keyvault.ErrInvalidReference, `secret name "bad_name"`},
		{"a SecretUri outside the vault domain", &credential{}, "@Microsoft.KeyVault(SecretUri=https://evil.example.com/secrets/x)", keyvault.ErrInvalidReference, "not a vault under vault.test"},
		{"an http SecretUri", &credential{}, "@Microsoft.KeyVault(SecretUri=http://kv.vault.test/secrets/x)", keyvault.ErrInvalidReference, "https"},
		{"App Service form without a secret name", &credential{}, "@Microsoft.KeyVault(VaultName=kv)", keyvault.ErrInvalidReference, "SecretName"},
		{"a plain value", &credential{}, "sk-plain-secret-value", keyvault.ErrNotReference, "not shown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dnsResolver(v, tt.cred).Resolve(context.Background(), tt.ref)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message %q lacks %q", msg, tt.wantMsg)
			}
			for _, secret := range []string{"sk-latest-value", "pg-value", "sk-plain-secret-value", testToken} {
				if strings.Contains(msg, secret) {
					t.Errorf("message leaks %q: %s", secret, msg)
				}
			}
		})
	}
}

func TestResolver_NoCredential(t *testing.T) {
	_, err := keyvault.NewResolver(nil, keyvault.Options{}).Resolve(context.Background(), "keyvault://kv1/x")
	if !errors.Is(err, keyvault.ErrNoCredential) {
		t.Fatalf("err = %v, want ErrNoCredential", err)
	}
}

func TestResolver_Parse(t *testing.T) {
	r := keyvault.NewResolver(nil, keyvault.Options{})
	tests := []struct {
		ref  string
		want keyvault.Reference
	}{
		{"keyvault://MyVault/openai-key", keyvault.Reference{VaultURL: "https://myvault.vault.azure.net", Name: "openai-key"}},
		{" keyvault://kv1/s/abc123 ", keyvault.Reference{VaultURL: "https://kv1.vault.azure.net", Name: "s", Version: "abc123"}},
		{"keyvault://kv1.vault.azure.net/s", keyvault.Reference{VaultURL: "https://kv1.vault.azure.net", Name: "s"}},
		{"@Microsoft.KeyVault(SecretUri=https://kv1.vault.azure.net/secrets/s)", keyvault.Reference{VaultURL: "https://kv1.vault.azure.net", Name: "s"}},
		{"@microsoft.keyvault(vaultname=kv1; secretname=s; secretversion=v1)", keyvault.Reference{VaultURL: "https://kv1.vault.azure.net", Name: "s", Version: "v1"}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := r.Parse(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
	if keyvault.IsReference("https://kv1.vault.azure.net/secrets/s") {
		t.Error("a bare URL is not a reference")
	}
	var _ interface {
		Resolve(context.Context, string) (string, error)
	} = r
}
