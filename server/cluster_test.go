package server

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
	"github.com/newsroom-dev/newsroom/store/sqlite"
	"github.com/newsroom-dev/newsroom/team"
)

// errKilled is what a killed instance's store answers: its process is gone.
var errKilled = errors.New("test: instance killed")

// killableStore is one instance's connection to the shared store. kill makes
// every later call fail, as if the process had died (kill -9): no release,
// no renewal, no checkpoint reaches the database any more.
type killableStore struct {
	next store.Store
	dead atomic.Bool
}

var _ store.Store = (*killableStore)(nil)

func (k *killableStore) kill() { k.dead.Store(true) }

func (k *killableStore) err() error {
	if k.dead.Load() {
		return errKilled
	}
	return nil
}

func (k *killableStore) CreateRun(ctx context.Context, r *store.Run) (*store.Run, bool, error) {
	if err := k.err(); err != nil {
		return nil, false, err
	}
	return k.next.CreateRun(ctx, r)
}

func (k *killableStore) RunByIdempotencyKey(ctx context.Context, owner, key string) (*store.Run, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.RunByIdempotencyKey(ctx, owner, key)
}

func (k *killableStore) GetRun(ctx context.Context, id string) (*store.Run, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.GetRun(ctx, id)
}

func (k *killableStore) UpdateRun(ctx context.Context, c store.Claim, r *store.Run) error {
	if err := k.err(); err != nil {
		return err
	}
	return k.next.UpdateRun(ctx, c, r)
}

func (k *killableStore) FinishRun(ctx context.Context, c store.Claim, r *store.Run, final team.Event) (int64, error) {
	if err := k.err(); err != nil {
		return 0, err
	}
	return k.next.FinishRun(ctx, c, r, final)
}

func (k *killableStore) ListRuns(ctx context.Context, o store.ListOptions) ([]*store.Run, string, error) {
	if err := k.err(); err != nil {
		return nil, "", err
	}
	return k.next.ListRuns(ctx, o)
}

func (k *killableStore) UnfinishedRuns(ctx context.Context) ([]*store.Run, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.UnfinishedRuns(ctx)
}

func (k *killableStore) ClaimRun(ctx context.Context, id, owner string, lease time.Duration) (store.Claim, bool, error) {
	if err := k.err(); err != nil {
		return store.Claim{}, false, err
	}
	return k.next.ClaimRun(ctx, id, owner, lease)
}

func (k *killableStore) SeizeRun(ctx context.Context, id, owner string, lease time.Duration) (store.Claim, bool, error) {
	if err := k.err(); err != nil {
		return store.Claim{}, false, err
	}
	return k.next.SeizeRun(ctx, id, owner, lease)
}

func (k *killableStore) RenewClaim(ctx context.Context, c store.Claim, lease time.Duration) (bool, error) {
	if err := k.err(); err != nil {
		return false, err
	}
	return k.next.RenewClaim(ctx, c, lease)
}

func (k *killableStore) ReleaseRun(ctx context.Context, c store.Claim) error {
	if err := k.err(); err != nil {
		return err
	}
	return k.next.ReleaseRun(ctx, c)
}

func (k *killableStore) ClaimableRuns(ctx context.Context, limit int) ([]*store.Run, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.ClaimableRuns(ctx, limit)
}

func (k *killableStore) AppendEvent(ctx context.Context, c store.Claim, e team.Event) (int64, error) {
	if err := k.err(); err != nil {
		return 0, err
	}
	return k.next.AppendEvent(ctx, c, e)
}

func (k *killableStore) Events(ctx context.Context, id string, after int64) ([]store.Event, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.Events(ctx, id, after)
}

func (k *killableStore) ResolveWaiting(ctx context.Context, id string, evs []team.Event, st store.Status, reason string) error {
	if err := k.err(); err != nil {
		return err
	}
	return k.next.ResolveWaiting(ctx, id, evs, st, reason)
}

func (k *killableStore) CreateKey(ctx context.Context, key *store.Key) error {
	if err := k.err(); err != nil {
		return err
	}
	return k.next.CreateKey(ctx, key)
}

func (k *killableStore) KeyByHash(ctx context.Context, hash string) (*store.Key, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.KeyByHash(ctx, hash)
}

func (k *killableStore) ListKeys(ctx context.Context) ([]*store.Key, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.ListKeys(ctx)
}

func (k *killableStore) RevokeKey(ctx context.Context, id string) error {
	if err := k.err(); err != nil {
		return err
	}
	return k.next.RevokeKey(ctx, id)
}

func (k *killableStore) Ping(ctx context.Context) error {
	if err := k.err(); err != nil {
		return err
	}
	return k.next.Ping(ctx)
}

func (k *killableStore) Close() error { return k.next.Close() }

// openPostgres opens a killable connection to the test database at dsn.
func openPostgres(dsn string) func(t testing.TB) store.Store {
	return func(t testing.TB) store.Store {
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		return &killableStore{next: st}
	}
}

// taskText is the task of the task request body.
func taskText(t testing.TB) string {
	var req CreateRunRequest
	if err := json.Unmarshal([]byte(task), &req); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(req.Task)
}

// reference runs the task once on its own server and emulator and returns the
// finished run and how many model requests it took.
func reference(t *testing.T) (RunView, int) {
	ref := newEnv(t, envOpts{})
	want := ref.waitFinished(ref.user, ref.create(ref.user, task).ID)
	if want.Status != store.StatusSucceeded || want.Article == "" {
		t.Fatalf("reference run: %s %q", want.Status, want.Error)
	}
	return want, int(ref.emu.Count())
}

// waitDone polls the store until every run is finished (bounded).
func waitDone(t *testing.T, st store.Store, ids []string) map[string]*store.Run {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	out := map[string]*store.Run{}
	for _, id := range ids {
		for {
			r, err := st.GetRun(context.Background(), id)
			if err != nil {
				t.Fatalf("GetRun(%s): %v", id, err)
			}
			if r.Status.Finished() {
				out[id] = r
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s still %s after the test's bound", id, r.Status)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out
}

// checkAllLikeReference fails unless every run succeeded with the reference
// run's article.
func checkAllLikeReference(t *testing.T, runs map[string]*store.Run, want RunView) {
	t.Helper()
	for id, r := range runs {
		if r.Status != store.StatusSucceeded || r.Article != want.Article {
			t.Errorf("run %s: %s %q, article equal to the uninterrupted run's: %v", id, r.Status, r.Error, r.Article == want.Article)
		}
	}
}

// clusterConfig is an instance's configuration in these tests: short leases
// and scans so that take-overs happen within the tests' bounds.
func clusterConfig(id string, workers int, lease time.Duration) Config {
	return Config{InstanceID: id, Workers: workers, ClaimLease: lease, ClaimRenew: lease / 10, ScanInterval: 20 * time.Millisecond}
}

// TestCluster_EveryRunExecutesOnce starts two instances on one PostgreSQL
// database at the same time, with runs left queued by an instance that died
// before starting them, then submits more runs to one instance: every run
// succeeds, each team is built once per run, and the emulator sees exactly
// the model requests of that many uninterrupted runs.
func TestCluster_EveryRunExecutesOnce(t *testing.T) {
	dsn := testsvc.Postgres(t)
	want, perRun := reference(t)
	ctx := context.Background()

	// The lease is long enough that no executing run's claim lapses on a
	// loaded machine, which would (correctly) repeat its model call in flight.
	a := newEnv(t, envOpts{openStore: openPostgres(dsn), noStart: true, cfg: clusterConfig("A", 1, 5*time.Second)})
	b := newEnv(t, envOpts{openStore: openPostgres(dsn), noStart: true, emulator: a.emu, cfg: clusterConfig("B", 2, 5*time.Second)})
	var ids []string
	for range 4 {
		r, _, err := a.st.CreateRun(ctx, &store.Run{Task: taskText(t), Team: desk.Teams[0], Status: store.StatusQueued})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	var wg sync.WaitGroup
	for _, e := range []*env{a, b} {
		wg.Go(func() {
			if err := e.srv.Start(ctx); err != nil {
				t.Errorf("Start: %v", err)
			}
		})
	}
	wg.Wait()
	for range 3 {
		ids = append(ids, a.create(a.user, task).ID)
	}
	runs := waitDone(t, a.st, ids)
	checkAllLikeReference(t, runs, want)
	built := a.building.Load() + b.building.Load()
	if built != int64(len(ids)) {
		t.Errorf("teams built: A %d + B %d, want one per run (%d)", a.building.Load(), b.building.Load(), len(ids))
	}
	if got, wantCalls := a.emu.Count(), len(ids)*perRun; int(got) != wantCalls {
		t.Errorf("model requests = %d, want %d (%d runs × %d)", got, wantCalls, len(ids), perRun)
	}
	t.Logf("runs executed: A %d, B %d", a.building.Load(), b.building.Load())
}

// TestCluster_QueuedRunOfABusyInstanceIsTakenOver submits a run to an
// instance whose workers never start (busy or dead): once the claim it took
// at submission expires, the other instance executes it.
func TestCluster_QueuedRunOfABusyInstanceIsTakenOver(t *testing.T) {
	dsn := testsvc.Postgres(t)
	a := newEnv(t, envOpts{openStore: openPostgres(dsn), noStart: true, cfg: clusterConfig("A", 1, 200*time.Millisecond)})
	b := newEnv(t, envOpts{openStore: openPostgres(dsn), emulator: a.emu, cfg: clusterConfig("B", 1, 200*time.Millisecond)})
	v := a.create(a.user, task)
	got := b.waitFinished(a.user, v.ID)
	if got.Status != store.StatusSucceeded || b.building.Load() != 1 || a.building.Load() != 0 {
		t.Errorf("run %s %q; teams built by A %d, by B %d; want succeeded by B", got.Status, got.Error, a.building.Load(), b.building.Load())
	}
}

// TestCluster_DeadInstanceRunsResumeElsewhere kills an instance (its store
// connection dies and its runs are interrupted, with no graceful shutdown)
// while two of its runs wait in model calls; the other instance, alive all
// along, leaves them alone while the dead instance's leases last, then
// resumes both from their checkpoints: no completed model call is repeated.
func TestCluster_DeadInstanceRunsResumeElsewhere(t *testing.T) {
	dsn := testsvc.Postgres(t)
	want, perRun := reference(t)
	const hold = 3 // two model calls complete; every later one of A's hangs
	if perRun < hold {
		t.Fatalf("a run makes %d model calls; the test needs at least %d", perRun, hold)
	}
	const lease = time.Second
	a := newEnv(t, envOpts{openStore: openPostgres(dsn), cfg: clusterConfig("A", 2, lease)})
	b := newEnv(t, envOpts{openStore: openPostgres(dsn), emulator: a.emu, noStart: true, cfg: clusterConfig("B", 2, lease)})
	a.client.holdFrom(hold)
	ids := []string{a.create(a.user, task).ID, a.create(a.user, task).ID}
	// Each run stops at its first held call, after checkpointing the ones
	// before it: both runs are mid-run when A dies. (B starts after they
	// are claimed: a scan between a submission's insert and its claim would
	// rightly take the run, but this test wants both runs on A.)
	for range ids {
		select {
		case <-a.client.waiting:
		case <-time.After(30 * time.Second):
			t.Fatalf("A's runs did not reach the held model call (teams built by A %d)", a.building.Load())
		}
	}
	if err := b.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// While A lives and renews its leases, B takes nothing, over several
	// lease periods (this is a bound on the check, not a timing assertion).
	for end := time.Now().Add(2 * lease); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if n := b.building.Load(); n != 0 {
			t.Fatalf("B started %d of live A's runs", n)
		}
	}
	if got := a.emu.Count(); got != hold-1 {
		t.Fatalf("model requests before the kill = %d, want %d", got, hold-1)
	}

	a.st.(*killableStore).kill()
	a.srv.hardStop() // the process is gone: its model calls are abandoned

	runs := waitDone(t, b.st, ids)
	checkAllLikeReference(t, runs, want)
	if n := b.building.Load(); n != int64(len(ids)) {
		t.Errorf("B built %d teams, want %d (each of A's runs resumed once)", n, len(ids))
	}
	if got, wantCalls := a.emu.Count(), len(ids)*perRun; int(got) != wantCalls {
		t.Errorf("model requests = %d, want %d like %d uninterrupted runs: a completed call was repeated or lost", got, wantCalls, len(ids))
	}
	// The final state is saved just before run_finished is stored: let B's
	// executors end before reading the logs.
	waitIdle(t, b.srv)
	for _, id := range ids {
		evs, err := b.st.Events(context.Background(), id, 0)
		if err != nil {
			t.Fatal(err)
		}
		var finished, msgs int
		for _, e := range evs {
			switch e.Type {
			case team.EventRunFinished:
				finished++
			case team.EventMessage:
				msgs++
			}
		}
		if finished != 1 || msgs != len(want.Messages) {
			t.Errorf("run %s: %d run_finished and %d messages stored, want 1 and %d", id, finished, msgs, len(want.Messages))
		}
	}
}

// waitIdle waits (bounded) until no run executes on the server.
func waitIdle(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.Running() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d runs still executing after the test's bound", s.Running())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCluster_ShutdownReleasesQueuedRuns: a run waiting in a stopped
// instance's queue is released at shutdown, so an instance with an hour-long
// lease (SQLite, one file) starts it at once instead of after the lease.
func TestCluster_ShutdownReleasesQueuedRuns(t *testing.T) {
	cfg := func(id string) Config { return Config{InstanceID: id, ClaimLease: time.Hour} }
	a := newEnv(t, envOpts{noStart: true, cfg: cfg("A")})
	v := a.create(a.user, task)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	b := newEnv(t, envOpts{dbPath: a.dbPath, emulator: a.emu, cfg: cfg("B")})
	if got := b.waitFinished(a.user, v.ID); got.Status != store.StatusSucceeded {
		t.Errorf("run %s %q, want succeeded by B", got.Status, got.Error)
	}
}

// TestCluster_RunStopsWhenItsClaimGoes: the lease keeper stops a run in the
// middle of a model call when its claim is gone (a cancel through another
// instance finished it) or cannot be renewed for a whole lease (the store is
// unreachable); nothing is written by the instance that stopped it.
func TestCluster_RunStopsWhenItsClaimGoes(t *testing.T) {
	cfg := Config{InstanceID: "A", ClaimLease: 300 * time.Millisecond, ClaimRenew: 20 * time.Millisecond}
	t.Run("cancelled through another instance", func(t *testing.T) {
		e := newEnv(t, envOpts{cfg: cfg})
		e.client.holdFrom(2)
		t.Cleanup(e.client.release)
		v := e.create(e.user, task)
		<-e.client.waiting
		other, err := New(Config{Store: e.st, Teams: e.srv.cfg.Teams, Logger: e.srv.log, InstanceID: "B"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.cancel(context.Background(), v.ID); err != nil {
			t.Fatalf("cancel through the other instance: %v", err)
		}
		waitIdle(t, e.srv) // the held model call never returns by itself
		evs, err := e.st.Events(context.Background(), v.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 || evs[len(evs)-1].Type != team.EventRunFinished || evs[len(evs)-1].StopReason != cancelReason {
			t.Errorf("the last event is not the other instance's run_finished: %+v", evs)
		}
		if run, _ := e.st.GetRun(context.Background(), v.ID); run == nil || run.Status != store.StatusCancelled {
			t.Errorf("run = %+v, want cancelled", run)
		}
	})
	t.Run("store unreachable for a lease", func(t *testing.T) {
		path := t.TempDir() + "/newsroom.db"
		var ks *killableStore
		e := newEnv(t, envOpts{cfg: cfg, openStore: func(t testing.TB) store.Store {
			st, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			ks = &killableStore{next: st}
			return ks
		}})
		e.client.holdFrom(2)
		t.Cleanup(e.client.release)
		e.create(e.user, task)
		<-e.client.waiting
		ks.kill()
		waitIdle(t, e.srv)
	})
}

// TestCluster_StaleInstanceWritesNothing: an instance whose lease lapsed
// (its heartbeat stalled) while another took the run over finishes its model
// call but stores nothing more: the fencing token refuses its checkpoint.
func TestCluster_StaleInstanceWritesNothing(t *testing.T) {
	cfg := Config{InstanceID: "A", ClaimLease: 100 * time.Millisecond, ClaimRenew: time.Hour, ScanInterval: -1}
	e := newEnv(t, envOpts{cfg: cfg})
	e.client.holdFrom(2)
	v := e.create(e.user, task)
	<-e.client.waiting // the first message is stored; the second call waits
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, ok, err := e.st.ClaimRun(ctx, v.ID, "B", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B could not take the run over after A's lease")
		}
		time.Sleep(10 * time.Millisecond)
	}
	before, err := e.st.Events(ctx, v.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.client.release()
	waitIdle(t, e.srv)
	after, err := e.st.Events(ctx, v.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("the stale instance stored %d more events after the take-over: %+v", len(after)-len(before), after[len(before):])
	}
	if run, err := e.st.GetRun(ctx, v.ID); err != nil || run.Status != store.StatusRunning {
		t.Errorf("run = %+v, %v; want still running (B's to finish)", run, err)
	}
}

// TestCluster_BusyInstanceResumesADeadInstancesRunBeforeItsQueue: instance
// B executes one run and has another waiting in its queue when A dies with a
// run half done. When B's worker frees up, it resumes A's run first: a run
// under way does not wait behind every run queued on the survivors.
func TestCluster_BusyInstanceResumesADeadInstancesRunBeforeItsQueue(t *testing.T) {
	dsn := testsvc.Postgres(t)
	// Long enough that a live instance's claims never lapse on a loaded machine.
	const lease = 3 * time.Second
	a := newEnv(t, envOpts{openStore: openPostgres(dsn), cfg: clusterConfig("A", 1, lease)})
	b := newEnv(t, envOpts{openStore: openPostgres(dsn), emulator: a.emu, cfg: clusterConfig("B", 1, lease)})
	a.client.holdFrom(2) // A's run checkpoints its first call and hangs in the second
	x := a.create(a.user, task).ID
	b.client.holdFrom(1) // B's first run hangs in its first call
	select {
	case <-a.client.waiting:
	case <-time.After(30 * time.Second):
		t.Fatal("A's run did not reach its held call")
	}
	y := b.create(b.user, task).ID
	select {
	case <-b.client.waiting:
	case <-time.After(30 * time.Second):
		t.Fatal("B's run did not reach its held call")
	}
	z := b.create(b.user, task).ID // waits in B's queue

	a.st.(*killableStore).kill()
	a.srv.hardStop()
	// A's claim on x lapses and B's scan takes the run over past its worker
	// limit: B's only worker is held in y's call, yet x's resumed run_started
	// is stored while y waits. (The moment x is claimable is not waited for:
	// B's scan may claim it between two polls.)
	resumed := func() bool {
		evs, err := b.st.Events(context.Background(), x, 0)
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(evs, func(e store.Event) bool { return e.Type == team.EventRunStarted && e.Resumed })
	}
	for deadline := time.Now().Add(30 * time.Second); !resumed(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("A's run did not resume on B while B's only worker was busy")
		}
	}
	b.client.release()

	runs := waitDone(t, b.st, []string{x, y, z})
	for id, r := range runs {
		if r.Status != store.StatusSucceeded {
			t.Fatalf("run %s: %s %q", id, r.Status, r.Error)
		}
	}
	// The run_started of x's resumption comes before z's first.
	started := func(id string, resumed bool) time.Time {
		evs, err := b.st.Events(context.Background(), id, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == team.EventRunStarted && e.Resumed == resumed {
				return e.Time
			}
		}
		t.Fatalf("run %s has no run_started (resumed %t)", id, resumed)
		return time.Time{}
	}
	if xs, zs := started(x, true), started(z, false); !xs.Before(zs) {
		t.Errorf("A's run resumed at %s, after B's queued run started (%s): want it first", xs.Format(time.StampMicro), zs.Format(time.StampMicro))
	}
}

// openSQLite opens a killable connection to the SQLite file at path, shared
// by the instances of a test as one PostgreSQL database is.
func openSQLite(path string) func(t testing.TB) store.Store {
	return func(t testing.TB) store.Store {
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return &killableStore{next: st}
	}
}

// TestCluster_DeadInstancesQueuedRunsStartBeforeLaterOnes: instance A dies
// with one run under way and two only queued (accepted, never started);
// they were submitted before the two runs waiting in the queue of B, whose
// only worker is busy. B resumes A's interrupted run at once, and when its
// worker frees up it starts A's queued runs before its own later ones: the
// service starts runs in submission order across instances, and a user who
// submitted first does not wait behind runs submitted later elsewhere.
// Every run executes once.
func TestCluster_DeadInstancesQueuedRunsStartBeforeLaterOnes(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) func(testing.TB) store.Store
	}{
		{"SQLite", func(t *testing.T) func(testing.TB) store.Store {
			return openSQLite(t.TempDir() + "/newsroom.db")
		}},
		{"PostgreSQL", func(t *testing.T) func(testing.TB) store.Store { return openPostgres(testsvc.Postgres(t)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open := tc.open(t)
			// Long enough that a live instance's claims never lapse on a loaded
			// 2-core machine (a renewal late by the whole lease rebuilds a
			// run, which this test counts); the wait below for A's to lapse
			// costs about one lease.
			const lease = 3 * time.Second
			a := newEnv(t, envOpts{openStore: open, cfg: clusterConfig("A", 1, lease)})
			b := newEnv(t, envOpts{openStore: open, emulator: a.emu, cfg: clusterConfig("B", 1, lease)})
			held := func(g *gate, what string) {
				t.Helper()
				select {
				case <-g.waiting:
				case <-time.After(30 * time.Second):
					t.Fatalf("%s did not reach its held model call", what)
				}
			}
			a.client.holdFrom(1) // A's only worker hangs in a0's first call
			b.client.holdFrom(1) // B's likewise in b0's
			a0 := a.create(a.user, task).ID
			held(a.client, "a0")
			b0 := b.create(b.user, task).ID
			held(b.client, "b0")
			// Submission order: A's queued runs first, then B's.
			a1, a2 := a.create(a.user, task).ID, a.create(a.user, task).ID
			b1, b2 := b.create(b.user, task).ID, b.create(b.user, task).ID

			a.st.(*killableStore).kill()
			a.srv.hardStop()
			// A's claims on its queued runs lapse. Nothing on B takes them
			// while its only worker is held (its scan takes queued runs for
			// idle workers only), so this wait is not a race.
			claimable := func() bool {
				runs, err := b.st.ClaimableRuns(context.Background(), 0)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, r := range runs {
					if r.ID == a1 || r.ID == a2 {
						n++
					}
				}
				return n == 2
			}
			for deadline := time.Now().Add(30 * time.Second); !claimable(); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("A's queued runs did not become claimable after its lease")
				}
			}
			b.client.release()

			ids := []string{a0, a1, a2, b0, b1, b2}
			runs := waitDone(t, b.st, ids)
			for _, id := range ids {
				if r := runs[id]; r.Status != store.StatusSucceeded {
					t.Fatalf("run %s: %s %q", id, r.Status, r.Error)
				}
			}
			waitIdle(t, b.srv)
			// Exactly once: a0's team was built on A and again on B (resumed),
			// every other run's on B alone, and each run finished once.
			if a.building.Load() != 1 || b.building.Load() != int64(len(ids)) {
				t.Errorf("teams built: A %d, B %d; want 1 (a0) and %d", a.building.Load(), b.building.Load(), len(ids))
			}
			started, resumed := map[string]time.Time{}, map[string]time.Time{}
			for _, id := range ids {
				evs, err := b.st.Events(context.Background(), id, 0)
				if err != nil {
					t.Fatal(err)
				}
				finished := 0
				for _, e := range evs {
					switch {
					case e.Type == team.EventRunFinished:
						finished++
					case e.Type == team.EventRunStarted && !e.Resumed:
						started[id] = e.Time
					case e.Type == team.EventRunStarted:
						resumed[id] = e.Time
					}
				}
				if finished != 1 {
					t.Errorf("run %s finished %d times", id, finished)
				}
			}
			// The interrupted run resumed first, then B's worker started the
			// queued runs in submission order.
			if r, ok := resumed[a0]; !ok || !r.Before(started[a1]) {
				t.Errorf("a0 resumed at %s (%t), a1 started at %s: want the interrupted run first", r.Format(time.StampMicro), ok, started[a1].Format(time.StampMicro))
			}
			order := []string{a1, a2, b1, b2}
			names := map[string]string{a1: "a1", a2: "a2", b1: "b1", b2: "b2"}
			got := slices.Clone(order)
			slices.SortStableFunc(got, func(x, y string) int { return started[x].Compare(started[y]) })
			gotNames := make([]string, len(got))
			for i, id := range got {
				gotNames[i] = names[id]
			}
			if !slices.Equal(got, order) {
				t.Errorf("B started the queued runs in the order %v, want a1 a2 b1 b2 (submission order)", gotNames)
			}
		})
	}
}
