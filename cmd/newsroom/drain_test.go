package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/internal/syncbuf"
)

// TestRunServe_SIGTERMDrainsBeforeClosing starts the built command with a
// drain delay, sends it a real SIGTERM and checks the drain as a load
// balancer and a client see it: the listener still answers, /readyz is 503,
// new work gets 503 shutting_down with Retry-After (not a refused
// connection), and the process then exits 0.
func TestRunServe_SIGTERMDrainsBeforeClosing(t *testing.T) {
	env, dir := cleanEnv(t)
	db := filepath.Join(dir, "serve.db")
	var keyOut bytes.Buffer
	if err := runKeys(context.Background(), []string{"create", "--name", "t", "--db", db}, &keyOut, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(keyOut.String())

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The drain delay is what keeps the listener open here (no run is in
	// progress to hand over); it only has to outlast a few requests.
	cmd := exec.CommandContext(ctx, buildBinary(t), "serve", "--addr", "127.0.0.1:0", "--db", db, "--no-cache",
		"--env-file", filepath.Join(dir, "none.env"), "--drain-delay", "5s", "--grace", "20s")
	cmd.Env, cmd.Dir = env, dir
	var stdout, stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	urlRE := regexp.MustCompile(`serving on (http://127\.0\.0\.1:\d+)`)
	var base string
	for base == "" {
		select {
		case err := <-exited:
			t.Fatalf("serve ended early: %v\n%s", err, stderr.String())
		case <-ctx.Done():
			t.Fatalf("serve did not start:\n%s", stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(method, path, body string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s during the drain: %v (the listener must stay open)", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	if resp, b := send("GET", "/readyz", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM = %d %s", resp.StatusCode, b)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The signal is handled asynchronously: poll /readyz (bounded) until
	// the drain has begun.
	for {
		resp, b := send("GET", "/readyz", "")
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/readyz after SIGTERM = %d %s, want 200 then 503", resp.StatusCode, b)
		}
		if ctx.Err() != nil {
			t.Fatal("/readyz never answered 503 after SIGTERM")
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, b := send("POST", "/v1/runs", `{"task":"Bridge closes for repairs in May. Detour via Elm Road."}`)
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(b, &body)
	if resp.StatusCode != http.StatusServiceUnavailable || body.Error.Code != "shutting_down" {
		t.Errorf("POST /v1/runs during the drain = %d %s, want 503 shutting_down", resp.StatusCode, b)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("POST /v1/runs during the drain: Retry-After = %q, want a wait in seconds", ra)
	}
	if resp, b := send("GET", "/readyz", ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the drain = %d %s, want 503", resp.StatusCode, b)
	}

	if err := <-exited; err != nil {
		t.Fatalf("serve after SIGTERM: %v, want exit 0\nstderr: %s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "newsroom: stopped") {
		t.Errorf("serve did not say it stopped:\n%s", stdout.String())
	}
	if _, err := client.Get(base + "/readyz"); err == nil {
		t.Error("the listener still answers after serve exited")
	}
}
