package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
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

// ErrFull is returned by CheckWritable when the database has no room left
// for a new run (its max_page_count is nearly reached).
var ErrFull = errors.New("sqlite: the database is full")

// healthTable is the one-row table CheckWritable writes to.
const healthTable = `CREATE TABLE IF NOT EXISTS store_health (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	checked_at INTEGER NOT NULL
) STRICT`

// headroomPages is the free room, in pages, CheckWritable wants: about a
// megabyte, more than a new run and its first events take.
const headroomPages = 256

// CheckWritable reports whether the store can take a write now: the file
// it opened is still the one at its path, a write commits (a row of
// store_health is upserted, so a read-only file or connection and a disk
// that cannot take the write-ahead log's frame fail here), and the
// database has room for a new run below its max_page_count.
func (s *Store) CheckWritable(ctx context.Context) error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFileGone, err)
	}
	if !os.SameFile(s.file, fi) {
		return fmt.Errorf("%w: %s was replaced", ErrFileGone, s.path)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: write check: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO store_health (id, checked_at) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("sqlite: write check: %w", err)
	}
	var pages, free, maxPages int64
	for q, v := range map[string]*int64{"PRAGMA page_count": &pages, "PRAGMA freelist_count": &free, "PRAGMA max_page_count": &maxPages} {
		if err := tx.QueryRowContext(ctx, q).Scan(v); err != nil {
			return fmt.Errorf("sqlite: write check: %w", err)
		}
	}
	if maxPages-pages+free < headroomPages {
		return fmt.Errorf("%w: %d of at most %d pages used", ErrFull, pages-free, maxPages)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: write check: %w", err)
	}
	return nil
}
