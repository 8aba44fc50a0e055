// Package memory is an in-process cache.Store: a least-recently-used map
// bounded in entries and in bytes, with a time to live per entry.
package memory

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/model/cache"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxEntries = 10_000
	DefaultMaxBytes   = 64 << 20
)

// Config configures a Store.
type Config struct {
	// MaxEntries bounds the number of entries; 0 means DefaultMaxEntries.
	MaxEntries int
	// MaxBytes bounds the estimated size of the entries (cache.Entry.Size
	// plus the key); 0 means DefaultMaxBytes. An entry larger than the bound
	// is not stored.
	MaxBytes int
	// Now is the clock for expiry; nil means time.Now.
	Now func() time.Time
}

// Store is an LRU cache.Store. It is safe for concurrent use.
type Store struct {
	cfg   Config
	mu    sync.Mutex
	ll    *list.List // front = most recently used
	items map[string]*list.Element
	bytes int
}

var _ cache.Store = (*Store)(nil)

type item struct {
	key     string
	entry   cache.Entry
	expires time.Time
	size    int
}

// New returns an empty Store.
func New(cfg Config) *Store {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{cfg: cfg, ll: list.New(), items: make(map[string]*list.Element)}
}

// Get returns the entry for key unless it is missing or expired; a hit makes
// it the most recently used.
func (s *Store) Get(_ context.Context, key string) (cache.Entry, bool, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[key]
	if !ok {
		return cache.Entry{}, false, nil
	}
	it := el.Value.(*item)
	if !now.Before(it.expires) {
		s.remove(el)
		return cache.Entry{}, false, nil
	}
	s.ll.MoveToFront(el)
	return it.entry, true, nil
}

// Set stores e under key for ttl (0 or less: cache.DefaultTTL), evicting
// the least recently used entries to stay within the bounds.
func (s *Store) Set(_ context.Context, key string, e cache.Entry, ttl time.Duration) error {
	it := &item{key: key, entry: e, expires: s.cfg.Now().Add(cache.EntryTTL(ttl)), size: e.Size() + len(key)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		s.remove(el)
	}
	if it.size > s.cfg.MaxBytes {
		return nil
	}
	s.items[key] = s.ll.PushFront(it)
	s.bytes += it.size
	for s.ll.Len() > s.cfg.MaxEntries || s.bytes > s.cfg.MaxBytes {
		s.remove(s.ll.Back())
	}
	return nil
}

// Len returns the number of entries held, expired ones included until they
// are touched or evicted.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ll.Len()
}

func (s *Store) remove(el *list.Element) {
	it := el.Value.(*item)
	s.ll.Remove(el)
	delete(s.items, it.key)
	s.bytes -= it.size
}
