package emulator

import (
	"sync"
	"time"
)

// quotaWindow is the minute window of one deployment: the requests admitted
// in the last minute, oldest first, and the tokens they are charged.
type quotaWindow struct {
	entries []*quotaEntry
	head    int
	tokens  int
}

type quotaEntry struct {
	at     time.Time
	tokens int
	live   bool // still inside the window
}

// quotaLimiter enforces per-deployment sliding one-minute windows of
// requests and tokens, like Azure OpenAI's RPM and TPM limits.
type quotaLimiter struct {
	q       Quota
	mu      sync.Mutex
	windows map[string]*quotaWindow
}

// admission is the outcome of asking the limiter for room.
type admission struct {
	ok bool
	// kind is "call" (requests) or "token" when refused.
	kind       string
	retryAfter time.Duration
	// Remaining requests and tokens in the window after this decision; -1
	// when that dimension is unlimited.
	remainingRequests, remainingTokens int
	entry                              *quotaEntry
}

const quotaWindowLen = time.Minute

func newQuotaLimiter(q Quota) *quotaLimiter {
	return &quotaLimiter{q: q, windows: map[string]*quotaWindow{}}
}

func (l *quotaLimiter) limited() bool {
	return l.q.RequestsPerMinute > 0 || l.q.TokensPerMinute > 0
}

func (w *quotaWindow) prune(now time.Time) {
	cutoff := now.Add(-quotaWindowLen)
	for w.head < len(w.entries) && !w.entries[w.head].at.After(cutoff) {
		e := w.entries[w.head]
		w.tokens -= e.tokens
		e.live = false
		w.entries[w.head] = nil
		w.head++
	}
	if w.head > 0 && w.head >= len(w.entries)/2 {
		n := copy(w.entries, w.entries[w.head:])
		clear(w.entries[n:])
		w.entries = w.entries[:n]
		w.head = 0
	}
}

// admit charges one request of estimate tokens to deployment, or says how
// long to wait before it would fit.
func (l *quotaLimiter) admit(deployment string, estimate int, now time.Time) admission {
	if !l.limited() {
		return admission{ok: true, remainingRequests: -1, remainingTokens: -1}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[deployment]
	if w == nil {
		w = &quotaWindow{}
		l.windows[deployment] = w
	}
	w.prune(now)
	count := len(w.entries) - w.head
	a := admission{remainingRequests: -1, remainingTokens: -1}
	if rpm := l.q.RequestsPerMinute; rpm > 0 && count >= rpm {
		oldest := w.entries[w.head+count-rpm]
		a.kind, a.retryAfter = "call", oldest.at.Add(quotaWindowLen).Sub(now)
	} else if tpm := l.q.TokensPerMinute; tpm > 0 && w.tokens+estimate > tpm {
		a.kind, a.retryAfter = "token", quotaWindowLen
		if estimate <= tpm {
			freed := 0
			for _, e := range w.entries[w.head:] {
				freed += e.tokens
				if w.tokens-freed+estimate <= tpm {
					a.retryAfter = e.at.Add(quotaWindowLen).Sub(now)
					break
				}
			}
		}
	} else {
		a.ok = true
		a.entry = &quotaEntry{at: now, tokens: estimate, live: true}
		w.entries = append(w.entries, a.entry)
		w.tokens += estimate
		count++
	}
	if a.retryAfter < time.Millisecond && !a.ok {
		a.retryAfter = time.Millisecond
	}
	if rpm := l.q.RequestsPerMinute; rpm > 0 {
		a.remainingRequests = max(rpm-count, 0)
	}
	if tpm := l.q.TokensPerMinute; tpm > 0 {
		a.remainingTokens = max(tpm-w.tokens, 0)
	}
	return a
}

// reconcile replaces an admitted request's estimate by the tokens it really
// used.
func (l *quotaLimiter) reconcile(deployment string, e *quotaEntry, actual int) {
	if e == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.live {
		if w := l.windows[deployment]; w != nil {
			w.tokens += actual - e.tokens
		}
	}
	e.tokens = actual
}

// reset forgets all windows.
func (l *quotaLimiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.windows)
}
