package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations is the schema's history: each entry runs once, in order, and is
// recorded in schema_migrations. Never edit an applied entry; append a new one.
var migrations = []string{
	1: `
CREATE TABLE runs (
	id              TEXT PRIMARY KEY,
	owner           TEXT NOT NULL DEFAULT '',
	idempotency_key TEXT,
	task            TEXT NOT NULL,
	team            TEXT NOT NULL,
	max_messages    INTEGER NOT NULL DEFAULT 0,
	budget_usd      REAL NOT NULL DEFAULT 0,
	status          TEXT NOT NULL,
	stop_reason     TEXT NOT NULL DEFAULT '',
	error           TEXT NOT NULL DEFAULT '',
	usage           TEXT NOT NULL DEFAULT '{}',
	per_agent       TEXT,
	article         TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	finished_at     INTEGER,
	last_seq        INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX runs_owner_idempotency_key ON runs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX runs_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_owner_created ON runs (owner, created_at DESC, id DESC);
CREATE INDEX runs_status_created ON runs (status, created_at, id);

CREATE TABLE events (
	run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	type       TEXT NOT NULL,
	payload    TEXT NOT NULL CHECK (json_valid(payload)),
	created_at INTEGER NOT NULL,
	PRIMARY KEY (run_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	admin      INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
) STRICT;
`,
	// 2: claims, so that several processes on one file (or, in PostgreSQL,
	// several instances) never execute a run twice; see Store.ClaimRun.
	2: `
ALTER TABLE runs ADD COLUMN claimed_by TEXT;
ALTER TABLE runs ADD COLUMN claim_expires_at INTEGER;
CREATE INDEX runs_unfinished ON runs (created_at, id, claim_expires_at) WHERE status IN ('queued', 'running');
`,
	// 3: the approval gate (a run may wait for a person's decision) and roles
	// of API keys ('' for older keys: admin keys are admin, others reporter).
	3: `
ALTER TABLE runs ADD COLUMN approval INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT '';
`,
	// 4: fencing tokens: every claim gets a greater token, and writes of a
	// run's progress are conditional on it; see store.Claim.
	4: `
ALTER TABLE runs ADD COLUMN claim_token INTEGER NOT NULL DEFAULT 0;
`,
	// 5: a run's own options (documents given before it starts, tools and
	// grounding turned off), as JSON; NULL for the defaults. See
	// store.RunOptions.
	5: `
ALTER TABLE runs ADD COLUMN options TEXT CHECK (options IS NULL OR json_valid(options));
`,
	// 6: the intake inbox: one row per item of an intake source, naming the
	// run it started (NULL while deferred); the primary key is what makes
	// an item start at most one run. See store.Inbox.
	6: inboxMigration,
	// 7: published articles and every version of them; see store.Articles.
	// The document is the whole store.Article as JSON; the columns are what
	// lists filter and order on.
	7: `
CREATE TABLE articles (
	id           TEXT PRIMARY KEY,
	slug         TEXT NOT NULL UNIQUE,
	desk         TEXT NOT NULL,
	status       TEXT NOT NULL,
	version      INTEGER NOT NULL,
	published_at INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	doc          TEXT NOT NULL CHECK (json_valid(doc))
) STRICT;
CREATE INDEX articles_published ON articles (published_at DESC, id DESC);
CREATE TABLE article_versions (
	article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
	version    INTEGER NOT NULL,
	run_id     TEXT NOT NULL DEFAULT '',
	doc        TEXT NOT NULL CHECK (json_valid(doc)),
	created_at INTEGER NOT NULL,
	PRIMARY KEY (article_id, version)
) STRICT, WITHOUT ROWID;
CREATE INDEX article_versions_run ON article_versions (run_id);
`,
	// 8: webhooks and their outbox of deliveries, written with the article
	// change they announce; see store.Webhooks.
	8: `
CREATE TABLE webhooks (
	id         TEXT PRIMARY KEY,
	url        TEXT NOT NULL,
	events     TEXT NOT NULL CHECK (json_valid(events)),
	secret     TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE deliveries (
	id          TEXT PRIMARY KEY,
	webhook_id  TEXT NOT NULL,
	event       TEXT NOT NULL,
	article_id  TEXT NOT NULL DEFAULT '',
	payload     TEXT NOT NULL CHECK (json_valid(payload)),
	status      TEXT NOT NULL,
	attempts    TEXT NOT NULL CHECK (json_valid(attempts)),
	next_at     INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	lease_owner TEXT,
	lease_until INTEGER
) STRICT;
CREATE INDEX deliveries_due ON deliveries (next_at) WHERE status = 'pending';
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, created_at DESC, id DESC);
`,
}

// migrate applies the pending migrations in one IMMEDIATE transaction, so two
// processes opening a new file together apply each migration once.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := tx.ExecContext(ctx, healthTable); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current >= len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", current, len(migrations)-1)
	}
	for v := current + 1; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			v, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
	}
	return tx.Commit()
}
