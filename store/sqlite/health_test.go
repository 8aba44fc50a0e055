package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
