// Package postgres is a similar.Index in PostgreSQL, for instances that
// share a PostgreSQL server: one table, read by bucket, newest first.
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/newsroom-dev/newsroom/model/cache/similar"
)

const schema = `
CREATE TABLE IF NOT EXISTS similar_vectors (
	bucket      TEXT NOT NULL,
	key         TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	vector      BYTEA NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	expires_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (bucket, key)
);
CREATE INDEX IF NOT EXISTS similar_vectors_bucket_created ON similar_vectors (bucket, created_at DESC);
`

// Index is a similar.Index in PostgreSQL. It is safe for concurrent use.
type Index struct {
	pool *pgxpool.Pool
	max  int
}

var _ similar.Index = (*Index)(nil)

// New creates the table if needed and returns an index over pool (not
// closed by the index); maxBucket bounds a lookup (0: the default).
func New(ctx context.Context, pool *pgxpool.Pool, maxBucket int) (*Index, error) {
	if maxBucket <= 0 {
		maxBucket = similar.DefaultMaxBucket
	}
	if _, err := pool.Exec(ctx, schema); err != nil {
		return nil, fmt.Errorf("postgres: similar index: %w", err)
	}
	return &Index{pool: pool, max: maxBucket}, nil
}

// Add stores v in bucket.
func (x *Index) Add(ctx context.Context, bucket string, v similar.Vector, ttl time.Duration) error {
	now := time.Now()
	_, err := x.pool.Exec(ctx, `INSERT INTO similar_vectors (bucket, key, fingerprint, vector, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (bucket, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
		vector = EXCLUDED.vector, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
		bucket, v.Key, v.Fingerprint, similar.EncodeVector(v.Embedding), now, now.Add(ttl))
	if err != nil {
		return fmt.Errorf("postgres: similar index add: %w", err)
	}
	return nil
}

// Candidates returns the bucket's newest live vectors.
func (x *Index) Candidates(ctx context.Context, bucket string) ([]similar.Vector, error) {
	rows, err := x.pool.Query(ctx, `SELECT key, fingerprint, vector FROM similar_vectors
		WHERE bucket = $1 AND expires_at > now() ORDER BY created_at DESC LIMIT $2`, bucket, x.max)
	if err != nil {
		return nil, fmt.Errorf("postgres: similar index: %w", err)
	}
	defer rows.Close()
	out, err := similar.ScanVectors(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: similar index: %w", err)
	}
	return out, nil
}
