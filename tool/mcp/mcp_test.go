package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/internal/mcptest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/tool/mcp"
)

// The stdio server is this test binary run again with envServe set: a real
// MCP server process the tests start and talk to over its stdin and stdout.
// The other variables, given to that process, shape it (see serveChild).
const (
	envServe   = "NEWSROOM_MCP_TEST_SERVE"
	envStarts  = "NEWSROOM_MCP_TEST_STARTS"  // a file: a line per start of the server
	envRuns    = "NEWSROOM_MCP_TEST_RUNS"    // a file: a line per run of the die tool
	envCrash   = "NEWSROOM_MCP_TEST_CRASH"   // "1": every start but the first dies at once
	envVariant = "NEWSROOM_MCP_TEST_VARIANT" // "1": every start but the first changes its tools
	envSleep   = "NEWSROOM_MCP_TEST_SLEEP"   // "1": sleep (a process the server started)
)

// noRaceExitDelay spares a server process built with -race the second the
// race detector waits before the process exits.
const noRaceExitDelay = "GORACE=atexit_sleep_ms=0"

// Secrets the server process is given or prints: none may reach an error
// or a log line.
const (
	testKey    = "docs-key-7f3a9c41"        // given as DOCS_API_KEY in the spec's Env
	testBearer = "eyJhbGciOi.Zm9vYmFy.c2ln" // printed after "Authorization: Bearer"
)

func TestMain(m *testing.M) {
	if os.Getenv(envSleep) == "1" {
		time.Sleep(10 * time.Minute) // a descendant of a server, to be stopped with it
		os.Exit(0)
	}
	if os.Getenv(envServe) == "1" {
		serveChild()
	}
	os.Exit(m.Run())
}

// serveChild is the server process: it records its start, says so on
// stderr (with its key), and serves childServer, or with envCrash dies at
// once, or with envVariant serves changed tools, from its second start on.
func serveChild() {
	n := 1
	if f := os.Getenv(envStarts); f != "" {
		n = appendLine(f, strconv.Itoa(os.Getpid()))
	}
	fmt.Fprintf(os.Stderr, "desk-docs: start %d, pid %d, key %s\n", n, os.Getpid(), os.Getenv("DOCS_API_KEY"))
	if n > 1 && os.Getenv(envCrash) == "1" {
		fmt.Fprintf(os.Stderr, "fatal: the archive index is corrupt (api_key=%s)\n", os.Getenv("DOCS_API_KEY"))
		os.Exit(3)
	}
	newServer := childServer
	if n > 1 && os.Getenv(envVariant) == "1" {
		newServer = variantServer
	}
	mcptest.ServeIfChild(envServe, newServer)
}

// appendLine appends line to the file at path and returns its number of lines.
func appendLine(path, line string) int {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	_, err = fmt.Fprintln(f, line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		panic(err)
	}
	return countLines(path)
}

func countLines(path string) int {
	data, _ := os.ReadFile(path)
	return strings.Count(string(data), "\n")
}

// childServer is testServer and two tools only a process can have: "die"
// records its run, says why on stderr and ends the process; "spawn" starts
// a sleeping process and answers its pid.
func childServer() *sdk.Server {
	s := testServer()
	sdk.AddTool(s, &sdk.Tool{Name: "die", Description: "Ends the server process."}, func(context.Context, *sdk.CallToolRequest, mcptest.NoArgs) (*sdk.CallToolResult, any, error) {
		if f := os.Getenv(envRuns); f != "" {
			appendLine(f, "ran")
		}
		fmt.Fprintln(os.Stderr, "fatal: dying on request; Authorization: Bearer "+testBearer)
		os.Exit(3)
		return nil, nil, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "spawn", Description: "Starts a process."}, func(context.Context, *sdk.CallToolRequest, mcptest.NoArgs) (*sdk.CallToolResult, any, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, nil, err
		}
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), envSleep+"=1", envServe+"=0")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr // holds the server's pipes, as a wrapper's child does
		if err := cmd.Start(); err != nil {
			return nil, nil, err
		}
		return mcptest.Text(strconv.Itoa(cmd.Process.Pid)), nil, nil
	})
	return s
}

// variantServer is the server changed by an upgrade: echo takes another
// argument, fail is gone.
func variantServer() *sdk.Server {
	s := sdk.NewServer(&sdk.Implementation{Name: "desk-docs", Version: "2"}, nil)
	type args struct {
		Message string `json:"message"`
	}
	sdk.AddTool(s, &sdk.Tool{Name: "echo", Description: "Echo the message."}, func(_ context.Context, _ *sdk.CallToolRequest, in args) (*sdk.CallToolResult, any, error) {
		return mcptest.Text("echo: " + in.Message), nil, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "pid", Description: "The server's process id, in other words."}, func(context.Context, *sdk.CallToolRequest, mcptest.NoArgs) (*sdk.CallToolResult, any, error) {
		return mcptest.Text(strconv.Itoa(os.Getpid())), nil, nil
	})
	return s
}

// testServer adds to mcptest's echo, pid and exit a tool that fails, one
// that hangs and one whose answer is too long.
func testServer() *sdk.Server {
	s := mcptest.NewServer("desk-docs")
	sdk.AddTool(s, &sdk.Tool{Name: "fail", Description: "Always fails."}, func(context.Context, *sdk.CallToolRequest, mcptest.NoArgs) (*sdk.CallToolResult, any, error) {
		return nil, nil, errors.New("the archive is offline")
	})
	sdk.AddTool(s, &sdk.Tool{Name: "slow", Description: "Never answers in time."}, func(ctx context.Context, _ *sdk.CallToolRequest, _ mcptest.NoArgs) (*sdk.CallToolResult, any, error) {
		select {
		case <-ctx.Done():
		case <-time.After(time.Second): // outlives the agent's 200 ms timeout; short, as a close may wait for it (the SDK can drop the cancellation sent just before)
		}
		return nil, nil, ctx.Err()
	})
	sdk.AddTool(s, &sdk.Tool{Name: "huge", Description: "Too much text."}, func(context.Context, *sdk.CallToolRequest, mcptest.NoArgs) (*sdk.CallToolResult, any, error) {
		return mcptest.Text(strings.Repeat("x", 200_000)), nil, nil
	})
	return s
}

// scripted asks for the calls of each round, then answers with the tool
// results it saw.
type scripted struct {
	mu     sync.Mutex
	rounds [][]model.ToolCall
}

func (s *scripted) Complete(_ context.Context, req *model.Request) (*model.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rounds) > 0 {
		r := s.rounds[0]
		s.rounds = s.rounds[1:]
		return &model.Response{ToolCalls: r, FinishReason: "tool_calls"}, nil
	}
	return &model.Response{Content: "done", FinishReason: "stop"}, nil
}

func calls(names ...string) []model.ToolCall {
	out := make([]model.ToolCall, len(names))
	for i, n := range names {
		args := `{}`
		if strings.HasSuffix(n, "_echo") {
			args = `{"text":"hello"}`
		}
		out[i] = model.ToolCall{ID: fmt.Sprint("c", i), Name: n, Arguments: args}
	}
	return out
}

func connectStdio(t *testing.T) *mcp.Server {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := mcp.ParseSpec("docs=" + exe + " -test.run=^$")
	if err != nil {
		t.Fatal(err)
	}
	spec.Env = []string{envServe + "=1", noRaceExitDelay}
	s, err := mcp.Connect(context.Background(), spec, mcp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func connectHTTP(t *testing.T) *mcp.Server {
	t.Helper()
	spec, err := mcp.ParseSpec("web=" + mcptest.HTTP(t, testServer).URL)
	if err != nil {
		t.Fatal(err)
	}
	s, err := mcp.Connect(context.Background(), spec, mcp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func names(ts []tool.Tool) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Definition().Name)
	}
	return out
}

func TestServer_ToolsOverStdioAndHTTPArePrefixedAndCallable(t *testing.T) {
	t.Parallel()
	for name, connect := range map[string]func(*testing.T) *mcp.Server{"stdio": connectStdio, "http": connectHTTP} {
		t.Run(name, func(t *testing.T) {
			s := connect(t)
			got := names(s.Tools())
			slices.Sort(got)
			prefix := s.Name() + "_"
			want := []string{"echo", "exit", "fail", "huge", "pid", "slow"}
			if name == "stdio" {
				want = []string{"die", "echo", "exit", "fail", "huge", "pid", "slow", "spawn"}
			}
			for i := range want {
				want[i] = prefix + want[i]
			}
			if !slices.Equal(got, want) {
				t.Fatalf("tools %v, want %v", got, want)
			}
			var schema map[string]any
			echo := find(t, s, "echo")
			if err := json.Unmarshal(echo.Definition().Parameters, &schema); err != nil || schema["type"] != "object" {
				t.Fatalf("echo schema %s", echo.Definition().Parameters)
			}
			// Calls that answer, with a timeout no loaded machine reaches.
			m := &scripted{rounds: [][]model.ToolCall{calls(prefix+"echo", prefix+"fail", prefix+"huge", prefix+"nope")}}
			a, _ := agent.NewAssistant(agent.Config{Name: "News_Reporter", Client: m, Tools: s.Tools(), ToolTimeout: time.Minute, MaxToolResult: 100_000})
			msg, err := agent.Reply(context.Background(), a, agent.Turn{})
			if err != nil {
				t.Fatal(err)
			}
			results := []string{"echo: hello", "the archive is offline", "more than the limit", "unknown tool"}
			for i, ex := range msg.ToolCalls {
				if !strings.Contains(ex.Result, results[i]) || ex.IsError != (i > 0) {
					t.Errorf("%s: %+v, want %q", ex.Name, ex, results[i])
				}
			}
			// A call that hangs is given up at its timeout.
			m = &scripted{rounds: [][]model.ToolCall{calls(prefix + "slow")}}
			a, _ = agent.NewAssistant(agent.Config{Name: "News_Reporter", Client: m, Tools: s.Tools(), ToolTimeout: 200 * time.Millisecond})
			slow, err := agent.Reply(context.Background(), a, agent.Turn{})
			if err != nil || !strings.Contains(slow.ToolCalls[0].Result, "did not answer within") || slow.Content != "done" {
				t.Fatalf("slow call: %+v %v", slow, err)
			}
			if msg.Content != "done" {
				t.Fatalf("reply %q", msg.Content)
			}
		})
	}
}

// A server that dies during a call: that call is an error result (not
// sent again: the server ran it), the next one restarts the server.
func TestServer_ADyingServerFailsItsCallAndIsRestartedForTheNext(t *testing.T) {
	t.Parallel()
	ch := startChild(t, mcp.Options{})
	m := &scripted{rounds: [][]model.ToolCall{calls("docs_die"), calls("docs_echo")}}
	a, _ := agent.NewAssistant(agent.Config{Name: "News_Reporter", Client: m, Tools: ch.s.Tools(), ToolTimeout: time.Minute})
	msg, err := agent.Reply(context.Background(), a, agent.Turn{})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.ToolCalls) != 2 || msg.Content != "done" {
		t.Fatalf("exchanges %+v, reply %q", msg.ToolCalls, msg.Content)
	}
	died, echoed := msg.ToolCalls[0], msg.ToolCalls[1]
	for _, want := range []string{"the server went away during the call", "exited with status 3", "fatal: dying on request", "not sent again"} {
		if !died.IsError || !strings.Contains(died.Result, want) {
			t.Errorf("the die call: %+v, want an error saying %q", died, want)
		}
	}
	if echoed.IsError || echoed.Result != "echo: hello" {
		t.Errorf("the call after: %+v, want the restarted server's answer", echoed)
	}
	if n := countLines(ch.runs); n != 1 {
		t.Errorf("the die tool ran %d times, want once (a call the server ran is never sent again)", n)
	}
	if n := countLines(ch.starts); n != 2 || ch.s.Stats().Starts != 2 {
		t.Errorf("%d process starts, stats %+v: want 2", n, ch.s.Stats())
	}
}

func TestParseSpec(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"noequals", "=cmd", "1bad=cmd", "name=", "a b=cmd"} {
		if _, err := mcp.ParseSpec(bad); !errors.Is(err, mcp.ErrSpec) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
	s, err := mcp.ParseSpec("files=mcp-files --root /srv/docs")
	if err != nil || s.Command != "mcp-files" || len(s.Args) != 2 || s.URL != "" {
		t.Fatalf("%+v %v", s, err)
	}
}

func TestServer_AnHTTPServerThatGoesAwayBecomesErrorResults(t *testing.T) {
	t.Parallel()
	srv := mcptest.HTTP(t, testServer)
	s, err := mcp.Connect(context.Background(), mcp.Spec{Name: "web", URL: srv.URL}, mcp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv.CloseClientConnections()
	srv.Close()
	m := &scripted{rounds: [][]model.ToolCall{calls("web_echo")}}
	a, _ := agent.NewAssistant(agent.Config{Name: "News_Reporter", Client: m, Tools: s.Tools(), ToolTimeout: time.Minute})
	msg, err := agent.Reply(context.Background(), a, agent.Turn{})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.ToolCalls) != 1 || !msg.ToolCalls[0].IsError || strings.Contains(msg.ToolCalls[0].Result, "did not answer within") || msg.Content != "done" {
		t.Fatalf("exchanges %+v, reply %q", msg.ToolCalls, msg.Content)
	}
}

func TestServer_ErrorsNeverShowTheCredentialsOfAServerURL(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-mcp-key"
	srv := mcptest.HTTP(t, testServer)
	endpoint := strings.Replace(srv.URL, "http://", "http://reader:"+secret+"-pw@", 1) + "/mcp?api_key=" + secret
	s, err := mcp.Connect(context.Background(), mcp.Spec{Name: "hosted", URL: endpoint}, mcp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv.CloseClientConnections()
	srv.Close()
	_, err = s.Tools()[0].Call(context.Background(), json.RawMessage(`{"text":"x"}`))
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("call error: %v", err)
	}
	// Connecting to the server that is gone: the same.
	_, err = mcp.Connect(context.Background(), mcp.Spec{Name: "hosted", URL: endpoint}, mcp.Options{})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("connect error: %v", err)
	}
}

// A command's server outlives the context it was started with (a service's,
// cancelled at shutdown while runs are handed over) and stops at Close.
func TestServer_ACommandLivesUntilCloseNotUntilItsContextEnds(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := mcp.Connect(ctx, mcp.Spec{Name: "docs", Command: exe, Args: []string{"-test.run=^$"}, Env: []string{envServe + "=1", noRaceExitDelay}}, mcp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	cancel()
	var pid tool.Tool
	for _, x := range s.Tools() {
		if x.Definition().Name == "docs_pid" {
			pid = x
		}
	}
	res, err := pid.Call(context.Background(), json.RawMessage(`{}`))
	if err != nil {
		t.Fatalf("the server stopped with its start-up context: %v", err)
	}
	n, err := strconv.Atoi(res.Content)
	if err != nil || n == os.Getpid() {
		t.Fatalf("pid %q", res.Content)
	}
	_ = s.Close()
	if err := syscall.Kill(n, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("server process %d still there after Close (kill 0: %v)", n, err)
	}
}
