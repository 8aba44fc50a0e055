package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/store"
)

// KeyPrefix starts every API key, so a leaked key is easy to recognise.
const KeyPrefix = "nr_"

// NewKey returns a new random API key secret: KeyPrefix and 32 random
// characters (160 bits).
func NewKey() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return KeyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// HashKey is the hash stored for a key secret (hex SHA-256). Keys are random
// and long, so a fast hash is enough.
func HashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// IssueKey creates a key named name in st and returns its secret, which is
// shown once and never stored. An admin key has the admin role, any other
// the reporter role (see IssueRoleKey).
func IssueKey(ctx context.Context, st store.Store, name string, admin bool, now time.Time) (string, *store.Key, error) {
	role := identity.RoleReporter
	if admin {
		role = identity.RoleAdmin
	}
	return IssueRoleKey(ctx, st, name, role, now)
}

// IssueRoleKey creates a key named name with role in st and returns its
// secret, which is shown once and never stored.
func IssueRoleKey(ctx context.Context, st store.Store, name string, role identity.Role, now time.Time) (string, *store.Key, error) {
	if strings.TrimSpace(name) == "" {
		return "", nil, errors.New("server: key name is required")
	}
	if role <= identity.RoleNone || role > identity.RoleAdmin {
		return "", nil, fmt.Errorf("server: key role: %w", identity.ErrUnknownRole)
	}
	secret := NewKey()
	k := &store.Key{ID: "key_" + randomHex(6), Name: name, Hash: HashKey(secret), Admin: role == identity.RoleAdmin,
		Role: role.String(), CreatedAt: now.UTC()}
	if err := st.CreateKey(ctx, k); err != nil {
		return "", nil, err
	}
	return secret, k, nil
}

type keyCtx struct{}

// authed wraps a /v1 handler: it needs a valid bearer key and charges the
// key's rate limit.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *store.Key)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, secret, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(secret, KeyPrefix) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="newsroom"`)
			s.writeError(w, r, errUnauthorized)
			return
		}
		k, err := s.store.KeyByHash(r.Context(), HashKey(strings.TrimSpace(secret)))
		if errors.Is(err, store.ErrNotFound) || (err == nil && !k.RevokedAt.IsZero()) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="newsroom", error="invalid_token"`)
			s.writeError(w, r, errUnauthorized)
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if wait, ok := s.limits.allow(k.ID); !ok {
			s.writeError(w, r, errRateLimited(wait))
			return
		}
		h(w, r, k)
	}
}

// canSee reports whether key k may see run r: its creator, and
// editors-in-chief and admins (any run).
func canSee(k *store.Key, r *store.Run) bool { return seesAll(k) || r.Owner == k.ID }

// limiter is a token bucket per key.
type limiter struct {
	perMinute int
	now       func() time.Time
	mu        sync.Mutex
	buckets   map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perMinute int, now func() time.Time) *limiter {
	return &limiter{perMinute: perMinute, now: now, buckets: map[string]*bucket{}}
}

// allow takes a token for key; when none is left it returns the wait until one is.
func (l *limiter) allow(key string) (time.Duration, bool) {
	if l.perMinute < 0 {
		return 0, true
	}
	rate := float64(l.perMinute) / 60 // tokens per second
	burst := float64(l.perMinute)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(burst, b.tokens+el*rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration(math.Ceil((1-b.tokens)/rate*1000)) * time.Millisecond, false
}

// contentSecurityPolicy forbids inline script and style and every foreign origin.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// secure sets the security headers on every response and answers CORS: closed
// unless the origin is configured.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if origin := r.Header.Get("Origin"); origin != "" && s.corsAllowed(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "Retry-After, Location")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, Last-Event-ID")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) corsAllowed(origin string) bool {
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}
