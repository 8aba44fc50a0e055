package postgres

import (
	"context"
	"errors"
	"fmt"
)

// ErrReadOnly is returned by CheckWritable when the server refuses writes
// (a standby, or a read-only session).
var ErrReadOnly = errors.New("postgres: the database accepts no writes")

// healthTable is the one-row table CheckWritable writes to.
const healthTable = `CREATE TABLE IF NOT EXISTS store_health (
	id         integer PRIMARY KEY CHECK (id = 1),
	checked_at timestamptz NOT NULL
)`

// CheckWritable reports whether the store can take a write now: a row of
// store_health is upserted and committed, so a standby, a read-only session
// or role, a role without the right to write, and a full disk all fail
// here as a new run would.
func (s *Store) CheckWritable(ctx context.Context) error {
	var recovery bool
	var readOnly string
	err := s.pool.QueryRow(ctx, `SELECT pg_is_in_recovery(), current_setting('transaction_read_only')`).Scan(&recovery, &readOnly)
	if err != nil {
		return fmt.Errorf("postgres: write check: %w", err)
	}
	if recovery || readOnly != "off" {
		return ErrReadOnly
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO store_health (id, checked_at) VALUES (1, now())
		ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`)
	if err != nil {
		return fmt.Errorf("postgres: write check: %w", err)
	}
	return nil
}
