package desk_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/model/profile"
)

const sports = `name: sports
kind: roundrobin
agents:
  - name: Sports_Writer
    description: Writes short match reports from the facts given.
    prompt: |
      You are Sports_Writer, a sports reporter.
    deployment: gpt-4o
    max_tokens: 800
    tools: [fetch_url]
  - name: Copy_Chief
    description: Reviews the report.
    prompt: You are Copy_Chief.
termination:
  any:
    - verdict: {agent: Copy_Chief, word: APPROVE}
    - text_mention: {text: TERMINATE, sources: [Sports_Writer]}
    - max_messages: 8
`

func TestParse_AcceptsTheIssuesExample(t *testing.T) {
	s, err := desk.Parse("sports.yaml", []byte(sports), desk.LoadOptions{Deployments: []string{"gpt-4o", "gpt-4o-mini"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "sports" || len(s.Agents) != 2 || s.Agents[0].MaxTokens != 800 || s.Agents[0].Deployment != "gpt-4o" ||
		s.Agents[0].Prompt != "You are Sports_Writer, a sports reporter.\n" || len(s.Termination.Any) != 3 {
		t.Fatalf("parsed %+v", s)
	}
}

// TestParse_NamesFileLineColumnAndField feeds one mistake of each kind and
// checks the message says where it is, which field, and what is allowed.
func TestParse_NamesFileLineColumnAndField(t *testing.T) {
	edit := func(old, new string) string {
		if !strings.Contains(sports, old) {
			t.Fatalf("test bug: %q not in the example", old)
		}
		return strings.Replace(sports, old, new, 1)
	}
	cases := []struct {
		name, yaml string
		opts       desk.LoadOptions
		want       []string
	}{
		{"not YAML", "name: [sports\nkind: x", desk.LoadOptions{}, []string{"bad.yaml:", "not valid YAML"}},
		{"not a mapping", "- a\n- b\n", desk.LoadOptions{}, []string{"bad.yaml:1:1: want a mapping with the fields name, description, kind"}},
		{"empty file", "# nothing\n", desk.LoadOptions{}, []string{"bad.yaml: is empty"}},
		{"unknown field", edit("    max_tokens: 800", "    max_tokens: 800\n    temprature: 0.2"),
			desk.LoadOptions{}, []string{`bad.yaml:10:5: agents[0]: unknown field "temprature"; allowed: name, description, prompt, deployment, max_tokens, temperature, reasoning_effort, verbosity, tools, max_tool_rounds, reflect_on_tool_use, mcp, context`}},
		{"wrong type", edit("max_tokens: 800", "max_tokens: lots"), desk.LoadOptions{},
			[]string{`bad.yaml:9:17: agents[0].max_tokens: want a whole number, not "lots"`}},
		{"bad kind", edit("kind: roundrobin", "kind: roundtable"), desk.LoadOptions{},
			[]string{`bad.yaml:2:7: kind: "roundtable" is not allowed; want one of roundrobin, selector, graph`}},
		{"duplicate agent", edit("name: Copy_Chief", "name: Sports_Writer"), desk.LoadOptions{},
			[]string{`bad.yaml:11:11: agents[1].name: duplicate agent name "Sports_Writer" (also agents[0])`}},
		{"empty prompt", edit("prompt: You are Copy_Chief.", `prompt: "  "`), desk.LoadOptions{},
			[]string{`bad.yaml:13:13: agents[1].prompt: empty prompt`}},
		{"missing prompt", edit("    prompt: You are Copy_Chief.\n", ""), desk.LoadOptions{},
			[]string{`bad.yaml:11:5: agents[1]: missing field "prompt"`}},
		{"unknown agent in a condition", edit("agent: Copy_Chief", "agent: Copy_Chef"), desk.LoadOptions{},
			[]string{`bad.yaml:16:24: termination.any[0].verdict.agent: unknown agent "Copy_Chef"; the agents are Sports_Writer, Copy_Chief`}},
		{"unknown deployment", sports, desk.LoadOptions{Deployments: []string{"gpt-4o-mini"}},
			[]string{`bad.yaml:8:17: agents[0].deployment: unknown deployment "gpt-4o"; known: gpt-4o-mini`}},
		{"unknown tool", edit("tools: [fetch_url]", "tools: [launch_rocket]"), desk.LoadOptions{},
			[]string{`bad.yaml:10:13: agents[0].tools[0]: unknown tool "launch_rocket"; known: fetch_url, read_feed`}},
		{"never fires: empty any", edit("  any:\n    - verdict: {agent: Copy_Chief, word: APPROVE}\n    - text_mention: {text: TERMINATE, sources: [Sports_Writer]}\n    - max_messages: 8\n", "  any: []\n"),
			desk.LoadOptions{}, []string{`bad.yaml:15:8: termination.any: an empty list can never fire`}},
		{"never fires: all from two agents", edit("  any:", "  all:"), desk.LoadOptions{},
			[]string{`bad.yaml:16:5: termination.all: can never fire: its conditions need the newest message to come from different agents at once`}},
		{"never fires: zero messages", edit("max_messages: 8", "max_messages: 0"), desk.LoadOptions{},
			[]string{`bad.yaml:18:21: termination.any[2].max_messages: 0 is too small; want at least 1`}},
		{"two conditions in one entry", edit("- max_messages: 8", "- max_messages: 8\n      timeout: 5m"), desk.LoadOptions{},
			[]string{`termination.any[2]: one condition per entry, found max_messages and timeout`}},
		{"no termination", edit("termination:\n  any:\n    - verdict: {agent: Copy_Chief, word: APPROVE}\n    - text_mention: {text: TERMINATE, sources: [Sports_Writer]}\n    - max_messages: 8\n", ""),
			desk.LoadOptions{}, []string{`bad.yaml:1:1: termination: missing: a roundrobin desk needs a stop condition`}},
		{"selector on a round robin", sports + "selector: {planner: Copy_Chief}\n", desk.LoadOptions{},
			[]string{`bad.yaml:19:11: selector: only a desk of kind selector has a selector (this one is roundrobin)`}},
		{"bad context", edit("    tools: [fetch_url]", "    tools: [fetch_url]\n    context: {keep: last}"), desk.LoadOptions{},
			[]string{`bad.yaml:11:14: agents[0].context: keep: last needs last: N`}},
		{"invalid agent name", edit("name: Copy_Chief", "name: Copy Chief"), desk.LoadOptions{},
			[]string{`bad.yaml:11:11: agents[1].name: "Copy Chief" is not a valid agent name`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := desk.Parse("bad.yaml", []byte(tc.yaml), tc.opts)
			if !errors.Is(err, desk.ErrInvalid) {
				t.Fatalf("err %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

const graphBase = `name: loop
kind: graph
agents:
  - {name: A, description: a, prompt: You are A}
  - {name: B, description: b, prompt: You are B}
  - {name: C, description: c, prompt: You are C}
graph:
  edges:
`

func TestParse_GraphMistakes(t *testing.T) {
	cases := []struct{ name, edges, want string }{
		{"edge to nowhere", "    - {from: A, to: B}\n    - {from: B, to: D}\n    - {from: A, to: C}\n",
			`bad.yaml:10:21: graph.edges[1].to: edge to nowhere: no agent is named "D"; the agents are A, B, C`},
		{"loop without a cap", "    - {from: A, to: B}\n    - {from: B, to: C}\n    - {from: C, to: A}\n",
			`bad.yaml:11:7: graph.edges[2]: the edge C -> A closes a loop in which no edge has a cap`},
		{"unreached agent", "    - {from: A, to: B}\n",
			`bad.yaml:6:12: agents[2].name: agent "C" is never reached: no edge leads to it from A`},
		{"two conditions on an edge", "    - {from: A, to: B, verdict: OK, otherwise: true}\n    - {from: A, to: C}\n",
			`bad.yaml:9:7: graph.edges[0]: an edge has at most one of verdict, mention and otherwise`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := desk.Parse("bad.yaml", []byte(graphBase+tc.edges), desk.LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
	ok := graphBase + "    - {from: A, to: B}\n    - {from: B, to: C}\n    - {from: C, to: A, max: 2}\n"
	if _, err := desk.Parse("ok.yaml", []byte(ok), desk.LoadOptions{}); err != nil {
		t.Fatalf("a loop with a capped edge is fine: %v", err)
	}
}

func TestParse_IsDataNotCode(t *testing.T) {
	t.Setenv("NEWSROOM_SECRET", "s3cret")
	y := strings.Replace(sports, "You are Copy_Chief.", "You are Copy_Chief. ${NEWSROOM_SECRET} $NEWSROOM_SECRET", 1)
	s, err := desk.Parse("sports.yaml", []byte(y), desk.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Agents[1].Prompt; p != "You are Copy_Chief. ${NEWSROOM_SECRET} $NEWSROOM_SECRET" {
		t.Fatalf("the prompt was changed: %q", p)
	}
}

func TestRegistry_ShipsThreeValidDesksAndLoadsADirectory(t *testing.T) {
	r := desk.NewRegistry()
	if got := strings.Join(r.Names(), ","); got != "roundrobin,selector,investigations" {
		t.Fatalf("shipped desks %s", got)
	}
	for _, d := range r.List() {
		// The shipped YAML goes through the same loader and checks.
		if _, err := desk.Parse(d.Spec.Name+".yaml", d.YAML, desk.LoadOptions{}); err != nil {
			t.Errorf("%s: %v", d.Spec.Name, err)
		}
		if d.Source != "builtin" {
			t.Errorf("%s: source %q", d.Spec.Name, d.Source)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sports.yaml"), []byte(sports), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a desk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.LoadDir(dir, desk.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if d, ok := r.Get("sports"); !ok || d.Source != filepath.Join(dir, "sports.yaml") {
		t.Fatalf("sports not loaded: %+v", d)
	}
	// A file that takes a shipped desk's name is refused.
	clash := strings.Replace(sports, "name: sports", "name: selector", 1)
	if err := os.WriteFile(filepath.Join(dir, "z.yaml"), []byte(clash), 0o600); err != nil {
		t.Fatal(err)
	}
	err := desk.NewRegistry().LoadDir(dir, desk.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), `a desk named "selector" already exists (builtin)`) {
		t.Fatalf("clash: %v", err)
	}
}

func TestParse_TemperatureOnAReasoningDeploymentIsRefusedWithItsLine(t *testing.T) {
	const file = `name: warm
kind: roundrobin
agents:
  - name: Writer
    description: Writes.
    prompt: You write.
    deployment: gpt-5-mini
    temperature: 0.7
  - name: Chat
    description: Chats.
    prompt: You chat.
    deployment: gpt-4o
    temperature: 0.7
    reasoning_effort: low
termination:
  max_messages: 2
`
	_, err := desk.Parse("warm.yaml", []byte(file), desk.LoadOptions{})
	if err == nil {
		t.Fatal("a temperature on a GPT-5 agent was accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, "warm.yaml:8:18: agents[0].temperature:") || !strings.Contains(msg, "reasoning_effort (minimal, low, medium, high)") ||
		strings.Contains(msg, "agents[1]") {
		t.Errorf("error %q, want agents[0].temperature at 8:18 saying to set reasoning_effort instead, and nothing about the GPT-4o agent", msg)
	}
	// The run's own deployment counts too, as the stack knows it.
	gpt5 := func(string) profile.Profile { p, _ := profile.Default().Lookup("gpt-5"); return p }
	noDeployment := strings.ReplaceAll(file, "    deployment: gpt-5-mini\n", "")
	if _, err := desk.Parse("warm.yaml", []byte(noDeployment), desk.LoadOptions{Profile: gpt5}); err == nil || !strings.Contains(err.Error(), "the run's deployment is gpt-5") {
		t.Errorf("error %v, want the run's GPT-5 deployment named", err)
	}
	badEffort := strings.Replace(file, "    temperature: 0.7\n", "    reasoning_effort: none\n", 1)
	if _, err := desk.Parse("warm.yaml", []byte(badEffort), desk.LoadOptions{}); err == nil || !strings.Contains(err.Error(), `has no reasoning_effort "none"`) {
		t.Errorf("error %v, want reasoning_effort none refused for gpt-5-mini", err)
	}
}
