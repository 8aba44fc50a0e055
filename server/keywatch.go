package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/store"
)

// keyWatch ends the event streams of revoked keys. One goroutine, running
// only while streams are open, looks up each distinct key of the open
// streams every interval (Config.KeyCheckInterval); the store is the truth,
// so a key revoked through any instance ends its streams on every instance.
// It needs the store's keys only.
type keyWatch struct {
	keys  store.Keys
	every time.Duration
	done  <-chan struct{} // closed at shutdown: the goroutine ends

	mu      sync.Mutex
	subs    map[string]map[*keySub]struct{} // key hash -> its open streams
	running bool
	wg      sync.WaitGroup
}

// keySub is one stream's watch; revoked is closed when its key is revoked.
type keySub struct{ revoked chan struct{} }

func newKeyWatch(keys store.Keys, every time.Duration, done <-chan struct{}) *keyWatch {
	return &keyWatch{keys: keys, every: every, done: done, subs: map[string]map[*keySub]struct{}{}}
}

// watch returns a channel closed when the key with hash is revoked (or
// deleted), and the function that stops watching.
func (kw *keyWatch) watch(hash string) (<-chan struct{}, func()) {
	sub := &keySub{revoked: make(chan struct{})}
	kw.mu.Lock()
	defer kw.mu.Unlock()
	select {
	case <-kw.done:
		return sub.revoked, func() {} // shutting down: the stream ends anyway
	default:
	}
	if kw.subs[hash] == nil {
		kw.subs[hash] = map[*keySub]struct{}{}
	}
	kw.subs[hash][sub] = struct{}{}
	if !kw.running {
		kw.running = true
		kw.wg.Add(1)
		go kw.loop()
	}
	return sub.revoked, func() {
		kw.mu.Lock()
		defer kw.mu.Unlock()
		delete(kw.subs[hash], sub)
		if len(kw.subs[hash]) == 0 {
			delete(kw.subs, hash)
		}
	}
}

// wait returns when the checking goroutine has ended (after Shutdown).
func (kw *keyWatch) wait() { kw.wg.Wait() }

func (kw *keyWatch) loop() {
	defer kw.wg.Done()
	t := time.NewTicker(kw.every)
	defer t.Stop()
	for {
		select {
		case <-kw.done:
			kw.mu.Lock()
			kw.running = false
			kw.mu.Unlock()
			return
		case <-t.C:
		}
		kw.mu.Lock()
		if len(kw.subs) == 0 {
			kw.running = false
			kw.mu.Unlock()
			return
		}
		hashes := make([]string, 0, len(kw.subs))
		for h := range kw.subs {
			hashes = append(hashes, h)
		}
		kw.mu.Unlock()
		for _, h := range hashes {
			if kw.revoked(h) {
				kw.mu.Lock()
				for sub := range kw.subs[h] {
					close(sub.revoked)
				}
				delete(kw.subs, h)
				kw.mu.Unlock()
			}
		}
	}
}

// revoked reports whether the key is revoked or gone; a store error is not a
// revocation (the next check asks again).
func (kw *keyWatch) revoked(hash string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), kw.every*4)
	defer cancel()
	k, err := kw.keys.KeyByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return true
	}
	return err == nil && !k.RevokedAt.IsZero()
}
