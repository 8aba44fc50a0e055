// Package testsvc starts the real servers tests need (Redis, PostgreSQL) on
// free loopback ports, once per test binary.
//
// When a server's binary is missing the test is skipped, unless the
// environment says CI=true: then it fails, so CI never passes by skipping.
// Packages that use a server call testsvc.Main from their TestMain so the
// servers are stopped when the tests end.
package testsvc

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// registry of started processes, stopped by Main. A test binary is one
// process, so package-level state here is the test process's own.
var (
	mu    sync.Mutex
	procs []*exec.Cmd
	dirs  []string
)

// Main runs the tests and then stops every server started for them.
func Main(m *testing.M) {
	code := m.Run()
	StopAll()
	os.Exit(code)
}

// StopAll stops the servers started so far and removes their data.
func StopAll() {
	mu.Lock()
	defer mu.Unlock()
	for _, c := range procs {
		if c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			}
		}
	}
	procs = nil
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
	dirs = nil
}

func track(c *exec.Cmd, dir string) {
	mu.Lock()
	defer mu.Unlock()
	if c != nil {
		procs = append(procs, c)
	}
	if dir != "" {
		dirs = append(dirs, dir)
	}
}

// InCI reports whether the tests run in CI (CI=true), where missing servers fail.
func InCI() bool { return strings.EqualFold(os.Getenv("CI"), "true") }

// SkipOrFail skips the test, or fails it in CI.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("CI=true and a required server is unavailable: %s", msg)
	}
	t.Skip(msg)
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// LookBinary finds a server binary on PATH or in the extra directories (glob patterns allowed).
func LookBinary(name string, extra ...string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, pat := range extra {
		matches, _ := filepath.Glob(filepath.Join(pat, name))
		for i := len(matches) - 1; i >= 0; i-- { // newest version last in lexical order
			if fi, err := os.Stat(matches[i]); err == nil && !fi.IsDir() {
				return matches[i], true
			}
		}
	}
	return "", false
}

// WaitTCP waits until addr accepts connections or the timeout passes.
func WaitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testsvc: %s not accepting connections after %s: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	redisOnce sync.Once
	redisAddr string
	redisErr  error
)

// Redis returns the address of a redis-server started for this test binary.
func Redis(t testing.TB) string {
	t.Helper()
	redisOnce.Do(func() { redisAddr, redisErr = startRedis() })
	if redisErr != nil {
		SkipOrFail(t, "redis: %v", redisErr)
	}
	return redisAddr
}

func startRedis() (string, error) {
	bin, ok := LookBinary("redis-server", "/usr/bin", "/usr/sbin")
	if !ok {
		return "", fmt.Errorf("redis-server not found (apt-get install redis-server)")
	}
	dir, err := os.MkdirTemp("", "testsvc-redis-")
	if err != nil {
		return "", err
	}
	track(nil, dir)
	var lastErr error
	for range 3 { // a free port can be taken between FreePort and bind
		port, err := FreePort()
		if err != nil {
			return "", err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--dir", dir,
			"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			return "", fmt.Errorf("start redis-server: %w", err)
		}
		go drain(out)
		track(cmd, "")
		if lastErr = WaitTCP(addr, 10*time.Second); lastErr == nil {
			return addr, nil
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return "", lastErr
}

func drain(r interface{ Read([]byte) (int, error) }) {
	s := bufio.NewScanner(r)
	for s.Scan() {
	}
}
