package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/internal/syncbuf"
	"github.com/newsroom-dev/newsroom/server"
)

// isolate runs the test in an empty directory with no model configured, so
// the commands use the offline emulator and a fresh store.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, v := range []string{"AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT", "OPENAI_API_KEY",
		"OPENAI_BASE_URL", "NEWSROOM_PROVIDER", "NEWSROOM_DB", "NEWSROOM_DATABASE_URL", "NEWSROOM_CACHE"} {
		t.Setenv(v, "")
	}
	return dir
}

func TestRunKeys(t *testing.T) {
	dir := isolate(t)
	db := filepath.Join(dir, "keys.db")
	ctx := context.Background()
	var out, errOut syncbuf.Buffer
	if err := runKeys(ctx, []string{"create", "--name", "alice", "--db", db}, &out, &errOut); err != nil {
		t.Fatalf("keys create: %v", err)
	}
	secret := strings.TrimSpace(out.String())
	if !regexp.MustCompile(`^nr_[a-z2-7]{32}$`).MatchString(secret) {
		t.Fatalf("keys create printed %q, want only the key", secret)
	}
	if !strings.Contains(errOut.String(), "shown once") {
		t.Errorf("no warning that the key is shown once: %q", errOut.String())
	}
	var list syncbuf.Buffer
	if err := runKeys(ctx, []string{"list", "--db", db}, &list, io.Discard); err != nil {
		t.Fatalf("keys list: %v", err)
	}
	m := regexp.MustCompile(`(?m)^(key_\w+)\s+alice\s+reporter\s`).FindStringSubmatch(list.String())
	if m == nil || strings.Contains(list.String(), secret) {
		t.Fatalf("keys list = %q", list.String())
	}
	for _, role := range []string{"editor-in-chief", "admin"} {
		if err := runKeys(ctx, []string{"create", "--name", "r-" + role, "--role", role, "--db", db}, io.Discard, io.Discard); err != nil {
			t.Fatalf("keys create --role %s: %v", role, err)
		}
	}
	list.Reset()
	_ = runKeys(ctx, []string{"list", "--db", db}, &list, io.Discard)
	for _, role := range []string{"editor-in-chief", "admin"} {
		if !regexp.MustCompile(`(?m)^key_\w+\s+r-` + role + `\s+` + role + `\s`).MatchString(list.String()) {
			t.Errorf("keys list lacks the %s key: %q", role, list.String())
		}
	}
	if err := runKeys(ctx, []string{"revoke", "--db", db, m[1]}, io.Discard, io.Discard); err != nil {
		t.Fatalf("keys revoke: %v", err)
	}
	list.Reset()
	_ = runKeys(ctx, []string{"list", "--db", db}, &list, io.Discard)
	for _, line := range strings.Split(list.String(), "\n") {
		if strings.Contains(line, m[1]) && strings.HasSuffix(strings.TrimSpace(line), "-") {
			t.Errorf("revoked key not marked revoked: %q", line)
		}
	}

	for _, args := range [][]string{
		{}, {"rotate"}, {"create", "--db", db}, {"revoke", "--db", db}, {"revoke", "--db", db, "key_nope"},
		{"list", "--db", db, "extra"}, {"create", "--name", "x", "--db", db, "--database-url", "postgres://x"},
		{"create", "--name", "x", "--db", db, "--role", "chief"}, {"create", "--name", "x", "--db", db, "--admin", "--role", "reader"},
	} {
		if err := runKeys(ctx, args, io.Discard, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("keys %v: error = %v, want a usage error", args, err)
		}
	}
}

func TestRunServe_usageErrors(t *testing.T) {
	isolate(t)
	for _, args := range [][]string{{"--nope"}, {"extra"}, {"--workers", "-1"}, {"--queue", "0"}, {"--grace", "-1s"}, {"--approval-timeout", "0s"}, {"--oidc-issuer", "https://127.0.0.1:1"}, {"--role-map", "boss=g1"}} {
		if err := runServe(context.Background(), args, io.Discard, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("serve %v: error = %v, want a usage error", args, err)
		}
	}
}

func TestRunServe_servesAndStopsGracefully(t *testing.T) {
	dir := isolate(t)
	srv := startServe(t, dir, "--metrics-key", "scrape-secret", "--drain-delay", "0s")
	stdout, stderr, key := srv.stdout, srv.stderr, srv.key
	if !strings.Contains(stderr.String(), "emulator") {
		t.Errorf("serve does not say it uses the emulator: %q", stderr.String())
	}
	if want := fmt.Sprintf("%d workers, auto from rpm %d, tpm %d", server.SizeWorkers(server.Quota{RPM: config.DefaultRPM, TPM: config.DefaultTPM}),
		config.DefaultRPM, config.DefaultTPM); !strings.Contains(stdout.String(), want) {
		t.Errorf("serve does not print the derived workers %q: %q", want, stdout.String())
	}

	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		resp := srv.do(t, method, path, body)
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	code, run := call("POST", "/v1/runs", `{"task":"Bridge closes for repairs in May. Detour via Elm Road."}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/runs = %d %v", code, run)
	}
	id, _ := run["id"].(string)
	if stream := srv.follow(t, id); !strings.Contains(stream, "event: run_finished") {
		t.Fatalf("stream ended without run_finished:\n%s", stream)
	}
	if code, got := call("GET", "/v1/runs/"+id, ""); code != 200 || got["status"] != "succeeded" || got["article"] == "" || got["emulated"] != true {
		t.Errorf("GET run = %d %v", code, got)
	}
	if code, _ := call("GET", "/metrics", ""); code != http.StatusForbidden {
		t.Errorf("/metrics with a reporter's key = %d, want 403", code)
	}
	mreq, _ := http.NewRequest("GET", srv.base+"/metrics", nil)
	mreq.Header.Set("Authorization", "Bearer scrape-secret")
	if mresp, err := http.DefaultClient.Do(mreq); err != nil || mresp.StatusCode != 200 ||
		mresp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("/metrics with the metrics key = %v %v, want 200 with the security headers", mresp, err)
	} else {
		mresp.Body.Close()
	}

	if err := srv.stop(t); err != nil {
		t.Fatalf("serve after shutdown = %v, want nil (exit 0)", err)
	}
	if !strings.Contains(stdout.String(), "stopped") {
		t.Errorf("stdout = %q", stdout.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), key) {
		t.Error("the API key appears in the output")
	}
}
