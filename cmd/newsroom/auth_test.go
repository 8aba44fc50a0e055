package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/config"
)

// isolateAuthEnv clears every variable that could configure a model or an
// Azure credential, runs in an empty directory (no .env) and hides the
// Azure CLI, so a test sees only what it sets.
func isolateAuthEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{
		"AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT", "OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION",
		"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "NEWSROOM_PROVIDER",
		"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME",
		"AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "AZURE_TOKEN_CREDENTIALS",
		"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT",
	} {
		t.Setenv(k, "")
	}
	for _, s := range config.Settings() {
		for _, k := range s.Vars {
			t.Setenv(k, "")
		}
	}
	t.Setenv("PATH", t.TempDir())
	t.Chdir(t.TempDir())
}

func TestRunAuth_APIKeyFromDotEnv(t *testing.T) {
	isolateAuthEnv(t)
	const key = "dotenv-secret-key-77"
	env := "azure_endpoint=https://contoso.openai.azure.com\nmodel-name=gpt-4o\napi_key=" + key + "\n"
	if err := os.WriteFile(".env", []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := runAuth(context.Background(), []string{"check"}, &out, &errOut); err != nil {
		t.Fatalf("runAuth: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "auth: api key (from .env file .env (api_key))") {
		t.Errorf("output does not name the key's source:\n%s", out.String())
	}
	if strings.Contains(out.String()+errOut.String(), key) {
		t.Fatalf("output contains the key:\n%s", out.String())
	}
}

func TestRunAuth_UsageAndConfigErrors(t *testing.T) {
	isolateAuthEnv(t)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want error
		text string
	}{
		{"no subcommand", nil, nil, errUsage, "newsroom auth needs a command: check"},
		{"unknown subcommand", []string{"login"}, nil, errUsage, `unknown command "login" for newsroom auth`},
		{"unknown flag", []string{"check", "--bogus"}, nil, errUsage, "bogus"},
		{"stray argument", []string{"check", "extra"}, nil, errUsage, "extra"},
		{"endpoint without deployment", []string{"check"}, map[string]string{"AZURE_OPENAI_ENDPOINT": "https://a.openai.azure.com"}, errConfig, "AZURE_OPENAI_DEPLOYMENT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errOut bytes.Buffer
			err := runAuth(context.Background(), tc.args, &out, &errOut)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error()+errOut.String(), tc.text) {
				t.Fatalf("err = %v (stderr %q), want %v mentioning %q", err, errOut.String(), tc.want, tc.text)
			}
		})
	}
}

// identityServer serves App Service's managed identity protocol on loopback.
func identityServer(t *testing.T, status int) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-IDENTITY-HEADER") != "id-header" || r.URL.Query().Get("api-version") != "2019-08-01" {
			http.Error(w, "bad request shape", http.StatusBadRequest)
			return
		}
		if status != http.StatusOK {
			http.Error(w, `{"error":"no identity assigned"}`, status)
			return
		}
		// MSAL caches managed identity tokens process-wide; a token that
		// expires within 5 minutes is never served from that cache, so
		// another test's identity server is always asked.
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"mi-secret-token","expires_on":"%d","resource":"%s","token_type":"Bearer"}`,
			time.Now().Add(4*time.Minute).Unix(), r.URL.Query().Get("resource"))
	}))
	t.Cleanup(srv.Close)
	t.Setenv("IDENTITY_ENDPOINT", srv.URL+"/token")
	t.Setenv("IDENTITY_HEADER", "id-header")
}

func TestRunAuth_EntraIDManagedIdentity(t *testing.T) {
	isolateAuthEnv(t)
	identityServer(t, http.StatusOK)
	t.Setenv("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com")
	t.Setenv("AZURE_OPENAI_DEPLOYMENT", "gpt-4o")

	var out, errOut bytes.Buffer
	if err := runAuth(context.Background(), []string{"check", "--timeout", "5s"}, &out, &errOut); err != nil {
		t.Fatalf("runAuth: %v\n%s%s", err, out.String(), errOut.String())
	}
	s := out.String()
	for _, want := range []string{
		"auth: Entra ID",
		"OK   managed identity",
		"ManagedIdentityCredential",
		"FAIL environment (service principal)",
		"FAIL workload identity                not configured: AZURE_FEDERATED_TOKEN_FILE is not set",
		"FAIL Azure CLI",
		"newsroom will use: managed identity",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s+errOut.String(), "mi-secret-token") {
		t.Fatalf("output contains the token:\n%s", s)
	}
}

func TestRunAuth_NoCredentialWorks(t *testing.T) {
	isolateAuthEnv(t)
	identityServer(t, http.StatusBadRequest)
	t.Setenv("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com")
	t.Setenv("AZURE_OPENAI_DEPLOYMENT", "gpt-4o")

	var out, errOut bytes.Buffer
	err := runAuth(context.Background(), []string{"check", "--timeout", "5s"}, &out, &errOut)
	if !errors.Is(err, errNoCredential) {
		t.Fatalf("err = %v, want errNoCredential\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "FAIL"); n != 4 {
		t.Errorf("%d FAIL lines, want 4 (one per credential):\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "az login") {
		t.Errorf("output does not say what to do:\n%s", out.String())
	}
}
