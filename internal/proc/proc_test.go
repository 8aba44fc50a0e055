package proc_test

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/newsroom-dev/newsroom/internal/proc"
)

func TestStartRedis_ServesAndStops(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed") // testsvc's tests fail in CI when it is missing
	}
	addr, stop, err := proc.StartRedis(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte("PING\r\n"))
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if strings.TrimSpace(line) != "+PONG" {
		t.Fatalf("PING answered %q", line)
	}
	stop()
	if c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond); err == nil {
		c.Close()
		t.Fatal("redis-server still accepts connections after stop")
	}
}

func TestStop_KillsAProcessThatIgnoresSIGTERM(t *testing.T) {
	cmd := exec.Command("sh", "-c", "trap '' TERM; sleep 30")
	if err := proc.Start(cmd); err != nil {
		t.Fatal(err)
	}
	proc.Stop(cmd, 200*time.Millisecond)
	if cmd.ProcessState == nil || cmd.ProcessState.Success() {
		t.Fatalf("process state %v: want killed", cmd.ProcessState)
	}
}

func TestWaitTCP_GivesUp(t *testing.T) {
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.WaitTCP(context.Background(), net.JoinHostPort("127.0.0.1", itoa(port)), 100*time.Millisecond); err == nil {
		t.Fatal("nothing listens there")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestStartPostgres_ServesAndStops(t *testing.T) {
	if _, ok := proc.LookBinary("initdb", "/usr/lib/postgresql/*/bin"); !ok {
		t.Skip("PostgreSQL not installed") // testsvc's tests fail in CI when it is missing
	}
	// A directory the postgres user can reach when the test runs as root
	// (t.TempDir's parent is private to this user).
	dir, err := os.MkdirTemp("", "proc-test-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := proc.StartPostgres(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		pg.Stop(5 * time.Second)
		t.Fatal(err)
	}
	var one int
	err = conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	conn.Close(ctx)
	if err != nil || one != 1 || pg.Version < 100000 {
		t.Errorf("SELECT 1 = %d, %v; server version %d", one, err, pg.Version)
	}
	pg.Stop(5 * time.Second)
	if conn, err := pgx.Connect(ctx, pg.DSN); err == nil {
		conn.Close(ctx)
		t.Fatal("PostgreSQL still accepts connections after Stop")
	}
}
