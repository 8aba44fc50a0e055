package server

import (
	"context"
	"time"

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

// The store.Webhooks methods of killableStore.

func (k *killableStore) PutWebhook(ctx context.Context, w *store.Webhook) error {
	if err := k.err(); err != nil {
		return err
	}
	return k.next.PutWebhook(ctx, w)
}

func (k *killableStore) ListWebhooks(ctx context.Context) ([]*store.Webhook, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.ListWebhooks(ctx)
}

func (k *killableStore) GetWebhook(ctx context.Context, id string) (*store.Webhook, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.GetWebhook(ctx, id)
}

func (k *killableStore) ClaimDeliveries(ctx context.Context, owner string, lease time.Duration, limit int) ([]*store.Delivery, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.ClaimDeliveries(ctx, owner, lease, limit)
}

func (k *killableStore) SaveDelivery(ctx context.Context, owner string, d *store.Delivery) error {
	if err := k.err(); err != nil {
		return err
	}
	return k.next.SaveDelivery(ctx, owner, d)
}

func (k *killableStore) Deliveries(ctx context.Context, webhookID string) ([]*store.Delivery, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.Deliveries(ctx, webhookID)
}

func (k *killableStore) Redeliver(ctx context.Context, id string) error {
	if err := k.err(); err != nil {
		return err
	}
	return k.next.Redeliver(ctx, id)
}
