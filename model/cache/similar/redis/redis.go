// Package redis is a similar.Index in Redis, beside the Redis response
// cache: one hash per bucket (answer key → fingerprint and vector), which
// lives as long as its newest vector.
package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/model/cache/similar"
)

// DefaultPrefix is the key prefix when none is given.
const DefaultPrefix = "newsroom:similar:"

// Index is a similar.Index in Redis. It is safe for concurrent use.
type Index struct {
	rdb    goredis.UniversalClient
	prefix string
	max    int
}

var _ similar.Index = (*Index)(nil)

// New returns an index over rdb (not closed by the index) with a key prefix
// ("" means DefaultPrefix); maxBucket bounds a bucket (0: the default).
func New(rdb goredis.UniversalClient, prefix string, maxBucket int) *Index {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if maxBucket <= 0 {
		maxBucket = similar.DefaultMaxBucket
	}
	return &Index{rdb: rdb, prefix: prefix, max: maxBucket}
}

// Add stores v in bucket and renews the bucket's time to live.
func (x *Index) Add(ctx context.Context, bucket string, v similar.Vector, ttl time.Duration) error {
	k := x.prefix + bucket
	val := append([]byte(v.Fingerprint+"\x00"), similar.EncodeVector(v.Embedding)...)
	pipe := x.rdb.TxPipeline()
	pipe.HSet(ctx, k, v.Key, val)
	pipe.Expire(ctx, k, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis: similar index add: %w", err)
	}
	return nil
}

// Candidates returns the bucket's vectors (at most the bound).
func (x *Index) Candidates(ctx context.Context, bucket string) ([]similar.Vector, error) {
	m, err := x.rdb.HGetAll(ctx, x.prefix+bucket).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: similar index: %w", err)
	}
	out := make([]similar.Vector, 0, min(len(m), x.max))
	for key, val := range m {
		if len(out) == x.max {
			break
		}
		for i := 0; i < len(val); i++ {
			if val[i] == 0 {
				out = append(out, similar.Vector{Key: key, Fingerprint: val[:i], Embedding: similar.DecodeVector([]byte(val[i+1:]))})
				break
			}
		}
	}
	return out, nil
}
