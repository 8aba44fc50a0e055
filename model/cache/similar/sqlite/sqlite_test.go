package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/newsroom-dev/newsroom/internal/emutest/similartest"
	"github.com/newsroom-dev/newsroom/model/cache/similar/sqlite"
	cachesqlite "github.com/newsroom-dev/newsroom/model/cache/sqlite"
)

func TestIndex_guard(t *testing.T) {
	path := filepath.Join(t.TempDir(), "responses.db")
	store, err := cachesqlite.Open(t.Context(), cachesqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// The vectors live in the same file as the answers.
	idx, err := sqlite.Open(t.Context(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	similartest.Guard(t, store, idx)

	// A new process sees the vectors: reopen and look again.
	again, err := sqlite.Open(t.Context(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	rows, err := again.Candidates(t.Context(), "no-such-bucket")
	if err != nil || len(rows) != 0 {
		t.Errorf("an unknown bucket: %d vectors, %v", len(rows), err)
	}
}
