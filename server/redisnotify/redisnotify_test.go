package redisnotify_test

import (
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/server/internal/clustertest"
	"github.com/newsroom-dev/newsroom/server/redisnotify"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

// TestNotifier_FollowOnAnotherInstance: two instances on one PostgreSQL
// store, notified through Redis pub/sub: a run executed on A and followed
// on B reaches B's client whole, run_finished included.
func TestNotifier_FollowOnAnotherInstance(t *testing.T) {
	dsn := testsvc.Postgres(t)
	addr := testsvc.Redis(t)
	open := func() *redisnotify.Notifier {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { c.Close() })
		return redisnotify.New(c, "test:"+t.Name())
	}
	lags := clustertest.FollowAcross(t, dsn, open(), open())
	t.Logf("event stored on A to B's client: max %v over %d events", slices.Max(lags), len(lags))
}
