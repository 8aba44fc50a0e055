package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/syncbuf"
)

// TestRun_CtrlCKeepsWhatWasWrittenAndExits130 starts the built command
// against an emulator that streams slowly, sends it a real SIGINT while the
// reporter is writing, and checks what a user at a terminal would see.
func TestRun_CtrlCKeepsWhatWasWrittenAndExits130(t *testing.T) {
	t.Parallel()
	em, err := emulator.Start(emulator.Config{Latency: emulator.Latency{TokensPerSecond: 20}}, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	env, dir := cleanEnv(t, "AZURE_OPENAI_ENDPOINT="+em.URL, "AZURE_OPENAI_DEPLOYMENT=gpt-4o", "AZURE_OPENAI_API_KEY=k")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildBinary(t), "run", "--no-cache", facts)
	cmd.Env, cmd.Dir = env, dir
	var stdout, stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the reporter has written a few words of its article.
	const header = "---------- News_Reporter ----------\n"
	for {
		out := stdout.String()
		if i := strings.Index(out, header); i >= 0 && len(out) > i+len(header)+20 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the reporter never started writing:\n%s\n%s", out, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v, want code 130\nstderr: %s", err, stderr.String())
	}
	out, errOut := stdout.String(), stderr.String()
	if !strings.Contains(out, header) || !strings.Contains(out, "Facts: The city council") {
		t.Errorf("what was written before Ctrl-C is missing:\n%s", out)
	}
	if !strings.HasSuffix(errOut, "newsroom: interrupted\n") {
		t.Errorf("stderr does not end with the interruption:\n%s", errOut)
	}
	if strings.Contains(errOut, "ERROR") || strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "run failed") {
		t.Errorf("stderr reports an error for a Ctrl-C:\n%s", errOut)
	}
}
