package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/internal/storeutil"
)

const inboxMigration = `
CREATE TABLE inbox (
	source      TEXT NOT NULL,
	item        TEXT NOT NULL,
	title       TEXT NOT NULL DEFAULT '',
	run_id      TEXT,
	pending     TEXT CHECK (pending IS NULL OR json_valid(pending)),
	seen_at     INTEGER NOT NULL,
	admitted_at INTEGER,
	PRIMARY KEY (source, item)
) STRICT, WITHOUT ROWID;
CREATE INDEX inbox_deferred ON inbox (seen_at) WHERE run_id IS NULL;
CREATE INDEX inbox_admitted ON inbox (source, admitted_at) WHERE run_id IS NOT NULL;
`

const inboxColumns = `source, item, title, COALESCE(run_id, ''), pending, seen_at, admitted_at`

// AdmitItem records an intake item and creates its run in the same
// transaction; see store.Inbox. The writer's one connection and IMMEDIATE
// transactions serialise admissions, across processes on the file too.
func (s *Store) AdmitItem(ctx context.Context, item store.InboxItem, run *store.Run) (store.InboxItem, bool, error) {
	it, pending, err := storeutil.PrepareInboxItem(item, run)
	if err != nil {
		return store.InboxItem{}, false, fmt.Errorf("sqlite: admit item: %w", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.InboxItem{}, false, fmt.Errorf("sqlite: admit item: %w", err)
	}
	defer tx.Rollback()
	stored, err := scanInbox(tx.QueryRowContext(ctx, `SELECT `+inboxColumns+` FROM inbox WHERE source = ? AND item = ?`, it.Source, it.Item))
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return store.InboxItem{}, false, fmt.Errorf("sqlite: admit item: %w", err)
	}
	if found && (stored.RunID != "" || run == nil) {
		return stored, false, nil
	}
	if run != nil && item.MaxPerHour > 0 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM inbox WHERE source = ? AND run_id IS NOT NULL AND admitted_at > ?`,
			it.Source, storeutil.PrepareRun(run).CreatedAt.Add(-time.Hour).UnixMicro()).Scan(&n); err != nil {
			return store.InboxItem{}, false, fmt.Errorf("sqlite: admit item: %w", err)
		}
		if n >= item.MaxPerHour {
			if found {
				return stored, false, nil // still deferred
			}
			item.Pending, run = run, nil
			if it, pending, err = storeutil.PrepareInboxItem(item, nil); err != nil {
				return store.InboxItem{}, false, fmt.Errorf("sqlite: admit item: %w", err)
			}
		}
	}
	if run != nil {
		r := storeutil.PrepareRun(run)
		if err := insertRun(ctx, tx, r); err != nil {
			return store.InboxItem{}, false, fmt.Errorf("sqlite: admit item: %w", err)
		}
		it.RunID, it.AdmittedAt, it.Pending, pending = r.ID, r.CreatedAt, nil, nil
	}
	if found {
		it.SeenAt = stored.SeenAt
		_, err = tx.ExecContext(ctx, `UPDATE inbox SET run_id = ?, pending = NULL, admitted_at = ? WHERE source = ? AND item = ? AND run_id IS NULL`,
			it.RunID, it.AdmittedAt.UnixMicro(), it.Source, it.Item)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO inbox (source, item, title, run_id, pending, seen_at, admitted_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			it.Source, it.Item, it.Title, nullString(it.RunID), jsonText(pending), it.SeenAt.UnixMicro(), nullTime(it.AdmittedAt))
	}
	if err != nil {
		return store.InboxItem{}, false, fmt.Errorf("sqlite: admit item: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return store.InboxItem{}, false, fmt.Errorf("sqlite: admit item: %w", err)
	}
	return it, true, nil
}

// insertRun inserts a prepared run (storeutil.PrepareRun) inside tx.
func insertRun(ctx context.Context, tx *sql.Tx, r *store.Run) error {
	usage, perAgent, err := storeutil.Usage(r.Usage, r.PerAgent)
	if err != nil {
		return err
	}
	options, err := storeutil.Options(r.Options)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO runs (id, owner, idempotency_key, task, team, max_messages,
		budget_usd, status, stop_reason, error, usage, per_agent, article, created_at, updated_at, finished_at, approval, options)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Owner, nullString(r.IdempotencyKey), r.Task, r.Team, r.MaxMessages, r.BudgetUSD, string(r.Status),
		r.StopReason, r.Error, string(usage), jsonText(perAgent), r.Article, r.CreatedAt.UnixMicro(), r.UpdatedAt.UnixMicro(),
		nullTime(r.FinishedAt), r.Approval != nil && r.Approval.Required, jsonText(options))
	if err != nil {
		return fmt.Errorf("create run %s: %w", r.ID, err)
	}
	return nil
}

func scanInbox(sc storeutil.Scanner) (store.InboxItem, error) {
	var (
		it      store.InboxItem
		pending sql.NullString
		seen    int64
		adm     sql.NullInt64
	)
	if err := sc.Scan(&it.Source, &it.Item, &it.Title, &it.RunID, &pending, &seen, &adm); err != nil {
		return it, err
	}
	it.SeenAt = time.UnixMicro(seen).UTC()
	if adm.Valid {
		it.AdmittedAt = time.UnixMicro(adm.Int64).UTC()
	}
	if pending.Valid {
		it.Pending = &store.Run{}
		if err := json.Unmarshal([]byte(pending.String), it.Pending); err != nil {
			return it, fmt.Errorf("decode pending run of %s/%s: %w", it.Source, it.Item, err)
		}
	}
	return it, nil
}

// DeferredItems returns deferred items oldest first; see store.Inbox.
func (s *Store) DeferredItems(ctx context.Context, limit int) ([]store.InboxItem, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+inboxColumns+` FROM inbox WHERE run_id IS NULL ORDER BY seen_at, source, item LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: deferred items: %w", err)
	}
	defer rows.Close()
	items, err := storeutil.Collect(rows, scanInbox)
	if err != nil {
		return nil, fmt.Errorf("sqlite: deferred items: %w", err)
	}
	return items, nil
}

// InboxStats returns each source's totals; see store.Inbox.
func (s *Store) InboxStats(ctx context.Context, since time.Time) ([]store.InboxStats, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT source, COUNT(*), COUNT(run_id), COUNT(*) - COUNT(run_id),
		COALESCE(SUM(CASE WHEN admitted_at >= ? THEN 1 ELSE 0 END), 0) FROM inbox GROUP BY source ORDER BY source`, since.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("sqlite: inbox stats: %w", err)
	}
	defer rows.Close()
	stats, err := storeutil.Collect(rows, scanStats)
	if err != nil {
		return nil, fmt.Errorf("sqlite: inbox stats: %w", err)
	}
	return stats, nil
}

func scanStats(sc storeutil.Scanner) (store.InboxStats, error) {
	var st store.InboxStats
	err := sc.Scan(&st.Source, &st.Items, &st.Runs, &st.Deferred, &st.RunsSince)
	return st, err
}
