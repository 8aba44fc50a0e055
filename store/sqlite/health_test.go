package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestOpen_CreatesPrivateFiles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "private.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.w.Exec(`INSERT INTO api_keys (id, name, hash, admin, created_at) VALUES ('k', 'n', 'h', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			t.Errorf("%s has mode %o, want no access for group and others", filepath.Base(p), m)
		}
	}
}

func TestStore_CheckWritable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "n.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CheckWritable(ctx); err != nil {
		t.Fatalf("fresh store: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckWritable(ctx); !errors.Is(err, ErrFileGone) {
		t.Errorf("after deleting the file: %v, want ErrFileGone", err)
	}
	// Another file at the same path is not the one this store writes to.
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := s.CheckWritable(ctx); !errors.Is(err, ErrFileGone) {
		t.Errorf("after replacing the file: %v, want ErrFileGone", err)
	}
	if err := other.CheckWritable(ctx); err != nil {
		t.Errorf("the new file's store: %v", err)
	}
}

// TestStore_CheckWritableProvesAWrite puts the store's database in the states
// a BEGIN-and-ROLLBACK check cannot see: the writer connection read-only
// (query_only, and a file opened read-only), and the database full (its
// max_page_count reached). CheckWritable must fail in each, as a new run's
// insert does.
func TestStore_CheckWritableProvesAWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	openStore := func(t *testing.T) *Store {
		s, err := Open(ctx, filepath.Join(t.TempDir(), "n.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.CheckWritable(ctx); err != nil {
			t.Fatalf("fresh store: %v", err)
		}
		return s
	}
	insertKey := func(s *Store) error {
		_, err := s.w.ExecContext(ctx, `INSERT INTO api_keys (id, name, hash, admin, created_at) VALUES (?, 'n', ?, 0, 0)`,
			randomID(), randomID())
		return err
	}
	t.Run("query_only", func(t *testing.T) {
		s := openStore(t)
		if _, err := s.w.ExecContext(ctx, "PRAGMA query_only = 1"); err != nil {
			t.Fatal(err)
		}
		if err := insertKey(s); err == nil {
			t.Fatal("an insert succeeded on a query-only connection; the test proves nothing")
		}
		if err := s.CheckWritable(ctx); err == nil || !strings.Contains(err.Error(), "readonly") {
			t.Errorf("CheckWritable on a read-only connection = %v, want SQLite's readonly error", err)
		}
	})
	t.Run("opened read-only", func(t *testing.T) {
		s := openStore(t)
		ro, err := sql.Open("sqlite", "file:"+s.path+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		ro.SetMaxOpenConns(1)
		s.w.Close()
		s.w = ro
		if err := insertKey(s); err == nil {
			t.Fatal("an insert succeeded on a read-only file; the test proves nothing")
		}
		if err := s.CheckWritable(ctx); err == nil {
			t.Error("CheckWritable on a database opened read-only = nil, want an error")
		}
	})
	t.Run("full", func(t *testing.T) {
		s := openStore(t)
		var pages int64
		if err := s.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
			t.Fatal(err)
		}
		if _, err := s.w.ExecContext(ctx, "PRAGMA max_page_count = "+strconv.FormatInt(pages, 10)); err != nil {
			t.Fatal(err)
		}
		var filled error
		for range 1000 {
			if filled = insertKey(s); filled != nil {
				break
			}
		}
		if filled == nil || !strings.Contains(filled.Error(), "full") {
			t.Fatalf("inserts on a full database: %v, want SQLite's full error", filled)
		}
		if err := s.CheckWritable(ctx); !errors.Is(err, ErrFull) {
			t.Errorf("CheckWritable on a full database = %v, want ErrFull", err)
		}
	})
}

func randomID() string { return rand.Text() }

// BenchmarkStore_CheckWritable is the cost of one readiness write probe
// (an upsert committed with synchronous=FULL), paid by every /readyz and
// every new run.
func BenchmarkStore_CheckWritable(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "n.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for b.Loop() {
		if err := s.CheckWritable(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
