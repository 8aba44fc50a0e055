package azure_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needTool returns the path of a tool, skipping the test when it is missing outside CI.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return p
}

func TestDeployScript_Syntax(t *testing.T) {
	bash := needTool(t, "bash")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bash, "-n", "deploy.sh").CombinedOutput()
	if err != nil {
		t.Fatalf("bash -n deploy.sh: %v\n%s", err, out)
	}
	text, err := os.ReadFile("deploy.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"set -euo pipefail", "az group create", "az deployment group create", "--template-file", `--parameters "@`} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("deploy.sh lacks %q", want)
		}
	}
	for _, bad := range []string{"set -x", "set -o xtrace", `echo "${NEWSROOM_DATABASE_URL`, "databaseUrl=${"} {
		if bytes.Contains(text, []byte(bad)) {
			t.Errorf("deploy.sh contains %q, which can leak the secret", bad)
		}
	}
	if info, err := os.Stat("deploy.sh"); err != nil || info.Mode()&0o111 == 0 {
		t.Errorf("deploy.sh is not executable: %v", err)
	}
}

// fakeAz is an `az` on PATH that records each call's arguments, copies every @file parameter
// it is given (the secret file is gone once the script ends) and answers the deployment with a URL.
const fakeAz = `#!/usr/bin/env bash
set -euo pipefail
printf '%s\n' "$*" >>"${FAKE_AZ_DIR}/calls"
for a in "$@"; do
  case "$a" in
    @*) f="${a#@}"; [ -f "$f" ] && { cat "$f"; printf '\n'; } >>"${FAKE_AZ_DIR}/files" ;;
  esac
done
if [ "$1 $2 $3" = "deployment group create" ]; then
  echo "https://newsroom-staging-abc.azurewebsites.net"
fi
if [ "$1 $2 $3" = "deployment group what-if" ]; then
  echo "Resource changes: 40 to create."
fi
`

type deployRun struct {
	stdout, stderr string
	calls          []string
	files          string
	err            error
}

func runDeploy(t *testing.T, env map[string]string, args ...string) deployRun {
	t.Helper()
	bash := needTool(t, "bash")
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "az"), []byte(fakeAz), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, append([]string{"deploy.sh"}, args...)...)
	cmd.Env = []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + dir,
		"TMPDIR=" + dir,
		"FAKE_AZ_DIR=" + dir,
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	run := deployRun{err: cmd.Run(), stdout: stdout.String(), stderr: stderr.String()}
	if calls, err := os.ReadFile(filepath.Join(dir, "calls")); err == nil {
		run.calls = strings.Split(strings.TrimSpace(string(calls)), "\n")
	}
	if files, err := os.ReadFile(filepath.Join(dir, "files")); err == nil {
		run.files = string(files)
	}
	// Whatever the script wrote under TMPDIR must be gone: the secret file lives there.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); n != "bin" && n != "calls" && n != "files" {
			t.Errorf("deploy.sh left %s behind in TMPDIR", n)
		}
	}
	return run
}

// secretFromFiles returns the databaseUrl value from the parameters files az was given.
func secretFromFiles(t *testing.T, files string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(files))
	for {
		var f struct {
			Parameters map[string]struct {
				Value json.RawMessage `json:"value"`
			} `json:"parameters"`
		}
		if err := dec.Decode(&f); errors.Is(err, io.EOF) {
			t.Fatal("no parameters file carried databaseUrl")
		} else if err != nil {
			t.Fatalf("az was given a parameters file that is not JSON: %v", err)
		}
		if p, ok := f.Parameters["databaseUrl"]; ok {
			var v string
			if err := json.Unmarshal(p.Value, &v); err != nil {
				t.Fatalf("databaseUrl is not a JSON string: %v", err)
			}
			return v
		}
	}
}

const testSecret = "postgres://newsroom:s3cr3t-Pa55@db.internal:5432/newsroom?sslmode=require"

func TestDeployScript_Run(t *testing.T) {
	abs, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"RESOURCE_GROUP":        "rg-newsroom-test",
		"LOCATION":              "swedencentral",
		"ENVIRONMENT":           "staging",
		"IMAGE":                 "newsroomacr.azurecr.io/newsroom:abc123",
		"ACR_NAME":              "newsroomacr",
		"ACR_RESOURCE_GROUP":    "rg-newsroom-shared",
		"NEWSROOM_DATABASE_URL": testSecret,
	}

	t.Run("a deployment creates the group, deploys the template and prints only the URL", func(t *testing.T) {
		r := runDeploy(t, env)
		if r.err != nil {
			t.Fatalf("deploy.sh: %v\nstderr:\n%s", r.err, r.stderr)
		}
		if r.stdout != "https://newsroom-staging-abc.azurewebsites.net\n" {
			t.Errorf("stdout = %q, want only the URL", r.stdout)
		}
		if len(r.calls) != 2 {
			t.Fatalf("az calls = %q, want group create then deployment create", r.calls)
		}
		for _, want := range []string{"group create", "--name rg-newsroom-test", "--location swedencentral"} {
			if !strings.Contains(r.calls[0], want) {
				t.Errorf("first az call %q lacks %q", r.calls[0], want)
			}
		}
		for _, want := range []string{
			"deployment group create", "--resource-group rg-newsroom-test",
			"--template-file " + filepath.Join(abs, "azuredeploy.json"),
			"--parameters @" + filepath.Join(abs, "azuredeploy.parameters.json"),
			"containerImage=newsroomacr.azurecr.io/newsroom:abc123", "environmentName=staging",
			"containerRegistryName=newsroomacr", "containerRegistryResourceGroup=rg-newsroom-shared",
			"--query properties.outputs.webAppUrl.value",
		} {
			if !strings.Contains(r.calls[1], want) {
				t.Errorf("deployment call %q lacks %q", r.calls[1], want)
			}
		}
	})
	t.Run("the secret reaches az only inside a parameters file, exactly", func(t *testing.T) {
		for _, secret := range []string{testSecret, "host=db user=newsroom password=s3cr3t\"quote\\slash\ttab"} {
			withSecret := map[string]string{}
			for k, v := range env {
				withSecret[k] = v
			}
			withSecret["NEWSROOM_DATABASE_URL"] = secret
			r := runDeploy(t, withSecret)
			if r.err != nil {
				t.Fatalf("deploy.sh: %v\nstderr:\n%s", r.err, r.stderr)
			}
			for what, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr, "az arguments": strings.Join(r.calls, "\n")} {
				if strings.Contains(text, "s3cr3t") {
					t.Errorf("the secret appears in %s", what)
				}
			}
			if got := secretFromFiles(t, r.files); got != secret {
				t.Errorf("databaseUrl in the parameters file = %q, want %q", got, secret)
			}
		}
	})
	t.Run("a secret with control characters is refused", func(t *testing.T) {
		bad := map[string]string{}
		for k, v := range env {
			bad[k] = v
		}
		bad["NEWSROOM_DATABASE_URL"] = "postgres://db/x\x07"
		r := runDeploy(t, bad)
		if r.err == nil || strings.Contains(strings.Join(r.calls, "\n"), "deployment group create") {
			t.Errorf("err %v, az calls %q: want a refusal before deploying", r.err, r.calls)
		}
	})
	t.Run("what-if only previews and deploys nothing", func(t *testing.T) {
		r := runDeploy(t, env, "--what-if-only")
		if r.err != nil {
			t.Fatalf("deploy.sh --what-if-only: %v\nstderr:\n%s", r.err, r.stderr)
		}
		joined := strings.Join(r.calls, "\n")
		if !strings.Contains(joined, "deployment group what-if") || strings.Contains(joined, "deployment group create") {
			t.Errorf("az calls = %q, want a what-if and no create", r.calls)
		}
		if r.stdout != "" {
			t.Errorf("stdout = %q, want nothing", r.stdout)
		}
	})
	t.Run("the regions and data services settings reach the template, what-if first", func(t *testing.T) {
		more := map[string]string{"SECONDARY_LOCATION": "eastus2", "DEPLOY_POSTGRES": "true", "DEPLOY_REDIS": "true", "MONTHLY_BUDGET_USD": "300"}
		for k, v := range env {
			more[k] = v
		}
		r := runDeploy(t, more, "--what-if")
		if r.err != nil {
			t.Fatalf("deploy.sh --what-if: %v\nstderr:\n%s", r.err, r.stderr)
		}
		joined := strings.Join(r.calls, "\n")
		whatIf := strings.Index(joined, "deployment group what-if")
		create := strings.Index(joined, "deployment group create")
		if whatIf < 0 || create < whatIf {
			t.Errorf("az calls = %q, want a what-if before the create", r.calls)
		}
		for _, want := range []string{"secondaryLocation=eastus2", "deployPostgres=true", "deployRedis=true", "monthlyBudgetUsd=300"} {
			if !strings.Contains(r.calls[len(r.calls)-1], want) {
				t.Errorf("deployment call lacks %q", want)
			}
		}
	})
	t.Run("missing settings stop the script before any az call", func(t *testing.T) {
		for _, drop := range []string{"RESOURCE_GROUP", "NEWSROOM_DATABASE_URL"} {
			partial := map[string]string{}
			for k, v := range env {
				if k != drop {
					partial[k] = v
				}
			}
			r := runDeploy(t, partial)
			if r.err == nil {
				t.Errorf("without %s: deploy.sh succeeded", drop)
			}
			if len(r.calls) != 0 {
				t.Errorf("without %s: az was called: %q", drop, r.calls)
			}
			if !strings.Contains(r.stderr, drop) {
				t.Errorf("without %s: stderr %q does not name it", drop, r.stderr)
			}
		}
	})
	t.Run("with PostgreSQL deployed no database secret is needed or passed", func(t *testing.T) {
		withPG := map[string]string{"DEPLOY_POSTGRES": "true"}
		for k, v := range env {
			if k != "NEWSROOM_DATABASE_URL" {
				withPG[k] = v
			}
		}
		r := runDeploy(t, withPG, "--what-if")
		if r.err != nil {
			t.Fatalf("DEPLOY_POSTGRES=true without NEWSROOM_DATABASE_URL: %v\nstderr:\n%s", r.err, r.stderr)
		}
		if strings.Contains(r.files, "databaseUrl") {
			t.Errorf("a databaseUrl parameter reached az although the template deploys PostgreSQL:\n%s", r.files)
		}
		last := r.calls[len(r.calls)-1]
		if !strings.Contains(last, "deployment group create") || !strings.Contains(last, "deployPostgres=true") {
			t.Errorf("deployment call %q", last)
		}
		// A URL given anyway is ignored, said so, and never sent or printed.
		withPG["NEWSROOM_DATABASE_URL"] = testSecret
		r = runDeploy(t, withPG)
		if r.err != nil {
			t.Fatalf("deploy.sh: %v\nstderr:\n%s", r.err, r.stderr)
		}
		if strings.Contains(r.files, "databaseUrl") || strings.Contains(strings.Join(r.calls, "\n")+r.stdout+r.stderr, "s3cr3t") {
			t.Error("the ignored database URL reached az or the output")
		}
		if !strings.Contains(r.stderr, "NEWSROOM_DATABASE_URL is ignored") {
			t.Errorf("stderr %q does not say the URL is ignored", r.stderr)
		}
	})
	t.Run("deployPostgres in the parameters file counts like DEPLOY_POSTGRES", func(t *testing.T) {
		base, err := os.ReadFile("azuredeploy.parameters.json")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			value   string
			needURL bool
		}{{"true", false}, {"false", true}} {
			params := filepath.Join(t.TempDir(), "p.json")
			text := strings.Replace(string(base), `"parameters": {`, `"parameters": {
    "deployPostgres": {
      "value": `+tc.value+`
    },`, 1)
			if err := os.WriteFile(params, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			e := map[string]string{"PARAMETERS_FILE": params}
			for k, v := range env {
				if k != "NEWSROOM_DATABASE_URL" {
					e[k] = v
				}
			}
			r := runDeploy(t, e)
			if failed := r.err != nil; failed != tc.needURL {
				t.Errorf("deployPostgres %s in the file, no NEWSROOM_DATABASE_URL: err %v, want failure %v\nstderr:\n%s", tc.value, r.err, tc.needURL, r.stderr)
			}
			if tc.needURL && (len(r.calls) != 0 || !strings.Contains(r.stderr, "NEWSROOM_DATABASE_URL")) {
				t.Errorf("without PostgreSQL and without a URL: az calls %q, stderr %q", r.calls, r.stderr)
			}
		}
		bad := map[string]string{"DEPLOY_POSTGRES": "yes"}
		for k, v := range env {
			bad[k] = v
		}
		if r := runDeploy(t, bad); r.err == nil || len(r.calls) != 0 || !strings.Contains(r.stderr, "DEPLOY_POSTGRES") {
			t.Errorf("DEPLOY_POSTGRES=yes: err %v, az calls %q, stderr %q", r.err, r.calls, r.stderr)
		}
	})
	t.Run("an unknown environment is refused", func(t *testing.T) {
		bad := map[string]string{}
		for k, v := range env {
			bad[k] = v
		}
		bad["ENVIRONMENT"] = "prod"
		if r := runDeploy(t, bad); r.err == nil || len(r.calls) != 0 {
			t.Errorf("ENVIRONMENT=prod: err %v, az calls %q", r.err, r.calls)
		}
	})
}
