// Package redis is a cache.Store in Redis (github.com/redis/go-redis/v9), for
// several newsroom instances sharing one cache. Entries are JSON strings set
// with an EX time to live, under a key prefix; Redis's own maxmemory policy
// bounds the size.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/model/cache"
)

// DefaultPrefix is the key prefix when Config.Prefix is empty.
const DefaultPrefix = "newsroom:cache:"

// Config configures a Store.
type Config struct {
	// Client is the Redis client to use; the Store does not close it. When
	// nil, the Store connects to Addr and Close closes that connection.
	Client goredis.UniversalClient
	// Addr is "host:port", used when Client is nil.
	Addr string
	// Prefix is put before every key; empty means DefaultPrefix.
	Prefix string
}

// Store is a cache.Store in Redis. It is safe for concurrent use.
type Store struct {
	rdb    goredis.UniversalClient
	prefix string
	owned  bool
}

var _ cache.Store = (*Store)(nil)

// New returns a Store. It does not contact the server; use Ping to check it.
func New(cfg Config) (*Store, error) {
	s := &Store{rdb: cfg.Client, prefix: cfg.Prefix}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.rdb == nil {
		if cfg.Addr == "" {
			return nil, errors.New("redis: cache: neither Client nor Addr")
		}
		s.rdb = goredis.NewClient(&goredis.Options{Addr: cfg.Addr})
		s.owned = true
	}
	return s, nil
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: redis ping: %w", cache.ErrStore, err)
	}
	return nil
}

// Close closes the connection the Store opened itself, if any.
func (s *Store) Close() error {
	if s.owned {
		return s.rdb.Close()
	}
	return nil
}

// Get returns the entry for key unless it is missing or expired.
func (s *Store) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	b, err := s.rdb.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return cache.Entry{}, false, nil
	}
	if err != nil {
		return cache.Entry{}, false, fmt.Errorf("%w: redis get: %w", cache.ErrStore, err)
	}
	return cache.DecodeEntry("redis get", b)
}

// Set stores e under key with an EX of ttl (0 or less: cache.DefaultTTL).
// Redis keeps whole seconds, so ttl is rounded up to at least one second.
func (s *Store) Set(ctx context.Context, key string, e cache.Entry, ttl time.Duration) error {
	ttl = cache.EntryTTL(ttl)
	ttl = (ttl + time.Second - 1).Truncate(time.Second)
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%w: redis set: %w", cache.ErrStore, err)
	}
	if err := s.rdb.Set(ctx, s.prefix+key, b, ttl).Err(); err != nil {
		return fmt.Errorf("%w: redis set: %w", cache.ErrStore, err)
	}
	return nil
}
