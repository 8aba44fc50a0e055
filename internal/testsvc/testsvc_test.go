package testsvc_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

func TestRedis_AnswersPing(t *testing.T) {
	addr := testsvc.Redis(t)
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(line) != "+PONG" {
		t.Fatalf("PING answered %q, want +PONG", line)
	}
}
