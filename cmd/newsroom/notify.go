package main

import (
	"context"
	"fmt"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/entra"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/server/pgnotify"
	"github.com/newsroom-dev/newsroom/server/redisnotify"
)

// runNotifier is how instances sharing the store tell each other of stored
// events, so a client may follow a run on any of them: Redis pub/sub when
// NEWSROOM_REDIS_URL is set, else PostgreSQL LISTEN/NOTIFY when the store is
// PostgreSQL, else none (SQLite: one instance).
func runNotifier(ctx context.Context, f *storeFlags, storeKind, redisURL string, redisAuth entra.Mode) (server.Notifier, func(), error) {
	if redisURL != "" {
		opt, err := entra.RedisOptions(redisURL, redisAuth, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: NEWSROOM_REDIS_URL: %w", errConfig, err)
		}
		rdb := redis.NewClient(opt)
		return redisnotify.New(rdb, ""), func() { _ = rdb.Close() }, nil
	}
	if storeKind == "postgresql" {
		auth, err := entra.ParseMode(os.Getenv("NEWSROOM_DATABASE_AUTH"))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: NEWSROOM_DATABASE_AUTH: %w", errConfig, err)
		}
		n, err := pgnotify.NewWith(ctx, firstNonEmpty(f.databaseURL, os.Getenv("NEWSROOM_DATABASE_URL")), auth, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", errConfig, err)
		}
		return n, n.Close, nil
	}
	return nil, func() {}, nil
}
