package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
)

func TestTeams_ListShowSchemaValidate(t *testing.T) {
	t.Parallel()
	code, out, _ := runCode(t, "teams", "list")
	if code != 0 || !strings.Contains(out, "investigations  graph") || !strings.Contains(out, "selector") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	code, out, _ = runCode(t, "teams", "show", "selector")
	if code != 0 || !strings.HasPrefix(out, "# The planner-led desk") || !strings.Contains(out, "follow_plan: true") {
		t.Fatalf("show: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCode(t, "teams", "show", "sports"); code != 2 || !strings.Contains(errOut, `no desk is named "sports"`) {
		t.Fatalf("show unknown: exit %d\n%s", code, errOut)
	}
	code, out, _ = runCode(t, "teams", "schema")
	var schema map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &schema) != nil || schema["$id"] != desk.SchemaID {
		t.Fatalf("schema: exit %d\n%.200s", code, out)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	write(t, good, sportsDesk)
	write(t, bad, strings.Replace(sportsDesk, "    prompt: You are Copy_Chief.\n", "    promt: You are Copy_Chief.\n", 1))
	code, out, errOut := runCode(t, "teams", "validate", good, bad)
	if code != 2 || !strings.Contains(out, "good.yaml: ok: desk sports (roundrobin, 2 agents)") ||
		!strings.Contains(errOut, `bad.yaml:10:5: agents[1]: unknown field "promt"; allowed: name, description, prompt`) {
		t.Fatalf("validate: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	// --teams-dir adds the directory's desks (a bad file there is refused).
	ok := t.TempDir()
	write(t, filepath.Join(ok, "sports.yaml"), sportsDesk)
	if code, out, _ := runCode(t, "teams", "list", "--teams-dir", ok); code != 0 || !strings.Contains(out, "sports ") {
		t.Fatalf("list --teams-dir: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCode(t, "teams", "list", "--teams-dir", dir); code != 2 || !strings.Contains(errOut, "bad.yaml:10:5") {
		t.Fatalf("list with a bad dir: exit %d\n%s", code, errOut)
	}
}

const sportsDesk = `name: sports
kind: roundrobin
agents:
  - name: Sports_Writer
    description: Writes short match reports from the facts given.
    prompt: You are Sports_Writer, a sports reporter.
    deployment: gpt-4o-mini
  - name: Copy_Chief
    description: Reviews the report.
    prompt: You are Copy_Chief.
termination:
  any:
    - verdict: {agent: Copy_Chief, word: APPROVE}
    - max_messages: 2
`

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRun_TeamFileMistakesFailBeforeAnyModelCall points the CLI at a real
// (emulated) Azure endpoint and checks that a bad team file, an unknown
// deployment or a misplaced --selector-deployment exits 2 without a request.
func TestRun_TeamFileMistakesFailBeforeAnyModelCall(t *testing.T) {
	t.Parallel()
	// The deployments are GPT-4o ones, named after their models.
	em, err := emulator.Start(emulator.Config{APIKey: "team-test-key", Deployments: map[string]string{
		"gpt-4o": "gpt-4o-2024-11-20", "gpt-4o-mini": "gpt-4o-mini-2024-07-18"}}, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = em.Close() })
	env, dir := cleanEnv(t, "AZURE_OPENAI_ENDPOINT="+em.URL, "AZURE_OPENAI_API_KEY=team-test-key", "AZURE_OPENAI_DEPLOYMENT=gpt-4o")
	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, "name: sports\nkind: [roundrobin\n")
	unknownDep := filepath.Join(dir, "dep.yaml")
	write(t, unknownDep, sportsDesk)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--team-file", bad, "x"}, "bad.yaml:"},
		{[]string{"run", "--team-file", unknownDep, "x"}, `dep.yaml:7:17: agents[0].deployment: unknown deployment "gpt-4o-mini"; known: gpt-4o`},
		{[]string{"run", "--team", "sports", "x"}, `--team must be one of roundrobin, selector, investigations, not "sports"`},
		{[]string{"run", "--selector-deployment", "gpt-4o", "x"}, "the roundrobin desk has no selector"},
		{[]string{"run", "--team", "selector", "--selector-deployment", "tiny", "x"}, `unknown deployment "tiny"`},
		{[]string{"run", "--team", "selector", "--team-file", unknownDep, "x"}, "not both"},
	}
	for _, tc := range cases {
		r := runBinary(t, env, dir, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr\n%s\nwant exit 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if n := em.Count(); n != 0 {
		t.Fatalf("%d model calls were made; a bad desk must fail before any", n)
	}
	// With the deployment listed, the same file runs, each agent on its own deployment.
	env = append(env, "NEWSROOM_DEPLOYMENTS=gpt-4o-mini")
	r := runBinary(t, env, dir, "run", "--team-file", unknownDep, "--format", "json", "--no-cache", "Facts: the home side won 2-1 on Sunday.")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var doc struct {
		Team     string `json:"team"`
		Messages []struct {
			Source, Deployment string
		} `json:"messages"`
		PerDeployment map[string]struct{ Requests int } `json:"per_deployment"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Team != "sports" || len(doc.Messages) != 3 || doc.Messages[1].Deployment != "gpt-4o-mini" || doc.Messages[2].Deployment != "gpt-4o" ||
		doc.PerDeployment["gpt-4o-mini"].Requests != 1 || doc.PerDeployment["gpt-4o"].Requests != 1 {
		t.Fatalf("json %s", r.stdout)
	}
	seen := map[string]string{}
	for _, req := range em.Requests() {
		seen[req.Messages[0].Content] = req.Deployment
	}
	if seen["You are Sports_Writer, a sports reporter."] != "gpt-4o-mini" || seen["You are Copy_Chief."] != "gpt-4o" {
		t.Fatalf("system prompt -> deployment on the wire: %v", seen)
	}
}

func TestServe_BadTeamsDirExits2BeforeServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "broken.yaml"), strings.Replace(sportsDesk, "agent: Copy_Chief", "agent: Nobody", 1))
	code, _, errOut := runCode(t, "serve", "--teams-dir", dir, "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "n.db"))
	if code != 2 || !strings.Contains(errOut, `broken.yaml:13:24: termination.any[0].verdict.agent: unknown agent "Nobody"`) {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "n.db")); err == nil {
		t.Fatal("the store was opened: the desks must be checked first")
	}
}

// TestRun_TemperatureOnTheGPT5DeploymentExits2 runs a team file whose agent
// sets a temperature on the run's own deployment, the emulated GPT-5: it is
// refused at load with its position and what to set, before any call.
func TestRun_TemperatureOnTheGPT5DeploymentExits2(t *testing.T) {
	t.Parallel()
	env, dir := cleanEnv(t)
	warm := filepath.Join(dir, "warm.yaml")
	write(t, warm, strings.Replace(sportsDesk, "    deployment: gpt-4o-mini\n", "    temperature: 0.7\n", 1))
	r := runBinary(t, env, dir, "run", "--team-file", warm, "--no-cache", "x")
	if r.code != 2 || !strings.Contains(r.stderr, "warm.yaml:7:18: agents[0].temperature: the run's deployment is gpt-5, a reasoning model") ||
		!strings.Contains(r.stderr, "set reasoning_effort") || strings.Contains(r.stderr, "Sports_Writer:") {
		t.Fatalf("exit %d, stderr\n%s\nwant exit 2 naming warm.yaml:7:18 and what to set", r.code, r.stderr)
	}
}
