package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/internal/storeutil"
	"github.com/newsroom-dev/newsroom/team"
)

// execer is what putArticle writes through: a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// putArticle writes a version of an article inside tx; see
// store.Articles.PutArticle.
func putArticle(ctx context.Context, tx execer, a *store.Article) error {
	w, err := storeutil.PrepareArticle(a)
	if err != nil {
		return err
	}
	s := w.A
	if s.Version == 1 {
		_, err = tx.ExecContext(ctx, `INSERT INTO articles (id, slug, desk, status, version, published_at, updated_at, doc)
			VALUES (?, ?, ?, ?, 1, ?, ?, ?)`, s.ID, s.Slug, s.Desk, string(s.Status), s.PublishedAt.UnixMicro(),
			s.UpdatedAt.UnixMicro(), string(w.Doc))
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("article %s (%s) exists: %w", s.ID, s.Slug, store.ErrConflict)
		}
	} else {
		var res sql.Result
		res, err = tx.ExecContext(ctx, `UPDATE articles SET desk = ?, status = ?, version = ?, updated_at = ?, doc = ?
			WHERE id = ? AND version = ?`, s.Desk, string(s.Status), s.Version, s.UpdatedAt.UnixMicro(), string(w.Doc),
			s.ID, s.Version-1)
		if err == nil {
			if n, _ := res.RowsAffected(); n == 0 {
				return fmt.Errorf("article %s is not at version %d: %w", s.ID, s.Version-1, store.ErrConflict)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("put article %s: %w", s.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO article_versions (article_id, version, run_id, doc, created_at)
		VALUES (?, ?, ?, ?, ?)`, s.ID, s.Version, s.RunID, string(w.Doc), s.UpdatedAt.UnixMicro()); err != nil {
		return fmt.Errorf("put article %s version %d: %w", s.ID, s.Version, err)
	}
	if err := putOutbox(ctx, tx, a.Outbox); err != nil {
		return err
	}
	*a = *s
	return nil
}

// PutArticle writes a new version of an article; see store.Articles.
func (s *Store) PutArticle(ctx context.Context, a *store.Article) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: put article: %w", err)
	}
	defer tx.Rollback()
	if err := putArticle(ctx, tx, a); err != nil {
		if errors.Is(err, store.ErrConflict) && a.Version > 1 {
			_ = tx.Rollback()
			if _, gerr := s.GetArticle(ctx, a.ID); errors.Is(gerr, store.ErrNotFound) {
				return gerr
			}
		}
		return fmt.Errorf("sqlite: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: put article %s: %w", a.ID, err)
	}
	return nil
}

// ResolveWaitingPublish is ResolveWaiting that publishes a in the same
// transaction; see store.Articles.
func (s *Store) ResolveWaitingPublish(ctx context.Context, runID string, events []team.Event, status store.Status, stopReason string, a *store.Article) error {
	return s.resolveWaiting(ctx, runID, events, status, stopReason, a)
}

func (s *Store) articleWhere(ctx context.Context, what, where string, arg any) (*store.Article, error) {
	var doc string
	err := s.r.QueryRowContext(ctx, `SELECT doc FROM articles WHERE `+where, arg).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: article %s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: article %s: %w", what, err)
	}
	a, err := storeutil.DecodeArticle([]byte(doc))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return a, nil
}

// GetArticle returns an article by id; see store.Articles.
func (s *Store) GetArticle(ctx context.Context, id string) (*store.Article, error) {
	return s.articleWhere(ctx, id, `id = ?`, storeutil.Text(id))
}

// ArticleBySlug returns an article by slug; see store.Articles.
func (s *Store) ArticleBySlug(ctx context.Context, slug string) (*store.Article, error) {
	return s.articleWhere(ctx, slug, `slug = ?`, storeutil.Text(slug))
}

// ArticleOfRun returns the article a run published; see store.Articles.
func (s *Store) ArticleOfRun(ctx context.Context, runID string) (*store.Article, error) {
	return s.articleWhere(ctx, "of run "+runID, `id = (SELECT article_id FROM article_versions WHERE run_id = ? LIMIT 1)`, storeutil.Text(runID))
}

// ListArticles returns a page of articles newest first; see store.Articles.
func (s *Store) ListArticles(ctx context.Context, opts store.ArticleListOptions) ([]*store.Article, string, error) {
	limit := storeutil.Limit(opts.Limit)
	q := `SELECT doc FROM articles WHERE 1 = 1`
	var args []any
	if opts.Desk != "" {
		q += ` AND desk = ?`
		args = append(args, opts.Desk)
	}
	if opts.Status != "" {
		q += ` AND status = ?`
		args = append(args, string(opts.Status))
	}
	if opts.Cursor != "" {
		t, id, err := storeutil.DecodeCursor(opts.Cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND (published_at < ? OR (published_at = ? AND id < ?))`
		args = append(args, t.UnixMicro(), t.UnixMicro(), id)
	}
	q += ` ORDER BY published_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	as, err := s.articles(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	as, next := storeutil.PageArticles(as, limit)
	return as, next, nil
}

// ArticleVersions returns an article's versions oldest first; see store.Articles.
func (s *Store) ArticleVersions(ctx context.Context, id string) ([]*store.Article, error) {
	as, err := s.articles(ctx, `SELECT doc FROM article_versions WHERE article_id = ? ORDER BY version`, storeutil.Text(id))
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("sqlite: article %s: %w", id, store.ErrNotFound)
	}
	return as, nil
}

func (s *Store) articles(ctx context.Context, q string, args ...any) ([]*store.Article, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list articles: %w", err)
	}
	defer rows.Close()
	var out []*store.Article
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("sqlite: list articles: %w", err)
		}
		a, err := storeutil.DecodeArticle([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list articles: %w", err)
	}
	return out, nil
}
