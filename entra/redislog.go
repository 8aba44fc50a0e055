package entra

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RedisLog receives go-redis's own log lines (its process-wide logger, set
// with RouteRedisLog) and writes them to a slog.Logger, so they reach the
// service's structured log instead of bare stderr.
//
// One line is routine, not a problem: while token renewal re-authenticates
// the open connections (RedisCredentials hands go-redis a new token, go-redis
// marks each pooled connection for AUTH), a command that takes a marked
// connection from the pool is refused it ("conn[N] rejected by hook,
// returning to pool") and takes another; the marked one signs in again in
// the background. Those lines go out at Debug. Every other line (a failed
// re-authentication, a connection that cannot be closed, ...) goes out at
// Warn: none is lost. go-redis's messages hold no password or token.
type RedisLog struct {
	Logger *slog.Logger
}

// routineRedisLines are fragments of go-redis log lines that describe
// normal operation.
var routineRedisLines = []string{"rejected by hook, returning to pool"}

// Printf implements go-redis's logging interface.
func (l RedisLog) Printf(ctx context.Context, format string, v ...any) {
	if l.Logger == nil {
		return
	}
	msg := strings.TrimSpace(strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
	level := slog.LevelWarn
	for _, r := range routineRedisLines {
		if strings.Contains(msg, r) {
			level = slog.LevelDebug
			break
		}
	}
	l.Logger.Log(ctx, level, "go-redis: "+msg, "component", "go-redis")
}

// RouteRedisLog sends go-redis's log lines to logger (see RedisLog). go-redis
// keeps one logger per process, so the last call wins; a nil logger changes
// nothing.
func RouteRedisLog(logger *slog.Logger) {
	if logger != nil {
		redis.SetLogger(RedisLog{Logger: logger})
	}
}
