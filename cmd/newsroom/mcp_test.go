package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/mcptest"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// A desk's MCP server in these tests is this test binary run again with
// envMCPServe set: a real stdio server process. On start it appends its
// process id to the file envMCPMark names, so a test can count the starts
// and check the process is gone after the run.
const (
	envMCPServe = "NEWSROOM_CMD_MCP_TEST_SERVE"
	envMCPMark  = "NEWSROOM_CMD_MCP_TEST_MARK"
)

func serveTestMCP() int {
	if mark := os.Getenv(envMCPMark); mark != "" {
		f, err := os.OpenFile(mark, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(f, os.Getpid())
		_ = f.Close()
	}
	s := sdk.NewServer(&sdk.Implementation{Name: "archive", Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "lookup", Description: "Look a name up in the archive."}, func(_ context.Context, _ *sdk.CallToolRequest, in struct {
		Name string `json:"name"`
	}) (*sdk.CallToolResult, any, error) {
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "no record of " + in.Name}}}, nil, nil
	})
	if err := s.Run(context.Background(), &sdk.StdioTransport{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func archiveDeskFile(t *testing.T, dir, command string) string {
	t.Helper()
	src := fmt.Sprintf(`name: archive
kind: roundrobin
agents:
  - name: News_Reporter
    description: Writes from the facts and the archive.
    prompt: You are News_Reporter, a reporter with an archive.
    mcp:
      - {name: archive, command: %q, args: ["-test.run=^$"]}
  - name: News_Editor
    description: Reviews the article.
    prompt: You are News_Editor, the editor.
    mcp:
      - name: archive
termination:
  any:
    - verdict: {agent: News_Editor, word: APPROVE}
    - max_messages: 6
`, command)
	file := filepath.Join(dir, "archive.yaml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// mcpRunEnv is cleanEnv's environment and directory for a `newsroom run`
// whose MCP server is this test binary (exe), which notes each start in
// the file mark.
func mcpRunEnv(t *testing.T) (exe string, env []string, dir, mark string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env, dir = cleanEnv(t)
	mark = filepath.Join(dir, "started")
	return exe, append(env, envMCPServe+"=1", envMCPMark+"="+mark), dir, mark
}

func TestRun_DeskMCPServerStartsOncePerRunAndStopsAtTheEnd(t *testing.T) {
	exe, env, dir, mark := mcpRunEnv(t)
	file := archiveDeskFile(t, dir, exe)

	r := runBinary(t, env, dir, "run", "--format", "json", "--team-file", file, facts)
	if r.code != 0 || !strings.Contains(r.stdout, `"team": "archive"`) {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(mark)
	if err != nil {
		t.Fatalf("the desk's MCP server never started: %v", err)
	}
	pids := strings.Fields(string(data))
	if len(pids) != 1 {
		t.Fatalf("the server started %d times, want once for both agents: %v", len(pids), pids)
	}
	pid, _ := strconv.Atoi(pids[0])
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("server process %d outlived the run (kill 0: %v)", pid, err)
	}

	// --no-tools starts nothing.
	_ = os.Remove(mark)
	r = runBinary(t, env, dir, "run", "--no-tools", "--team-file", file, facts)
	if _, err := os.Stat(mark); r.code != 0 || err == nil {
		t.Fatalf("--no-tools: exit %d, server started: %v\n%s", r.code, err == nil, r.stderr)
	}

	// A server that cannot start is a configuration error naming the desk and the server.
	missing := archiveDeskFile(t, t.TempDir(), filepath.Join(dir, "no-such-mcp-server"))
	r = runBinary(t, env, dir, "run", "--team-file", missing, facts)
	if r.code != 2 || !strings.Contains(r.stderr, "desk archive: mcp: connecting to archive") {
		t.Fatalf("missing server: exit %d\n%s", r.code, r.stderr)
	}
}

func TestTeamsValidate_NamesABadMCPEntry(t *testing.T) {
	dir := t.TempDir()
	file := archiveDeskFile(t, dir, "mcp-archive")
	data, _ := os.ReadFile(file)
	bad := strings.Replace(string(data), "      - name: archive\n", "      - {name: archive, url: ftp://archive.internal}\n", 1)
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCode(t, "teams", "validate", file)
	want := file + `:13:30: agents[1].mcp[0].url: "ftp://archive.internal" is not an http:// or https:// URL`
	if code != 2 || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d, stderr\n%s\nwant 2 and\n%s", code, errOut, want)
	}
}

func TestServe_ADeskMCPServerThatCannotStartExits2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	archiveDeskFile(t, dir, filepath.Join(dir, "no-such-mcp-server"))
	code, _, errOut := runCode(t, "serve", "--teams-dir", dir, "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "n.db"))
	if code != 2 || !strings.Contains(errOut, "desk archive: mcp: connecting to archive") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
}

// serve starts the MCP servers of its desks once, shares them between runs
// and stops them when it stops.
func TestRunServe_DeskMCPServerLivesWithTheService(t *testing.T) {
	dir := isolate(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(dir, "started")
	t.Setenv(envMCPServe, "1") // inherited by the server process serve starts
	t.Setenv(envMCPMark, mark)
	teams := filepath.Join(dir, "teams")
	if err := os.Mkdir(teams, 0o700); err != nil {
		t.Fatal(err)
	}
	archiveDeskFile(t, teams, exe)
	srv := startServe(t, dir, "--teams-dir", teams, "--drain-delay", "0s")
	for range 2 {
		resp := srv.do(t, "POST", "/v1/runs", `{"task":"`+facts+`","team":"archive"}`)
		var run map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&run)
		resp.Body.Close()
		id, _ := run["id"].(string)
		if stream := srv.follow(t, id); !strings.Contains(stream, "event: run_finished") {
			t.Fatalf("run %v: stream\n%s", run, stream)
		}
		resp = srv.do(t, "GET", "/v1/runs/"+id, "")
		var got map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if got["status"] != "succeeded" || got["team"] != "archive" || got["article"] == "" {
			t.Fatalf("run %v", got)
		}
	}
	data, _ := os.ReadFile(mark)
	pids := strings.Fields(string(data))
	if len(pids) != 1 {
		t.Fatalf("the desk's server started %d times for two runs, want once: %v", len(pids), pids)
	}
	if err := srv.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	pid, _ := strconv.Atoi(pids[0])
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("server process %d outlived serve (kill 0: %v)", pid, err)
	}
}

func TestRun_MCPFlag(t *testing.T) {
	exe, env, dir, mark := mcpRunEnv(t)
	flag := "archive=" + exe + " -test.run=^$"

	r := runBinary(t, env, dir, "run", "--mcp", flag, facts)
	data, _ := os.ReadFile(mark)
	if r.code != 0 || len(strings.Fields(string(data))) != 1 {
		t.Fatalf("--mcp: exit %d, server starts %q\n%s", r.code, data, r.stderr)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(data))[0])
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("server process %d outlived the run (kill 0: %v)", pid, err)
	}

	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--mcp", "no-equals-sign"}, "bad server specification"},
		{[]string{"--mcp", "9x=mcp-docs"}, `name "9x" must be letters`},
		{[]string{"--mcp", "gone=" + filepath.Join(dir, "no-such-server")}, "--mcp gone: mcp: connecting to gone"},
		{[]string{"--mcp", flag, "--no-tools"}, "--mcp and --no-tools contradict each other"},
		// The flag's server and the desk's share a name: the agents would have two archive_lookup tools.
		{[]string{"--mcp", flag, "--team-file", archiveDeskFile(t, t.TempDir(), exe)}, `two of its tools are named "archive_lookup"`},
	}
	for _, tc := range cases {
		r := runBinary(t, env, dir, append(append([]string{"run"}, tc.args...), facts)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr\n%s\nwant exit 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// --mcp NAME=URL connects to a streamable HTTP MCP server: its tools,
// prefixed with the server's name, are in the reporter's requests on the
// wire beside the built-in ones.
func TestRun_MCPFlagWithAnHTTPServerGivesItsToolsToTheAgents(t *testing.T) {
	srv := mcptest.HTTP(t, func() *sdk.Server {
		s := sdk.NewServer(&sdk.Implementation{Name: "archive", Version: "1"}, nil)
		sdk.AddTool(s, &sdk.Tool{Name: "lookup", Description: "Look a name up in the archive."}, func(_ context.Context, _ *sdk.CallToolRequest, in struct {
			Name string `json:"name"`
		}) (*sdk.CallToolResult, any, error) {
			return mcptest.Text("no record of " + in.Name), nil, nil
		})
		return s
	})
	em, err := emulator.Start(emulator.Config{APIKey: "mcp-http-key"}, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	wire := startWireProxy(t, em, false)
	env, dir := cleanEnv(t, "AZURE_OPENAI_ENDPOINT="+wire.URL, "AZURE_OPENAI_DEPLOYMENT=d", "AZURE_OPENAI_API_KEY=mcp-http-key")
	r := runBinary(t, env, dir, "run", "--no-cache", "--format", "json", "--mcp", "archive="+srv.URL, facts)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	type wireTool struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	}
	found := false
	for _, body := range wire.requests() {
		var req struct {
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
			Tools []wireTool `json:"tools"`
		}
		if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 || !strings.HasPrefix(req.Messages[0].Content, "You are News_Reporter") {
			continue
		}
		names := map[string]wireTool{}
		var list []string
		for _, tl := range req.Tools {
			names[tl.Function.Name] = tl
			list = append(list, tl.Function.Name)
		}
		lookup, ok := names["archive_lookup"]
		if !ok || names["fetch_url"].Type != "function" {
			t.Fatalf("the reporter's tools %v lack archive_lookup or fetch_url", list)
		}
		// The server's description reaches the model inside the run's boundaries.
		if lookup.Type != "function" || untrusted.Inner(strings.TrimPrefix(lookup.Function.Description, desk.MCPDescriptionIntro)) != "Look a name up in the archive." || !strings.Contains(string(lookup.Function.Parameters), `"name"`) {
			t.Fatalf("archive_lookup on the wire: %+v %s", lookup, lookup.Function.Parameters)
		}
		found = true
	}
	if !found {
		t.Fatalf("no request of News_Reporter among %d", len(wire.requests()))
	}
}
