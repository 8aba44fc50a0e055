// Package postgres is a cache.Store in PostgreSQL, for instances that share
// a PostgreSQL server (the run store's) and want one response cache without
// Redis. Entries are JSONB rows with an expiry; an expired row is a miss
// and is replaced by the next Set. The similarity index of the same server
// (model/cache/similar/postgres) keeps its vectors beside them.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/newsroom-dev/newsroom/model/cache"
)

const schema = `
CREATE TABLE IF NOT EXISTS response_cache (
	key        TEXT PRIMARY KEY,
	entry      JSONB NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);
`

// Store is a cache.Store in PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ cache.Store = (*Store)(nil)

// Config configures a Store. Pool is required.
type Config struct {
	// Pool is the connection pool; the store does not close it.
	Pool *pgxpool.Pool
	// Now is the clock for expiry; nil means time.Now.
	Now func() time.Time
}

// New creates the table if needed and returns the store.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Pool == nil {
		return nil, errors.New("postgres: cache: no pool")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if _, err := cfg.Pool.Exec(ctx, schema); err != nil {
		return nil, fmt.Errorf("%w: postgres: %w", cache.ErrStore, err)
	}
	return &Store{pool: cfg.Pool, now: cfg.Now}, nil
}

// Get returns the entry for key unless it is missing or expired.
func (s *Store) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT entry FROM response_cache WHERE key = $1 AND expires_at > $2`, key, s.now()).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return cache.Entry{}, false, nil
	}
	if err != nil {
		return cache.Entry{}, false, fmt.Errorf("%w: postgres get: %w", cache.ErrStore, err)
	}
	return cache.DecodeEntry("postgres get", b)
}

// Set stores e under key for ttl (0 or less: cache.DefaultTTL).
func (s *Store) Set(ctx context.Context, key string, e cache.Entry, ttl time.Duration) error {
	ttl = cache.EntryTTL(ttl)
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%w: postgres set: %w", cache.ErrStore, err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO response_cache (key, entry, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET entry = EXCLUDED.entry, expires_at = EXCLUDED.expires_at`, key, b, s.now().Add(ttl))
	if err != nil {
		return fmt.Errorf("%w: postgres set: %w", cache.ErrStore, err)
	}
	return nil
}

// Prune deletes expired entries and returns how many went.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM response_cache WHERE expires_at <= $1`, s.now())
	if err != nil {
		return 0, fmt.Errorf("%w: postgres prune: %w", cache.ErrStore, err)
	}
	return tag.RowsAffected(), nil
}
