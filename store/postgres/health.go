package postgres

import (
	"context"
	"errors"
	"fmt"
)

// ErrReadOnly is returned by CheckWritable when the server refuses writes
// (a standby, or a read-only session).
var ErrReadOnly = errors.New("postgres: the database accepts no writes")

// CheckWritable reports whether the store can take a write now: the server
// answers, is not a standby, and the session is not read-only. Nothing is
// written.
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
	return nil
}
