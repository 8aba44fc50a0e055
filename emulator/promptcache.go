package emulator

import (
	"hash/fnv"
	"sync"

	"github.com/newsroom-dev/newsroom/model"
)

// Azure's prompt caching, as the emulator plays it: a prompt whose first
// 1,024 tokens or more repeat an earlier prompt's on the same deployment is
// served partly from cache, and usage.prompt_tokens_details.cached_tokens
// says how much, in increments of 128 tokens.
//
// The emulator compares whole messages: the cached part is the longest run
// of leading messages (role, name and content) an earlier prompt began with.
// Agents append to their conversation, so each call's prompt starts with the
// previous one's messages and this matches what the service reports; a
// prefix that ends inside a message is not counted, and entries do not
// expire with time (the service keeps them for minutes of inactivity).
const (
	cacheMinPrefix  = 1024
	cacheIncrement  = 128
	cacheMaxEntries = 1 << 16
)

type promptCache struct {
	mu   sync.Mutex
	seen map[uint64]struct{} // hash of (deployment, leading messages)
}

func newPromptCache() *promptCache { return &promptCache{seen: map[uint64]struct{}{}} }

// lookup returns the cached tokens of a prompt (tokens[i] are message i's
// tokens, overhead included) and remembers its prefixes.
func (p *promptCache) lookup(deployment string, msgs []model.Message, tokens []int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(deployment))
	keys := make([]uint64, len(msgs))
	sep := []byte{0}
	for i, m := range msgs {
		for _, part := range []string{string(m.Role), m.Name, m.Content} {
			_, _ = h.Write([]byte(part))
			_, _ = h.Write(sep)
		}
		keys[i] = h.Sum64()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	shared, total := 0, 0
	for i, k := range keys {
		total += tokens[i]
		if _, ok := p.seen[k]; ok {
			shared = total
		}
	}
	if len(p.seen)+len(keys) > cacheMaxEntries {
		clear(p.seen) // the service evicts too; a cold cache only costs money
	}
	for _, k := range keys {
		p.seen[k] = struct{}{}
	}
	if shared < cacheMinPrefix {
		return 0
	}
	return shared / cacheIncrement * cacheIncrement
}
