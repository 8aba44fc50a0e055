package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/internal/storeutil"
	"github.com/newsroom-dev/newsroom/team"
)

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// putArticle writes a version of an article through q (a transaction); see
// store.Articles.PutArticle.
func putArticle(ctx context.Context, q querier, a *store.Article) error {
	w, err := storeutil.PrepareArticle(a)
	if err != nil {
		return err
	}
	s := w.A
	if s.Version == 1 {
		_, err = q.Exec(ctx, `INSERT INTO articles (id, slug, desk, status, version, published_at, updated_at, doc)
			VALUES ($1, $2, $3, $4, 1, $5, $6, $7)`, s.ID, s.Slug, s.Desk, string(s.Status), s.PublishedAt, s.UpdatedAt, w.Doc)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == uniqueViolation {
			return fmt.Errorf("article %s (%s) exists: %w", s.ID, s.Slug, store.ErrConflict)
		}
	} else {
		var tag pgconn.CommandTag
		tag, err = q.Exec(ctx, `UPDATE articles SET desk = $1, status = $2, version = $3, updated_at = $4, doc = $5
			WHERE id = $6 AND version = $7`, s.Desk, string(s.Status), s.Version, s.UpdatedAt, w.Doc, s.ID, s.Version-1)
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("article %s is not at version %d: %w", s.ID, s.Version-1, store.ErrConflict)
		}
	}
	if err != nil {
		return fmt.Errorf("put article %s: %w", s.ID, err)
	}
	if _, err := q.Exec(ctx, `INSERT INTO article_versions (article_id, version, run_id, doc, created_at)
		VALUES ($1, $2, $3, $4, $5)`, s.ID, s.Version, s.RunID, w.Doc, s.UpdatedAt); err != nil {
		return fmt.Errorf("put article %s version %d: %w", s.ID, s.Version, err)
	}
	if err := putOutbox(ctx, q, a.Outbox); err != nil {
		return err
	}
	*a = *s
	return nil
}

// PutArticle writes a new version of an article; see store.Articles.
func (s *Store) PutArticle(ctx context.Context, a *store.Article) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: put article: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := putArticle(ctx, tx, a); err != nil {
		if errors.Is(err, store.ErrConflict) && a.Version > 1 {
			if _, gerr := s.GetArticle(ctx, a.ID); errors.Is(gerr, store.ErrNotFound) {
				return gerr
			}
		}
		return fmt.Errorf("postgres: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: put article %s: %w", a.ID, err)
	}
	return nil
}

// ResolveWaitingPublish is ResolveWaiting that publishes a in the same
// transaction; see store.Articles.
func (s *Store) ResolveWaitingPublish(ctx context.Context, runID string, events []team.Event, status store.Status, stopReason string, a *store.Article) error {
	return s.resolveWaiting(ctx, runID, events, status, stopReason, a)
}

func (s *Store) articleWhere(ctx context.Context, what, where string, arg any) (*store.Article, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM articles WHERE `+where, arg).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: article %s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: article %s: %w", what, err)
	}
	a, err := storeutil.DecodeArticle(doc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return a, nil
}

// GetArticle returns an article by id; see store.Articles.
func (s *Store) GetArticle(ctx context.Context, id string) (*store.Article, error) {
	return s.articleWhere(ctx, id, `id = $1`, storeutil.Text(id))
}

// ArticleBySlug returns an article by slug; see store.Articles.
func (s *Store) ArticleBySlug(ctx context.Context, slug string) (*store.Article, error) {
	return s.articleWhere(ctx, slug, `slug = $1`, storeutil.Text(slug))
}

// ArticleOfRun returns the article a run published; see store.Articles.
func (s *Store) ArticleOfRun(ctx context.Context, runID string) (*store.Article, error) {
	return s.articleWhere(ctx, "of run "+runID, `id = (SELECT article_id FROM article_versions WHERE run_id = $1 LIMIT 1)`, storeutil.Text(runID))
}

// ListArticles returns a page of articles newest first; see store.Articles.
func (s *Store) ListArticles(ctx context.Context, opts store.ArticleListOptions) ([]*store.Article, string, error) {
	limit := storeutil.Limit(opts.Limit)
	q := `SELECT doc FROM articles WHERE true`
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if opts.Desk != "" {
		q += ` AND desk = ` + arg(opts.Desk)
	}
	if opts.Status != "" {
		q += ` AND status = ` + arg(string(opts.Status))
	}
	if opts.Cursor != "" {
		t, id, err := storeutil.DecodeCursor(opts.Cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND (published_at, id) < (` + arg(t) + `, ` + arg(id) + `)`
	}
	q += ` ORDER BY published_at DESC, id DESC LIMIT ` + arg(limit+1)
	as, err := s.articles(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	as, next := storeutil.PageArticles(as, limit)
	return as, next, nil
}

// ArticleVersions returns an article's versions oldest first; see store.Articles.
func (s *Store) ArticleVersions(ctx context.Context, id string) ([]*store.Article, error) {
	as, err := s.articles(ctx, `SELECT doc FROM article_versions WHERE article_id = $1 ORDER BY version`, storeutil.Text(id))
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("postgres: article %s: %w", id, store.ErrNotFound)
	}
	return as, nil
}

func (s *Store) articles(ctx context.Context, q string, args ...any) ([]*store.Article, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list articles: %w", err)
	}
	docs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("postgres: list articles: %w", err)
	}
	out := make([]*store.Article, 0, len(docs))
	for _, doc := range docs {
		a, err := storeutil.DecodeArticle(doc)
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// finishPublishing is FinishRun's statement with the first version of the
// article run.Publish written by the same statement: one statement, so the
// run's row is locked no longer than without a publication.
func finishPublishing(ctx context.Context, q querier, rw storeutil.RunWrite, run *store.Run, c store.Claim, final team.Event) (int64, error) {
	w, err := storeutil.PrepareArticle(run.Publish)
	if err != nil {
		return 0, err
	}
	a := w.A
	if a.Version != 1 {
		return 0, fmt.Errorf("finish run %s: a run's end publishes version 1, not %d", rw.ID, a.Version)
	}
	outbox, err := outboxJSON(run.Publish.Outbox)
	if err != nil {
		return 0, err
	}
	var seq int64
	err = q.QueryRow(ctx, `WITH done AS (
			UPDATE runs SET status = $1, stop_reason = $2, error = $3, usage = $4, per_agent = $5, article = $6,
				updated_at = $7, finished_at = $8, last_seq = last_seq + 1
			WHERE id = $9 AND claim_token = $10 AND $10 > 0 AND status IN ($11, $12)
			RETURNING last_seq
		), ev AS (
			INSERT INTO events (run_id, seq, type, payload, created_at)
			SELECT $9, last_seq, $13, $14, $7 FROM done
			RETURNING seq
		), art AS (
			INSERT INTO articles (id, slug, desk, status, version, published_at, updated_at, doc)
			SELECT $15, $16, $17, $18, 1, $19, $20, $21 FROM done
		), ver AS (
			INSERT INTO article_versions (article_id, version, run_id, doc, created_at)
			SELECT $15, 1, $22, $21, $20 FROM done
		), ob AS (
			`+outboxInsert("$23", "done")+`
		)
		SELECT seq FROM ev`,
		string(run.Status), storeutil.Text(run.StopReason), storeutil.Text(run.Error), rw.Usage, rw.PerAgent,
		storeutil.Text(run.Article), rw.Now, rw.Finished, rw.ID, c.Token,
		string(store.StatusQueued), string(store.StatusRunning), string(final.Type), rw.Payload,
		a.ID, a.Slug, a.Desk, string(a.Status), a.PublishedAt, a.UpdatedAt, w.Doc, a.RunID, outbox).Scan(&seq)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		return 0, fmt.Errorf("finish run %s: article %s (%s) exists: %w", rw.ID, a.ID, a.Slug, store.ErrConflict)
	}
	if err == nil {
		*run.Publish = *a
	}
	return seq, err
}
