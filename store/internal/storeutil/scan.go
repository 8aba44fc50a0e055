package storeutil

import (
	"fmt"
	"time"

	"github.com/newsroom-dev/newsroom/store"
)

// Scanner reads one row: *sql.Row, *sql.Rows, pgx.Row and pgx.Rows all are.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is a result set being read: *sql.Rows and pgx.Rows both are. Closing
// it stays with the caller, as the two Close methods differ.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Collect reads the rest of rows with scan, stopping at the first error.
// Errors are returned as they come, for the caller to wrap.
func Collect[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// RunColumns are the columns of a run, in the order ScanRun reads them.
const RunColumns = `id, owner, COALESCE(idempotency_key, ''), task, team, max_messages, budget_usd, status,
	stop_reason, error, usage, per_agent, article, created_at, updated_at, finished_at, approval, options`

// ScanRun reads a row of RunColumns. A missing row gives the driver's
// no-rows error unwrapped.
func ScanRun(sc Scanner) (*store.Run, error) {
	var (
		r               store.Run
		usage, perAgent []byte
		options         []byte
		status          string
		approval        bool
	)
	if err := sc.Scan(&r.ID, &r.Owner, &r.IdempotencyKey, &r.Task, &r.Team, &r.MaxMessages, &r.BudgetUSD,
		&status, &r.StopReason, &r.Error, &usage, &perAgent, &r.Article,
		timeDest{&r.CreatedAt}, timeDest{&r.UpdatedAt}, timeDest{&r.FinishedAt}, &approval, &options); err != nil {
		return nil, err
	}
	r.Status = store.Status(status)
	if approval {
		r.Approval = &store.Approval{Required: true}
	}
	if err := DecodeUsage(&r, usage, perAgent); err != nil {
		return nil, err
	}
	if err := DecodeOptions(&r, options); err != nil {
		return nil, err
	}
	return &r, nil
}

// KeyColumns are the columns of an API key, in the order ScanKey reads them.
const KeyColumns = `id, name, hash, admin, created_at, revoked_at, role`

// ScanKey reads a row of KeyColumns. A missing row gives the driver's
// no-rows error unwrapped.
func ScanKey(sc Scanner) (*store.Key, error) {
	var k store.Key
	if err := sc.Scan(&k.ID, &k.Name, &k.Hash, &k.Admin, timeDest{&k.CreatedAt}, timeDest{&k.RevokedAt}, &k.Role); err != nil {
		return nil, err
	}
	return &k, nil
}

// ScanEvents reads the rest of rows of (seq, payload) as events.
func ScanEvents(rows Rows) ([]store.Event, error) {
	return Collect(rows, func(sc Scanner) (store.Event, error) {
		var (
			seq     int64
			payload []byte
		)
		if err := sc.Scan(&seq, &payload); err != nil {
			return store.Event{}, err
		}
		return DecodeEvent(seq, payload)
	})
}

// timeDest scans a time column of either backend into a time.Time in UTC:
// PostgreSQL's timestamptz arrives as a time.Time, SQLite's INTEGER as Unix
// microseconds; NULL gives the zero time. It is a database/sql Scanner, which
// pgx honours too.
type timeDest struct{ t *time.Time }

// Scan implements sql.Scanner.
func (d timeDest) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*d.t = time.Time{}
	case time.Time:
		*d.t = v.UTC()
	case int64:
		*d.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
	return nil
}
