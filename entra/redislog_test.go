package entra_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9/logging"

	"github.com/newsroom-dev/newsroom/entra"
	"github.com/newsroom-dev/newsroom/entra/entratest"
	"github.com/newsroom-dev/newsroom/internal/syncbuf"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
)

// logCapture is a slog JSON log in memory, safe for go-redis's goroutines.
type logCapture struct {
	syncbuf.Buffer
}

type logRecord struct {
	Level, Msg, Component string
}

func (c *logCapture) records(t *testing.T) []logRecord {
	var out []logRecord
	for _, line := range strings.Split(strings.TrimSpace(c.String()), "\n") {
		if line == "" {
			continue
		}
		var r logRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func (c *logCapture) text() string { return c.String() }

func captureLogger(c *logCapture) *slog.Logger {
	return slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestRedisLog_routineLinesAreDebugOthersWarn(t *testing.T) {
	t.Parallel()
	var c logCapture
	l := entra.RedisLog{Logger: captureLogger(&c)}
	ctx := context.Background()
	l.Printf(ctx, "redis: connection pool: conn[%d] rejected by hook, returning to pool", 7)
	l.Printf(ctx, "redis: re-authentication failed: %v", "WRONGPASS invalid username-password pair")
	l.Printf(ctx, "failed to disable maintnotifications in auto mode: %v", "ERR unknown command")
	got := c.records(t)
	want := []logRecord{
		{"DEBUG", "go-redis: connection pool: conn[7] rejected by hook, returning to pool", "go-redis"},
		{"WARN", "go-redis: re-authentication failed: WRONGPASS invalid username-password pair", "go-redis"},
		{"WARN", "go-redis: failed to disable maintnotifications in auto mode: ERR unknown command", "go-redis"},
	}
	if len(got) != len(want) {
		t.Fatalf("records %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	entra.RedisLog{}.Printf(ctx, "no logger: %d", 1) // must not panic
}

// TestRouteRedisLog_failedReauthenticationIsAWarning: when a renewed token
// is refused (here: the ACL user knows only the first token), go-redis's
// own "re-authentication failed" line reaches the service's log as a
// warning, without the token; routine pool lines are Debug.
func TestRouteRedisLog_failedReauthenticationIsAWarning(t *testing.T) {
	id := entratest.Start(t, 3*time.Second)
	addr := testsvc.Redis(t)
	ctx := t.Context()
	aclUser(t, addr, id, 1)

	var c logCapture
	entra.RouteRedisLog(captureLogger(&c))
	t.Cleanup(logging.Enable) // go-redis's default logger again

	rdb := oneConnClient(t, addr)
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(c.text(), "re-authentication failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no re-authentication failure logged within 20 s of a 3 s token; log:\n%s", c.text())
		}
		_ = rdb.Ping(ctx).Err() // keeps the connection in use; its old sign-in still holds
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("go-redis log:\n%s", c.text())
	for _, r := range c.records(t) {
		switch {
		case strings.Contains(r.Msg, "re-authentication failed") && r.Level != "WARN":
			t.Errorf("a failed re-authentication logged at %s, want WARN: %q", r.Level, r.Msg)
		case strings.Contains(r.Msg, "rejected by hook") && r.Level != "DEBUG":
			t.Errorf("a routine pool line logged at %s, want DEBUG: %q", r.Level, r.Msg)
		}
	}
	for n := 1; n <= 20; n++ {
		if tok := id.Token(entratest.RedisResource, n); strings.Contains(c.text(), tok) {
			t.Fatalf("token %d appears in the log", n)
		}
	}
}
