// Package postgres is the store.Store for several service instances sharing
// one PostgreSQL database (pgx connection pool).
//
// Event payloads and usage are JSONB. AppendEvent is one statement that
// increments the run's last_seq counter and inserts the event under the new
// value: the row lock on the run serialises concurrent appends, across
// instances too, so sequence numbers have no gaps and no duplicates, and the
// statement's commit is durable (synchronous_commit as the server sets it,
// on by default). Migrations run under a transaction-scoped advisory lock, so
// instances starting together apply each migration once.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/newsroom-dev/newsroom/entra"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/internal/storeutil"
	"github.com/newsroom-dev/newsroom/team"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store in a PostgreSQL database. Safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the database at url (postgres://user:pass@host/db?...,
// any pgxpool setting such as pool_max_conns allowed) and applies pending
// migrations. Errors never include the password.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenWith(ctx, url, Options{})
}

// Options are how Open signs in; the zero value uses the URL's password, or
// a Microsoft Entra ID token for an Azure server named without one.
type Options struct {
	// Auth is the sign-in mode (NEWSROOM_DATABASE_AUTH); see package entra.
	Auth entra.Mode
	// Credential gives the tokens; nil means DefaultAzureCredential.
	Credential entra.CredentialSource
}

// OpenWith is Open with sign-in options.
func OpenWith(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := entra.PostgresConfig(url, opts.Auth, opts.Credential)
	if err != nil {
		// pgx's parse errors can echo the URL; entra says only what failed.
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", target(cfg), err)
	}
	s := &Store{pool: pool}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", target(cfg), err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", target(cfg), err)
	}
	return s, nil
}

// target names the server and database for errors, without credentials.
func target(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// runColumns and keyColumns are read by storeutil.ScanRun and ScanKey.
const (
	runColumns = storeutil.RunColumns
	keyColumns = storeutil.KeyColumns
)

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// CreateRun stores a new run; see store.Store. A zero ID, Status or
// CreatedAt is filled in (random id, queued, now). A run whose id exists
// already gives store.ErrConflict.
func (s *Store) CreateRun(ctx context.Context, run *store.Run) (*store.Run, bool, error) {
	r := storeutil.PrepareRun(run)
	usage, perAgent, err := storeutil.Usage(r.Usage, r.PerAgent)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: create run: %w", err)
	}
	options, err := storeutil.Options(r.Options)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: create run: %w", err)
	}
	// DO NOTHING on any unique violation: either the id is taken (a conflict)
	// or the owner already used the idempotency key (return that run). A
	// concurrent insert with the same key is waited for, so the loser sees
	// the winner's row below.
	tag, err := s.pool.Exec(ctx, `INSERT INTO runs (id, owner, idempotency_key, task, team, max_messages,
		budget_usd, status, stop_reason, error, usage, per_agent, article, created_at, updated_at, finished_at, approval, options)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT DO NOTHING`,
		r.ID, r.Owner, nullString(r.IdempotencyKey), r.Task, r.Team, r.MaxMessages, r.BudgetUSD, string(r.Status),
		r.StopReason, r.Error, usage, perAgent, r.Article, r.CreatedAt, r.UpdatedAt, nullTime(r.FinishedAt),
		r.Approval != nil && r.Approval.Required, options)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: create run: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return r, false, nil
	}
	if r.IdempotencyKey != "" {
		existing, err := storeutil.ScanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs
			WHERE owner = $1 AND idempotency_key = $2`, r.Owner, r.IdempotencyKey))
		if err == nil {
			return existing, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, false, fmt.Errorf("postgres: create run: %w", err)
		}
	}
	return nil, false, fmt.Errorf("postgres: create run %s: %w", r.ID, store.ErrConflict)
}

// RunByIdempotencyKey returns the owner's run created under key, or
// store.ErrNotFound.
func (s *Store) RunByIdempotencyKey(ctx context.Context, owner, key string) (*store.Run, error) {
	owner, key = storeutil.Text(owner), storeutil.Text(key)
	if key == "" {
		return nil, fmt.Errorf("postgres: no idempotency key: %w", store.ErrNotFound)
	}
	r, err := storeutil.ScanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs
		WHERE owner = $1 AND idempotency_key = $2`, owner, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: no run under that idempotency key: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: run by idempotency key: %w", err)
	}
	return r, nil
}

// GetRun returns a run or store.ErrNotFound.
func (s *Store) GetRun(ctx context.Context, id string) (*store.Run, error) {
	id = storeutil.Text(id)
	r, err := storeutil.ScanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: run %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get run %s: %w", id, err)
	}
	return r, nil
}

// UpdateRun saves the run's status, stop reason, error, usage, per-agent
// usage, article and finished time under claim c, and sets run.UpdatedAt to
// now. A run whose status is finished and whose FinishedAt is zero gets
// FinishedAt = now. Task, team and limits never change. A claim that is not
// the run's current one gives store.ErrFenced, an unknown id
// store.ErrNotFound.
func (s *Store) UpdateRun(ctx context.Context, c store.Claim, run *store.Run) error {
	rw, err := storeutil.PrepareUpdate(c, run)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET status = $1, stop_reason = $2, error = $3, usage = $4,
		per_agent = $5, article = $6, updated_at = $7, finished_at = $8 WHERE id = $9 AND claim_token = $10 AND $10 > 0`,
		string(run.Status), storeutil.Text(run.StopReason), storeutil.Text(run.Error), rw.Usage, rw.PerAgent, storeutil.Text(run.Article), rw.Now, nullTime(rw.Finished), rw.ID, c.Token)
	if err != nil {
		return fmt.Errorf("postgres: update run %s: %w", rw.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return s.missOrFenced(ctx, "update run", rw.ID)
	}
	rw.Saved(run)
	return nil
}

// FinishRun saves the run's final state and appends its run_finished event
// in one statement, conditional on claim c and on the run being unfinished;
// see store.Runs.
func (s *Store) FinishRun(ctx context.Context, c store.Claim, run *store.Run, final team.Event) (int64, error) {
	rw, err := storeutil.PrepareFinish(c, run, final)
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	// One statement: the update and the insert commit together or not at
	// all, with the first version of the article the run publishes, if any.
	var seq int64
	if run.Publish != nil {
		seq, err = finishPublishing(ctx, s.pool, rw, run, c, final)
	} else {
		err = s.pool.QueryRow(ctx, `WITH done AS (
			UPDATE runs SET status = $1, stop_reason = $2, error = $3, usage = $4, per_agent = $5, article = $6,
				updated_at = $7, finished_at = $8, last_seq = last_seq + 1
			WHERE id = $9 AND claim_token = $10 AND $10 > 0 AND status IN ($11, $12)
			RETURNING last_seq
		)
		INSERT INTO events (run_id, seq, type, payload, created_at)
		SELECT $9, last_seq, $13, $14, $7 FROM done
		RETURNING seq`,
			string(run.Status), storeutil.Text(run.StopReason), storeutil.Text(run.Error), rw.Usage, rw.PerAgent,
			storeutil.Text(run.Article), rw.Now, rw.Finished, rw.ID, c.Token,
			string(store.StatusQueued), string(store.StatusRunning), string(final.Type), rw.Payload).Scan(&seq)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, s.whyNotFinished(ctx, rw.ID, c.Token)
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: finish run %s: %w", rw.ID, err)
	}
	rw.Saved(run)
	return seq, nil
}

// whyNotFinished explains a FinishRun that changed nothing: an unknown run
// (store.ErrNotFound), a claim that is not the current one
// (store.ErrFenced), or a run that is not unfinished (store.ErrConflict).
func (s *Store) whyNotFinished(ctx context.Context, runID string, token int64) error {
	var (
		cur    int64
		status string
	)
	err := s.pool.QueryRow(ctx, `SELECT claim_token, status FROM runs WHERE id = $1`, runID).Scan(&cur, &status)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: finish run %s: %w", runID, err)
	}
	return fmt.Errorf("postgres: %w", storeutil.NotFinished(runID, token, err == nil, cur, status))
}

// missOrFenced explains a conditional write that changed nothing: the run
// is unknown (store.ErrNotFound) or the writer's claim is not the current
// one (store.ErrFenced).
func (s *Store) missOrFenced(ctx context.Context, op, runID string) error {
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM runs WHERE id = $1`, runID).Scan(&one)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s %s: %w", op, runID, err)
	}
	return fmt.Errorf("postgres: %w", storeutil.MissOrFenced(op, runID, err == nil))
}

// ListRuns returns a page of runs, newest first (created_at, then id).
func (s *Store) ListRuns(ctx context.Context, opts store.ListOptions) ([]*store.Run, string, error) {
	opts.Owner, opts.Status = storeutil.Text(opts.Owner), store.Status(storeutil.Text(string(opts.Status)))
	limit := storeutil.Limit(opts.Limit)
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if opts.Owner != "" {
		where = append(where, "owner = "+arg(opts.Owner))
	}
	if opts.Status != "" {
		where = append(where, "status = "+arg(string(opts.Status)))
	}
	if opts.Cursor != "" {
		t, id, err := storeutil.DecodeCursor(opts.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("postgres: list runs: %w", err)
		}
		where = append(where, fmt.Sprintf("(created_at, id) < (%s, %s)", arg(t), arg(id)))
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	// One more than the page tells whether a next page exists.
	// makes the id tie-break byte order, as in SQLite, whatever the
	// database's collation.
	q += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(limit+1)
	runs, err := s.queryRuns(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("postgres: list runs: %w", err)
	}
	runs, next := storeutil.Page(runs, limit)
	return runs, next, nil
}

// UnfinishedRuns returns the queued and running runs, oldest first.
func (s *Store) UnfinishedRuns(ctx context.Context) ([]*store.Run, error) {
	runs, err := s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE status IN ($1, $2)
		ORDER BY created_at, id`, string(store.StatusQueued), string(store.StatusRunning))
	if err != nil {
		return nil, fmt.Errorf("postgres: unfinished runs: %w", err)
	}
	return runs, nil
}

// ClaimRun makes owner the run's executor until the lease ends, under a new
// fencing token; see store.Claims. The lease is measured from the database's
// now(), so instances with skewed clocks agree. Concurrent claims serialise
// on the run's row lock; the loser re-checks the claim the winner committed
// and fails.
func (s *Store) ClaimRun(ctx context.Context, runID, owner string, lease time.Duration) (store.Claim, bool, error) {
	return s.claim(ctx, runID, owner, lease, false)
}

// SeizeRun takes the run's claim whoever holds it; see store.Claims.
func (s *Store) SeizeRun(ctx context.Context, runID, owner string, lease time.Duration) (store.Claim, bool, error) {
	return s.claim(ctx, runID, owner, lease, true)
}

func (s *Store) claim(ctx context.Context, runID, owner string, lease time.Duration, seize bool) (store.Claim, bool, error) {
	runID, owner = storeutil.Text(runID), storeutil.Text(owner)
	if lease <= 0 || owner == "" {
		return store.Claim{}, false, fmt.Errorf("postgres: claim run %s: want an owner and a positive lease", runID)
	}
	var token *int64
	err := s.pool.QueryRow(ctx, `WITH claimed AS (
			UPDATE runs SET claimed_by = $2, claim_expires_at = now() + $3 * interval '1 microsecond',
				claim_token = claim_token + 1
			WHERE id = $1 AND status IN ($4, $5)
			AND ($6 OR claim_expires_at IS NULL OR claim_expires_at <= now() OR claimed_by = $2)
			RETURNING claim_token
		)
		SELECT (SELECT claim_token FROM claimed) FROM runs WHERE id = $1`,
		runID, owner, lease.Microseconds(), string(store.StatusQueued), string(store.StatusRunning), seize).Scan(&token)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Claim{}, false, fmt.Errorf("postgres: run %s: %w", runID, store.ErrNotFound)
	}
	if err != nil {
		return store.Claim{}, false, fmt.Errorf("postgres: claim run %s: %w", runID, err)
	}
	if token == nil {
		return store.Claim{}, false, nil
	}
	return store.Claim{RunID: runID, Owner: owner, Token: *token}, true, nil
}

// RenewClaim restarts the lease of claim c (by the database's clock); see
// store.Claims.
func (s *Store) RenewClaim(ctx context.Context, c store.Claim, lease time.Duration) (bool, error) {
	runID := storeutil.Text(c.RunID)
	if lease <= 0 {
		return false, fmt.Errorf("postgres: renew claim on run %s: want a positive lease", runID)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET claim_expires_at = now() + $1 * interval '1 microsecond'
		WHERE id = $2 AND claim_token = $3 AND claimed_by = $4 AND status IN ($5, $6)`,
		lease.Microseconds(), runID, c.Token, storeutil.Text(c.Owner),
		string(store.StatusQueued), string(store.StatusRunning))
	if err != nil {
		return false, fmt.Errorf("postgres: renew claim on run %s: %w", runID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseRun drops claim c; see store.Claims.
func (s *Store) ReleaseRun(ctx context.Context, c store.Claim) error {
	runID := storeutil.Text(c.RunID)
	if _, err := s.pool.Exec(ctx, `UPDATE runs SET claimed_by = NULL, claim_expires_at = NULL
		WHERE id = $1 AND claim_token = $2 AND claimed_by = $3`, runID, c.Token, storeutil.Text(c.Owner)); err != nil {
		return fmt.Errorf("postgres: release run %s: %w", runID, err)
	}
	return nil
}

// ClaimableRuns returns unfinished runs without a live claim (by the
// database's clock), oldest first; see store.Store.
func (s *Store) ClaimableRuns(ctx context.Context, limit int) ([]*store.Run, error) {
	if limit <= 0 {
		limit = 100
	}
	runs, err := s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE status IN ($1, $2)
		AND (claim_expires_at IS NULL OR claim_expires_at <= now()) ORDER BY created_at, id LIMIT $3`,
		string(store.StatusQueued), string(store.StatusRunning), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claimable runs: %w", err)
	}
	return runs, nil
}

func (s *Store) queryRuns(ctx context.Context, q string, args ...any) ([]*store.Run, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return storeutil.Collect(rows, storeutil.ScanRun)
}

// AppendEvent adds an event to the log of run c.RunID and returns its seq;
// see the package comment. The counter is incremented only while c is the
// run's current claim, in the same statement: a superseded claim gives
// store.ErrFenced, an unknown run store.ErrNotFound.
func (s *Store) AppendEvent(ctx context.Context, c store.Claim, e team.Event) (int64, error) {
	runID := storeutil.Text(c.RunID)
	payload, err := storeutil.EncodeEvent(e)
	if err != nil {
		return 0, fmt.Errorf("postgres: append event: %w", err)
	}
	var seq int64
	err = s.pool.QueryRow(ctx, `WITH next AS (
			UPDATE runs SET last_seq = last_seq + 1 WHERE id = $1 AND claim_token = $5 AND $5 > 0 RETURNING last_seq
		)
		INSERT INTO events (run_id, seq, type, payload, created_at)
		SELECT $1, last_seq, $2, $3, $4 FROM next
		RETURNING seq`, runID, string(e.Type), payload, storeutil.Now(), c.Token).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, s.missOrFenced(ctx, "append event to run", runID)
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: append event to run %s: %w", runID, err)
	}
	return seq, nil
}

// ResolveWaiting ends a run's wait for approval in one transaction; the
// conditional update takes the run's row lock, so of concurrent calls (and a
// concurrent cancel) exactly one finds the run waiting. See store.Store.
func (s *Store) ResolveWaiting(ctx context.Context, runID string, events []team.Event, status store.Status, stopReason string) error {
	return s.resolveWaiting(ctx, runID, events, status, stopReason, nil)
}

// resolveWaiting is ResolveWaiting publishing a (when not nil) in the same
// transaction.
func (s *Store) resolveWaiting(ctx context.Context, runID string, events []team.Event, status store.Status, stopReason string, a *store.Article) error {
	runID = storeutil.Text(runID)
	payloads := make([][]byte, len(events))
	for i, e := range events {
		p, err := storeutil.EncodeEvent(e)
		if err != nil {
			return fmt.Errorf("postgres: resolve run %s: %w", runID, err)
		}
		payloads[i] = p
	}
	now := storeutil.Now()
	var finished any
	if status.Finished() {
		finished = now
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: resolve run %s: %w", runID, err)
	}
	defer tx.Rollback(ctx)
	var seq int64
	err = tx.QueryRow(ctx, `UPDATE runs SET status = $1, stop_reason = $2, updated_at = $3, finished_at = $4,
		last_seq = last_seq + $5 WHERE id = $6 AND status = $7 RETURNING last_seq`,
		string(status), storeutil.Text(stopReason), now, finished, len(events), runID,
		string(store.StatusAwaitingApproval)).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM runs WHERE id = $1`, runID).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: run %s: %w", runID, store.ErrNotFound)
		}
		return fmt.Errorf("postgres: run %s is not awaiting approval: %w", runID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: resolve run %s: %w", runID, err)
	}
	first := seq - int64(len(events)) + 1
	for i, e := range events {
		if _, err := tx.Exec(ctx, `INSERT INTO events (run_id, seq, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
			runID, first+int64(i), string(e.Type), payloads[i], now); err != nil {
			return fmt.Errorf("postgres: resolve run %s: %w", runID, err)
		}
	}
	if a != nil {
		if err := putArticle(ctx, tx, a); err != nil {
			return fmt.Errorf("postgres: resolve run %s: %w", runID, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: resolve run %s: %w", runID, err)
	}
	return nil
}

// Events returns the run's events with Seq > after, in order. A run without
// events (or an unknown run) gives an empty slice.
func (s *Store) Events(ctx context.Context, runID string, after int64) ([]store.Event, error) {
	runID = storeutil.Text(runID)
	rows, err := s.pool.Query(ctx, `SELECT seq, payload FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq`,
		runID, after)
	if err != nil {
		return nil, fmt.Errorf("postgres: events of run %s: %w", runID, err)
	}
	defer rows.Close()
	out, err := storeutil.ScanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: events of run %s: %w", runID, err)
	}
	return out, nil
}

// CreateKey stores a key, filling in a zero ID (random) and CreatedAt (now)
// in k. A taken id or hash gives store.ErrConflict.
func (s *Store) CreateKey(ctx context.Context, k *store.Key) error {
	c := storeutil.PrepareKey(k)
	tag, err := s.pool.Exec(ctx, `INSERT INTO api_keys (id, name, hash, admin, created_at, revoked_at, role)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		c.ID, c.Name, c.Hash, c.Admin, c.CreatedAt, nullTime(c.RevokedAt), c.Role)
	if err != nil {
		return fmt.Errorf("postgres: create key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: create key %s: %w", c.ID, store.ErrConflict)
	}
	*k = c
	return nil
}

// KeyByHash returns the unrevoked key with that hash, or store.ErrNotFound.
func (s *Store) KeyByHash(ctx context.Context, hash string) (*store.Key, error) {
	hash = storeutil.Text(hash)
	k, err := storeutil.ScanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys
		WHERE hash = $1 AND revoked_at IS NULL`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: key: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: key by hash: %w", err)
	}
	return k, nil
}

// ListKeys returns every key, revoked ones included, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]*store.Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list keys: %w", err)
	}
	defer rows.Close()
	keys, err := storeutil.Collect(rows, storeutil.ScanKey)
	if err != nil {
		return nil, fmt.Errorf("postgres: list keys: %w", err)
	}
	return keys, nil
}

// RevokeKey marks the key revoked. Revoking a revoked key keeps its first
// revocation time and succeeds; an unknown id gives store.ErrNotFound.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	id = storeutil.Text(id)
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`,
		storeutil.Now(), id)
	if err != nil {
		return fmt.Errorf("postgres: revoke key %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: key %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// MigrationVersions returns the schema versions applied, in order.
func (s *Store) MigrationVersions(ctx context.Context) ([]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("postgres: migration versions: %w", err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("postgres: migration versions: %w", err)
	}
	return vs, nil
}
