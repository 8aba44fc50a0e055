package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
const envServe = "NEWSROOM_MCP_TEST_SERVE"

func TestMain(m *testing.M) {
	mcptest.ServeIfChild(envServe, testServer)
	os.Exit(m.Run())
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
		case <-time.After(4 * time.Second): // outlives the agent's timeout, not the test
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
	t.Setenv(envServe, "1") // inherited by the child only; the test binary's own TestMain already ran
	spec, err := mcp.ParseSpec("docs=" + exe + " -test.run=^$")
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
	for name, connect := range map[string]func(*testing.T) *mcp.Server{"stdio": connectStdio, "http": connectHTTP} {
		t.Run(name, func(t *testing.T) {
			s := connect(t)
			got := strings.Join(names(s.Tools()), ",")
			prefix := s.Name() + "_"
			if got != prefix+"echo,"+prefix+"exit,"+prefix+"fail,"+prefix+"huge,"+prefix+"pid,"+prefix+"slow" {
				t.Fatalf("tools %s", got)
			}
			var schema map[string]any
			if err := json.Unmarshal(s.Tools()[0].Definition().Parameters, &schema); err != nil || schema["type"] != "object" {
				t.Fatalf("echo schema %s", s.Tools()[0].Definition().Parameters)
			}
			// Calls that answer, with a timeout no loaded machine reaches.
			m := &scripted{rounds: [][]model.ToolCall{calls(prefix+"echo", prefix+"fail", prefix+"huge", prefix+"nope")}}
			a, _ := agent.NewAssistant(agent.Config{Name: "News_Reporter", Client: m, Tools: s.Tools(), ToolTimeout: time.Minute, MaxToolResult: 100_000})
			msg, err := a.Reply(context.Background(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"echo: hello", "the archive is offline", "more than the limit", "unknown tool"}
			for i, ex := range msg.ToolCalls {
				if !strings.Contains(ex.Result, want[i]) || ex.IsError != (i > 0) {
					t.Errorf("%s: %+v, want %q", ex.Name, ex, want[i])
				}
			}
			// A call that hangs is given up at its timeout.
			m = &scripted{rounds: [][]model.ToolCall{calls(prefix + "slow")}}
			a, _ = agent.NewAssistant(agent.Config{Name: "News_Reporter", Client: m, Tools: s.Tools(), ToolTimeout: 200 * time.Millisecond})
			slow, err := a.Reply(context.Background(), nil, nil)
			if err != nil || !strings.Contains(slow.ToolCalls[0].Result, "did not answer within") || slow.Content != "done" {
				t.Fatalf("slow call: %+v %v", slow, err)
			}
			if msg.Content != "done" {
				t.Fatalf("reply %q", msg.Content)
			}
		})
	}
}

func TestServer_ADyingServerBecomesErrorResults(t *testing.T) {
	s := connectStdio(t)
	m := &scripted{rounds: [][]model.ToolCall{calls("docs_exit"), calls("docs_echo")}}
	a, _ := agent.NewAssistant(agent.Config{Name: "News_Reporter", Client: m, Tools: s.Tools(), ToolTimeout: 5 * time.Second})
	msg, err := a.Reply(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.ToolCalls) != 2 || !msg.ToolCalls[0].IsError || !msg.ToolCalls[1].IsError || msg.Content != "done" {
		t.Fatalf("exchanges %+v, reply %q", msg.ToolCalls, msg.Content)
	}
}

func TestParseSpec(t *testing.T) {
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
	msg, err := a.Reply(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.ToolCalls) != 1 || !msg.ToolCalls[0].IsError || strings.Contains(msg.ToolCalls[0].Result, "did not answer within") || msg.Content != "done" {
		t.Fatalf("exchanges %+v, reply %q", msg.ToolCalls, msg.Content)
	}
}

func TestServer_ErrorsNeverShowTheCredentialsOfAServerURL(t *testing.T) {
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
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "REDACTED") {
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
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envServe, "1")
	ctx, cancel := context.WithCancel(context.Background())
	s, err := mcp.Connect(ctx, mcp.Spec{Name: "docs", Command: exe, Args: []string{"-test.run=^$"}}, mcp.Options{})
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
