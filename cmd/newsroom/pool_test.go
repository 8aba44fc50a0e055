package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
)

func writePoolFile(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "deployments.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startKeyedEmulator starts an emulator process of its own that asks for
// key, for a deployments file's entry; it stops with the test.
func startKeyedEmulator(t *testing.T, key string) *emulator.Running {
	t.Helper()
	// Deployments named after a GPT-4o model serve one; any other name the
	// GPT-5 default.
	em, err := emulator.Start(emulator.Config{APIKey: key, Deployments: map[string]string{
		"gpt-4o": "gpt-4o-2024-11-20", "gpt-4o-mini": "gpt-4o-mini-2024-07-18"}}, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = em.Close() })
	return em
}

func TestRun_DeploymentsFile(t *testing.T) {
	t.Parallel()
	const key = "pool-test-key"
	primary := startKeyedEmulator(t, key)
	secondary := startKeyedEmulator(t, key)
	primary.Force(emulator.ForcedFault{Fault: emulator.Fault503})

	env, dir := cleanEnv(t, "POOL_KEY="+key)
	file := writePoolFile(t, dir, "deployments:\n  - name: eastus\n    endpoint: "+primary.URL+
		"\n    deployment: gpt-4o\n    api_key_env: POOL_KEY\n  - name: swedencentral\n    endpoint: "+secondary.URL+
		"\n    deployment: gpt-4o\n    api_key_env: POOL_KEY\n    priority: 2\n")
	r := runBinary(t, env, dir, "run", "--no-cache", "--format", "json", "--deployments-file", file, facts)
	if r.code != 0 {
		t.Fatalf("exit %d with the primary down\n%s", r.code, r.stderr)
	}
	var doc struct {
		Messages []struct {
			Source, Deployment string
		}
		PerAgent map[string]struct {
			Deployments map[string]int `json:"deployments"`
		} `json:"per_agent"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if len(doc.Messages) < 3 {
		t.Fatalf("%d messages", len(doc.Messages))
	}
	for _, m := range doc.Messages[1:] {
		if m.Deployment != "swedencentral" {
			t.Errorf("message of %s answered by %q, want swedencentral while eastus fails", m.Source, m.Deployment)
		}
	}
	if n := doc.PerAgent["News_Reporter"].Deployments["swedencentral"]; n == 0 {
		t.Errorf("per_agent News_Reporter deployments = %v", doc.PerAgent["News_Reporter"].Deployments)
	}
	if !strings.Contains(r.stderr, "eastus") {
		t.Errorf("stderr does not log the failover from eastus:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr+r.stdout, key) {
		t.Error("the API key was printed")
	}
}

func TestRun_DeploymentsFileErrorsExit2(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body, want string }{
		{"no deployment", "deployments: []\n", "deployments.yaml:1: deployments: no deployment listed"},
		{"a missing endpoint", "deployments:\n  - name: a\n    deployment: d\n", "deployments.yaml:2: deployments[0].endpoint: missing"},
		{"duplicate names", "deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n  - name: a\n    endpoint: https://b.openai.azure.com\n    deployment: d\n",
			`deployments.yaml:5: deployments[1].name: "a" is already the name of the deployment at line 2`},
		{"an unset key variable", "deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n    api_key_env: UNSET_POOL_KEY\n",
			"deployments.yaml:5: deployments[0].api_key_env"},
		{"plain http to a remote host", "deployments:\n  - name: a\n    endpoint: http://a.openai.azure.com\n    deployment: d\n",
			"deployments.yaml:3: deployments[0].endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, dir := cleanEnv(t)
			file := writePoolFile(t, dir, tc.body)
			r := runBinary(t, env, dir, "run", "--no-cache", "--deployments-file", file, facts)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", r.code, r.stderr, tc.want)
			}
			if strings.Contains(r.stdout, "News_Reporter") {
				t.Error("a run started despite the bad file")
			}
		})
	}
}

func TestRun_CacheSimilarity(t *testing.T) {
	t.Parallel()
	env, dir := cleanEnv(t)
	type embedding struct {
		Tokens int     `json:"embedding_tokens"`
		USD    float64 `json:"embedding_usd"`
	}
	var emb struct {
		Usage    embedding            `json:"usage"`
		CostUSD  float64              `json:"cost_usd"`
		PerAgent map[string]embedding `json:"per_agent"`
	}
	run := func(task string) (cached, similar int, stderr string) {
		t.Helper()
		r := runBinary(t, env, dir, "run", "--format", "json", "--cache-path", filepath.Join(dir, "responses.db"),
			"--cache-similarity", "0.9", "--embeddings-deployment", "text-embedding-3-small", task)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		var doc struct {
			Messages []struct {
				Cached     bool    `json:"cached"`
				CacheMatch string  `json:"cache_match"`
				Similarity float64 `json:"similarity"`
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		emb.PerAgent = nil // the last run's only
		if err := json.Unmarshal([]byte(r.stdout), &emb); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		for _, m := range doc.Messages[1:] {
			if m.Cached {
				cached++
			}
			if m.CacheMatch == "similar" && m.Similarity >= 0.9 {
				similar++
			}
		}
		return cached, similar, r.stderr
	}
	if c, _, _ := run(facts); c != 0 {
		t.Fatalf("a first run had %d cached messages", c)
	}
	paraphrase := "Facts: On Tuesday the city council approved a new bike lane on Main Street; construction, which starts in March, costs 2.1 million dollars."
	if _, s, _ := run(paraphrase); s == 0 {
		t.Error("a paraphrase with the same facts got no similar hit")
	}
	// The embeddings cost money: the run's cost and each agent's count them.
	var perAgent embedding
	for _, a := range emb.PerAgent {
		perAgent.Tokens += a.Tokens
		perAgent.USD += a.USD
	}
	if emb.Usage.Tokens == 0 || emb.Usage.USD <= 0 || emb.CostUSD < emb.Usage.USD || perAgent.Tokens != emb.Usage.Tokens {
		t.Errorf("embedding usage %+v, cost $%g, per agent %+v: want the embeddings counted in the run's cost", emb.Usage, emb.CostUSD, perAgent)
	}
	changed := strings.Replace(facts, "2.1 million", "2.4 million", 1)
	if c, _, _ := run(changed); c != 0 {
		t.Errorf("a task with one changed figure got %d cached messages", c)
	}
}

func TestRun_CacheSimilarityNeedsAnEmbeddingsDeployment(t *testing.T) {
	t.Parallel()
	env, dir := cleanEnv(t)
	r := runBinary(t, env, dir, "run", "--cache-similarity", "0.97", facts)
	if r.code != 2 || !strings.Contains(r.stderr, "embeddings deployment") {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
}

// poolDesk names a deployment pinned in the default pool (secondary), a
// named pool (fast) and nothing (the default pool, whose first deployment is
// primary).
const poolDesk = `name: regions
kind: roundrobin
agents:
  - name: Sports_Writer
    description: Writes short match reports from the facts given.
    prompt: You are Sports_Writer, a sports reporter.
    deployment: secondary
  - name: Fact_Checker
    description: Checks the figures.
    prompt: You are Fact_Checker.
    deployment: fast
  - name: Copy_Chief
    description: Reviews the report.
    prompt: You are Copy_Chief.
termination:
  max_messages: 3
`

// TestRun_TeamFileNamesPoolsAndDeployments runs a desk whose agents name a
// deployment, a pool and nothing, over a deployments file with two pools on
// two emulators, and checks who answered each agent, in the JSON and on the
// wire; a desk naming neither a pool nor a deployment exits 2 before any call.
func TestRun_TeamFileNamesPoolsAndDeployments(t *testing.T) {
	t.Parallel()
	const key = "pool-desk-key"
	east := startKeyedEmulator(t, key)
	west := startKeyedEmulator(t, key)
	env, dir := cleanEnv(t, "POOL_KEY="+key)
	entry := func(name, url, deployment string, priority int, pool string) string {
		s := "  - name: " + name + "\n    endpoint: " + url + "\n    deployment: " + deployment +
			"\n    api_key_env: POOL_KEY\n    priority: " + string(rune('0'+priority)) + "\n"
		if pool != "" {
			s += "    pool: " + pool + "\n"
		}
		return s
	}
	file := writePoolFile(t, dir, "deployments:\n"+entry("primary", east.URL, "gpt-4o", 1, "")+
		entry("secondary", west.URL, "gpt-4o", 2, "")+entry("fast-west", west.URL, "gpt-4o-mini", 1, "fast"))
	desk := filepath.Join(dir, "regions.yaml")
	write(t, desk, poolDesk)

	unknown := filepath.Join(dir, "unknown.yaml")
	write(t, unknown, strings.Replace(poolDesk, "deployment: fast", "deployment: westeurope", 1))
	r := runBinary(t, env, dir, "run", "--no-cache", "--deployments-file", file, "--team-file", unknown, facts)
	if r.code != 2 || !strings.Contains(r.stderr, `unknown deployment "westeurope"; known: default, fast, primary, fast-west, secondary`) {
		t.Errorf("a desk naming an unknown deployment: exit %d\n%s", r.code, r.stderr)
	}
	if n := east.Count() + west.Count(); n != 0 {
		t.Fatalf("%d model calls before the desk was refused", n)
	}

	r = runBinary(t, env, dir, "run", "--no-cache", "--format", "json", "--deployments-file", file, "--team-file", desk, facts)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var doc struct {
		Messages []struct {
			Source, Deployment string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	got := map[string]string{}
	for _, m := range doc.Messages[1:] {
		got[m.Source] = m.Deployment
	}
	want := map[string]string{"Sports_Writer": "secondary", "Fact_Checker": "fast-west", "Copy_Chief": "primary"}
	if len(got) != 3 || got["Sports_Writer"] != want["Sports_Writer"] || got["Fact_Checker"] != want["Fact_Checker"] || got["Copy_Chief"] != want["Copy_Chief"] {
		t.Errorf("answered by %v, want %v", got, want)
	}
	// On the wire: each agent's call reached its deployment's endpoint and
	// Azure deployment name.
	wire := map[string]string{}
	for name, em := range map[string]*emulator.Running{"east": east, "west": west} {
		for _, req := range em.Requests() {
			wire[req.Messages[0].Content] = name + "/" + req.Deployment
		}
	}
	if wire["You are Sports_Writer, a sports reporter."] != "west/gpt-4o" || wire["You are Fact_Checker."] != "west/gpt-4o-mini" ||
		wire["You are Copy_Chief."] != "east/gpt-4o" {
		t.Errorf("system prompt -> endpoint/deployment: %v", wire)
	}
}

// TestRun_PoolAndSimilarityFromTheEnvironment configures the deployments file
// and the similarity cache through NEWSROOM_DEPLOYMENTS_FILE,
// NEWSROOM_CACHE_SIMILARITY and NEWSROOM_EMBEDDINGS_DEPLOYMENT alone: the
// pool's deployment answers (not the offline emulator) and a paraphrase gets
// similar hits.
func TestRun_PoolAndSimilarityFromTheEnvironment(t *testing.T) {
	t.Parallel()
	const key = "pool-env-key"
	em := startKeyedEmulator(t, key)
	env, dir := cleanEnv(t, "POOL_KEY="+key)
	file := writePoolFile(t, dir, "deployments:\n  - name: eastus\n    endpoint: "+em.URL+"\n    deployment: gpt-4o\n    api_key_env: POOL_KEY\n")
	env = append(env, "NEWSROOM_DEPLOYMENTS_FILE="+file, "NEWSROOM_CACHE_SIMILARITY=0.9",
		"NEWSROOM_EMBEDDINGS_DEPLOYMENT=text-embedding-3-small")
	run := func(task string) (deployments map[string]int, similar int) {
		t.Helper()
		r := runBinary(t, env, dir, "run", "--format", "json", "--cache-path", filepath.Join(dir, "responses.db"), task)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		var doc struct {
			Messages []struct {
				Deployment string  `json:"deployment"`
				CacheMatch string  `json:"cache_match"`
				Similarity float64 `json:"similarity"`
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.stdout)
		}
		deployments = map[string]int{}
		for _, m := range doc.Messages[1:] {
			if m.CacheMatch == "similar" && m.Similarity >= 0.9 {
				similar++
			} else {
				deployments[m.Deployment]++
			}
		}
		return deployments, similar
	}
	deps, _ := run(facts)
	if len(deps) != 1 || deps["eastus"] == 0 {
		t.Errorf("messages answered by %v, want the pool's eastus only", deps)
	}
	embeds := 0
	for _, r := range em.Requests() {
		if strings.HasSuffix(r.Path, "/embeddings") {
			embeds++
		}
	}
	if embeds == 0 {
		t.Error("no embeddings request reached the pool's endpoint: the similarity cache is off")
	}
	paraphrase := "Facts: On Tuesday the city council approved a new bike lane on Main Street; construction, which starts in March, costs 2.1 million dollars."
	if _, similar := run(paraphrase); similar == 0 {
		t.Error("a paraphrase got no similar hit with NEWSROOM_CACHE_SIMILARITY=0.9")
	}
}

// TestServe_MessageEventsCarryTheDeployment: serve over a pool whose primary
// fails; each message event of a run, live on the SSE stream and replayed
// from the store after the run, names the deployment that answered.
func TestServe_MessageEventsCarryTheDeployment(t *testing.T) {
	dir := isolate(t)
	const key = "pool-serve-key"
	t.Setenv("POOL_SERVE_KEY", key)
	primary := startKeyedEmulator(t, key)
	secondary := startKeyedEmulator(t, key)
	primary.Force(emulator.ForcedFault{Fault: emulator.Fault503})
	file := writePoolFile(t, dir, "deployments:\n  - name: eastus\n    endpoint: "+primary.URL+
		"\n    deployment: gpt-4o\n    api_key_env: POOL_SERVE_KEY\n  - name: swedencentral\n    endpoint: "+secondary.URL+
		"\n    deployment: gpt-4o\n    api_key_env: POOL_SERVE_KEY\n    priority: 2\n")
	srv := startServe(t, dir, "--deployments-file", file, "--drain-delay", "0s")
	resp := srv.do(t, "POST", "/v1/runs", `{"task":"`+facts+`"}`)
	var run struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	if run.ID == "" {
		t.Fatalf("POST /v1/runs: status %d", resp.StatusCode)
	}
	check := func(which, stream string) {
		t.Helper()
		n := 0
		for block := range strings.SplitSeq(stream, "\n\n") {
			if !strings.Contains(block, "event: message\n") {
				continue
			}
			_, data, _ := strings.Cut(block, "data: ")
			var e struct {
				Message struct{ Source, Deployment string }
			}
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				t.Fatalf("%s: a message event is not JSON: %v\n%s", which, err, data)
			}
			if e.Message.Source == "user" {
				continue
			}
			n++
			if e.Message.Deployment != "swedencentral" {
				t.Errorf("%s: %s's message event names deployment %q, want swedencentral", which, e.Message.Source, e.Message.Deployment)
			}
		}
		if n == 0 {
			t.Errorf("%s: no agent message event:\n%s", which, stream)
		}
	}
	live := srv.follow(t, run.ID)
	if !strings.Contains(live, "event: run_finished") {
		t.Fatalf("the stream did not finish:\n%s", live)
	}
	check("live", live)
	check("stored", srv.follow(t, run.ID))
}
