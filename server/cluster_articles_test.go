package server

import (
	"context"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// The store.Articles methods of killableStore (cluster_test.go).

func (k *killableStore) ResolveWaitingPublish(ctx context.Context, id string, evs []team.Event, st store.Status, reason string, a *store.Article) error {
	if err := k.err(); err != nil {
		return err
	}
	return k.next.ResolveWaitingPublish(ctx, id, evs, st, reason, a)
}

func (k *killableStore) PutArticle(ctx context.Context, a *store.Article) error {
	if err := k.err(); err != nil {
		return err
	}
	return k.next.PutArticle(ctx, a)
}

func (k *killableStore) GetArticle(ctx context.Context, id string) (*store.Article, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.GetArticle(ctx, id)
}

func (k *killableStore) ArticleBySlug(ctx context.Context, slug string) (*store.Article, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.ArticleBySlug(ctx, slug)
}

func (k *killableStore) ArticleOfRun(ctx context.Context, runID string) (*store.Article, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.ArticleOfRun(ctx, runID)
}

func (k *killableStore) ListArticles(ctx context.Context, o store.ArticleListOptions) ([]*store.Article, string, error) {
	if err := k.err(); err != nil {
		return nil, "", err
	}
	return k.next.ListArticles(ctx, o)
}

func (k *killableStore) ArticleVersions(ctx context.Context, id string) ([]*store.Article, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.ArticleVersions(ctx, id)
}
