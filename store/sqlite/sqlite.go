// Package sqlite is the embedded store.Store: one SQLite file, pure Go
// (modernc.org/sqlite), no server to run.
//
// The file is opened twice: a writer pool of exactly one connection, so
// writes never wait on SQLite's file lock inside this process and
// AppendEvent's read-increment-insert is serialised, and a read pool of a few
// query-only connections, which WAL mode lets read while the writer writes.
// Write transactions begin IMMEDIATE, so a second process on the same file
// (the CLI's `keys create` beside a running server) waits on busy_timeout
// instead of failing. synchronous=FULL makes every commit reach the disk
// before it returns: AppendEvent is the checkpoint a crashed run resumes
// from. Times are stored as Unix microseconds (UTC).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/internal/storeutil"
	"github.com/newsroom-dev/newsroom/team"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ store.Store = (*Store)(nil)

// BusyTimeout is how long a statement waits for another process's lock on
// the file before failing.
const BusyTimeout = 10 * time.Second

// Store is a store.Store in one SQLite file. Safe for concurrent use.
type Store struct {
	w *sql.DB // one connection: every write
	r *sql.DB // query-only connections: every read
	// path and file are the database file as opened, for CheckWritable.
	path string
	file os.FileInfo
}

// Open opens (creating it if needed) the SQLite database at path and applies
// pending migrations. The path must name a file: ":memory:" would give the
// two pools two different databases.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: want a plain file path", path)
	}
	file, err := createPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s := &Store{w: w, r: r, path: path, file: file}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// dsn builds the modernc.org/sqlite connection string: the pragmas run on
// every new connection of the pool.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Ping checks both pools can reach the file.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// runColumns and keyColumns are read by storeutil.ScanRun and ScanKey.
const (
	runColumns = storeutil.RunColumns
	keyColumns = storeutil.KeyColumns
)

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// jsonText stores JSON as TEXT (STRICT tables refuse a []byte BLOB), nil as NULL.
func jsonText(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// CreateRun stores a new run; see store.Store. A zero ID, Status or
// CreatedAt is filled in (random id, queued, now). A run whose id exists
// already gives store.ErrConflict.
func (s *Store) CreateRun(ctx context.Context, run *store.Run) (*store.Run, bool, error) {
	r := storeutil.PrepareRun(run)
	usage, perAgent, err := storeutil.Usage(r.Usage, r.PerAgent)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: create run: %w", err)
	}
	options, err := storeutil.Options(r.Options)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: create run: %w", err)
	}
	// DO NOTHING on any unique violation: either the id is taken (a conflict)
	// or the owner already used the idempotency key (return that run).
	res, err := s.w.ExecContext(ctx, `INSERT INTO runs (id, owner, idempotency_key, task, team, max_messages,
		budget_usd, status, stop_reason, error, usage, per_agent, article, created_at, updated_at, finished_at, approval, options)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.ID, r.Owner, nullString(r.IdempotencyKey), r.Task, r.Team, r.MaxMessages, r.BudgetUSD, string(r.Status),
		r.StopReason, r.Error, string(usage), jsonText(perAgent), r.Article, r.CreatedAt.UnixMicro(), r.UpdatedAt.UnixMicro(),
		nullTime(r.FinishedAt), r.Approval != nil && r.Approval.Required, jsonText(options))
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: create run: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, false, fmt.Errorf("sqlite: create run: %w", err)
	} else if n == 1 {
		return r, false, nil
	}
	if r.IdempotencyKey != "" {
		// Read through the writer: the winning insert is committed, and the
		// writer connection sees it without waiting for a WAL snapshot.
		row := s.w.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE owner = ? AND idempotency_key = ?`,
			r.Owner, r.IdempotencyKey)
		existing, err := storeutil.ScanRun(row)
		if err == nil {
			return existing, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, false, fmt.Errorf("sqlite: create run: %w", err)
		}
	}
	return nil, false, fmt.Errorf("sqlite: create run %s: %w", r.ID, store.ErrConflict)
}

// RunByIdempotencyKey returns the owner's run created under key, or
// store.ErrNotFound.
func (s *Store) RunByIdempotencyKey(ctx context.Context, owner, key string) (*store.Run, error) {
	owner, key = storeutil.Text(owner), storeutil.Text(key)
	if key == "" {
		return nil, fmt.Errorf("sqlite: no idempotency key: %w", store.ErrNotFound)
	}
	r, err := storeutil.ScanRun(s.r.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE owner = ? AND idempotency_key = ?`,
		owner, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: no run under that idempotency key: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: run by idempotency key: %w", err)
	}
	return r, nil
}

// GetRun returns a run or store.ErrNotFound.
func (s *Store) GetRun(ctx context.Context, id string) (*store.Run, error) {
	id = storeutil.Text(id)
	r, err := storeutil.ScanRun(s.r.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: run %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get run %s: %w", id, err)
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
		return fmt.Errorf("sqlite: %w", err)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE runs SET status = ?, stop_reason = ?, error = ?, usage = ?,
		per_agent = ?, article = ?, updated_at = ?, finished_at = ? WHERE id = ? AND claim_token = ? AND ? > 0`,
		string(run.Status), storeutil.Text(run.StopReason), storeutil.Text(run.Error), string(rw.Usage), jsonText(rw.PerAgent), storeutil.Text(run.Article), rw.Now.UnixMicro(),
		nullTime(rw.Finished), rw.ID, c.Token, c.Token)
	if err != nil {
		return fmt.Errorf("sqlite: update run %s: %w", rw.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: update run %s: %w", rw.ID, err)
	} else if n == 0 {
		return s.missOrFenced(ctx, "update run", rw.ID)
	}
	rw.Saved(run)
	return nil
}

// FinishRun saves the run's final state and appends its run_finished event
// in one transaction, conditional on claim c and on the run being
// unfinished; see store.Runs.
func (s *Store) FinishRun(ctx context.Context, c store.Claim, run *store.Run, final team.Event) (int64, error) {
	rw, err := storeutil.PrepareFinish(c, run, final)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	id := rw.ID
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: finish run %s: %w", id, err)
	}
	defer tx.Rollback()
	var seq int64
	err = tx.QueryRowContext(ctx, `UPDATE runs SET status = ?, stop_reason = ?, error = ?, usage = ?,
		per_agent = ?, article = ?, updated_at = ?, finished_at = ?, last_seq = last_seq + 1
		WHERE id = ? AND claim_token = ? AND ? > 0 AND status IN (?, ?) RETURNING last_seq`,
		string(run.Status), storeutil.Text(run.StopReason), storeutil.Text(run.Error), string(rw.Usage), jsonText(rw.PerAgent),
		storeutil.Text(run.Article), rw.Now.UnixMicro(), nullTime(rw.Finished), id, c.Token, c.Token,
		string(store.StatusQueued), string(store.StatusRunning)).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		_ = tx.Rollback() // the writer pool has one connection: free it for the check
		return 0, s.whyNotFinished(ctx, id, c.Token)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: finish run %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (run_id, seq, type, payload, created_at)
		VALUES (?, ?, ?, ?, ?)`, id, seq, string(final.Type), string(rw.Payload), rw.Now.UnixMicro()); err != nil {
		return 0, fmt.Errorf("sqlite: finish run %s: %w", id, err)
	}
	if run.Publish != nil {
		if err := putArticle(ctx, tx, run.Publish); err != nil {
			return 0, fmt.Errorf("sqlite: finish run %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlite: finish run %s: %w", id, err)
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
	err := s.w.QueryRowContext(ctx, `SELECT claim_token, status FROM runs WHERE id = ?`, runID).Scan(&cur, &status)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: finish run %s: %w", runID, err)
	}
	return fmt.Errorf("sqlite: %w", storeutil.NotFinished(runID, token, err == nil, cur, status))
}

// missOrFenced explains a conditional write that changed nothing: the run
// is unknown (store.ErrNotFound) or the writer's claim is not the current
// one (store.ErrFenced). It reads through the writer, which saw the miss.
func (s *Store) missOrFenced(ctx context.Context, op, runID string) error {
	var one int
	err := s.w.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = ?`, runID).Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s %s: %w", op, runID, err)
	}
	return fmt.Errorf("sqlite: %w", storeutil.MissOrFenced(op, runID, err == nil))
}

// ListRuns returns a page of runs, newest first (created_at, then id).
func (s *Store) ListRuns(ctx context.Context, opts store.ListOptions) ([]*store.Run, string, error) {
	opts.Owner, opts.Status = storeutil.Text(opts.Owner), store.Status(storeutil.Text(string(opts.Status)))
	limit := storeutil.Limit(opts.Limit)
	var (
		where []string
		args  []any
	)
	if opts.Owner != "" {
		where, args = append(where, "owner = ?"), append(args, opts.Owner)
	}
	if opts.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(opts.Status))
	}
	if opts.Cursor != "" {
		t, id, err := storeutil.DecodeCursor(opts.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: list runs: %w", err)
		}
		where, args = append(where, "(created_at, id) < (?, ?)"), append(args, t.UnixMicro(), id)
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1) // one more tells whether a next page exists
	runs, err := s.queryRuns(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list runs: %w", err)
	}
	runs, next := storeutil.Page(runs, limit)
	return runs, next, nil
}

// UnfinishedRuns returns the queued and running runs, oldest first.
func (s *Store) UnfinishedRuns(ctx context.Context) ([]*store.Run, error) {
	runs, err := s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE status IN (?, ?)
		ORDER BY created_at, id`, string(store.StatusQueued), string(store.StatusRunning))
	if err != nil {
		return nil, fmt.Errorf("sqlite: unfinished runs: %w", err)
	}
	return runs, nil
}

// ClaimRun makes owner the run's executor until the lease ends, under a new
// fencing token; see store.Claims. Expiry is judged by this process's clock,
// the one clock of every process sharing a local SQLite file.
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
		return store.Claim{}, false, fmt.Errorf("sqlite: claim run %s: want an owner and a positive lease", runID)
	}
	now := storeutil.Now()
	var token int64
	err := s.w.QueryRowContext(ctx, `UPDATE runs SET claimed_by = ?, claim_expires_at = ?, claim_token = claim_token + 1
		WHERE id = ? AND status IN (?, ?)
		AND (? OR claim_expires_at IS NULL OR claim_expires_at <= ? OR claimed_by = ?)
		RETURNING claim_token`,
		owner, now.Add(lease).UnixMicro(), runID, string(store.StatusQueued), string(store.StatusRunning),
		seize, now.UnixMicro(), owner).Scan(&token)
	if err == nil {
		return store.Claim{RunID: runID, Owner: owner, Token: token}, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.Claim{}, false, fmt.Errorf("sqlite: claim run %s: %w", runID, err)
	}
	var one int
	err = s.w.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = ?`, runID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Claim{}, false, fmt.Errorf("sqlite: run %s: %w", runID, store.ErrNotFound)
	}
	if err != nil {
		return store.Claim{}, false, fmt.Errorf("sqlite: claim run %s: %w", runID, err)
	}
	return store.Claim{}, false, nil
}

// RenewClaim restarts the lease of claim c; see store.Claims.
func (s *Store) RenewClaim(ctx context.Context, c store.Claim, lease time.Duration) (bool, error) {
	runID := storeutil.Text(c.RunID)
	if lease <= 0 {
		return false, fmt.Errorf("sqlite: renew claim on run %s: want a positive lease", runID)
	}
	now := storeutil.Now()
	res, err := s.w.ExecContext(ctx, `UPDATE runs SET claim_expires_at = ?
		WHERE id = ? AND claim_token = ? AND claimed_by = ? AND status IN (?, ?)`,
		now.Add(lease).UnixMicro(), runID, c.Token, storeutil.Text(c.Owner),
		string(store.StatusQueued), string(store.StatusRunning))
	if err != nil {
		return false, fmt.Errorf("sqlite: renew claim on run %s: %w", runID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: renew claim on run %s: %w", runID, err)
	}
	return n == 1, nil
}

// ReleaseRun drops claim c; see store.Claims.
func (s *Store) ReleaseRun(ctx context.Context, c store.Claim) error {
	runID := storeutil.Text(c.RunID)
	if _, err := s.w.ExecContext(ctx, `UPDATE runs SET claimed_by = NULL, claim_expires_at = NULL
		WHERE id = ? AND claim_token = ? AND claimed_by = ?`, runID, c.Token, storeutil.Text(c.Owner)); err != nil {
		return fmt.Errorf("sqlite: release run %s: %w", runID, err)
	}
	return nil
}

// ClaimableRuns returns unfinished runs without a live claim, oldest first;
// see store.Store.
func (s *Store) ClaimableRuns(ctx context.Context, limit int) ([]*store.Run, error) {
	if limit <= 0 {
		limit = 100
	}
	runs, err := s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE status IN (?, ?)
		AND (claim_expires_at IS NULL OR claim_expires_at <= ?) ORDER BY created_at, id LIMIT ?`,
		string(store.StatusQueued), string(store.StatusRunning), storeutil.Now().UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claimable runs: %w", err)
	}
	return runs, nil
}

func (s *Store) queryRuns(ctx context.Context, q string, args ...any) ([]*store.Run, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return storeutil.Collect(rows, storeutil.ScanRun)
}

// AppendEvent adds an event to the log of run c.RunID in one transaction:
// the run's last_seq counter is incremented, on condition that c is its
// current claim, and the event stored under the new value. It returns after
// the commit reached the disk. A superseded claim gives store.ErrFenced,
// an unknown run store.ErrNotFound.
func (s *Store) AppendEvent(ctx context.Context, c store.Claim, e team.Event) (int64, error) {
	runID := storeutil.Text(c.RunID)
	payload, err := storeutil.EncodeEvent(e)
	if err != nil {
		return 0, fmt.Errorf("sqlite: append event: %w", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: append event to run %s: %w", runID, err)
	}
	defer tx.Rollback()
	var seq int64
	err = tx.QueryRowContext(ctx, `UPDATE runs SET last_seq = last_seq + 1
		WHERE id = ? AND claim_token = ? AND ? > 0 RETURNING last_seq`, runID, c.Token, c.Token).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		_ = tx.Rollback() // the writer pool has one connection: free it for the check
		return 0, s.missOrFenced(ctx, "append event to run", runID)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: append event to run %s: %w", runID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (run_id, seq, type, payload, created_at)
		VALUES (?, ?, ?, ?, ?)`, runID, seq, string(e.Type), string(payload), storeutil.Now().UnixMicro()); err != nil {
		return 0, fmt.Errorf("sqlite: append event to run %s: %w", runID, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlite: append event to run %s: %w", runID, err)
	}
	return seq, nil
}

// ResolveWaiting ends a run's wait for approval in one transaction; see
// store.Store.
func (s *Store) ResolveWaiting(ctx context.Context, runID string, events []team.Event, status store.Status, stopReason string) error {
	return s.resolveWaiting(ctx, runID, events, status, stopReason, nil)
}

// resolveWaiting is ResolveWaiting publishing a (when not nil) in the same
// transaction.
func (s *Store) resolveWaiting(ctx context.Context, runID string, events []team.Event, status store.Status, stopReason string, a *store.Article) error {
	runID = storeutil.Text(runID)
	payloads := make([]string, len(events))
	for i, e := range events {
		p, err := storeutil.EncodeEvent(e)
		if err != nil {
			return fmt.Errorf("sqlite: resolve run %s: %w", runID, err)
		}
		payloads[i] = string(p)
	}
	now := storeutil.Now()
	var finished any
	if status.Finished() {
		finished = now.UnixMicro()
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: resolve run %s: %w", runID, err)
	}
	defer tx.Rollback()
	var seq int64
	err = tx.QueryRowContext(ctx, `UPDATE runs SET status = ?, stop_reason = ?, updated_at = ?, finished_at = ?,
		last_seq = last_seq + ? WHERE id = ? AND status = ? RETURNING last_seq`,
		string(status), storeutil.Text(stopReason), now.UnixMicro(), finished, len(events), runID,
		string(store.StatusAwaitingApproval)).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = ?`, runID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: run %s: %w", runID, store.ErrNotFound)
		}
		return fmt.Errorf("sqlite: run %s is not awaiting approval: %w", runID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: resolve run %s: %w", runID, err)
	}
	first := seq - int64(len(events)) + 1
	for i, e := range events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (run_id, seq, type, payload, created_at)
			VALUES (?, ?, ?, ?, ?)`, runID, first+int64(i), string(e.Type), payloads[i], now.UnixMicro()); err != nil {
			return fmt.Errorf("sqlite: resolve run %s: %w", runID, err)
		}
	}
	if a != nil {
		if err := putArticle(ctx, tx, a); err != nil {
			return fmt.Errorf("sqlite: resolve run %s: %w", runID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: resolve run %s: %w", runID, err)
	}
	return nil
}

// Events returns the run's events with Seq > after, in order. A run without
// events (or an unknown run) gives an empty slice.
func (s *Store) Events(ctx context.Context, runID string, after int64) ([]store.Event, error) {
	runID = storeutil.Text(runID)
	rows, err := s.r.QueryContext(ctx, `SELECT seq, payload FROM events WHERE run_id = ? AND seq > ? ORDER BY seq`,
		runID, after)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events of run %s: %w", runID, err)
	}
	defer rows.Close()
	out, err := storeutil.ScanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events of run %s: %w", runID, err)
	}
	return out, nil
}

// CreateKey stores a key, filling in a zero ID (random) and CreatedAt (now)
// in k. A taken id or hash gives store.ErrConflict.
func (s *Store) CreateKey(ctx context.Context, k *store.Key) error {
	c := storeutil.PrepareKey(k)
	res, err := s.w.ExecContext(ctx, `INSERT INTO api_keys (id, name, hash, admin, created_at, revoked_at, role)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		c.ID, c.Name, c.Hash, c.Admin, c.CreatedAt.UnixMicro(), nullTime(c.RevokedAt), c.Role)
	if err != nil {
		return fmt.Errorf("sqlite: create key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: create key: %w", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: create key %s: %w", c.ID, store.ErrConflict)
	}
	*k = c
	return nil
}

// KeyByHash returns the unrevoked key with that hash, or store.ErrNotFound.
func (s *Store) KeyByHash(ctx context.Context, hash string) (*store.Key, error) {
	hash = storeutil.Text(hash)
	k, err := storeutil.ScanKey(s.r.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys
		WHERE hash = ? AND revoked_at IS NULL`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: key: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: key by hash: %w", err)
	}
	return k, nil
}

// ListKeys returns every key, revoked ones included, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]*store.Key, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	defer rows.Close()
	keys, err := storeutil.Collect(rows, storeutil.ScanKey)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	return keys, nil
}

// RevokeKey marks the key revoked. Revoking a revoked key keeps its first
// revocation time and succeeds; an unknown id gives store.ErrNotFound.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	id = storeutil.Text(id)
	res, err := s.w.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`,
		storeutil.Now().UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("sqlite: revoke key %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: revoke key %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: key %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// MigrationVersions returns the schema versions applied to the file, in order.
func (s *Store) MigrationVersions(ctx context.Context) ([]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migration versions: %w", err)
	}
	defer rows.Close()
	vs, err := storeutil.Collect(rows, func(sc storeutil.Scanner) (v int, err error) { return v, sc.Scan(&v) })
	if err != nil {
		return nil, fmt.Errorf("sqlite: migration versions: %w", err)
	}
	return vs, nil
}
