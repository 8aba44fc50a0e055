package main

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/entra"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/server/pgnotify"
	"github.com/newsroom-dev/newsroom/server/redisnotify"
)

// runNotifier is how instances sharing the store tell each other of stored
// events, so a client may follow a run on any of them: Redis pub/sub when
// a Redis URL is configured, else PostgreSQL LISTEN/NOTIFY when the store
// is PostgreSQL (the same database and sign-in as the store's), else none
// (SQLite: one instance).
func runNotifier(ctx context.Context, cfg *config.Config) (server.Notifier, func(), error) {
	if cfg.RedisURL.IsSet() {
		opt, err := entra.RedisOptions(cfg.RedisURL.Value(), cfg.RedisAuth, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s (from %s): %w", errConfig, config.RedisURL, cfg.Source(config.RedisURL), err)
		}
		rdb := redis.NewClient(opt)
		return redisnotify.New(rdb, ""), func() { _ = rdb.Close() }, nil
	}
	if cfg.UsesPostgres() {
		n, err := pgnotify.NewWith(ctx, cfg.DatabaseURL.Value(), cfg.DatabaseAuth, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", errConfig, err)
		}
		return n, n.Close, nil
	}
	return nil, func() {}, nil
}
