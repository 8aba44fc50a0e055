package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/internal/syncbuf"
)

// runIn runs one command line in this process, as main would, and returns
// the classified error (errUsage, errConfig, errRunFailed or another).
func runIn(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_, err := execute(ctx, args, strings.NewReader(""), stdout, stderr)
	return err
}

// The commands under test, called in this process with their arguments.
func runAuth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runIn(ctx, append([]string{"auth"}, args...), stdout, stderr)
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runIn(ctx, append([]string{"keys"}, args...), stdout, stderr)
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runIn(ctx, append([]string{"bench"}, args...), stdout, stderr)
}

func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runIn(ctx, append([]string{"emulator"}, args...), stdout, stderr)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runIn(ctx, append([]string{"serve"}, args...), stdout, stderr)
}

// testServe is a `newsroom serve` started in this process by startServe.
type testServe struct {
	base           string // where it serves: http://127.0.0.1:port
	key            string // an API key (reporter) in its database
	stdout, stderr *syncbuf.Buffer
	cancel         context.CancelFunc
	done           chan error

	stopOnce sync.Once
	err      error
}

// startServe creates an API key in a new database in dir, runs serve on a
// free loopback port with that database, no cache, no .env file and args,
// and waits (at most 30 s) until it says where it serves. Serve is stopped
// when the test ends, if the test did not stop it.
func startServe(t *testing.T, dir string, args ...string) *testServe {
	t.Helper()
	db := filepath.Join(dir, "serve.db")
	var keyOut syncbuf.Buffer
	if err := runKeys(context.Background(), []string{"create", "--name", "t", "--db", db}, &keyOut, io.Discard); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServe{key: strings.TrimSpace(keyOut.String()), stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{},
		cancel: cancel, done: make(chan error, 1)}
	args = append([]string{"--addr", "127.0.0.1:0", "--db", db, "--no-cache", "--env-file", filepath.Join(dir, "none.env")}, args...)
	go func() { s.done <- runServe(ctx, args, s.stdout, s.stderr) }()
	t.Cleanup(func() { _ = s.stop(t) })
	urlRE := regexp.MustCompile(`serving on (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(30 * time.Second); s.base == ""; {
		select {
		case err := <-s.done:
			t.Fatalf("serve ended early: %v\n%s", err, s.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if m := urlRE.FindStringSubmatch(s.stdout.String()); m != nil {
			s.base = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", s.stderr.String())
		}
	}
	return s
}

// stop cancels serve's context, what SIGTERM does through main's signal
// context, and returns what serve returned; the test fails when serve has
// not stopped within 30 s.
func (s *testServe) stop(t *testing.T) error {
	t.Helper()
	s.stopOnce.Do(func() {
		s.cancel()
		select {
		case s.err = <-s.done:
		case <-time.After(30 * time.Second):
			s.err = errors.New("serve did not stop")
			t.Error(s.err)
		}
	})
	return s.err
}

// do sends a request with the key and returns the response.
func (s *testServe) do(t *testing.T, method, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// follow reads run id's event stream to its end (it closes after
// run_finished) and returns it.
func (s *testServe) follow(t *testing.T, id string) string {
	t.Helper()
	resp := s.do(t, "GET", "/v1/runs/"+id+"/events", "")
	defer resp.Body.Close()
	stream, _ := io.ReadAll(resp.Body)
	return string(stream)
}
