package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/newsroom-dev/newsroom/internal/syncbuf"
	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/tool/mcp"
)

// child is a server process started by a test, with what it records.
type child struct {
	s      *mcp.Server
	starts string // a line per process start
	runs   string // a line per run of the die tool
	logs   *syncbuf.Buffer
}

// startChild connects to this test binary as a server process, given the
// secret key and the extra environment entries env, logging at DEBUG.
func startChild(t *testing.T, opts mcp.Options, env ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ch := &child{starts: filepath.Join(dir, "starts"), runs: filepath.Join(dir, "runs"), logs: &syncbuf.Buffer{}}
	opts.Logger = slog.New(slog.NewTextHandler(ch.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	spec := mcp.Spec{Name: "docs", Command: exe, Args: []string{"-test.run=^$"}, Env: append([]string{
		envServe + "=1", noRaceExitDelay, envStarts + "=" + ch.starts, envRuns + "=" + ch.runs, "DOCS_API_KEY=" + testKey}, env...)}
	ch.s, err = mcp.Connect(context.Background(), spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.s.Close() })
	return ch
}

// call calls the server's tool name (without its prefix).
func (ch *child) call(t *testing.T, name, args string) (string, error) {
	t.Helper()
	res, err := find(t, ch.s, name).Call(context.Background(), json.RawMessage(args))
	return res.Content, err
}

// kill kills the server process, and waits until the Server has seen it die.
func (ch *child) kill(t *testing.T) int {
	t.Helper()
	pid := ch.s.Stats().PID
	p, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the server's death to be seen", func() bool { return !ch.s.Stats().Up })
	return pid
}

func find(t *testing.T, s *mcp.Server, name string) tool.Tool {
	t.Helper()
	for _, x := range s.Tools() {
		if x.Definition().Name == s.Name()+"_"+name {
			return x
		}
	}
	t.Fatalf("no tool %s", name)
	return nil
}

// eventually polls cond until it holds, failing the test after 15 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// gone reports whether process pid has ended: no such process, or a
// zombie (a descendant waiting for init to reap it).
func gone(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(after, "Z")
}

func TestServer_AKilledServerIsRestartedByTheNextCall(t *testing.T) {
	t.Parallel()
	ch := startChild(t, mcp.Options{})
	first := ch.kill(t)
	if got, err := ch.call(t, "echo", `{"text":"after the kill"}`); err != nil || got != "echo: after the kill" {
		t.Fatalf("call after the kill: %q, %v", got, err)
	}
	pid, err := ch.call(t, "pid", `{}`)
	if err != nil || pid == strconv.Itoa(first) {
		t.Fatalf("pid %q (killed %d), %v", pid, first, err)
	}
	if st := ch.s.Stats(); st.Starts != 2 || strconv.Itoa(st.PID) != pid || !st.Up {
		t.Errorf("stats %+v, want 2 starts and pid %s", st, pid)
	}
	if n := countLines(ch.starts); n != 2 {
		t.Errorf("%d process starts, want 2", n)
	}
	for _, want := range []string{"mcp server down, restarting it", "ended by signal: killed", "mcp server restarted"} {
		if !strings.Contains(ch.logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, ch.logs)
		}
	}
}

func TestServer_ConcurrentCallsToADeadServerShareOneRestart(t *testing.T) {
	t.Parallel()
	ch := startChild(t, mcp.Options{})
	ch.kill(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			text := fmt.Sprint("call ", i)
			got, err := ch.call(t, "echo", `{"text":"`+text+`"}`)
			if err == nil && got != "echo: "+text {
				err = fmt.Errorf("answer %q", got)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := countLines(ch.starts); n != 2 || ch.s.Stats().Starts != 2 {
		t.Fatalf("%d process starts, stats %+v: want 2 (one restart for all the calls)", n, ch.s.Stats())
	}
}

// A server that dies at every start: a bounded number of starts, then
// calls answered at once that it is down, and why (its stderr, redacted).
func TestServer_ACrashLoopingServerIsGivenUpWithoutSpinning(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts mcp.Options
		// starts is the number of processes started after 10 calls: the
		// first, then the restarts the options allow.
		starts int
		// gaveUp is in the error once no more restarts are tried.
		gaveUp string
	}{
		{"at most MaxRestarts in the window", mcp.Options{MaxRestarts: 3, RestartBackoff: time.Nanosecond}, 4, "it was restarted 3 times in the last 1m0s, the most allowed"},
		{"a failed restart holds the next back", mcp.Options{RestartBackoff: time.Hour}, 2, "1 failed restarts in a row, next attempt after"},
		{"restarts off", mcp.Options{MaxRestarts: -1}, 1, "it is not restarted (restarts are off)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ch := startChild(t, tc.opts, envCrash+"=1")
			ch.kill(t)
			var last error
			for i := range 10 {
				_, err := ch.call(t, "echo", `{"text":"x"}`)
				if !errors.Is(err, mcp.ErrServerDown) {
					t.Fatalf("call %d: %v, want the server down", i, err)
				}
				msg := err.Error()
				if strings.Contains(msg, testKey) {
					t.Fatalf("call %d: the key shows: %s", i, msg)
				}
				if i > 0 && tc.starts > 1 && !strings.Contains(msg, "fatal: the archive index is corrupt (api_key=[redacted])") {
					t.Errorf("call %d: the error lacks the crash's stderr line: %s", i, msg)
				}
				last = err
			}
			if !strings.Contains(last.Error(), "mcp server docs is down") || !strings.Contains(last.Error(), tc.gaveUp) {
				t.Errorf("last error %q, want %q", last, tc.gaveUp)
			}
			if n := countLines(ch.starts); n != tc.starts {
				t.Errorf("%d process starts for 10 calls, want %d", n, tc.starts)
			}
			if strings.Contains(ch.logs.String(), testKey) {
				t.Errorf("the key shows in the log:\n%s", ch.logs)
			}
		})
	}
}

func TestServer_StderrIsLoggedLineByLineRedacted(t *testing.T) {
	t.Parallel()
	ch := startChild(t, mcp.Options{})
	eventually(t, "the start line in the log", func() bool { return strings.Contains(ch.logs.String(), "desk-docs: start 1") })
	_, err := ch.call(t, "die", `{}`)
	if err == nil {
		t.Fatal("the die call succeeded")
	}
	eventually(t, "the last line in the log", func() bool { return strings.Contains(ch.logs.String(), "fatal: dying on request") })
	logs := ch.logs.String()
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if strings.Contains(line, "desk-docs: start 1") || strings.Contains(line, "fatal: dying") {
			if !strings.Contains(line, "level=DEBUG") || !strings.Contains(line, "server=docs") || !strings.Contains(line, "[redacted]") {
				t.Errorf("stderr log line %q: want DEBUG, the server's name, the secret redacted", line)
			}
		}
	}
	for _, secret := range []string{testKey, testBearer} {
		if strings.Contains(logs, secret) || strings.Contains(err.Error(), secret) {
			t.Errorf("%q shows in the log or the error:\n%s\n%v", secret, logs, err)
		}
	}
	if !strings.Contains(err.Error(), "desk-docs: start 1, pid") || !strings.Contains(err.Error(), "Authorization: Bearer [redacted]") {
		t.Errorf("error %v: want the last stderr lines", err)
	}
}

func TestServer_ARestartedServerMustStillOfferTheToolsAsGiven(t *testing.T) {
	t.Parallel()
	ch := startChild(t, mcp.Options{}, envVariant+"=1")
	ch.kill(t)
	if _, err := ch.call(t, "echo", `{"text":"x"}`); err == nil || !strings.Contains(err.Error(), "changed the tool's parameters") {
		t.Errorf("echo after an upgrade: %v", err)
	}
	if _, err := ch.call(t, "fail", `{}`); err == nil || !strings.Contains(err.Error(), "no longer offers this tool") {
		t.Errorf("fail after an upgrade: %v", err)
	}
	// A tool whose parameters changed only in words is still called.
	if pid, err := ch.call(t, "pid", `{}`); err != nil || pid != strconv.Itoa(ch.s.Stats().PID) {
		t.Errorf("pid after an upgrade: %q, %v", pid, err)
	}
}

// Close stops the server process and what it started, even when that
// holds the server's pipes.
func TestServer_CloseLeavesNoProcessBehind(t *testing.T) {
	t.Parallel()
	ch := startChild(t, mcp.Options{})
	server := ch.s.Stats().PID
	out, err := ch.call(t, "spawn", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	spawned, err := strconv.Atoi(out)
	if err != nil || gone(spawned) {
		t.Fatalf("spawned %q: %v", out, err)
	}
	t.Cleanup(func() { _ = syscall.Kill(spawned, syscall.SIGKILL) }) // should the test fail
	if err := ch.s.Close(); err != nil {
		t.Fatal(err)
	}
	if !gone(server) {
		t.Errorf("server process %d still there after Close", server)
	}
	eventually(t, "the spawned process to end", func() bool { return gone(spawned) })
	if _, err := ch.call(t, "echo", `{"text":"x"}`); !errors.Is(err, mcp.ErrClosed) {
		t.Errorf("a call after Close: %v", err)
	}
}

// An HTTP server that restarted (at the same address) no longer knows the
// session: the call, refused unrun, is sent again on a new session.
func TestServer_AnHTTPServerThatRestartedGetsANewSession(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	serve := func(ln net.Listener) *http.Server {
		srv := &http.Server{Handler: sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return testServer() }, nil)}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		return srv
	}
	first := serve(ln)
	hc := &http.Client{Transport: &http.Transport{}}
	s, err := mcp.Connect(context.Background(), mcp.Spec{Name: "web", URL: "http://" + addr}, mcp.Options{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	_ = first.Close()
	// The client forgets the connections the old server closed, as it does
	// by itself when it sees them close; a request sent on one before that
	// fails, and is not sent again, since it was written.
	hc.CloseIdleConnections()
	var again net.Listener
	eventually(t, "the address to be free again", func() bool {
		again, err = net.Listen("tcp", addr)
		return err == nil
	})
	serve(again)
	res, err := find(t, s, "echo").Call(context.Background(), json.RawMessage(`{"text":"again"}`))
	if err != nil || res.Content != "echo: again" {
		t.Fatalf("call after the server's restart: %+v, %v", res, err)
	}
	if st := s.Stats(); st.Starts != 2 || st.PID != 0 {
		t.Errorf("stats %+v, want 2 starts", st)
	}
}
