package pgnotify_test

import (
	"context"
	"slices"
	"testing"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/server/internal/clustertest"
	"github.com/newsroom-dev/newsroom/server/pgnotify"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

// TestNotifier_FollowOnAnotherInstance: a run executed on instance A and
// followed on instance B reaches B's client whole, run_finished included.
func TestNotifier_FollowOnAnotherInstance(t *testing.T) {
	dsn := testsvc.Postgres(t)
	open := func() *pgnotify.Notifier {
		n, err := pgnotify.New(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		return n
	}
	lags := clustertest.FollowAcross(t, dsn, open(), open())
	t.Logf("event stored on A to B's client: max %v over %d events", slices.Max(lags), len(lags))
}
