package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
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
func IssueKey(ctx context.Context, st store.Keys, name string, admin bool, now time.Time) (string, *store.Key, error) {
	role := identity.RoleReporter
	if admin {
		role = identity.RoleAdmin
	}
	return IssueRoleKey(ctx, st, name, role, now)
}

// IssueRoleKey creates a key named name with role in st and returns its
// secret, which is shown once and never stored.
func IssueRoleKey(ctx context.Context, st store.Keys, name string, role identity.Role, now time.Time) (string, *store.Key, error) {
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

// authed wraps a /v1 handler: it needs a valid bearer key and charges the
// key's rate limit. Requests without a valid key are counted against their
// client address, and an address over its limit is refused before the
// store is asked.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *store.Key)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, hash, err := s.authenticate(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if wait, ok := s.allowKey(r.Context(), k.ID); !ok {
			s.writeError(w, r, errRateLimited(wait))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), keyHashCtx{}, hash)), k)
	}
}

// allowKey charges a request to key id: the service-wide KeyLimiter when
// configured (this process's bucket when it fails), else this process's.
func (s *Server) allowKey(ctx context.Context, id string) (time.Duration, bool) {
	if s.cfg.KeyLimiter != nil && s.cfg.KeyRateLimit > 0 {
		wait, ok, err := s.cfg.KeyLimiter.Allow(ctx, id)
		if err == nil {
			return wait, ok
		}
		s.log.Warn("shared rate limiter failed; limiting this key per instance", "key_id", id, "err", err)
	}
	return s.limits.allow(id)
}

// keyHashCtx carries the hash of the request's key, for handlers that watch
// it (event streams end when it is revoked).
type keyHashCtx struct{}

// authenticate finds the request's unrevoked key and returns it with its
// hash. The key is checked first: a valid key (or token, or session) is
// never refused by the failure limit, even while its client address (a
// shared proxy) floods bad ones. A request that does not authenticate costs
// its client address a token of the failure limit, and is refused 429 once
// the address has none left.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*store.Key, string, error) {
	fail := func(challenge string) (*store.Key, string, error) {
		if s.authFails != nil {
			if wait, ok := s.authFails.allow(s.clientAddr(r)); !ok {
				return nil, "", errAuthRateLimited(wait)
			}
		}
		w.Header().Set("WWW-Authenticate", challenge)
		return nil, "", errUnauthorized
	}
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if p, handled, err := s.person(r, ok && strings.EqualFold(scheme, "Bearer"), secret); handled {
		if errors.Is(err, errCSRF) {
			return nil, "", err
		}
		if err != nil {
			return fail(`Bearer realm="newsroom", error="invalid_token"`)
		}
		return p, "", nil
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(secret, KeyPrefix) {
		return fail(`Bearer realm="newsroom"`)
	}
	hash := HashKey(secret)
	k, err := s.keyStore.KeyByHash(r.Context(), hash)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !k.RevokedAt.IsZero()) {
		return fail(`Bearer realm="newsroom", error="invalid_token"`)
	}
	if err != nil {
		return nil, "", err
	}
	return k, hash, nil
}

// PresentedCredentials reports whether a request carries credentials (an
// Authorization header or a session cookie): a 401 to such a request is an
// authentication failure, while one to a request without any (a visitor's
// page asking GET /v1/me) is not.
func PresentedCredentials(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	_, err := r.Cookie(sessionCookie)
	return err == nil
}

// clientAddr is the address a request comes from: the last entry of
// ClientIPHeader when configured (the one the load balancer added), else the
// connection's remote host.
func (s *Server) clientAddr(r *http.Request) string {
	if h := s.cfg.ClientIPHeader; h != "" {
		if v := r.Header.Values(h); len(v) > 0 {
			last := v[len(v)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if a := strings.TrimSpace(last); a != "" {
				return hostOnly(a)
			}
		}
	}
	return hostOnly(r.RemoteAddr)
}

// hostOnly drops a port: "1.2.3.4:5678" and "[::1]:80" become hosts.
func hostOnly(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// handleMetrics serves the Prometheus exposition to admin keys, to
// MetricsKey, or to anyone with MetricsPublic.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.MetricsPublic {
		_, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		secret = strings.TrimSpace(secret)
		if s.cfg.MetricsKey == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.MetricsKey)) != 1 {
			k, _, err := s.authenticate(w, r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if err := need(k, identity.RoleAdmin); err != nil { // a signed-in admin too
				s.writeError(w, r, err)
				return
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	s.cfg.Metrics.ServeHTTP(w, r)
}

// canSee reports whether key k may see run r: its creator, and
// editors-in-chief and admins (any run).
func canSee(k *store.Key, r *store.Run) bool { return seesAll(k) || r.Owner == k.ID }

// limiter is a token bucket per name (an API key's id, a client address).
type limiter struct {
	rate  float64 // tokens per second; <= 0: no limit
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds a limiter's memory: beyond it, buckets that have refilled
// (and so hold no state worth keeping) are dropped.
const maxBuckets = 10_000

func newLimiter(perSecond, burst float64, now func() time.Time) *limiter {
	return &limiter{rate: perSecond, burst: max(burst, 1), now: now, buckets: map[string]*bucket{}}
}

// refill returns name's bucket brought up to now; l.mu is held.
func (l *limiter) refill(name string, now time.Time) *bucket {
	b := l.buckets[name]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			for n, o := range l.buckets {
				if o.tokens+now.Sub(o.last).Seconds()*l.rate >= l.burst {
					delete(l.buckets, n)
				}
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[name] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
	}
	b.last = now
	return b
}

// allow takes a token for name; when none is left it returns the wait until one is.
func (l *limiter) allow(name string) (time.Duration, bool) {
	if l.rate <= 0 {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(name, l.now())
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return l.wait(b), false
}

func (l *limiter) wait(b *bucket) time.Duration {
	return time.Duration(math.Ceil((1-b.tokens)/l.rate*1000)) * time.Millisecond
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
