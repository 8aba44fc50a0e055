package desk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/internal/mcptest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool/mcp"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// The stdio MCP server of these tests is this test binary run again with
// envServe set: a real server process the desk starts and talks to.
const envServe = "NEWSROOM_DESK_MCP_TEST_SERVE"

func TestMain(m *testing.M) {
	mcptest.ServeIfChild(envServe, archiveServer)
	os.Exit(m.Run())
}

func archiveServer() *sdk.Server { return mcptest.NewServer("archive") }

// archiveDesk is a desk whose two agents share the stdio server "archive";
// the writer also has the HTTP server "web".
func archiveDesk(t *testing.T, webURL string) *desk.Spec {
	t.Helper()
	s, err := desk.Parse("archive.yaml", []byte(archiveYAML(t, webURL)), desk.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// archiveYAML is the team file of archiveDesk.
func archiveYAML(t *testing.T, webURL string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`name: archive-desk
kind: roundrobin
agents:
  - name: Writer
    description: Writes from the archive.
    prompt: You are Writer.
    mcp:
      - {name: archive, command: %q, args: ["-test.run=^$"]}
      - {name: web, url: %q}
  - name: Editor
    description: Checks against the archive.
    prompt: You are Editor.
    mcp:
      - name: archive
termination:
  any:
    - verdict: {agent: Editor, word: APPROVE}
    - max_messages: 4
`, exe, webURL)
	return src
}

// toolScript answers each agent's first call with the tool calls calls
// gives it, and a call that follows tool results with those results (the
// editor then approves).
type toolScript struct {
	mu    sync.Mutex
	calls map[string][]model.ToolCall
	tools map[string][]string // agent -> tool names offered
}

func (s *toolScript) Complete(_ context.Context, req *model.Request) (*model.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	agent := req.Meta.Agent
	var names []string
	for _, t := range req.Tools {
		names = append(names, t.Name)
	}
	s.tools[agent] = names
	if last := req.Messages[len(req.Messages)-1]; last.Role == model.RoleTool {
		var b strings.Builder
		for i := len(req.Messages) - 1; i >= 0 && req.Messages[i].Role == model.RoleTool; i-- {
			b.WriteString(req.Messages[i].Content + "\n")
		}
		if agent == "Editor" {
			b.WriteString("APPROVE")
		}
		return &model.Response{Content: b.String(), FinishReason: "stop"}, nil
	}
	return &model.Response{ToolCalls: s.calls[agent], FinishReason: "tool_calls"}, nil
}

func webServer(t *testing.T) string {
	t.Helper()
	return mcptest.HTTP(t, archiveServer).URL
}

func connectDesk(t *testing.T, s *desk.Spec, log *slog.Logger) *desk.MCP {
	t.Helper()
	t.Setenv(envServe, "1") // inherited by the server process only; this binary's TestMain already ran
	m, err := desk.ConnectMCP(context.Background(), s, mcp.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestDesk_AgentsShareTheMCPServersTheirFileLists(t *testing.T) {
	s := archiveDesk(t, webServer(t))
	if got := s.MCPServers(); len(got) != 2 || got[0].Name != "archive" || got[0].Command == "" || got[1].URL == "" {
		t.Fatalf("servers %+v", got)
	}
	m := connectDesk(t, s, nil)
	script := &toolScript{tools: map[string][]string{}, calls: map[string][]model.ToolCall{
		"Writer": {{ID: "w1", Name: "archive_pid", Arguments: `{}`}, {ID: "w2", Name: "web_echo", Arguments: `{"text":"hello"}`}},
		"Editor": {{ID: "e1", Name: "archive_pid", Arguments: `{}`}},
	}}
	// Tools is nil: the desk's own servers are enough to give agents tools.
	tm, err := desk.New(desk.Config{Spec: s, Client: script, MCP: m})
	if err != nil {
		t.Fatal(err)
	}
	res, err := team.Run(context.Background(), tm, "Facts: the archive opens on Monday.", team.WithGrounding(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 2 || res.Messages[1].Source != "Editor" {
		t.Fatalf("messages %+v, stop %q", res.Messages, res.StopReason)
	}
	w, e := res.Messages[0].ToolCalls, res.Messages[1].ToolCalls
	if len(w) != 2 || len(e) != 1 || w[0].IsError || w[1].IsError || e[0].IsError {
		t.Fatalf("writer's calls %+v, editor's %+v", w, e)
	}
	// Results reach the model inside the run's boundaries.
	if untrusted.Inner(w[1].Result) != "echo: hello" {
		t.Errorf("web_echo: %q", w[1].Result)
	}
	pid, err := strconv.Atoi(untrusted.Inner(w[0].Result))
	if err != nil || pid == os.Getpid() || e[0].Result != w[0].Result {
		t.Fatalf("archive_pid: writer %q, editor %q; want one shared server process", w[0].Result, e[0].Result)
	}
	wantWriter := "archive_echo,archive_exit,archive_pid,web_echo,web_exit,web_pid"
	if got := strings.Join(script.tools["Writer"], ","); got != wantWriter {
		t.Errorf("writer's tools %s, want %s", got, wantWriter)
	}
	if got := strings.Join(script.tools["Editor"], ","); got != "archive_echo,archive_exit,archive_pid" {
		t.Errorf("editor's tools %s, want only the archive's", got)
	}
	// Closing stops the server process.
	if err := m.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("server process %d still there after Close (kill 0: %v)", pid, err)
	}
}

// A server that dies mid-run: the call it died in is an error result, the
// run goes on, and the next call (another agent's) restarts the shared
// server.
func TestDesk_AnMCPServerThatDiesMidRunIsRestartedAndTheRunGoesOn(t *testing.T) {
	s := archiveDesk(t, webServer(t))
	var logs bytes.Buffer
	m := connectDesk(t, s, nil)
	script := &toolScript{tools: map[string][]string{}, calls: map[string][]model.ToolCall{
		"Writer": {{ID: "w1", Name: "archive_exit", Arguments: `{}`}},
		"Editor": {{ID: "e1", Name: "archive_echo", Arguments: `{"text":"still there?"}`}},
	}}
	tm, err := desk.New(desk.Config{Spec: s, Client: script, MCP: m, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	res, err := team.Run(context.Background(), tm, "Facts: the archive opens on Monday.", team.WithGrounding(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 2 || !strings.Contains(res.Messages[1].Content, "APPROVE") {
		t.Fatalf("the run did not go on: %+v, stop %q", res.Messages, res.StopReason)
	}
	if ex := res.Messages[0].ToolCalls; len(ex) != 1 || !ex[0].IsError || !strings.Contains(ex[0].Result, "the server went away during the call") || !strings.Contains(ex[0].Result, "<<<DATA ") {
		t.Errorf("Writer: exchanges %+v, want the error of the call the server died in", ex)
	}
	if ex := res.Messages[1].ToolCalls; len(ex) != 1 || ex[0].IsError || untrusted.Inner(ex[0].Result) != "echo: still there?" {
		t.Errorf("Editor: exchanges %+v, want the restarted server's answer", ex)
	}
	if n := strings.Count(logs.String(), "tool call failed"); n != 1 || !strings.Contains(logs.String(), "tool=archive_exit") {
		t.Errorf("want a WARN line for the failed call, got:\n%s", logs.String())
	}
}

func TestNew_DeskMCPServersMustBeConnected(t *testing.T) {
	s := archiveDesk(t, "http://127.0.0.1:9/mcp")
	script := &toolScript{tools: map[string][]string{}}
	// Tools available but the desk's servers not connected: an error, not
	// agents silently without their tools.
	_, err := desk.New(desk.Config{Spec: s, Client: script, Tools: withPages(t, nil)})
	if err == nil || !strings.Contains(err.Error(), `MCP server "archive" is not connected`) {
		t.Fatalf("err %v", err)
	}
	// --no-tools: nothing is needed.
	if _, err := desk.New(desk.Config{Spec: s, Client: script, Tools: withPages(t, nil), NoTools: true}); err != nil {
		t.Fatal(err)
	}
	// A server that is not there: ConnectMCP names the desk and the server.
	t.Setenv(envServe, "1")
	_, err = desk.ConnectMCP(context.Background(), s, mcp.Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "desk archive-desk") || !strings.Contains(err.Error(), "web") {
		t.Fatalf("unreachable server: err %v", err)
	}
}

func TestNew_ToolNamesMustNotCollide(t *testing.T) {
	s := archiveDesk(t, webServer(t))
	m := connectDesk(t, s, nil)
	// An --mcp server named like the desk's gives the writer two archive_echo tools.
	other, err := mcp.Connect(context.Background(), mcp.Spec{Name: "archive", URL: webServer(t)}, mcp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	_, err = desk.New(desk.Config{Spec: s, Client: &toolScript{}, MCP: m, ExtraTools: other.Tools()})
	if err == nil || !strings.Contains(err.Error(), `two of its tools are named "archive_echo"`) {
		t.Fatalf("err %v", err)
	}
}

func TestParse_MCPEntries(t *testing.T) {
	base := `name: d
kind: roundrobin
agents:
  - name: A
    description: a
    prompt: You are A.
    mcp:
      - {name: docs, command: mcp-docs, args: [--root, /srv]}
  - name: B
    description: b
    prompt: You are B.
    mcp:
      - name: docs
termination: {max_messages: 4}
`
	s, err := desk.Parse("ok.yaml", []byte(base), desk.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.MCPServers(); len(got) != 1 || got[0].Command != "mcp-docs" || strings.Join(got[0].Args, " ") != "--root /srv" {
		t.Fatalf("servers %+v", got)
	}
	edit := func(old, new string) string {
		if !strings.Contains(base, old) {
			t.Fatalf("test bug: %q not in the desk", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	cases := []struct{ name, yaml, want string }{
		{"bad server name", edit("{name: docs, command", "{name: 9docs, command"),
			`bad.yaml:8:16: agents[0].mcp[0].name: "9docs" is not a valid server name`},
		{"command and url", edit("command: mcp-docs,", "command: mcp-docs, url: http://docs.internal/mcp,"),
			`bad.yaml:8:9: agents[0].mcp[0]: give command (a program speaking MCP on stdio) or url (streamable HTTP), not both`},
		{"not an http url", edit("{name: docs, command: mcp-docs, args: [--root, /srv]}", "{name: docs, url: file:///srv/docs}"),
			`bad.yaml:8:27: agents[0].mcp[0].url: "file:///srv/docs" is not an http:// or https:// URL`},
		{"args without a command", edit("      - name: docs\n", "      - {name: docs, args: [-v]}\n"),
			`bad.yaml:13:28: agents[1].mcp[0].args: args without a command`},
		{"two definitions", edit("      - name: docs\n", "      - {name: docs, command: other-docs}\n"),
			`bad.yaml:13:9: agents[1].mcp[0]: server "docs" is defined differently at agents[0].mcp[0]`},
		{"undefined reference", edit("      - name: docs\n", "      - name: wiki\n"),
			`bad.yaml:13:15: agents[1].mcp[0].name: server "wiki" has no definition: give it a command or a url here or in another agent's entry (defined: docs)`},
		{"listed twice", edit("      - name: docs\n", "      - name: docs\n      - name: docs\n"),
			`bad.yaml:14:15: agents[1].mcp[1].name: server "docs" is listed twice for this agent`},
		{"unknown field", edit("args: [--root, /srv]}", "args: [--root, /srv], env: {TOKEN: x}}"),
			`bad.yaml:8:63: agents[0].mcp[0]: unknown field "env"; allowed: name, command, args, url`},
		{"missing name", edit("      - name: docs\n", "      - {url: http://docs.internal/mcp}\n"),
			`bad.yaml:13:9: agents[1].mcp[0]: missing field "name"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := desk.Parse("bad.yaml", []byte(tc.yaml), desk.LoadOptions{})
			if !errors.Is(err, desk.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}
