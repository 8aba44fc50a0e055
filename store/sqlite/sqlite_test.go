package sqlite_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/sqlite"
	"github.com/newsroom-dev/newsroom/store/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore_Conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "newsroom.db"))
	})
}

func TestStore_ReopenSameFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "newsroom.db")
	storetest.Reopen(t, func(t *testing.T) store.Store { return open(t, path) })
}

func TestOpen_MigrationsRunOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "newsroom.db")
	// Several processes' worth of opens at once, then again: each migration is recorded once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Errorf("concurrent Open: %v", err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	s := open(t, path)
	versions, err := s.MigrationVersions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, []int{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("schema_migrations = %v, want [1 2 3 4 5 6 7 8]", versions)
	}
}

func TestOpen_RejectsMemory(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if s, err := sqlite.Open(context.Background(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded; want an error (two pools need one file)", p)
		}
	}
}

func BenchmarkStore_AppendEvent(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "bench.db"))
	storetest.BenchmarkAppendEvent(b, s)
}

// Two Stores on one file stand for two processes (the server and the CLI):
// their writers contend for SQLite's file lock, and IMMEDIATE transactions
// with busy_timeout make them wait, not fail.
func TestStore_TwoStoresOnOneFileShareSeqs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	storetest.AppendFromTwoStores(t, func(t *testing.T) store.Store { return open(t, path) }, 30)
}

func BenchmarkStore_AppendEventParallel(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "bench.db"))
	b.SetParallelism(4)
	storetest.BenchmarkAppendEventParallel(b, s)
}
