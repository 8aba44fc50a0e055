package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/internal/syncbuf"
)

func TestRunEmulator_usageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"--nope"}},
		{"remote address", []string{"--addr", "0.0.0.0:0"}},
		{"all interfaces", []string{"--addr", ":0"}},
		{"bad fault rate", []string{"--addr", "127.0.0.1:0", "--fault-rate", "explode=0.5"}},
		{"negative quota", []string{"--addr", "127.0.0.1:0", "--rpm", "-1"}},
		{"stray argument", []string{"--addr", "127.0.0.1:0", "extra"}},
		{"cert-out without tls", []string{"--addr", "127.0.0.1:0", "--cert-out", "x.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runEmulator(context.Background(), tt.args, io.Discard, io.Discard)
			if !errors.Is(err, errUsage) {
				t.Errorf("error = %v, want a usage error", err)
			}
		})
	}
}

func TestRunEmulator_serves(t *testing.T) {
	t.Setenv("NEWSROOM_EMULATOR_API_KEY", "env-secret-key")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runEmulator(ctx, []string{"--addr", "127.0.0.1:0", "--fault-rate", "500=0"}, &stdout, io.Discard)
	}()
	urlRE := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		cancel()
		t.Fatalf("no URL printed: %q", stdout.String())
	}
	post := func(key string) int {
		req, _ := http.NewRequest("POST", url+"/openai/deployments/d/chat/completions?api-version=2024-10-21",
			strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("api-key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("env-secret-key"); got != 200 {
		t.Errorf("with the key from the environment: status %d", got)
	}
	if got := post("wrong"); got != 401 {
		t.Errorf("with a wrong key: status %d", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runEmulator = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runEmulator did not stop")
	}
	if strings.Contains(stdout.String(), "env-secret-key") {
		t.Error("the key was printed")
	}
}

// TestRunEmulator_modelFlagPicksTheFamily: by default the emulator is a
// GPT-5 deployment that refuses max_tokens; --model gpt-4o is a GPT-4o one
// that takes it.
func TestRunEmulator_modelFlagPicksTheFamily(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
		model  string
	}{
		{nil, 400, ""},
		{[]string{"--model", "gpt-4o-2024-11-20"}, 200, "gpt-4o-2024-11-20"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		var stdout syncbuf.Buffer
		done := make(chan error, 1)
		go func() {
			done <- runEmulator(ctx, append([]string{"--addr", "127.0.0.1:0"}, tc.args...), &stdout, io.Discard)
		}()
		urlRE := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)
		var url string
		for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
				url = m[1]
			}
		}
		if url == "" {
			cancel()
			t.Fatalf("no URL printed: %q", stdout.String())
		}
		resp, err := http.Post(url+"/openai/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"d","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.model) {
			t.Errorf("%v: status %d %s", tc.args, resp.StatusCode, body)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runEmulator = %v", err)
		}
	}
}
