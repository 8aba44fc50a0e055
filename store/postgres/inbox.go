package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/internal/storeutil"
)

const inboxMigration = `
CREATE TABLE inbox (
	source      text COLLATE "C" NOT NULL,
	item        text COLLATE "C" NOT NULL,
	title       text NOT NULL DEFAULT '',
	run_id      text COLLATE "C",
	pending     jsonb,
	seen_at     timestamptz NOT NULL,
	admitted_at timestamptz,
	PRIMARY KEY (source, item)
);
CREATE INDEX inbox_deferred ON inbox (seen_at) WHERE run_id IS NULL;
CREATE INDEX inbox_admitted ON inbox (source, admitted_at) WHERE run_id IS NOT NULL;
`

const inboxColumns = `source, item, title, COALESCE(run_id, ''), pending, seen_at, admitted_at`

// AdmitItem records an intake item and creates its run in the same
// transaction; see store.Inbox. The item's row is inserted first (ON
// CONFLICT DO NOTHING waits for a concurrent insert of the same key to
// commit) or locked FOR UPDATE, so of concurrent admissions, from any
// instance, one creates the run and the others find it.
func (s *Store) AdmitItem(ctx context.Context, item store.InboxItem, run *store.Run) (store.InboxItem, bool, error) {
	it, pending, err := storeutil.PrepareInboxItem(item, run)
	if err != nil {
		return store.InboxItem{}, false, fmt.Errorf("postgres: admit item: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return store.InboxItem{}, false, fmt.Errorf("postgres: admit item: %w", err)
	}
	defer tx.Rollback(ctx)
	if run != nil && item.MaxPerHour > 0 {
		full, err := pgCapFull(ctx, tx, it.Source, item.MaxPerHour, storeutil.PrepareRun(run).CreatedAt)
		if err != nil {
			return store.InboxItem{}, false, fmt.Errorf("postgres: admit item: %w", err)
		}
		if full {
			item.Pending, run = run, nil
			if it, pending, err = storeutil.PrepareInboxItem(item, nil); err != nil {
				return store.InboxItem{}, false, fmt.Errorf("postgres: admit item: %w", err)
			}
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO inbox (source, item, title, pending, seen_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`, it.Source, it.Item, it.Title, pending, it.SeenAt)
	if err != nil {
		return store.InboxItem{}, false, fmt.Errorf("postgres: admit item: %w", err)
	}
	inserted := tag.RowsAffected() == 1
	if !inserted {
		stored, err := scanInbox(tx.QueryRow(ctx, `SELECT `+inboxColumns+` FROM inbox WHERE source = $1 AND item = $2 FOR UPDATE`,
			it.Source, it.Item))
		if err != nil {
			return store.InboxItem{}, false, fmt.Errorf("postgres: admit item: %w", err)
		}
		if stored.RunID != "" || run == nil {
			return stored, false, nil
		}
		it.SeenAt = stored.SeenAt
	}
	if run == nil {
		return it, true, commit(ctx, tx)
	}
	r := storeutil.PrepareRun(run)
	if err := insertRun(ctx, tx, r); err != nil {
		return store.InboxItem{}, false, fmt.Errorf("postgres: admit item: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE inbox SET run_id = $1, pending = NULL, admitted_at = $2 WHERE source = $3 AND item = $4`,
		r.ID, r.CreatedAt, it.Source, it.Item); err != nil {
		return store.InboxItem{}, false, fmt.Errorf("postgres: admit item: %w", err)
	}
	it.RunID, it.AdmittedAt, it.Pending = r.ID, r.CreatedAt, nil
	return it, true, commit(ctx, tx)
}

// pgCapFull takes the source's transaction lock (so that admissions of one
// source, from any instance, count one after another) and tells whether
// the source has max runs admitted in the hour before at.
func pgCapFull(ctx context.Context, tx pgx.Tx, source string, max int, at time.Time) (bool, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('newsroom-inbox:' || $1))`, source); err != nil {
		return false, err
	}
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM inbox WHERE source = $1 AND run_id IS NOT NULL AND admitted_at > $2`,
		source, at.Add(-time.Hour)).Scan(&n)
	return n >= max, err
}

func commit(ctx context.Context, tx pgx.Tx) error {
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: admit item: %w", err)
	}
	return nil
}

// insertRun inserts a prepared run (storeutil.PrepareRun) inside tx.
func insertRun(ctx context.Context, tx pgx.Tx, r *store.Run) error {
	usage, perAgent, err := storeutil.Usage(r.Usage, r.PerAgent)
	if err != nil {
		return err
	}
	options, err := storeutil.Options(r.Options)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO runs (id, owner, idempotency_key, task, team, max_messages,
		budget_usd, status, stop_reason, error, usage, per_agent, article, created_at, updated_at, finished_at, approval, options)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		r.ID, r.Owner, nullString(r.IdempotencyKey), r.Task, r.Team, r.MaxMessages, r.BudgetUSD, string(r.Status),
		r.StopReason, r.Error, usage, perAgent, r.Article, r.CreatedAt, r.UpdatedAt, nullTime(r.FinishedAt),
		r.Approval != nil && r.Approval.Required, options)
	if err != nil {
		return fmt.Errorf("create run %s: %w", r.ID, err)
	}
	return nil
}

func scanInbox(sc storeutil.Scanner) (store.InboxItem, error) {
	var (
		it      store.InboxItem
		pending []byte
		adm     *time.Time
	)
	if err := sc.Scan(&it.Source, &it.Item, &it.Title, &it.RunID, &pending, &it.SeenAt, &adm); err != nil {
		return it, err
	}
	it.SeenAt = it.SeenAt.UTC()
	if adm != nil {
		it.AdmittedAt = adm.UTC()
	}
	if len(pending) > 0 {
		it.Pending = &store.Run{}
		if err := json.Unmarshal(pending, it.Pending); err != nil {
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
	rows, err := s.pool.Query(ctx, `SELECT `+inboxColumns+` FROM inbox WHERE run_id IS NULL ORDER BY seen_at, source, item LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: deferred items: %w", err)
	}
	defer rows.Close()
	items, err := storeutil.Collect(rows, scanInbox)
	if err != nil {
		return nil, fmt.Errorf("postgres: deferred items: %w", err)
	}
	return items, nil
}

// InboxStats returns each source's totals; see store.Inbox.
func (s *Store) InboxStats(ctx context.Context, since time.Time) ([]store.InboxStats, error) {
	rows, err := s.pool.Query(ctx, `SELECT source, COUNT(*), COUNT(run_id), COUNT(*) - COUNT(run_id),
		COUNT(*) FILTER (WHERE admitted_at >= $1) FROM inbox GROUP BY source ORDER BY source`, since)
	if err != nil {
		return nil, fmt.Errorf("postgres: inbox stats: %w", err)
	}
	defer rows.Close()
	stats, err := storeutil.Collect(rows, func(sc storeutil.Scanner) (store.InboxStats, error) {
		var st store.InboxStats
		err := sc.Scan(&st.Source, &st.Items, &st.Runs, &st.Deferred, &st.RunsSince)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: inbox stats: %w", err)
	}
	return stats, nil
}
