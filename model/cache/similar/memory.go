package similar

import (
	"context"
	"sync"
	"time"
)

// MemoryIndex is an Index in process memory, beside the memory store.
type MemoryIndex struct {
	mu      sync.Mutex
	max     int
	buckets map[string][]memVector
	now     func() time.Time
}

type memVector struct {
	Vector
	expires time.Time
}

var _ Index = (*MemoryIndex)(nil)

// NewMemoryIndex returns an index keeping at most max vectors per bucket
// (0: DefaultMaxBucket).
func NewMemoryIndex(max int) *MemoryIndex {
	if max <= 0 {
		max = DefaultMaxBucket
	}
	return &MemoryIndex{max: max, buckets: map[string][]memVector{}, now: time.Now}
}

// Add stores v in bucket; the oldest vector goes when the bucket is full.
func (m *MemoryIndex) Add(_ context.Context, bucket string, v Vector, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := append(m.buckets[bucket], memVector{Vector: v, expires: m.now().Add(ttl)})
	if len(b) > m.max {
		b = b[len(b)-m.max:]
	}
	m.buckets[bucket] = b
	return nil
}

// Candidates returns the bucket's live vectors.
func (m *MemoryIndex) Candidates(_ context.Context, bucket string) ([]Vector, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []Vector
	live := m.buckets[bucket][:0]
	for _, v := range m.buckets[bucket] {
		if now.Before(v.expires) {
			out = append(out, v.Vector)
			live = append(live, v)
		}
	}
	m.buckets[bucket] = live
	return out, nil
}
