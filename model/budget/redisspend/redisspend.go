// Package redisspend keeps the daily spending of every instance of the
// service in one Redis counter per UTC day (INCRBYFLOAT), so the daily
// budget (budget.DailyConfig.Shared) holds for the service, not per process.
package redisspend

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/model/budget"
)

var _ budget.SpendStore = (*Store)(nil)

// Config configures a Store.
type Config struct {
	// Client is the shared Redis. Required.
	Client *redis.Client
	// Prefix starts the day keys; empty means "newsroom:spend:".
	Prefix string
}

// Store is a budget.SpendStore in Redis. A day's key expires two days after
// its last write.
type Store struct {
	rdb    *redis.Client
	prefix string
}

// New returns a Store, or an error without a Client.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("redisspend: Client is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "newsroom:spend:"
	}
	return &Store{rdb: cfg.Client, prefix: cfg.Prefix}, nil
}

// Add adds usd to day's total and returns the new total.
func (s *Store) Add(ctx context.Context, day string, usd float64) (float64, error) {
	key := s.prefix + day
	var incr *redis.FloatCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.IncrByFloat(ctx, key, usd)
		p.Expire(ctx, key, 48*time.Hour)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return incr.Val(), nil
}

// Spent returns day's total (0 for a day nothing was spent on).
func (s *Store) Spent(ctx context.Context, day string) (float64, error) {
	v, err := s.rdb.Get(ctx, s.prefix+day).Float64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, err
}
