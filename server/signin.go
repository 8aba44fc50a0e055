package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/store"
)

// Cookies of the sign-in. The session holds the person's ID token, verified
// again on every request (signature, issuer, audience, expiry), so any
// instance accepts it and nothing is kept on the server. The CSRF cookie is
// readable by the page, which echoes it in CSRFHeader on every write.
//
// Browsers keep a cookie only when its name and value fit in 4096 bytes,
// and an Entra ID token listing many groups is longer: the token is split
// across sessionCookie ("<parts>.<first part>") and sessionCookie_1,
// sessionCookie_2, ... (the rest), each part under sessionChunk bytes.
const (
	sessionCookie = "newsroom_session"
	// sessionChunk is the most of the token one cookie holds: with the
	// name and the count it stays well under 4000 bytes.
	sessionChunk = 3800
	// maxSessionParts bounds a session's cookies (about 30 KB of token;
	// Entra ID leaves groups out of a token past 200 and says so).
	maxSessionParts = 8
	csrfCookie      = "newsroom_csrf"
	loginCookie     = "newsroom_login"
	// CSRFHeader carries the CSRF cookie's value on cookie-authenticated writes.
	CSRFHeader = "X-CSRF-Token"
)

var errCSRF = &apiError{Status: http.StatusForbidden, Code: "csrf",
	Message: "a signed-in write needs the " + CSRFHeader + " header from the page"}

// OIDCConfig turns on sign-in with OpenID Connect (Microsoft Entra ID).
type OIDCConfig struct {
	// Verifier validates the tokens (identity.New). Required.
	Verifier *identity.Verifier
	// ClientSecret is the application's client secret, when the identity
	// provider requires one for the code exchange (Entra ID's web platform
	// does); empty for a public client.
	ClientSecret string
	// RedirectURL is where the provider sends the browser back:
	// https://HOST/auth/callback. Empty means built from each request's host.
	RedirectURL string
	// Scopes are asked for at sign-in; nil means DefaultScopes. "openid" is
	// always asked for.
	Scopes []string
}

// DefaultScopes are the scopes sign-in asks for when OIDCConfig.Scopes is nil.
var DefaultScopes = []string{"openid", "profile", "email"}

// scopes are the scopes to ask for: the configured ones, with openid.
func (c *OIDCConfig) scopes() []string {
	if len(c.Scopes) == 0 {
		return DefaultScopes
	}
	if slices.Contains(c.Scopes, "openid") {
		return c.Scopes
	}
	return append([]string{"openid"}, c.Scopes...)
}

// personKey turns a signed-in person into the caller the handlers see: the
// id "oidc:<object id>", the name, and the role from the token. A person
// without a known role gets role "none", which grants nothing.
func personKey(p identity.Principal) *store.Key {
	return &store.Key{ID: p.ID, Name: p.Name, Role: p.Role.String(), RoleNote: p.RoleNote}
}

// person authenticates a request by an OpenID Connect bearer token or a
// session cookie. handled is false when the request carries neither (an API
// key, or nothing) or sign-in is off.
func (s *Server) person(r *http.Request, bearer bool, token string) (k *store.Key, handled bool, err error) {
	if s.cfg.OIDC == nil {
		return nil, false, nil
	}
	if bearer && !strings.HasPrefix(token, KeyPrefix) {
		p, err := s.cfg.OIDC.Verifier.Verify(r.Context(), token)
		if err != nil {
			s.log.Info("bearer token refused", "err", err) // the error never holds the token
			return nil, true, errUnauthorized
		}
		return personKey(p), true, nil
	}
	if r.Header.Get("Authorization") != "" {
		return nil, false, nil
	}
	raw, ok := readSession(r)
	if !ok {
		return nil, false, nil
	}
	p, err := s.cfg.OIDC.Verifier.Verify(r.Context(), raw)
	if err != nil {
		s.log.Info("session refused", "err", err)
		return nil, true, errUnauthorized
	}
	if !safeMethod(r.Method) && !s.csrfOK(r) {
		return nil, true, errCSRF
	}
	return personKey(s.withUserInfo(r.Context(), r, p)), true, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// csrfOK checks a cookie-authenticated write: the CSRF header must match the
// CSRF cookie (a page of another site can neither read the cookie nor set
// the header), and an Origin, when sent, must be this site.
func (s *Server) csrfOK(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	h := r.Header.Get(CSRFHeader)
	if err != nil || len(c.Value) < 16 || subtle.ConstantTimeCompare([]byte(c.Value), []byte(h)) != 1 {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return false
		}
	}
	return true
}

// secureCookies reports whether cookies get the Secure flag: behind TLS, or
// behind a proxy that terminated it.
func secureCookies(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func (s *Server) oauthConfig(r *http.Request) *oauth2.Config {
	redirect := s.cfg.OIDC.RedirectURL
	if redirect == "" {
		scheme := "http"
		if secureCookies(r) {
			scheme = "https"
		}
		redirect = scheme + "://" + r.Host + "/auth/callback"
	}
	v := s.cfg.OIDC.Verifier
	return &oauth2.Config{ClientID: v.ClientID(), ClientSecret: s.cfg.OIDC.ClientSecret, Endpoint: v.Endpoint(),
		RedirectURL: redirect, Scopes: s.cfg.OIDC.scopes()}
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration, httpOnly bool) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: httpOnly, Secure: secureCookies(r),
		SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

// sessionPart is the name of the session's i-th cookie (0 is sessionCookie).
func sessionPart(i int) string {
	if i == 0 {
		return sessionCookie
	}
	return sessionCookie + "_" + strconv.Itoa(i)
}

var errTokenTooLarge = errors.New("server: the ID token is too large for the session cookies")

// setSession stores the ID token in the session cookies, each HttpOnly, and
// clears parts a longer earlier session left.
func (s *Server) setSession(w http.ResponseWriter, r *http.Request, raw string, ttl time.Duration) error {
	var parts []string
	for rest := raw; rest != ""; {
		n := min(len(rest), sessionChunk)
		parts = append(parts, rest[:n])
		rest = rest[n:]
	}
	if len(parts) == 0 || len(parts) > maxSessionParts {
		return errTokenTooLarge
	}
	for i, part := range parts {
		if i == 0 {
			part = strconv.Itoa(len(parts)) + "." + part
		}
		s.setCookie(w, r, sessionPart(i), part, ttl, true)
	}
	s.clearSession(w, r, len(parts))
	return nil
}

// clearSession clears the session cookies the request carries from part
// from on.
func (s *Server) clearSession(w http.ResponseWriter, r *http.Request, from int) {
	for i := from; i < maxSessionParts; i++ {
		if _, err := r.Cookie(sessionPart(i)); err == nil {
			s.setCookie(w, r, sessionPart(i), "", -1, true)
		}
	}
}

// readSession joins the ID token of the session cookies; false when there
// is no session or a part is missing (a browser that dropped one).
func readSession(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	count, first, found := strings.Cut(c.Value, ".")
	n, err := strconv.Atoi(count)
	if !found || err != nil || n < 1 || n > maxSessionParts {
		return "", false
	}
	var b strings.Builder
	b.WriteString(first)
	for i := 1; i < n; i++ {
		c, err := r.Cookie(sessionPart(i))
		if err != nil || c.Value == "" {
			return "", false
		}
		b.WriteString(c.Value)
	}
	return b.String(), true
}

// handleLogin starts the authorization code flow with PKCE: state, nonce and
// the code verifier wait in a short-lived cookie.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if s.cfg.OIDC == nil {
		s.writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "sign_in_off", Message: "sign-in is not configured"})
		return
	}
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	s.setCookie(w, r, loginCookie, state+"."+nonce+"."+verifier, 10*time.Minute, true)
	u := s.oauthConfig(r).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce))
	http.Redirect(w, r, u, http.StatusFound)
}

// handleCallback finishes the flow: it checks the state, exchanges the code
// with the verifier, checks the ID token and its nonce, and starts the
// session.
func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) {
	if s.cfg.OIDC == nil {
		s.writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "sign_in_off", Message: "sign-in is not configured"})
		return
	}
	bad := func(msg string) {
		s.writeError(w, r, &apiError{Status: http.StatusBadRequest, Code: "sign_in_failed", Message: msg})
	}
	c, err := r.Cookie(loginCookie)
	parts := []string{}
	if err == nil {
		parts = strings.Split(c.Value, ".")
	}
	s.setCookie(w, r, loginCookie, "", -1, true)
	q := r.URL.Query()
	if len(parts) != 3 || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(q.Get("state"))) != 1 {
		bad("the sign-in did not start here or took too long; sign in again")
		return
	}
	if e := q.Get("error"); e != "" {
		bad("the identity provider refused the sign-in: " + e)
		return
	}
	ctx := r.Context()
	if hc := s.cfg.OIDC.Verifier.HTTPClient(); hc != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	}
	tok, err := s.oauthConfig(r).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(parts[2]))
	if err != nil {
		s.log.Warn("sign-in code exchange failed", "err", errorKind(err))
		bad("the code exchange with the identity provider failed")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	p, err := s.cfg.OIDC.Verifier.VerifyNonce(ctx, raw, parts[1])
	if err != nil {
		s.log.Warn("sign-in ID token refused", "err", err)
		bad("the identity provider's token was not valid")
		return
	}
	ttl := time.Hour
	if !tok.Expiry.IsZero() {
		ttl = max(time.Until(tok.Expiry), time.Minute)
	}
	if err := s.setSession(w, r, raw, ttl); err != nil {
		s.log.Warn("sign-in ID token too large for the session", "bytes", len(raw))
		bad("the identity provider's token is too large to keep (" + strconv.Itoa(len(raw)) + " bytes); ask for fewer groups in it")
		return
	}
	s.setCookie(w, r, csrfCookie, rand.Text(), ttl, false)
	p = s.keepUserInfo(ctx, w, r, p, tok.AccessToken, ttl)
	s.log.Info("signed in", "who", p.ID, "role", p.Role.String())
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// keepUserInfo asks userinfo about a person whose ID token names no role,
// and when it names one keeps the access token for the session's later
// requests (userinfoCookie); else it clears any such cookie.
func (s *Server) keepUserInfo(ctx context.Context, w http.ResponseWriter, r *http.Request, p identity.Principal, accessToken string, ttl time.Duration) identity.Principal {
	if p.Role == identity.RoleNone && accessToken != "" && len(accessToken) <= sessionChunk {
		got, err := s.cfg.OIDC.Verifier.UserInfo(ctx, accessToken, p)
		if err != nil {
			s.log.Warn("reading the signed-in person's userinfo", "who", p.ID, "err", err)
		} else if got.Role != identity.RoleNone {
			s.setCookie(w, r, userinfoCookie, accessToken, ttl, true)
			return got
		}
	}
	if _, err := r.Cookie(userinfoCookie); err == nil {
		s.setCookie(w, r, userinfoCookie, "", -1, true)
	}
	return p
}

// errorKind describes an oauth2 error without the response body, which
// could echo a code or a token.
func errorKind(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return "token endpoint answered " + re.Response.Status + " " + re.ErrorCode
	}
	return "token endpoint unreachable"
}

// handleLogout ends the session (a write: CSRF-checked like any other).
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, _ *store.Key) {
	s.setCookie(w, r, sessionCookie, "", -1, true)
	s.clearSession(w, r, 1)
	s.setCookie(w, r, csrfCookie, "", -1, false)
	if _, err := r.Cookie(userinfoCookie); err == nil {
		s.setCookie(w, r, userinfoCookie, "", -1, true)
	}
	w.WriteHeader(http.StatusNoContent)
}

// MeView is GET /v1/me: who the caller is and what they may do, for the page.
type MeView struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Role string `json:"role"`
	// CanDecide is true for editors-in-chief and admins.
	CanDecide bool `json:"can_decide"`
	// SignIn is true when the service offers sign-in with OpenID Connect.
	SignIn bool `json:"sign_in"`
	// RoleNote says why a signed-in person has no role, when that is known
	// (a token that left out too many groups).
	RoleNote string `json:"role_note,omitempty"`
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, k *store.Key) {
	role := RoleOf(k)
	writeJSON(w, http.StatusOK, MeView{ID: k.ID, Name: k.Name, Role: role.String(),
		CanDecide: role.Allows(identity.RoleEditorInChief), SignIn: s.cfg.OIDC != nil, RoleNote: k.RoleNote})
}

// handleSignInInfo tells the page whether sign-in is offered (no auth).
func (s *Server) handleSignInInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"sign_in": s.cfg.OIDC != nil})
}
