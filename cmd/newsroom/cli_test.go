package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runCode runs a command line in this process and returns its exit code,
// stdout and stderr.
func runCode(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// allCommands lists every command path of the tree ("run", "keys create", ...).
func allCommands(c *cobra.Command, prefix []string) [][]string {
	var out [][]string
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() {
			continue
		}
		path := append(append([]string{}, prefix...), sub.Name())
		out = append(out, path)
		out = append(out, allCommands(sub, path)...)
	}
	return out
}

func TestHelp_EveryCommandPrintsItsSynopsisAndExits0(t *testing.T) {
	t.Parallel()
	cmds := allCommands(newRootCmd(), nil)
	if len(cmds) < 12 {
		t.Fatalf("only %d commands found: %v", len(cmds), cmds)
	}
	for _, path := range append(cmds, []string{}) {
		for _, h := range []string{"--help", "-h"} {
			args := append(append([]string{}, path...), h)
			code, out, errOut := runCode(t, args...)
			if code != 0 || errOut != "" {
				t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
				continue
			}
			name := strings.TrimSpace("newsroom " + strings.Join(path, " "))
			if !strings.Contains(out, "Usage:\n  "+name+" ") {
				t.Errorf("%v: no synopsis naming %q:\n%s", args, name, out)
			}
			if !strings.Contains(out, "--help") {
				t.Errorf("%v: the flags are not listed:\n%s", args, out)
			}
		}
	}
}

func TestHelp_RunNamesTheTaskAndGroupsTypedFlags(t *testing.T) {
	t.Parallel()
	code, out, _ := runCode(t, "run", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"Usage:\n  newsroom run [flags] TASK\n",
		"Examples:\n  newsroom run \"Facts:",
		"--max-messages int",
		"--timeout duration",
		"(default 10m0s)",
		"--rpm int",
		"(default 16384)", // --max-task-bytes
	} {
		if !strings.Contains(out, want) {
			t.Errorf("run --help lacks %q:\n%s", want, out)
		}
	}
	// The command's own flags come first, then the groups in their order.
	order := []string{"\nFlags:\n", "--team string", "--format string", "\nModel flags:\n", "--endpoint string", "\nCache, quota and budget flags:\n",
		"--max-task-bytes int", "\nAlerts flags:\n"}
	last := -1
	for _, s := range order {
		i := strings.Index(out, s)
		if i < last {
			t.Fatalf("%q is out of order (at %d, before %d) in:\n%s", s, i, last, out)
		}
		last = i
	}
}

func TestUsageErrors_OneLineAndAPointerToHelpExit2(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want string
		see  string
	}{
		{[]string{"run", "--bogus", "x"}, "newsroom: unknown flag: --bogus", "newsroom run"},
		{[]string{"run", "x", "--max-messages", "many"}, `newsroom: invalid argument "many" for "--max-messages" flag: want a whole number`, "newsroom run"},
		{[]string{"run", "--timeout", "soon", "x"}, `newsroom: invalid argument "soon" for "--timeout" flag: want a duration such as 30s or 5m`, "newsroom run"},
		{[]string{"run", "--team", "chaos", "x"}, "newsroom: --team must be one of roundrobin, selector, investigations, not \"chaos\" (or use --team-file)", "newsroom run"},
		{[]string{"serve", "--workers", "-1"}, "newsroom: --workers must not be negative (0 means auto)", "newsroom serve"},
		{[]string{"keys", "rotate"}, `newsroom: unknown command "rotate" for newsroom keys: want create, list, revoke`, "newsroom keys"},
		{[]string{"bench", "quota", "--rpm", "1.5"}, `newsroom: invalid argument "1.5" for "--rpm" flag: want a whole number`, "newsroom bench quota"},
		{[]string{"frobnicate"}, `newsroom: unknown command "frobnicate" for "newsroom"`, "newsroom"},
	}
	for _, c := range cases {
		code, out, errOut := runCode(t, c.args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", c.args, code, errOut)
			continue
		}
		want := c.want + "\nsee '" + c.see + " --help'\n"
		if errOut != want {
			t.Errorf("%v: stderr\n%q\nwant\n%q", c.args, errOut, want)
		}
		if out != "" {
			t.Errorf("%v: stdout %q", c.args, out)
		}
	}
}

func TestNoCommand_PrintsTheOverviewOnStderrExit2(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCode(t)
	if code != 2 || out != "" || !strings.Contains(errOut, "newsroom COMMAND [flags]") || !strings.Contains(errOut, "  run ") {
		t.Fatalf("exit %d stdout %q stderr:\n%s", code, out, errOut)
	}
}

func TestVersion_PrintsModuleVersionAndRevisionFromBuildInfo(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	env, dir := cleanEnv(t)
	r := runBinary(t, env, dir, "--version")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	m := regexp.MustCompile(`^newsroom (\S+) revision (\S+)`).FindStringSubmatch(r.stdout)
	if m == nil || !strings.HasSuffix(r.stdout, "\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("--version printed %q", r.stdout)
	}
	// The revision is the one the Go toolchain stamped into the binary.
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	rev := regexp.MustCompile(`(?m)^\s*build\s+vcs\.revision=(\S+)`).FindSubmatch(info)
	switch {
	case rev != nil && m[2] != string(rev[1]):
		t.Fatalf("revision %q, build info says %q", m[2], rev[1])
	case rev == nil && m[2] != "unknown":
		t.Fatalf("revision %q, but the build info has none", m[2])
	}
	if m[1] == "" || m[1] == "dev" {
		t.Fatalf("module version %q", m[1])
	}
}

// TestRun_FlagsBeforeOrAfterTheTask runs the same task with --team before
// and after it, and with "--" ending the flags.
func TestRun_FlagsBeforeOrAfterTheTask(t *testing.T) {
	t.Parallel()
	env, dir := cleanEnv(t)
	type doc struct {
		Messages []struct{ Content string } `json:"messages"`
		PerAgent map[string]any             `json:"per_agent"`
	}
	parse := func(args ...string) doc {
		t.Helper()
		r := runBinary(t, env, dir, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		var d doc
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || len(d.Messages) == 0 {
			t.Fatalf("%v: %v\n%s", args, err, r.stdout)
		}
		return d
	}
	after := parse("run", facts, "--team", "selector", "--format", "json", "--no-cache")
	before := parse("run", "--team", "selector", "--format", "json", "--no-cache", facts)
	for name, d := range map[string]doc{"after": after, "before": before} {
		if d.Messages[0].Content != facts {
			t.Errorf("flags %s the task: task %q", name, d.Messages[0].Content)
		}
		if _, ok := d.PerAgent["selector"]; !ok {
			t.Errorf("flags %s the task: not the selector team (per_agent %v)", name, d.PerAgent)
		}
	}
	ended := parse("run", "--format", "json", "--no-cache", "--", "--team", "selector")
	if ended.Messages[0].Content != "--team selector" {
		t.Errorf("after --: task %q", ended.Messages[0].Content)
	}
	if _, ok := ended.PerAgent["selector"]; ok {
		t.Error("after --, --team was parsed as a flag")
	}
}

func TestReadTask(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "brief.txt")
	if err := os.WriteFile(file, []byte("  From a file.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, stdin string
		args        []string
		file        string
		max         int
		want, err   string
	}{
		{"arguments joined", "ignored", []string{"Bridge", "closes."}, "", 100, "Bridge closes.", ""},
		{"dash reads stdin", "From stdin.\n", []string{"-"}, "", 100, "From stdin.", ""},
		{"piped stdin without arguments", "Piped.", nil, "", 100, "Piped.", ""},
		{"task file", "", nil, file, 100, "From a file.", ""},
		{"file and arguments", "", []string{"x"}, file, 100, "", "not both"},
		{"missing file", "", nil, filepath.Join(dir, "none.txt"), 100, "", "--task-file"},
		{"empty", "  \n", nil, "", 100, "", "run needs a TASK"},
		{"arguments too long", "", []string{strings.Repeat("a", 101)}, "", 100, "", "the task is 101 bytes, longer than the limit of 100 bytes"},
		{"stdin too long", strings.Repeat("b", 20000), []string{"-"}, "", 100, "", "the task from standard input is at least 4196 bytes, longer than the limit of 100 bytes"},
		{"file too long", "", nil, file, 5, "", "longer than the limit of 5 bytes"},
	}
	for _, c := range cases {
		got, err := readTask(strings.NewReader(c.stdin), c.args, c.file, c.max)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		case c.err != "" && (!errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want a usage error with %q", c.name, err, c.err)
		}
	}
}

// TestRun_TaskFromStdinAndFile runs the built command with the task piped
// in, from a file, and too long for the limit.
func TestRun_TaskFromStdinAndFile(t *testing.T) {
	t.Parallel()
	env, dir := cleanEnv(t)
	firstMessage := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(buildBinary(t), args...)
		cmd.Env, cmd.Dir, cmd.Stdin = env, dir, strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var d struct{ Messages []struct{ Content string } }
		if err := json.Unmarshal(out, &d); err != nil || len(d.Messages) == 0 {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return d.Messages[0].Content
	}
	if got := firstMessage(facts+"\n", "run", "--format", "json"); got != facts {
		t.Errorf("piped task %q", got)
	}
	if got := firstMessage(facts, "run", "--format", "json", "-"); got != facts {
		t.Errorf("task from - %q", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "brief.txt"), []byte(facts), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := firstMessage("", "run", "--task-file", "brief.txt", "--format", "json"); got != facts {
		t.Errorf("task from a file %q", got)
	}
	long := strings.Repeat("A long brief. ", 2000) // 28,000 bytes
	cmd := exec.Command(buildBinary(t), "run", "-")
	cmd.Env, cmd.Dir, cmd.Stdin = env, dir, strings.NewReader(long)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("too long a task: %v, want exit 2\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "longer than the limit of 16384 bytes (raise it with --max-task-bytes)") {
		t.Errorf("stderr: %s", errb.String())
	}
}
