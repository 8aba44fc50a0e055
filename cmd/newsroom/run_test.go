package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
)

const facts = "Facts: The city council approved a new bike lane on Main Street on Tuesday. Construction starts in March and costs 2.1 million dollars."

// binary is the newsroom command built once for the tests that run it as a
// user would, in a process of its own (its environment, its certificate roots).
var (
	binary   string
	binaryMu sync.Mutex // parallel tests ask for it at once
)

func buildBinary(t *testing.T) string {
	t.Helper()
	binaryMu.Lock()
	defer binaryMu.Unlock()
	if binary != "" {
		return binary
	}
	out := filepath.Join(os.TempDir(), "newsroom-test-"+time.Now().Format("150405.000000"))
	cmd := exec.Command("go", "build", "-o", out, ".")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	binary = out
	t.Cleanup(func() {}) // the file is removed by TestMain
	return out
}

func TestMain(m *testing.M) {
	if os.Getenv(envMCPServe) == "1" {
		os.Exit(serveTestMCP()) // this binary is a desk's MCP server (mcp_test.go)
	}
	code := m.Run()
	testsvc.StopAll() // the PostgreSQL of storeconfig_test.go
	if binary != "" {
		_ = os.Remove(binary)
	}
	os.Exit(code)
}

// cleanEnv is an environment without any model configuration, in a fresh
// working directory, with the cache in that directory.
func cleanEnv(t *testing.T, extra ...string) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}
	return append(env, extra...), dir
}

type result struct {
	code           int
	stdout, stderr string
}

func runBinary(t *testing.T, env []string, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildBinary(t), args...)
	cmd.Env, cmd.Dir = env, dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return resultOf(t, cmd.Run(), &out, &errb)
}

// resultOf reads a finished process's exit code from the error of its Run or
// Wait (failing the test when it did not run at all) with what it wrote.
func resultOf(t *testing.T, err error, stdout, stderr *bytes.Buffer) result {
	t.Helper()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func TestRun_OfflineByDefaultAndSaysSo(t *testing.T) {
	env, dir := cleanEnv(t)
	r := runBinary(t, env, dir, "run", facts)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "built-in offline emulator") || !strings.Contains(r.stderr, "NOT written by a language model") {
		t.Fatalf("stderr does not say the text is from the emulator:\n%s", r.stderr)
	}
	for _, want := range []string{"---------- News_Reporter ----------", "---------- News_Editor ----------",
		"Finish reason: verdict APPROVE from News_Editor", "Total prompt tokens:", "Duration:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, "goroutine ") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatal("a stack trace was printed")
	}
	if strings.ContainsAny(r.stdout, "\r\x1b") {
		t.Fatal("the live status line was drawn although stdout is not a terminal")
	}
}

func TestRun_JSONDocumentAndCachedRerunCostsNothing(t *testing.T) {
	env, dir := cleanEnv(t)
	var docs [2]map[string]any
	costRE := regexp.MustCompile(`"(cost_usd|saved_usd)": ([0-9.e-]+)`)
	for i := range docs {
		r := runBinary(t, env, dir, "run", "--team", "selector", "--format", "json", facts)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		// Amounts are exact decimals of at most 9 places, never 0.005572499999999999.
		for _, m := range costRE.FindAllStringSubmatch(r.stdout, -1) {
			if !regexp.MustCompile(`^(0|[1-9]\d*)(\.\d{1,9})?$`).MatchString(m[2]) {
				t.Errorf("%s is %s, not a decimal of at most 9 places", m[1], m[2])
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &docs[i]); err != nil {
			t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
		}
	}
	first, second := docs[0], docs[1]
	for _, k := range []string{"stop_reason", "messages", "usage", "duration_ms", "model", "cost_usd", "per_agent"} {
		if _, ok := first[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if first["stop_reason"] != `verdict TERMINATE from PlanningAgent` {
		t.Fatalf("stop_reason %v", first["stop_reason"])
	}
	msgs := first["messages"].([]any)
	if m0 := msgs[0].(map[string]any); m0["source"] != "user" || m0["content"] != facts {
		t.Fatalf("first message is not the task: %v", m0)
	}
	if _, ok := first["per_agent"].(map[string]any)["selector"]; !ok {
		t.Fatal("the selector's calls are missing from per_agent")
	}
	if first["cost_usd"].(float64) <= 0 {
		t.Fatal("first run cost nothing")
	}
	if first["emulated"] != true {
		t.Errorf("emulated = %v, want true for the offline emulator", first["emulated"])
	}
	if second["saved_usd"] != first["cost_usd"] || second["saved_tokens"].(float64) <= 0 {
		t.Errorf("the cached rerun saved %v tokens, $%v; the first run cost $%v", second["saved_tokens"], second["saved_usd"], first["cost_usd"])
	}
	u := second["usage"].(map[string]any)
	if second["cost_usd"].(float64) != 0 || u["prompt_tokens"].(float64) != 0 || u["completion_tokens"].(float64) != 0 {
		t.Fatalf("rerun in a new process was not free: cost %v usage %v", second["cost_usd"], u)
	}
}

func TestRun_MarkdownHasHeadlinesFirst(t *testing.T) {
	env, dir := cleanEnv(t)
	r := runBinary(t, env, dir, "run", "--team", "selector", "--format", "markdown", "--no-cache", facts)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "# ") || !strings.Contains(r.stdout, "2.1 million dollars") {
		t.Fatalf("markdown:\n%s", r.stdout)
	}
	// The headline once, then the article without its title line or a list of other headlines.
	head, body, _ := strings.Cut(strings.TrimPrefix(r.stdout, "# "), "\n\n")
	if strings.Contains(body, head) || strings.HasPrefix(body, "- ") || strings.Contains(body, "City Council Approved") {
		t.Fatalf("the title is repeated:\n%s", r.stdout)
	}
	if !strings.HasPrefix(body, "The city council approved") {
		t.Fatalf("the body does not start with the lead:\n%s", r.stdout)
	}
}

func TestRun_UsageAndConfigErrorsExit2WithoutSecrets(t *testing.T) {
	const secret = "sk-very-secret-value-123"
	cases := []struct {
		name   string
		env    []string
		dotenv string
		args   []string
		want   string
	}{
		{"no task", nil, "", []string{"run"}, "run needs a TASK"},
		{"bad team", nil, "", []string{"run", "--team", "chaos", "x"}, "--team must be one of roundrobin, selector, investigations"},
		{"bad format", nil, "", []string{"run", "--format", "xml", "x"}, "--format must be"},
		{"unknown flag", nil, "", []string{"run", "--bogus", "x"}, "unknown flag: --bogus"},
		{"unknown command", nil, "", []string{"frobnicate"}, "unknown command"},
		{"endpoint without deployment", []string{"AZURE_OPENAI_ENDPOINT=https://x.openai.azure.com", "AZURE_OPENAI_API_KEY=" + secret}, "",
			[]string{"run", "x"}, "deployment is missing"},
		{"deployment in .env without endpoint", []string{"AZURE_OPENAI_API_KEY=" + secret}, "model-name=gpt-4o\napi_key=" + secret + "\n",
			[]string{"run", "x"}, "endpoint is missing"},
		{"plain http to a remote host", []string{"AZURE_OPENAI_ENDPOINT=http://example.com", "AZURE_OPENAI_DEPLOYMENT=d", "AZURE_OPENAI_API_KEY=" + secret}, "",
			[]string{"run", "x"}, "https"},
		{"an api-version too old for a GPT-5 deployment", []string{"AZURE_OPENAI_ENDPOINT=https://x.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT=writer",
			"AZURE_OPENAI_MODEL=gpt-5-mini", "OPENAI_API_VERSION=2024-06-01", "AZURE_OPENAI_API_KEY=" + secret}, "",
			[]string{"run", "x"}, "set OPENAI_API_VERSION=v1 (or 2024-09-01-preview or later)"},
		{"a reasoning effort GPT-5 lacks", nil, "", []string{"run", "--reasoning-effort", "none", "x"}, `--reasoning-effort "none": gpt-5 has minimal, low, medium, high`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env, dir := cleanEnv(t, c.env...)
			if c.dotenv != "" {
				if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(c.dotenv), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := runBinary(t, env, dir, c.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\nstderr: %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Fatalf("stderr lacks %q:\n%s", c.want, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, secret) || strings.Contains(r.stderr, "goroutine ") {
				t.Fatalf("output shows a secret or a stack trace:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
}

func TestRun_AzureWithAPIKeyFromDotEnvUsesTheOriginalNames(t *testing.T) {
	// The original project's .env: a GPT-4o deployment on a dated api-version.
	em, err := emulator.Start(emulator.Config{APIKey: "dotenv-key", ModelName: "gpt-4o-2024-11-20"}, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	env, dir := cleanEnv(t)
	dot := "azure_endpoint=" + em.URL + "\nmodel-name=newsroom-gpt4o\napi-version=2024-06-01\napi_key=dotenv-key\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dot), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, env, dir, "run", "--no-cache", "--format", "json", facts)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "offline emulator") {
		t.Fatal("a configured Azure endpoint must not fall back to the offline emulator")
	}
	reqs := em.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	for _, q := range reqs {
		if q.Path != "/openai/deployments/newsroom-gpt4o/chat/completions" || q.APIVersion != "2024-06-01" || q.Auth != emulator.AuthAPIKey {
			t.Fatalf("wire request %s api-version=%s auth=%s", q.Path, q.APIVersion, q.Auth)
		}
	}
	// A flag beats the environment, which beats .env.
	env = append(env, "AZURE_OPENAI_DEPLOYMENT=from-env")
	em.Reset()
	if r := runBinary(t, env, dir, "run", "--no-cache", "--deployment", "from-flag", "--format", "json", facts); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if got := em.Requests()[0].Deployment; got != "from-flag" {
		t.Fatalf("deployment %q, want the flag's", got)
	}
	em.Reset()
	if r := runBinary(t, env, dir, "run", "--no-cache", "--format", "json", facts); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if got := em.Requests()[0].Deployment; got != "from-env" {
		t.Fatalf("deployment %q, want the environment's", got)
	}
}

func TestRun_WrongKeyFailsWithExit1AndNoKeyInOutput(t *testing.T) {
	em, err := emulator.Start(emulator.Config{APIKey: "right-key"}, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	env, dir := cleanEnv(t, "AZURE_OPENAI_ENDPOINT="+em.URL, "AZURE_OPENAI_DEPLOYMENT=d", "AZURE_OPENAI_API_KEY=wrong-key-4242")
	r := runBinary(t, env, dir, "run", "--no-cache", facts)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "401") || strings.Contains(r.stdout+r.stderr, "wrong-key-4242") {
		t.Fatalf("stderr:\n%s", r.stderr)
	}
}

// TestRun_EntraIDThroughAppServiceManagedIdentity runs the command as App
// Service would: no API key, a managed identity endpoint, and an emulator
// over TLS that accepts only the token that identity issues.
func TestRun_EntraIDThroughAppServiceManagedIdentity(t *testing.T) {
	const token = "mi-access-token-xyz"
	var tokenRequests atomic.Int32
	var bad atomic.Value
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenRequests.Add(1)
		q := r.URL.Query()
		if r.Header.Get("X-IDENTITY-HEADER") != "id-header-secret" || q.Get("resource") != "https://cognitiveservices.azure.com" || q.Get("api-version") == "" {
			bad.Store(r.URL.String() + " header=" + r.Header.Get("X-IDENTITY-HEADER"))
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		exp := time.Now().Add(time.Hour).Unix()
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": token, "expires_on": exp,
			"resource": "https://cognitiveservices.azure.com", "token_type": "Bearer"})
	}))
	defer idp.Close()
	em, err := emulator.Start(emulator.Config{APIKey: "unused-key", TokenValidator: func(s string) bool { return s == token }}, emulator.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	env, dir := cleanEnv(t)
	certFile := filepath.Join(dir, "emulator.pem")
	if err := os.WriteFile(certFile, em.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env, "SSL_CERT_FILE="+certFile, "IDENTITY_ENDPOINT="+idp.URL+"/msi/token", "IDENTITY_HEADER=id-header-secret",
		"AZURE_OPENAI_ENDPOINT="+em.URL, "AZURE_OPENAI_DEPLOYMENT=gpt-4o-prod")
	r := runBinary(t, env, dir, "run", "--no-cache", "--format", "json", facts)
	if b := bad.Load(); b != nil {
		t.Fatalf("token request not in App Service's shape: %v", b)
	}
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if tokenRequests.Load() == 0 {
		t.Fatal("no managed identity token was requested")
	}
	for _, q := range em.Requests() {
		if q.Auth != emulator.AuthBearer {
			t.Fatalf("auth %q, want bearer", q.Auth)
		}
	}
	if strings.Contains(r.stdout+r.stderr, token) || strings.Contains(r.stdout+r.stderr, "id-header-secret") {
		t.Fatal("the token or identity header leaked into the output")
	}
}
