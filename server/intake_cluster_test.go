package server

import (
	"context"
	"time"

	"github.com/newsroom-dev/newsroom/store"
)

// The inbox, for a killable instance's store (cluster_test.go).

func (k *killableStore) AdmitItem(ctx context.Context, it store.InboxItem, run *store.Run) (store.InboxItem, bool, error) {
	if err := k.err(); err != nil {
		return store.InboxItem{}, false, err
	}
	return k.next.AdmitItem(ctx, it, run)
}

func (k *killableStore) DeferredItems(ctx context.Context, limit int) ([]store.InboxItem, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.DeferredItems(ctx, limit)
}

func (k *killableStore) InboxStats(ctx context.Context, since time.Time) ([]store.InboxStats, error) {
	if err := k.err(); err != nil {
		return nil, err
	}
	return k.next.InboxStats(ctx, since)
}
