// Package testsvc starts the real servers tests need (Redis, PostgreSQL) on
// free loopback ports, once per test binary.
//
// When a server's binary is missing the test is skipped, unless the
// environment says CI=true: then it fails, so CI never passes by skipping.
// Packages that use a server call testsvc.Main from their TestMain so the
// servers are stopped when the tests end.
package testsvc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/internal/proc"
)

// registry of started processes, stopped by Main. A test binary is one
// process, so package-level state here is the test process's own.
var (
	mu    sync.Mutex
	procs []*exec.Cmd
	stops []func()
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
		proc.Stop(c, 5*time.Second)
	}
	procs = nil
	for _, stop := range stops {
		stop()
	}
	stops = nil
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
func FreePort() (int, error) { return proc.FreePort() }

// LookBinary finds a server binary on PATH or in the extra directories (glob patterns allowed).
func LookBinary(name string, extra ...string) (string, bool) { return proc.LookBinary(name, extra...) }

// WaitTCP waits until addr accepts connections or the timeout passes.
func WaitTCP(addr string, timeout time.Duration) error {
	return proc.WaitTCP(context.Background(), addr, timeout)
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
	dir, err := os.MkdirTemp("", "testsvc-redis-")
	if err != nil {
		return "", err
	}
	track(nil, dir)
	addr, stop, err := proc.StartRedis(context.Background(), dir)
	if err != nil {
		return "", err
	}
	mu.Lock()
	stops = append(stops, stop)
	mu.Unlock()
	return addr, nil
}
