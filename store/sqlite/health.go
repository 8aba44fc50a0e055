package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// ErrFileGone is returned by CheckWritable when the database file is no
// longer at its path (deleted or replaced while open): writes would go to an
// unlinked file and be lost at the next start.
var ErrFileGone = errors.New("sqlite: the database file is no longer at its path")

// createPrivate creates the database file with mode 0600 when it does not
// exist, so runs and key hashes are not readable by other users (SQLite
// gives its -wal and -shm files the same mode), and returns the file's
// identity for CheckWritable.
func createPrivate(path string) (os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, os.ErrExist):
	case err != nil:
		return nil, err
	default:
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	return os.Stat(path)
}

// CheckWritable reports whether the store can take a write now: the file
// it opened is still the one at its path, and the writer can take SQLite's
// write lock (BEGIN IMMEDIATE, rolled back: nothing is written).
func (s *Store) CheckWritable(ctx context.Context) error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFileGone, err)
	}
	if !os.SameFile(s.file, fi) {
		return fmt.Errorf("%w: %s was replaced", ErrFileGone, s.path)
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: write check: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("sqlite: write check: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		return fmt.Errorf("sqlite: write check: %w", err)
	}
	return nil
}
