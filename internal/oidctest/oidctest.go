// Package oidctest is an OpenID Connect issuer for tests: a TLS server on
// loopback with a discovery document, a JWKS whose keys can be rotated, and
// the authorization code flow with PKCE (S256) for one configured person, so
// sign-in can be tested end to end without a cloud identity provider. The
// same server answers Microsoft Graph's POST /v1.0/users/{id}/checkMemberGroups
// (see SetGraph), for tokens that leave out their groups.
//
// Tokens are real RS256 JWTs signed with keys generated at start; the issuer
// also makes the bad tokens a verifier must refuse (HS256, alg none, unknown
// key).
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Issuer is a running test issuer.
type Issuer struct {
	srv *httptest.Server
	// ClientID is the audience of the tokens it makes by default.
	ClientID string

	mu     sync.Mutex
	keys   []*rsa.PrivateKey // published; the last one signs
	kids   []string
	next   int
	codes  map[string]grant
	user   map[string]any
	jwksN  int // JWKS fetches, to see rotation refetches
	authzN int

	// Microsoft Graph's checkMemberGroups, for group overage
	graphAuth    func(bearer string) bool
	graphMembers map[string][]string // user object id -> groups
	graphCalls   int
}

type grant struct {
	challenge, redirect, nonce string
	claims                     map[string]any
}

// Start starts an issuer whose tokens are for clientID; it stops with t.
func Start(t testing.TB, clientID string) *Issuer {
	t.Helper()
	return start(t, clientID, httptest.NewTLSServer)
}

// StartPlain is Start over plain HTTP on loopback, for a test of a program
// that builds its own HTTP client (which does not trust the test's TLS
// certificate).
func StartPlain(t testing.TB, clientID string) *Issuer {
	t.Helper()
	return start(t, clientID, httptest.NewServer)
}

func start(t testing.TB, clientID string, newServer func(http.Handler) *httptest.Server) *Issuer {
	t.Helper()
	iss := &Issuer{ClientID: clientID, codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", iss.discovery)
	mux.HandleFunc("GET /keys", iss.jwks)
	mux.HandleFunc("GET /authorize", iss.authorize)
	mux.HandleFunc("POST /token", iss.token)
	mux.HandleFunc("POST /v1.0/users/{id}/checkMemberGroups", iss.checkMemberGroups)
	iss.srv = newServer(mux)
	t.Cleanup(iss.srv.Close)
	iss.Rotate(t, false)
	return iss
}

// URL is the issuer URL (the iss claim).
func (iss *Issuer) URL() string { return iss.srv.URL }

// Client is an HTTP client that trusts the issuer's certificate.
func (iss *Issuer) Client() *http.Client { return iss.srv.Client() }

// Server is the TLS server, for its certificate.
func (iss *Issuer) Server() *httptest.Server { return iss.srv }

// JWKSFetches is how many times the key set was fetched.
func (iss *Issuer) JWKSFetches() int {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.jwksN
}

// Rotate adds a new signing key; with retireOld, the keys before it are no
// longer published (tokens they signed stop verifying).
func (iss *Issuer) Rotate(t testing.TB, retireOld bool) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.next++
	if retireOld {
		iss.keys, iss.kids = nil, nil
	}
	iss.keys = append(iss.keys, k)
	iss.kids = append(iss.kids, "key-"+strconv.Itoa(iss.next))
}

// SetUser sets the claims of the person who signs in through /authorize
// (sub, name, email, roles, groups, ...).
func (iss *Issuer) SetUser(claims map[string]any) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.user = maps.Clone(claims)
}

// Claims returns valid claims for subject: this issuer, the client id as
// audience, issued now, expiring in an hour.
func (iss *Issuer) Claims(subject string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": iss.URL(), "aud": iss.ClientID, "sub": subject,
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}
}

// Sign signs claims with the current key (RS256).
func (iss *Issuer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	iss.mu.Lock()
	k, kid := iss.keys[len(iss.keys)-1], iss.kids[len(iss.kids)-1]
	iss.mu.Unlock()
	return SignRS256(t, k, kid, claims)
}

// SignRS256 signs claims with key under kid.
func SignRS256(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	return sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, claims)
}

// SignHS256 signs claims with a symmetric key, as an attacker who knows the
// public key might try (key confusion).
func SignHS256(t testing.TB, secret []byte, kid string, claims map[string]any) string {
	t.Helper()
	return sign(t, jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: secret, KeyID: kid}}, claims)
}

// Unsigned makes a token with "alg": "none" and an empty signature.
func Unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}

// NewKey makes an RSA key the issuer never published.
func NewKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// PublicKeyBytes returns the current key's modulus, the "secret" a key
// confusion attack would use.
func (iss *Issuer) PublicKeyBytes() []byte {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.keys[len(iss.keys)-1].N.Bytes()
}

// CurrentKID is the id of the signing key.
func (iss *Issuer) CurrentKID() string {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.kids[len(iss.kids)-1]
}

func sign(t testing.TB, key jose.SigningKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (iss *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	u := iss.URL()
	writeJSON(w, map[string]any{
		"issuer":                                u,
		"authorization_endpoint":                u + "/authorize",
		"token_endpoint":                        u + "/token",
		"jwks_uri":                              u + "/keys",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (iss *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	iss.mu.Lock()
	iss.jwksN++
	set := jose.JSONWebKeySet{}
	for i, k := range iss.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: iss.kids[i], Algorithm: "RS256", Use: "sig"})
	}
	iss.mu.Unlock()
	writeJSON(w, set)
}

// authorize signs the configured person in at once (no login page) and
// redirects back with a one-time code bound to the PKCE challenge.
func (iss *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != iss.ClientID || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("redirect_uri") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	iss.mu.Lock()
	user := maps.Clone(iss.user)
	iss.authzN++
	code := "code-" + strconv.Itoa(iss.authzN) + "-" + rand.Text()
	iss.codes[code] = grant{challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), nonce: q.Get("nonce"), claims: user}
	iss.mu.Unlock()
	if user == nil {
		http.Error(w, "no user configured", http.StatusForbidden)
		return
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token exchanges a code for an ID token after checking the PKCE verifier.
func (iss *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	code := r.PostForm.Get("code")
	iss.mu.Lock()
	g, ok := iss.codes[code]
	delete(iss.codes, code)
	k, kid := iss.keys[len(iss.keys)-1], iss.kids[len(iss.kids)-1]
	iss.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("redirect_uri") != g.redirect ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	now := time.Now()
	claims := map[string]any{"iss": iss.URL(), "aud": iss.ClientID, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	maps.Copy(claims, g.claims)
	idt := signNoT(k, kid, claims)
	writeJSON(w, map[string]any{"access_token": idt, "id_token": idt, "token_type": "Bearer", "expires_in": 3600})
}

// signNoT signs without a testing.TB (inside a handler); a failure is a bug
// in this package and panics.
func signNoT(k *rsa.PrivateKey, kid string, claims map[string]any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		panic(fmt.Sprintf("oidctest: %v", err))
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		panic(fmt.Sprintf("oidctest: %v", err))
	}
	out, _ := obj.CompactSerialize()
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// SetGraph makes the server answer Microsoft Graph's checkMemberGroups:
// auth decides which bearer tokens are good, members maps a user's object
// id to the groups they are in.
func (iss *Issuer) SetGraph(auth func(bearer string) bool, members map[string][]string) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.graphAuth, iss.graphMembers = auth, members
}

// GraphCalls is how many checkMemberGroups requests were answered 200.
func (iss *Issuer) GraphCalls() int {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.graphCalls
}

// checkMemberGroups answers as Graph v1.0 does: 401 without a good bearer
// token, 400 for a bad body or more than 20 ids, 404 for an unknown user,
// else the asked ids the user is a member of, as {"value": [...]}.
func (iss *Issuer) checkMemberGroups(w http.ResponseWriter, r *http.Request) {
	graphError := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
	iss.mu.Lock()
	auth, members := iss.graphAuth, iss.graphMembers
	iss.mu.Unlock()
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if auth == nil || !ok || !auth(bearer) {
		graphError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
		return
	}
	var body struct {
		GroupIDs []string `json:"groupIds"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.GroupIDs) == 0 {
		graphError(http.StatusBadRequest, "Request_BadRequest", "groupIds is required.")
		return
	}
	if len(body.GroupIDs) > 20 {
		graphError(http.StatusBadRequest, "Request_BadRequest", "At most 20 groupIds may be checked per request.")
		return
	}
	groups, known := members[r.PathValue("id")]
	if !known {
		graphError(http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+r.PathValue("id")+"' does not exist.")
		return
	}
	value := []string{}
	for _, g := range body.GroupIDs {
		if slices.Contains(groups, g) {
			value = append(value, g)
		}
	}
	iss.mu.Lock()
	iss.graphCalls++
	iss.mu.Unlock()
	writeJSON(w, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)", "value": value})
}
