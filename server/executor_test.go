package server

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/internal/syncbuf"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// raceFinishStore makes a claim renewal race every run's final write: it
// holds the executor in FinishRun, after the commit, until a renewal has
// found the run finished (one that started before the commit and waited
// for it, or one that started after).
type raceFinishStore struct {
	store.Store
	finished sync.Map     // run id → chan struct{}, closed by a renewal after the commit
	raced    atomic.Int64 // renewals that found the run finished
}

func (r *raceFinishStore) FinishRun(ctx context.Context, c store.Claim, run *store.Run, final team.Event) (int64, error) {
	ch := make(chan struct{})
	r.finished.Store(c.RunID, ch)
	seq, err := r.Store.FinishRun(ctx, c, run, final)
	if err != nil {
		r.finished.Delete(c.RunID)
		return seq, err
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second): // the test fails below: no renewal raced
	}
	r.finished.Delete(c.RunID)
	return seq, nil
}

func (r *raceFinishStore) RenewClaim(ctx context.Context, c store.Claim, lease time.Duration) (bool, error) {
	ok, err := r.Store.RenewClaim(ctx, c, lease)
	// Nothing else ends these runs: a refused renewal met the final write.
	if ch, finishing := r.finished.Load(c.RunID); finishing && err == nil && !ok {
		r.raced.Add(1)
		close(ch.(chan struct{})) // the beat stops after this renewal: once per run
	}
	return ok, err
}

// TestServer_RenewalRacingTheFinalWrite holds each run's executor right
// after its final write until a heartbeat renewal has found the run
// finished, and checks the logs: no false "run claim lost", and one "run
// finished" line per run.
func TestServer_RenewalRacingTheFinalWrite(t *testing.T) {
	t.Parallel()
	onBothBackends(t, func(t *testing.T, open func(t testing.TB) store.Store) {
		logs := &syncbuf.Buffer{}
		var rs *raceFinishStore
		e := newEnv(t, envOpts{
			cfg: Config{Workers: 2, KeyRateLimit: -1, ClaimLease: time.Second, ClaimRenew: 5 * time.Millisecond,
				Logger: slog.New(slog.NewJSONHandler(logs, nil))},
			openStore: func(t testing.TB) store.Store {
				rs = &raceFinishStore{Store: open(t)}
				return rs
			},
		})
		var ids []string
		for i := range 3 {
			v := e.create(e.user, `{"task":"Harbour number `+string(rune('1'+i))+` reopens after storm repairs.","team":"selector","max_messages":2}`)
			ids = append(ids, v.ID)
		}
		for _, id := range ids {
			if v := e.waitFinished(e.user, id); v.Status != "succeeded" {
				t.Errorf("run %s: %s %s", id, v.Status, v.Error)
			}
		}
		if n := rs.raced.Load(); n < int64(len(ids)) {
			t.Fatalf("%d renewals raced the final writes of %d runs; want at least one each", n, len(ids))
		}
		out := logs.String()
		if strings.Contains(out, "run claim lost") {
			t.Errorf("a renewal racing the final write logged a lost claim:\n%s", grepLines(out, "run claim lost"))
		}
		for _, id := range ids {
			finished := 0
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, `"msg":"run finished"`) && strings.Contains(line, `"run":"`+id+`"`) {
					finished++
				}
			}
			if finished != 1 {
				t.Errorf("run %s has %d \"run finished\" lines, want 1:\n%s", id, finished, grepLines(out, id))
			}
			evs, err := e.st.Events(context.Background(), id, 0)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, ev := range evs {
				if ev.Type == team.EventRunFinished {
					n++
				}
			}
			if n != 1 || evs[len(evs)-1].Type != team.EventRunFinished {
				t.Errorf("run %s has %d run_finished events (last %s), want 1, last", id, n, evs[len(evs)-1].Type)
			}
		}
	})
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
