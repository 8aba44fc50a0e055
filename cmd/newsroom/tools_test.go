package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/team"
)

// pressServer serves a press release on 127.0.0.2, an address the fetch
// guard refuses unless it is allowed.
func pressServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><head><title>Museum reopens</title></head><body><article><h1>Museum reopens</h1>
<p>The city museum reopened on Sunday after 18 months of repairs that cost 6.3 million euros.</p>
<p>Director Jonas Berg said entry would stay free for residents of the city.</p>
<p>The museum expects about 40,000 visitors in its first year after the works.</p></article></body></html>`)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return l.Addr().String()
}

func TestRun_SourcesGroundingAndCitationsInJSONAndMarkdown(t *testing.T) {
	addr := pressServer(t)
	env, dir := cleanEnv(t, "NEWSROOM_FETCH_ALLOW="+addr)
	url := "http://" + addr + "/press"

	// The reporter fetches the URL named in the task.
	r := runBinary(t, env, dir, "run", "--format", "json", "Write about "+url)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var out struct {
		StopReason string `json:"stop_reason"`
		Sources    []struct {
			ID    int    `json:"id"`
			URL   string `json:"url"`
			Title string `json:"title"`
			Hash  string `json:"hash"`
		} `json:"sources"`
		Grounding *struct {
			Checked     int       `json:"checked"`
			Unsupported *[]string `json:"unsupported"`
		} `json:"grounding"`
		Article struct {
			Body string `json:"body"`
		} `json:"article"`
		Messages []struct {
			Source    string `json:"source"`
			ToolCalls []struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
				Result    string `json:"result"`
				IsError   bool   `json:"is_error"`
				SourceID  int    `json:"source_id"`
			} `json:"tool_calls"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	// The reporter's message carries its tool call and the result.
	if len(out.Messages) < 2 || len(out.Messages[1].ToolCalls) != 1 {
		t.Fatalf("messages %+v", out.Messages)
	}
	if c := out.Messages[1].ToolCalls[0]; out.Messages[1].Source != "News_Reporter" || c.Name != "fetch_url" || !strings.Contains(c.Arguments, url) ||
		c.IsError || c.SourceID != 1 || !strings.Contains(c.Result, "6.3 million euros") {
		t.Fatalf("tool call %+v", c)
	}
	if len(out.Sources) != 1 || out.Sources[0].ID != 1 || out.Sources[0].URL != url || out.Sources[0].Title != "Museum reopens" || len(out.Sources[0].Hash) != 64 {
		t.Fatalf("sources %+v", out.Sources)
	}
	if out.Grounding == nil || out.Grounding.Checked == 0 || out.Grounding.Unsupported == nil || len(*out.Grounding.Unsupported) != 0 {
		t.Fatalf("grounding %+v", out.Grounding)
	}
	if !strings.Contains(out.Article.Body, "6.3 million euros [1]") {
		t.Fatalf("article does not cite its source:\n%s", out.Article.Body)
	}

	// --source fetches before the team starts, for a task given as a topic.
	r = runBinary(t, env, dir, "run", "--format", "markdown", "--source", url, "Write about the museum.")
	if r.code != 0 || !strings.Contains(r.stdout, "\n## Sources\n\n1. [Museum reopens]("+url+")\n") || !strings.Contains(r.stdout, "[1]") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Without the allow list the guard refuses the address: a clear error, exit 2.
	env, dir = cleanEnv(t)
	r = runBinary(t, env, dir, "run", "--source", url, "Write about the museum.")
	if r.code != 2 || !strings.Contains(r.stderr, "refused") || !strings.Contains(r.stderr, "127.0.0.2") {
		t.Fatalf("refused source: exit %d\n%s", r.code, r.stderr)
	}

	// A topic without sources is not checked, and says so; --no-grounding leaves it out.
	r = runBinary(t, env, dir, "run", "--format", "json", "Write about the opening of the harbour library.")
	if r.code != 0 || !strings.Contains(r.stdout, `"grounding": {`+"\n"+`    "checked": 0,`+"\n"+`    "skipped": "no sources"`) {
		t.Fatalf("topic: exit %d\n%s", r.code, r.stdout)
	}
	r = runBinary(t, env, dir, "run", "--format", "json", "--no-grounding", "--no-tools", facts)
	if r.code != 0 || strings.Contains(r.stdout, `"grounding"`) {
		t.Fatalf("--no-grounding: exit %d\n%s", r.code, r.stdout)
	}
}

// The allow list is a setting like the others: the .env file holds it
// when the environment does not, and --fetch-allow replaces both.
func TestRun_FetchAllowFromDotEnvFile(t *testing.T) {
	addr := pressServer(t)
	url := "http://" + addr + "/press"
	env, dir := cleanEnv(t)
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("NEWSROOM_FETCH_ALLOW="+addr+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, env, dir, "run", "--format", "json", "--source", url, "Write about the museum.")
	if r.code != 0 || !strings.Contains(r.stdout, `"url": "`+url+`"`) {
		t.Fatalf(".env allow list: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, env, dir, "run", "--fetch-allow", "127.0.0.3", "--source", url, "Write about the museum.")
	if r.code != 2 || !strings.Contains(r.stderr, "refused") {
		t.Fatalf("--fetch-allow over .env: exit %d\n%s", r.code, r.stderr)
	}
}

// A capped run's grounding (checked when the output is written, as no
// approval was reached) reads the desk's own writer, here not called
// News_Reporter.
func TestRun_CappedRunGroundsTheDesksOwnWriter(t *testing.T) {
	env, dir := cleanEnv(t)
	file := filepath.Join(dir, "metro.yaml")
	src := `name: metro
kind: roundrobin
agents:
  - name: Metro_Writer
    description: Writes the metro desk's stories.
    prompt: You are the News_Reporter of the metro desk.
  - name: News_Editor
    description: Reviews the story.
    prompt: You are News_Editor, the metro desk's editor.
termination:
  any:
    - verdict: {agent: News_Editor, word: APPROVE}
    - max_messages: 9
`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, env, dir, "run", "--format", "json", "--team-file", file, "--max-messages", "1", facts)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var out struct {
		StopReason string `json:"stop_reason"`
		Grounding  *struct {
			Checked     int       `json:"checked"`
			Unsupported *[]string `json:"unsupported"`
			Author      string    `json:"author"`
		} `json:"grounding"`
		Article struct {
			Body string `json:"body"`
		} `json:"article"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if out.Grounding == nil || out.Grounding.Author != "Metro_Writer" {
		t.Fatalf("grounding %+v, want the check of Metro_Writer's article", out.Grounding)
	}
	if out.StopReason != "max messages reached (1)" || out.Article.Body == "" {
		t.Fatalf("stop %q, article %q", out.StopReason, out.Article.Body)
	}
	if out.Grounding == nil || out.Grounding.Checked == 0 || out.Grounding.Unsupported == nil || len(*out.Grounding.Unsupported) != 0 {
		t.Fatalf("grounding %+v of Metro_Writer's draft:\n%s", out.Grounding, out.Article.Body)
	}
	// The console's summary reports the same check.
	r = runBinary(t, env, dir, "run", "--team-file", file, "--max-messages", "1", facts)
	want := fmt.Sprintf("Grounding: %d claims checked, all found in the task or the sources", out.Grounding.Checked)
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("text: exit %d, want %q in\n%s", r.code, want, r.stdout)
	}
}

// The terminal decision of a desk whose writer is not News_Reporter shows
// that writer's article.
func TestDeskDecider_ShowsTheDesksWriter(t *testing.T) {
	t.Parallel()
	spec := &desk.Spec{Name: "metro", Kind: desk.RoundRobin, Agents: []desk.AgentSpec{{Name: "Metro_Writer"}, {Name: desk.Editor}}}
	res := &team.Result{Messages: []agent.Message{{Source: "Metro_Writer", Content: "Tram line opens\n\nThe tram line opened on Friday."},
		{Source: desk.Editor, Content: "APPROVE"}}, StopReason: team.StopAwaitingApproval}
	var out strings.Builder
	d, err := deskDecider(spec, strings.NewReader("a\n"), &out, "local:eic", time.Now)(res)
	if err != nil || d.Decision != team.DecisionApprove {
		t.Fatalf("decision %+v, %v", d, err)
	}
	if !strings.Contains(out.String(), "The tram line opened on Friday.") {
		t.Fatalf("the writer's article was not shown:\n%s", out.String())
	}
}
