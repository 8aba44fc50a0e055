// Package sqlite is a cache.Store in one SQLite file (modernc.org/sqlite, pure
// Go), the default store when caching is on: entries survive the process, so
// a rerun hits them. The file is in WAL mode, so readers do not wait for the
// writer and several processes on one machine may share it.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/model/cache"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// DefaultMaxEntries is the bound on entries when Config.MaxEntries is zero.
const DefaultMaxEntries = 100_000

// Config configures a Store.
type Config struct {
	// Path is the database file; it and its directory are created if
	// missing. Required; it must be a file (":memory:" would give every
	// pooled connection a database of its own). DefaultPath is the usual one.
	Path string
	// MaxEntries bounds the number of entries; when a Set goes over it the
	// oldest entries (by the time they were stored) are deleted. 0 means
	// DefaultMaxEntries. The bound is exact for one process; processes
	// sharing a file correct each other at their next eviction.
	MaxEntries int
	// Now is the clock for expiry; nil means time.Now.
	Now func() time.Time
}

// Store is a cache.Store in a SQLite file. It is safe for concurrent use.
type Store struct {
	cfg Config
	db  *sql.DB
	get *sql.Stmt
	set *sql.Stmt

	mu    sync.Mutex // serialises writers and guards count
	count int        // entries in the table as of our last look
}

var _ cache.Store = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS cache_entries (
	key        TEXT PRIMARY KEY,
	value      BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cache_entries_created_at ON cache_entries (created_at);
`

// DefaultPath returns the cache file newsroom uses when none is configured:
// newsroom/responses.db in the user's cache directory (XDG_CACHE_HOME or
// ~/.cache on Linux).
func DefaultPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("sqlite: cache: %w", err)
	}
	return filepath.Join(dir, "newsroom", "responses.db"), nil
}

// Open opens (creating if needed) the cache file at cfg.Path.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("sqlite: cache: no path")
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if dir := filepath.Dir(cfg.Path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: cache: %w", err)
		}
	}
	// Cached answers hold article text: mode 0600 (SQLite gives its -wal
	// and -shm files the same mode).
	if f, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("sqlite: cache: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := sql.Open("sqlite", "file:"+cfg.Path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: cache: open %s: %w", cfg.Path, err)
	}
	s := &Store{cfg: cfg, db: db}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: cache: open %s: %w", cfg.Path, err)
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, schema); err != nil {
		return err
	}
	var err error
	if s.get, err = s.db.PrepareContext(ctx,
		`SELECT value FROM cache_entries WHERE key = ? AND expires_at > ?`); err != nil {
		return err
	}
	if s.set, err = s.db.PrepareContext(ctx,
		`INSERT INTO cache_entries (key, value, created_at, expires_at) VALUES (?, ?, ?, ?)
		 ON CONFLICT (key) DO UPDATE SET value = excluded.value,
		   created_at = excluded.created_at, expires_at = excluded.expires_at`); err != nil {
		return err
	}
	return s.db.QueryRowContext(ctx, `SELECT count(*) FROM cache_entries`).Scan(&s.count)
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Get returns the entry for key unless it is missing or expired.
func (s *Store) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	var b []byte
	err := s.get.QueryRowContext(ctx, key, s.cfg.Now().UnixNano()).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return cache.Entry{}, false, nil
	}
	if err != nil {
		return cache.Entry{}, false, fmt.Errorf("%w: sqlite get: %w", cache.ErrStore, err)
	}
	return cache.DecodeEntry("sqlite get", b)
}

// Set stores e under key for ttl (0 or less: cache.DefaultTTL) and evicts
// the expired entries and then the oldest ones when over MaxEntries.
func (s *Store) Set(ctx context.Context, key string, e cache.Entry, ttl time.Duration) error {
	ttl = cache.EntryTTL(ttl)
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%w: sqlite set: %w", cache.ErrStore, err)
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.set.ExecContext(ctx, key, b, now.UnixNano(), now.Add(ttl).UnixNano()); err != nil {
		return fmt.Errorf("%w: sqlite set: %w", cache.ErrStore, err)
	}
	// Counting an update as an insert only makes eviction run early; the
	// eviction recounts, so the count never drifts.
	s.count++
	if s.count <= s.cfg.MaxEntries {
		return nil
	}
	if err := s.evict(ctx, now); err != nil {
		return fmt.Errorf("%w: sqlite evict: %w", cache.ErrStore, err)
	}
	return nil
}

// evict deletes expired entries, then the oldest until MaxEntries remain.
func (s *Store) evict(ctx context.Context, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM cache_entries WHERE expires_at <= ?`, now.UnixNano()); err != nil {
		return err
	}
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM cache_entries`).Scan(&s.count); err != nil {
		return err
	}
	over := s.count - s.cfg.MaxEntries
	if over <= 0 {
		return nil
	}
	res, err := s.db.ExecContext(ctx,
		`DELETE FROM cache_entries WHERE key IN (SELECT key FROM cache_entries ORDER BY created_at, key LIMIT ?)`, over)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	s.count -= int(n)
	return nil
}

// Len returns the number of entries in the file, expired ones included
// until they are evicted.
func (s *Store) Len(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM cache_entries`).Scan(&n)
	return n, err
}
