// Package sqlite is a similar.Index in a SQLite file, beside the SQLite
// response cache (it may be the same file: the table is its own).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/newsroom-dev/newsroom/model/cache/similar"
)

const schema = `
CREATE TABLE IF NOT EXISTS similar_vectors (
	bucket      TEXT NOT NULL,
	key         TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	vector      BLOB NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
`

// Index is a similar.Index in SQLite. It is safe for concurrent use.
type Index struct {
	db  *sql.DB
	max int
	now func() time.Time
}

var _ similar.Index = (*Index)(nil)

// Open opens (creating if needed) the table in the file at path; maxBucket
// bounds the vectors returned per bucket (0: similar.DefaultMaxBucket).
func Open(ctx context.Context, path string, maxBucket int) (*Index, error) {
	if path == "" {
		return nil, errors.New("sqlite: similar index: no path")
	}
	if maxBucket <= 0 {
		maxBucket = similar.DefaultMaxBucket
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: similar index: %w", err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: similar index: %w", err)
	}
	return &Index{db: db, max: maxBucket, now: time.Now}, nil
}

// Close closes the database.
func (x *Index) Close() error { return x.db.Close() }

// Add stores v in bucket.
func (x *Index) Add(ctx context.Context, bucket string, v similar.Vector, ttl time.Duration) error {
	now := x.now()
	_, err := x.db.ExecContext(ctx, `INSERT INTO similar_vectors (bucket, key, fingerprint, vector, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (bucket, key) DO UPDATE SET fingerprint = excluded.fingerprint,
		vector = excluded.vector, created_at = excluded.created_at, expires_at = excluded.expires_at`,
		bucket, v.Key, v.Fingerprint, similar.EncodeVector(v.Embedding), now.UnixNano(), now.Add(ttl).UnixNano())
	if err != nil {
		return fmt.Errorf("sqlite: similar index add: %w", err)
	}
	return nil
}

// Candidates returns the bucket's newest live vectors.
func (x *Index) Candidates(ctx context.Context, bucket string) ([]similar.Vector, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT key, fingerprint, vector FROM similar_vectors
		WHERE bucket = ? AND expires_at > ? ORDER BY created_at DESC LIMIT ?`, bucket, x.now().UnixNano(), x.max)
	if err != nil {
		return nil, fmt.Errorf("sqlite: similar index: %w", err)
	}
	defer rows.Close()
	out, err := similar.ScanVectors(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: similar index: %w", err)
	}
	return out, nil
}
