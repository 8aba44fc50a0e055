package server

import (
	"context"
	"crypto/sha256"
	"net/http"
	"sync"
	"time"

	"github.com/newsroom-dev/newsroom/identity"
)

// A provider that releases a person's roles or groups at its userinfo
// endpoint only (OpenID Connect Core's code flow, as oidc-provider does by
// default) gives an ID token without them. For such a sign-in the callback
// keeps the access token in userinfoCookie (HttpOnly, as long as the
// session), and a session whose ID token names no role asks userinfo with
// it, at most once per userinfoTTL per instance (userinfoCache): any
// instance can, and nothing is kept but the cache.
const (
	userinfoCookie = "newsroom_userinfo"
	userinfoTTL    = 5 * time.Minute
	// maxUserinfoEntries bounds the cache; past it, it starts afresh.
	maxUserinfoEntries = 10_000
)

// userinfoCache remembers what userinfo said about an access token.
type userinfoCache struct {
	mu      sync.Mutex
	entries map[[32]byte]userinfoEntry
}

type userinfoEntry struct {
	p     identity.Principal
	until time.Time
}

func newUserinfoCache() *userinfoCache {
	return &userinfoCache{entries: map[[32]byte]userinfoEntry{}}
}

// withUserInfo returns p with the claims userinfo gives for the request's
// access token counted, when p has no role and the sign-in kept one; else
// p unchanged.
func (s *Server) withUserInfo(ctx context.Context, r *http.Request, p identity.Principal) identity.Principal {
	c, err := r.Cookie(userinfoCookie)
	if p.Role != identity.RoleNone || err != nil || c.Value == "" {
		return p
	}
	key := sha256.Sum256([]byte(p.Subject + "\x00" + c.Value))
	now := s.now()
	uc := s.userinfo
	uc.mu.Lock()
	e, ok := uc.entries[key]
	uc.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.p
	}
	got, err := s.cfg.OIDC.Verifier.UserInfo(ctx, c.Value, p)
	if err != nil {
		s.log.Warn("reading the signed-in person's userinfo", "who", p.ID, "err", err) // never the token
		return p
	}
	uc.mu.Lock()
	if len(uc.entries) >= maxUserinfoEntries {
		clear(uc.entries)
	}
	uc.entries[key] = userinfoEntry{p: got, until: now.Add(userinfoTTL)}
	uc.mu.Unlock()
	return got
}
