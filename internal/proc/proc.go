// Package proc starts and stops the helper servers newsroom runs beside
// itself — redis-server for the cache benchmark and the tests, the emulator in
// a child process — on free loopback ports, each in its own process group so
// a stop reaches everything it started.
package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"syscall"
	"time"
)

// ErrNoRedis is returned by StartRedis when redis-server is not installed.
var ErrNoRedis = errors.New("proc: redis-server not found (install it with: apt-get install redis-server)")

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("proc: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitTCP waits until addr accepts connections, ctx is done or timeout passes.
func WaitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("proc: %s not accepting connections after %s: %w", addr, timeout, err)
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// Start starts cmd in a process group of its own that dies with this process.
func Start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	return cmd.Start()
}

// Stop ends a process group started by Start: SIGTERM, then SIGKILL if it has
// not exited within grace. It waits for the process.
func Stop(cmd *exec.Cmd, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// StartRedis starts redis-server on a free loopback port without
// persistence, its working files in dir, and returns its address and a stop
// function.
func StartRedis(ctx context.Context, dir string) (addr string, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, ErrNoRedis
	}
	var lastErr error
	for range 3 { // a free port can be taken between FreePort and the bind
		port, err := FreePort()
		if err != nil {
			return "", nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--dir", dir,
			"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no")
		if err := Start(cmd); err != nil {
			return "", nil, fmt.Errorf("proc: start redis-server: %w", err)
		}
		stop := func() { Stop(cmd, 5*time.Second) }
		if lastErr = WaitTCP(ctx, addr, 10*time.Second); lastErr == nil {
			return addr, stop, nil
		}
		stop()
	}
	return "", nil, fmt.Errorf("proc: redis-server did not start: %w", lastErr)
}
