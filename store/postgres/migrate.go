package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationLock is the advisory lock key held while migrating ("newsroom" in
// ASCII, as an int64).
const migrationLock int64 = 0x6e657773726f6f6d

// migrations is the schema's history: each entry runs once, in order, and is
// recorded in schema_migrations. Never edit an applied entry; append a new one.
var migrations = []string{
	1: `
CREATE TABLE runs (
	id              text COLLATE "C" PRIMARY KEY,
	owner           text NOT NULL DEFAULT '',
	idempotency_key text,
	task            text NOT NULL,
	team            text NOT NULL,
	max_messages    integer NOT NULL DEFAULT 0,
	budget_usd      double precision NOT NULL DEFAULT 0,
	status          text NOT NULL,
	stop_reason     text NOT NULL DEFAULT '',
	error           text NOT NULL DEFAULT '',
	usage           jsonb NOT NULL DEFAULT '{}',
	per_agent       jsonb,
	article         text NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL,
	finished_at     timestamptz,
	last_seq        bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX runs_owner_idempotency_key ON runs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX runs_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_owner_created ON runs (owner, created_at DESC, id DESC);
CREATE INDEX runs_status_created ON runs (status, created_at, id);

CREATE TABLE events (
	run_id     text COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq        bigint NOT NULL,
	type       text NOT NULL,
	payload    jsonb NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (run_id, seq)
);

CREATE TABLE api_keys (
	id         text COLLATE "C" PRIMARY KEY,
	name       text NOT NULL,
	hash       text NOT NULL UNIQUE,
	admin      boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL,
	revoked_at timestamptz
);
`,
	// 2: claims, so that instances sharing the database never execute a run
	// twice; see Store.ClaimRun.
	2: `
ALTER TABLE runs ADD COLUMN claimed_by text, ADD COLUMN claim_expires_at timestamptz;
CREATE INDEX runs_unfinished ON runs (created_at, id) INCLUDE (claim_expires_at) WHERE status IN ('queued', 'running');
`,
	// 3: the approval gate (a run may wait for a person's decision) and roles
	// of API keys ('' for older keys: admin keys are admin, others reporter).
	3: `
ALTER TABLE runs ADD COLUMN approval boolean NOT NULL DEFAULT false;
ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT '';
`,
	// 4: fencing tokens: every claim gets a greater token, and writes of a
	// run's progress are conditional on it; see store.Claim.
	4: `
ALTER TABLE runs ADD COLUMN claim_token bigint NOT NULL DEFAULT 0;
`,
	// 5: the service-wide limits without Redis: each API key's rate (the
	// GCRA's theoretical arrival time) and each UTC day's model spending;
	// see limits.go.
	5: `
CREATE TABLE key_rate (
	name text COLLATE "C" PRIMARY KEY,
	tat  timestamptz NOT NULL
);
CREATE TABLE daily_spend (
	day date PRIMARY KEY,
	usd double precision NOT NULL
);
`,
	// 6: a run's own options (documents given before it starts, tools and
	// grounding turned off); NULL for the defaults. See store.RunOptions.
	6: `
ALTER TABLE runs ADD COLUMN options jsonb;
`,
	// 7: the intake inbox: one row per item of an intake source, naming the
	// run it started (NULL while deferred); the primary key is what makes
	// an item start at most one run, across instances. See store.Inbox.
	7: inboxMigration,
	// 8: published articles and every version of them; see store.Articles.
	// The document is the whole store.Article; the columns are what lists
	// filter and order on.
	8: `
CREATE TABLE articles (
	id           text COLLATE "C" PRIMARY KEY,
	slug         text COLLATE "C" NOT NULL UNIQUE,
	desk         text NOT NULL,
	status       text NOT NULL,
	version      integer NOT NULL,
	published_at timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	doc          jsonb NOT NULL
);
CREATE INDEX articles_published ON articles (published_at DESC, id DESC);
CREATE TABLE article_versions (
	article_id text COLLATE "C" NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
	version    integer NOT NULL,
	run_id     text NOT NULL DEFAULT '',
	doc        jsonb NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (article_id, version)
);
CREATE INDEX article_versions_run ON article_versions (run_id);
`,
	// 9: webhooks and their outbox of deliveries, written with the article
	// change they announce; see store.Webhooks.
	9: `
CREATE TABLE webhooks (
	id         text COLLATE "C" PRIMARY KEY,
	url        text NOT NULL,
	events     jsonb NOT NULL,
	secret     text NOT NULL,
	created_at timestamptz NOT NULL
);
CREATE TABLE deliveries (
	id          text COLLATE "C" PRIMARY KEY,
	webhook_id  text NOT NULL,
	event       text NOT NULL,
	article_id  text NOT NULL DEFAULT '',
	payload     jsonb NOT NULL,
	status      text NOT NULL,
	attempts    jsonb NOT NULL,
	next_at     timestamptz NOT NULL,
	created_at  timestamptz NOT NULL,
	lease_owner text,
	lease_until timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_at) WHERE status = 'pending';
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, created_at DESC, id DESC);
`,
}

// migrate applies the pending migrations in one transaction holding an
// advisory lock: a second instance starting at the same time waits, then
// finds them applied. PostgreSQL's DDL is transactional, so a failed
// migration leaves nothing behind.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, healthTable); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current >= len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", current, len(migrations)-1)
	}
	for v := current + 1; v < len(migrations); v++ {
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
	}
	return tx.Commit(ctx)
}
