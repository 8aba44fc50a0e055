package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
	"github.com/newsroom-dev/newsroom/store/storetest"
)

// TestMain stops the PostgreSQL server testsvc starts.
func TestMain(m *testing.M) { testsvc.Main(m) }

func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore_Conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, testsvc.Postgres(t)) })
}

func TestStore_ReopenSameDatabase(t *testing.T) {
	dsn := testsvc.Postgres(t)
	storetest.Reopen(t, func(t *testing.T) store.Store { return open(t, dsn) })
}

func TestOpen_InstancesStartingTogetherMigrateOnce(t *testing.T) {
	dsn := testsvc.Postgres(t)
	const n = 4
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(context.Background(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: Open: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	versions, err := stores[0].MigrationVersions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("schema_migrations = %v, want [1 2 3 4 5 6 7 8 9]", versions)
	}
}

// Two instances appending to one run: the row lock, not a process-local
// mutex, keeps the seqs unique and gap-free.
func TestStore_AppendEventAcrossInstances(t *testing.T) {
	dsn := testsvc.Postgres(t)
	storetest.AppendFromTwoStores(t, func(t *testing.T) store.Store { return open(t, dsn) }, 40)
}

func TestOpen_ErrorsHideThePassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	for _, url := range []string{
		"postgres://newsroom:s3cr3t-pw@127.0.0.1:1/newsroom?sslmode=disable&connect_timeout=2",
		"postgres://newsroom:s3cr3t-pw@127.0.0.1:bad-port/newsroom",
	} {
		_, err := postgres.Open(ctx, url)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", url)
		}
		if strings.Contains(err.Error(), "s3cr3t-pw") {
			t.Errorf("Open error shows the password: %v", err)
		}
		if errors.Is(err, store.ErrNotFound) {
			t.Errorf("Open error = %v", err)
		}
	}
}

func BenchmarkStore_AppendEvent(b *testing.B) {
	s := open(b, testsvc.Postgres(b))
	storetest.BenchmarkAppendEvent(b, s)
}

func BenchmarkStore_AppendEventParallel(b *testing.B) {
	s := open(b, testsvc.Postgres(b))
	b.SetParallelism(4)
	storetest.BenchmarkAppendEventParallel(b, s)
}

func TestStore_CheckWritable(t *testing.T) {
	s := open(t, testsvc.Postgres(t))
	if err := s.CheckWritable(context.Background()); err != nil {
		t.Fatalf("a primary: %v", err)
	}
	s.Close()
	if err := s.CheckWritable(context.Background()); err == nil {
		t.Error("a closed store passed the write check")
	}
}
