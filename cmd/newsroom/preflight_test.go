package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
)

// TestRun_TaskThatCanNeverFitFailsBeforeAnyCall checks that a task longer
// than the context window, or than the whole token quota, fails at once with
// exit 2 and the token count and limit, and that no call reached the model.
func TestRun_TaskThatCanNeverFitFailsBeforeAnyCall(t *testing.T) {
	t.Parallel()
	em, err := emulator.Start(emulator.Config{}, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	env, dir := cleanEnv(t, "AZURE_OPENAI_ENDPOINT="+em.URL, "AZURE_OPENAI_DEPLOYMENT=gpt-4o", "AZURE_OPENAI_API_KEY=k")
	task := strings.Repeat("The council met on Tuesday. ", 40) // about 240 tokens
	cases := []struct {
		args []string
		want *regexp.Regexp
	}{
		{[]string{"--context-window", "200"}, regexp.MustCompile(`^newsroom: the task is \d{3} tokens, more than the context window of gpt-4o \(200 tokens\)`)},
		{[]string{"--tpm", "100"}, regexp.MustCompile(`^newsroom: the task is \d{3} tokens, more than the deployment's whole quota of 100 tokens per minute`)},
	}
	for _, c := range cases {
		r := runBinary(t, env, dir, append(append([]string{"run", "--no-cache"}, c.args...), task)...)
		if r.code != 2 || !c.want.MatchString(r.stderr) || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s", c.args, r.code, r.stdout, r.stderr)
		}
	}
	if n := len(em.Requests()); n != 0 {
		t.Fatalf("%d model calls were made", n)
	}
	// The same task fits the real window.
	if r := runBinary(t, env, dir, "run", "--no-cache", "--format", "json", task); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
}

// TestServe_TaskThatCanNeverFitIs400 checks the same refusal on the API.
func TestServe_TaskThatCanNeverFitIs400(t *testing.T) {
	dir := isolate(t)
	srv := startServe(t, dir, "--context-window", "50")
	post := func(task string) (int, string) {
		resp := srv.do(t, "POST", "/v1/runs", `{"task":"`+task+`"}`)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post(strings.Repeat("The council met on Tuesday. ", 20))
	if code != http.StatusBadRequest || !strings.Contains(body, `"task_too_large"`) ||
		!regexp.MustCompile(`the task is \d+ tokens, more than the context window of \S+ \(50 tokens\)`).MatchString(body) {
		t.Fatalf("POST a long task = %d %s", code, body)
	}
	if code, body := post("Bridge closes in May."); code != http.StatusAccepted {
		t.Fatalf("POST a short task = %d %s", code, body)
	}
}
