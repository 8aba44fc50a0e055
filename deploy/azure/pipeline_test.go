package azure_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot returns the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// dockerInstr is one Dockerfile instruction with its continuation lines joined.
type dockerInstr struct {
	Cmd  string // upper case: FROM, RUN, ...
	Args string
}

// dockerStage is one build stage: its FROM line and its instructions.
type dockerStage struct {
	From, Name string
	Instrs     []dockerInstr
}

func parseDockerfile(t *testing.T, text string) []dockerStage {
	t.Helper()
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	var stages []dockerStage
	for _, l := range logical {
		cmd, args, _ := strings.Cut(l, " ")
		in := dockerInstr{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := dockerStage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("instruction before FROM: %s", l)
		}
		stages[len(stages)-1].Instrs = append(stages[len(stages)-1].Instrs, in)
	}
	return stages
}

func (s dockerStage) all(cmd string) []string {
	var out []string
	for _, in := range s.Instrs {
		if in.Cmd == cmd {
			out = append(out, in.Args)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, readRepoFile(t, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	t.Run("the builder is Go 1.26 and builds a static, stripped binary of cmd/newsroom", func(t *testing.T) {
		if build.From != "golang:1.26" {
			t.Errorf("builder FROM %s, want golang:1.26", build.From)
		}
		var goBuild string
		for _, r := range build.all("RUN") {
			if strings.Contains(r, "go build") {
				goBuild = r
			}
		}
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w`, "./cmd/newsroom"} {
			if !strings.Contains(goBuild, want) {
				t.Errorf("go build step %q lacks %s", goBuild, want)
			}
		}
	})
	t.Run("the final stage is distroless or scratch and runs as non-root", func(t *testing.T) {
		if !strings.HasPrefix(final.From, "gcr.io/distroless/static") && final.From != "scratch" {
			t.Errorf("final FROM %s", final.From)
		}
		users := final.all("USER")
		if len(users) == 0 {
			t.Fatal("final stage sets no USER")
		}
		user := strings.SplitN(users[len(users)-1], ":", 2)[0]
		if user == "root" || user == "0" || user == "" {
			t.Errorf("final USER %q is root", users[len(users)-1])
		}
		if len(final.all("RUN")) > 0 {
			t.Error("final stage has RUN steps; distroless has no shell")
		}
		for _, c := range final.all("COPY") {
			if !strings.HasPrefix(c, "--from="+build.Name+" ") {
				t.Errorf("final stage copies %q from outside the build stage", c)
			}
		}
		if len(final.all("ADD")) > 0 {
			t.Error("final stage uses ADD")
		}
	})
	t.Run("the entrypoint serves on the port the template and health check use", func(t *testing.T) {
		var entry []string
		eps := final.all("ENTRYPOINT")
		if len(eps) != 1 || json.Unmarshal([]byte(eps[0]), &entry) != nil {
			t.Fatalf("ENTRYPOINT %v is not one exec-form array", eps)
		}
		if want := []string{"/newsroom", "serve", "--addr", "0.0.0.0:8080"}; !slices.Equal(entry, want) {
			t.Errorf("ENTRYPOINT %v, want %v", entry, want)
		}
		if !slices.Contains(final.all("EXPOSE"), "8080") {
			t.Errorf("EXPOSE %v, want 8080", final.all("EXPOSE"))
		}
		ct := loadTemplate(t)
		site := ct.one(t, "Microsoft.Web/sites")
		if port := appSettings(site)["WEBSITES_PORT"]; port != "8080" {
			t.Errorf("template WEBSITES_PORT = %q, the container listens on 8080", port)
		}
	})
	t.Run("the health check runs the binary itself", func(t *testing.T) {
		hcs := final.all("HEALTHCHECK")
		if len(hcs) != 1 {
			t.Fatalf("%d HEALTHCHECK instructions, want 1", len(hcs))
		}
		_, cmd, ok := strings.Cut(hcs[0], "CMD ")
		var argv []string
		if !ok || json.Unmarshal([]byte(strings.TrimSpace(cmd)), &argv) != nil {
			t.Fatalf("HEALTHCHECK %q is not exec form", hcs[0])
		}
		if len(argv) < 2 || argv[0] != "/newsroom" || argv[1] != "healthcheck" {
			t.Errorf("HEALTHCHECK runs %v, want /newsroom healthcheck", argv)
		}
		if !slices.Contains(argv, "http://127.0.0.1:8080/healthz") {
			t.Errorf("HEALTHCHECK %v does not probe the served port", argv)
		}
	})
	t.Run("the build context leaves out git history and local secrets", func(t *testing.T) {
		ignore := strings.Fields(readRepoFile(t, ".dockerignore"))
		for _, want := range []string{".git", ".env", ".env.*"} {
			if !slices.Contains(ignore, want) {
				t.Errorf(".dockerignore lacks %s", want)
			}
		}
	})
}

// workflowJob is one job of a GitHub Actions workflow, read from the YAML text by indentation:
// enough for the fixed layout of ci.yml without a YAML library.
type workflowJob struct {
	ID, Body, Environment string
	Needs                 []string
}

func parseWorkflowJobs(t *testing.T, text string) map[string]*workflowJob {
	t.Helper()
	jobs := map[string]*workflowJob{}
	lines := strings.Split(text, "\n")
	inJobs := false
	var cur *workflowJob
	jobLine := regexp.MustCompile(`^  ([A-Za-z0-9_-]+):\s*$`)
	for _, l := range lines {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			if cur != nil {
				cur.Body += l + "\n"
			}
			continue
		}
		if !strings.HasPrefix(l, " ") {
			inJobs = strings.HasPrefix(l, "jobs:")
			cur = nil
			continue
		}
		if !inJobs {
			continue
		}
		if m := jobLine.FindStringSubmatch(l); m != nil {
			cur = &workflowJob{ID: m[1]}
			jobs[m[1]] = cur
			continue
		}
		if cur != nil {
			cur.Body += l + "\n"
		}
	}
	for _, j := range jobs {
		bl := strings.Split(j.Body, "\n")
		for i, l := range bl {
			switch {
			case strings.HasPrefix(l, "    needs:"):
				v := strings.TrimSpace(strings.TrimPrefix(l, "    needs:"))
				if v == "" {
					for _, n := range bl[i+1:] {
						if !strings.HasPrefix(n, "      - ") {
							break
						}
						j.Needs = append(j.Needs, strings.TrimSpace(strings.TrimPrefix(n, "      - ")))
					}
				} else {
					for _, n := range strings.Split(strings.Trim(v, "[]"), ",") {
						j.Needs = append(j.Needs, strings.TrimSpace(n))
					}
				}
			case strings.HasPrefix(l, "    environment:"):
				v := strings.TrimSpace(strings.TrimPrefix(l, "    environment:"))
				if v == "" && i+1 < len(bl) {
					for _, n := range bl[i+1:] {
						if !strings.HasPrefix(n, "      ") {
							break
						}
						if name, ok := strings.CutPrefix(strings.TrimSpace(n), "name:"); ok {
							v = strings.TrimSpace(name)
						}
					}
				}
				j.Environment = v
			}
		}
	}
	return jobs
}

// dependsOn reports whether job a needs job b, directly or through other jobs.
func dependsOn(jobs map[string]*workflowJob, a, b string) bool {
	seen := map[string]bool{}
	var visit func(string) bool
	visit = func(id string) bool {
		if seen[id] || jobs[id] == nil {
			return false
		}
		seen[id] = true
		for _, n := range jobs[id].Needs {
			if n == b || visit(n) {
				return true
			}
		}
		return false
	}
	return visit(a)
}

func TestWorkflow(t *testing.T) {
	text := readRepoFile(t, filepath.Join(".github", "workflows", "ci.yml"))
	jobs := parseWorkflowJobs(t, text)
	if len(jobs) < 5 {
		t.Fatalf("parsed %d jobs (%v); the parser or the workflow is off", len(jobs), keys(jobs))
	}
	jobRunning := func(t *testing.T, cmd string) *workflowJob {
		t.Helper()
		for _, id := range keys(jobs) {
			if regexp.MustCompile(`(?m)run:\s*(\|\s*\n\s*)?.*` + regexp.QuoteMeta(cmd)).MatchString(jobs[id].Body) {
				return jobs[id]
			}
		}
		t.Fatalf("no job runs %q", cmd)
		return nil
	}

	t.Run("the checks run the README's commands", func(t *testing.T) {
		for _, cmd := range []string{"./scripts/test.sh", "go vet ./...", "gofmt -l", "go run golang.org/x/vuln/cmd/govulncheck@latest ./..."} {
			jobRunning(t, cmd)
		}
	})
	t.Run("tests run with CI=true so missing services fail instead of skipping", func(t *testing.T) {
		j := jobRunning(t, "./scripts/test.sh")
		if !regexp.MustCompile(`(?m)^\s+CI:\s*"?true"?\s*$`).MatchString(j.Body) {
			t.Errorf("job %s does not set CI=true", j.ID)
		}
	})
	t.Run("the README documents the same test command", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
		if os.IsNotExist(err) {
			t.Skip("README.md not written yet")
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "./scripts/test.sh") {
			t.Error("README.md does not show ./scripts/test.sh, the command CI runs")
		}
	})
	var staging, production *workflowJob
	for _, j := range jobs {
		if strings.Contains(j.Body, "deploy/azure/deploy.sh") {
			switch j.Environment {
			case "staging":
				staging = j
			case "production":
				production = j
			}
		}
	}
	t.Run("staging and production deploy with deploy.sh and smoke-test /readyz", func(t *testing.T) {
		if staging == nil || production == nil {
			t.Fatalf("deploy jobs: staging %v, production %v", staging != nil, production != nil)
		}
		for _, j := range []*workflowJob{staging, production} {
			if !regexp.MustCompile(`curl -fsS .*/readyz`).MatchString(j.Body) {
				t.Errorf("job %s has no curl -fsS .../readyz smoke test", j.ID)
			}
			if !strings.Contains(j.Body, "uses: azure/login@") || !strings.Contains(j.Body, "id-token: write") {
				t.Errorf("job %s does not log in to Azure with OIDC", j.ID)
			}
		}
	})
	t.Run("production waits for staging and runs in the production environment", func(t *testing.T) {
		if staging == nil || production == nil {
			t.Skip("deploy jobs missing; reported above")
		}
		if !dependsOn(jobs, production.ID, staging.ID) {
			t.Errorf("job %s does not need %s (needs %v)", production.ID, staging.ID, production.Needs)
		}
		if dependsOn(jobs, staging.ID, production.ID) {
			t.Errorf("staging depends on production")
		}
		for _, id := range []string{jobRunning(t, "./scripts/test.sh").ID, jobRunning(t, "govulncheck").ID} {
			if !dependsOn(jobs, staging.ID, id) {
				t.Errorf("staging deploys without waiting for %s", id)
			}
		}
	})
	t.Run("the container is built and pushed to ACR after the checks", func(t *testing.T) {
		var c *workflowJob
		for _, j := range jobs {
			if strings.Contains(j.Body, "docker/build-push-action@") {
				c = j
			}
		}
		if c == nil {
			t.Fatal("no job builds the container")
		}
		if !strings.Contains(c.Body, "push: true") || !strings.Contains(c.Body, "az acr login") {
			t.Errorf("job %s does not push to ACR", c.ID)
		}
		if staging != nil && !dependsOn(jobs, staging.ID, c.ID) {
			t.Errorf("staging does not wait for the image from %s", c.ID)
		}
	})
	t.Run("no credentials live in the workflow", func(t *testing.T) {
		for _, bad := range []string{"client-secret", "creds:", "password:", "AZURE_CREDENTIALS", "--password"} {
			if strings.Contains(text, bad) {
				t.Errorf("workflow contains %q; use OIDC", bad)
			}
		}
		if !regexp.MustCompile(`(?m)^permissions:\s*\n\s+contents: read`).MatchString(text) {
			t.Error("the workflow's default token permissions are not read-only")
		}
	})
}

func TestParseWorkflowJobs(t *testing.T) {
	text := "on: push\njobs:\n  a:\n    runs-on: x\n  b:\n    needs: a\n    environment: staging\n  c:\n    needs: [a, b]\n    environment:\n      name: production\n      url: u\n  d:\n    needs:\n      - c\n"
	jobs := parseWorkflowJobs(t, text)
	if got := keys(jobs); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("jobs %v", got)
	}
	tests := []struct {
		id, env string
		needs   []string
	}{{"a", "", nil}, {"b", "staging", []string{"a"}}, {"c", "production", []string{"a", "b"}}, {"d", "", []string{"c"}}}
	for _, tt := range tests {
		t.Run("job "+tt.id, func(t *testing.T) {
			j := jobs[tt.id]
			if j.Environment != tt.env || !slices.Equal(j.Needs, tt.needs) {
				t.Errorf("job %s: environment %q needs %v, want %q %v", tt.id, j.Environment, j.Needs, tt.env, tt.needs)
			}
		})
	}
	if !dependsOn(jobs, "d", "a") || dependsOn(jobs, "a", "d") {
		t.Error("dependsOn does not follow needs transitively")
	}
}
