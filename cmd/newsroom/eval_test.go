package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/eval"
)

// miniSuite is the two-case suite of eval/testdata (a case with a source
// file, a brief without sources).
func miniSuite(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../eval/testdata/mini/suite.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fastQuota keeps the emulator's quota limiter from pacing the test's runs.
var fastQuota = []string{"--rpm", "100000", "--tpm", "100000000"}

func readDoc(t *testing.T, s string) *eval.Document {
	t.Helper()
	var d eval.Document
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatalf("not a result document: %v\n%s", err, s)
	}
	return &d
}

func TestEval_TwoDesksOnTheEmulatorThenGateAndCompare(t *testing.T) {
	env, dir := cleanEnv(t)
	out := filepath.Join(dir, "out")
	r := runBinary(t, env, dir, append([]string{"eval", miniSuite(t), "--desk", "roundrobin,selector", "--out", out, "--format", "json"}, fastQuota...)...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	d := readDoc(t, r.stdout)
	if d.Format != eval.FormatVersion || d.Suite.Name != "mini" || d.Suite.Hash == "" || d.BinaryVersion == "" || !d.Emulated {
		t.Errorf("document header %+v", d.Suite)
	}
	if len(d.Variants) != 2 || d.Variants[0].Name != "roundrobin" || d.Variants[1].Name != "selector" || len(d.Results) != 4 {
		t.Fatalf("variants %+v, %d results", d.Variants, len(d.Results))
	}
	for _, res := range d.Results {
		for _, m := range []string{eval.ClaimSupport, eval.ExpectedFacts, eval.HeadlineSupported, eval.Approved, eval.CostUSD, eval.Calls, eval.WallMS} {
			if _, ok := res.Metrics[m]; !ok {
				t.Errorf("%s on %s: no %s", res.Case, res.Variant, m)
			}
		}
		if res.Metrics[eval.CostUSD] <= 0 || res.Article.Body == "" {
			t.Errorf("%s on %s: cost %v, body %q", res.Case, res.Variant, res.Metrics[eval.CostUSD], res.Article.Body)
		}
	}
	if _, ok := d.Results[0].Metrics[eval.CitationCoverage]; !ok {
		t.Error("the case with a source has no citation_coverage")
	}
	for _, f := range []string{"results.json", "results.jsonl", "report.md", "report.html"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("--out lacks %s (%v)", f, err)
		}
	}

	// A base that claims better support than any article can have: the
	// new run is clearly worse, and --fail-if-worse exits 1.
	for i := range d.Results {
		d.Results[i].Metrics[eval.ClaimSupport] += 1
	}
	base := filepath.Join(dir, "base.json")
	var b bytes.Buffer
	if err := d.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, env, dir, append([]string{"eval", miniSuite(t), "--desk", "roundrobin", "--fail-if-worse", base, "--fail-under", "approved=0", "--out", filepath.Join(dir, "new")}, fastQuota...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "eval gate: claim_support is worse") || strings.Contains(r.stderr, "approved") {
		t.Fatalf("exit %d, want 1 for the worse claim_support only\n%s", r.code, r.stderr)
	}
	r = runBinary(t, env, dir, "eval", "compare", base, filepath.Join(dir, "new", "results.json"))
	if r.code != 0 || !strings.Contains(r.stdout, "claim_support") || !strings.Contains(r.stdout, "worse") {
		t.Fatalf("compare: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Two variants of one document: the selector desk needs more calls.
	r = runBinary(t, env, dir, "eval", "compare", filepath.Join(out, "results.json"), filepath.Join(out, "results.json"),
		"--base-variant", "roundrobin", "--new-variant", "selector", "--format", "json")
	var c eval.Comparison
	if err := json.Unmarshal([]byte(r.stdout), &c); r.code != 0 || err != nil {
		t.Fatalf("compare variants: exit %d, %v\n%s", r.code, err, r.stderr)
	}
	calls := slices.IndexFunc(c.Differences, func(d eval.Difference) bool { return d.Metric == eval.Calls })
	if calls < 0 || c.Differences[calls].Delta <= 0 || c.Differences[calls].Verdict != eval.Worse {
		t.Errorf("differences %+v, want more calls on the selector desk (worse)", c.Differences)
	}
	r = runBinary(t, env, dir, "eval", "compare", base, base, "--base-variant", "nosuch")
	if r.code != 2 || !strings.Contains(r.stderr, `no variant "nosuch"`) {
		t.Errorf("an unknown variant: exit %d\n%s", r.code, r.stderr)
	}
	r = runBinary(t, env, dir, append([]string{"eval", miniSuite(t), "--desk", "roundrobin", "--fail-under", "approved=1.5"}, fastQuota...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "roundrobin: approved 1 is below 1.5") {
		t.Fatalf("--fail-under: exit %d\n%s", r.code, r.stderr)
	}
}

func journalKeys(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r eval.Result
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r.Key())
		}
	}
	return out
}

func TestEval_ResumeAfterAKillRunsOnlyWhatIsLeft(t *testing.T) {
	env, dir := cleanEnv(t)
	out := filepath.Join(dir, "out")
	journal := filepath.Join(out, "results.jsonl")
	const total = 2 * 2 * 5 // desks x cases x repeats
	args := append([]string{"eval", miniSuite(t), "--desk", "roundrobin,selector", "--repeat", "5", "--concurrency", "1", "--out", out}, fastQuota...)
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env, cmd.Dir = env, dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(journalKeys(t, journal)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	before := journalKeys(t, journal)
	if len(before) == 0 || len(before) >= total {
		t.Fatalf("%d results before the kill, want some of %d", len(before), total)
	}
	r := runBinary(t, env, dir, append(args, "--resume", "--format", "json")...)
	if r.code != 0 {
		t.Fatalf("resume: exit %d\n%s", r.code, r.stderr)
	}
	after := journalKeys(t, journal)
	seen := map[string]bool{}
	for _, k := range after {
		if seen[k] {
			t.Errorf("%q ran twice", k)
		}
		seen[k] = true
	}
	if len(after) != total || strings.Join(after[:len(before)], "|") != strings.Join(before, "|") {
		t.Errorf("journal after resume has %d results (want %d) and must start with the %d from before", len(after), total, len(before))
	}
	if d := readDoc(t, r.stdout); len(d.Results) != total {
		t.Errorf("document has %d results, want %d", len(d.Results), total)
	}
}

func TestEval_BadSuitesExitTwoWithFileLineColumn(t *testing.T) {
	env, dir := cleanEnv(t)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown field", []string{"eval", "validate", write("a.yaml", "cases:\n  - name: a\n    task: t\n    expct: {}\n")}, "a.yaml:4:5: unknown field \"expct\""},
		{"a missing document", []string{"eval", write("b.yaml", "cases:\n  - name: a\n    task: t\n    sources: [missing.txt]\n")}, "b.yaml:4:15: cases[0].sources[0]: no such document"},
		{"an unknown desk in the suite", []string{"eval", write("c.yaml", "desks: [nosuch]\ncases:\n  - name: a\n    task: t\n")}, "c.yaml:1:9: desks: unknown desk \"nosuch\""},
		{"an unknown desk flag", []string{"eval", write("d.yaml", "cases:\n  - name: a\n    task: t\n"), "--desk", "nosuch"}, "--desk: unknown desk \"nosuch\""},
		{"a bad gate", []string{"eval", write("e.yaml", "cases:\n  - name: a\n    task: t\n"), "--fail-under", "nosuch=1"}, "unknown metric \"nosuch\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, env, dir, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, want 2 with %q\n%s", r.code, tt.want, r.stderr)
			}
		})
	}
	r := runBinary(t, env, dir, "eval", "validate", miniSuite(t))
	if r.code != 0 || !strings.Contains(r.stdout, "ok (2 cases)") {
		t.Errorf("validate of a good suite: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, env, dir, "eval", "schema")
	if r.code != 0 || !json.Valid([]byte(r.stdout)) {
		t.Errorf("schema: exit %d\n%s", r.code, r.stderr)
	}
}

// TestEval_JudgeScoresApartFromTheMetricsOnTheEmulator also runs the
// variant flags' cross product: a shipped desk and a team file, two
// deployments, a reasoning effort.
func TestEval_JudgeScoresApartFromTheMetricsOnTheEmulator(t *testing.T) {
	env, dir := cleanEnv(t)
	teamFile, err := filepath.Abs("../../desk/teams/roundrobin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, env, dir, append([]string{"eval", miniSuite(t), "--desk", "roundrobin", "--team-file", teamFile,
		"--deployment", "gpt-5,gpt-5-mini", "--reasoning-effort", "low", "--judge", "gpt-5-mini", "--format", "json"}, fastQuota...)...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	d := readDoc(t, r.stdout)
	var names []string
	for _, v := range d.Variants {
		names = append(names, v.Name)
	}
	if got := strings.Join(names, " "); got != "roundrobin@gpt-5+low roundrobin@gpt-5-mini+low file:roundrobin@gpt-5+low file:roundrobin@gpt-5-mini+low" || len(d.Results) != 8 {
		t.Fatalf("variants %s, %d results", got, len(d.Results))
	}
	for _, res := range d.Results { // the effort reached the reasoning deployments' calls
		if res.Metrics[eval.ReasoningTokens] <= 0 {
			t.Errorf("%s on %s: reasoning_tokens %v, want the low effort's hidden tokens", res.Case, res.Variant, res.Metrics[eval.ReasoningTokens])
		}
	}
	for _, res := range d.Results {
		j := res.Judge
		if j == nil || j.PromptVersion != eval.JudgePromptVersion || len(j.Scores) != len(eval.JudgeCriteria) || j.CostUSD <= 0 {
			t.Fatalf("%s: judge %+v", res.Case, j)
		}
		for _, c := range eval.JudgeCriteria {
			if s := j.Scores[c]; s.Score < 1 || s.Score > 5 || s.Reason == "" {
				t.Errorf("%s: %s = %+v", res.Case, c, s)
			}
			if _, ok := res.Metrics[c]; ok {
				t.Errorf("%s: the judge's %s is among the measured metrics", res.Case, c)
			}
		}
	}
	v := d.Variants[0]
	if v.JudgeCostUSD <= 0 || v.Judge["faithfulness"].N != 2 {
		t.Errorf("variant judge summary %+v cost %v", v.Judge, v.JudgeCostUSD)
	}
	var runCost float64
	for _, res := range d.Results {
		if res.Variant == v.Name {
			runCost += res.Metrics[eval.CostUSD]
		}
	}
	if !(v.Metrics[eval.CostUSD].Mean*2-runCost < 1e-9 && runCost-v.Metrics[eval.CostUSD].Mean*2 < 1e-9) {
		t.Errorf("cost_usd mean %v is not the runs' own cost %v", v.Metrics[eval.CostUSD].Mean, runCost/2)
	}
}

// starterGates are the thresholds the repository's CI holds the shipped
// roundrobin desk to on the starter suite, on the emulator.
var starterGates = []string{"claim_support=0.95", "citation_precision=0.95", "quote_fidelity=0.95", "expected_facts=0.9",
	"forbidden_absent=1", "length_ok=1", "approved=1"}

func TestEval_StarterSuiteMeetsItsThresholds(t *testing.T) {
	env, dir := cleanEnv(t)
	suite, err := filepath.Abs("../../eval/suites/starter/suite.yaml")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"eval", suite, "--desk", "roundrobin", "--concurrency", "4", "--format", "json"}, fastQuota...)
	for _, g := range starterGates {
		args = append(args, "--fail-under", g)
	}
	r := runBinary(t, env, dir, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if d := readDoc(t, r.stdout); len(d.Results) < 12 || d.Variants[0].OutcomeOK < 1 {
		t.Errorf("%d results, outcome as expected %v", len(d.Results), d.Variants[0].OutcomeOK)
	}
}

func TestEval_URLSourcesAreFetchedBeforeTheRun(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<html><head><title>Harbour library</title></head><body><article><p>The harbour library reopens on Saturday with 12,000 books, director Léa Martin said.</p></article></body></html>`)
	}))
	defer ts.Close()
	env, dir := cleanEnv(t)
	suite := filepath.Join(dir, "suite.yaml")
	body := "cases:\n  - name: library\n    task: \"Write a short news article on the library from the source.\"\n    sources: [\"" + ts.URL + "/library\"]\n    expect:\n      facts: [\"12,000 books\"]\n"
	if err := os.WriteFile(suite, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(ts.URL, "http://")
	r := runBinary(t, env, dir, append([]string{"eval", suite, "--fetch-allow", host, "--format", "json"}, fastQuota...)...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	res := readDoc(t, r.stdout).Results[0]
	if _, ok := res.Metrics[eval.CitationCoverage]; !ok || res.Metrics[eval.ExpectedFacts] != 1 || res.Metrics[eval.ClaimSupport] != 1 {
		t.Errorf("metrics %v, article %q", res.Metrics, res.Article.Body)
	}
}
