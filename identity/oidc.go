package identity

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Principal is an authenticated caller.
type Principal struct {
	// ID says who it is, as decisions record it: "key:<key id>" for an API
	// key, "oidc:<subject>" for a signed-in person.
	ID string `json:"id"`
	// Name is a display name (the key's name, or the person's name or email).
	Name string `json:"name,omitempty"`
	// Role is what the caller may do.
	Role Role `json:"role"`
	// RoleNote says why the groups claim gave no role when the token left
	// its groups out (group overage) and they could not be read elsewhere;
	// empty otherwise.
	RoleNote string `json:"role_note,omitempty"`
	// Subject is the ID token's subject, for matching the userinfo
	// endpoint's answer (UserInfo); empty for an API key.
	Subject string `json:"-"`
}

// noRoleClaims is the RoleNote of a person whose sign-in named no roles and
// no groups anywhere the service looked.
const noRoleClaims = "the identity provider sent neither a roles nor a groups claim (in the ID token or from userinfo); " +
	"give the person a role there, or ask for the scope that releases those claims (serve --oidc-scopes)"

// Errors returned by the Verifier. Their messages never contain the token.
var (
	// ErrInvalidToken is returned for a token that does not verify.
	ErrInvalidToken = errors.New("identity: invalid token")
	// ErrNoConfig is returned by New without an issuer or a client id.
	ErrNoConfig = errors.New("identity: OpenID Connect needs an issuer URL and a client id")
	// ErrInsecureIssuer is returned by New for an issuer URL that is not
	// https (plain http is accepted on loopback only, for tests).
	ErrInsecureIssuer = errors.New("identity: the issuer URL must be https (OpenID Connect requires TLS; plain http only on loopback)")
)

// signingAlgs are the algorithms accepted: asymmetric only, so neither a
// symmetric key (HS256 made with the public key) nor "none" can pass.
var signingAlgs = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512}

// Config configures a Verifier.
type Config struct {
	// Issuer is the issuer URL; its discovery document is read at New. For
	// Entra ID: https://login.microsoftonline.com/<tenant id>/v2.0. Required.
	Issuer string
	// ClientID is the application (client) id the tokens must be issued to
	// (the aud claim). Required.
	ClientID string
	// RoleMap maps the groups claim to roles, for tenants that use groups
	// rather than app roles. Nil means only the roles claim counts.
	RoleMap RoleMap
	// Groups reads a person's groups when the token left them out because
	// there are too many (group overage): only the groups in RoleMap are
	// asked about. Nil means such a person gets a role from the roles
	// claim only, and Principal.RoleNote says why.
	Groups GroupChecker
	// HTTPClient fetches the discovery document and the keys; nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock for expiry, not-before and the key cache; nil means time.Now.
	Now func() time.Time
	// DiscoveryTimeout bounds the reading of the discovery document at New,
	// so an issuer that accepts and never answers fails start-up; 0 means
	// DefaultDiscoveryTimeout.
	DiscoveryTimeout time.Duration
	// KeysMaxAge is how long fetched keys are trusted before the key set is
	// fetched again, so a key the issuer retired stops verifying; 0 means
	// DefaultKeysMaxAge. A token naming a key not yet seen fetches at once.
	KeysMaxAge time.Duration
}

// DefaultKeysMaxAge is the default Config.KeysMaxAge.
const DefaultKeysMaxAge = time.Hour

// DefaultDiscoveryTimeout is the default Config.DiscoveryTimeout.
const DefaultDiscoveryTimeout = 15 * time.Second

// checkIssuer refuses an issuer URL that is not absolute https, but for
// plain http to a loopback host.
func checkIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return fmt.Errorf("identity: issuer %q is not an absolute URL", issuer)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInsecureIssuer, u.Redacted())
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Verifier validates OpenID Connect tokens: signature against the issuer's
// JWKS (fetched again when a token names a key it has not seen, so key
// rotation needs no restart), issuer, audience, expiry and not-before.
type Verifier struct {
	cfg      Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

// New reads the issuer's discovery document and returns a Verifier.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, ErrNoConfig
	}
	if err := checkIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	}
	// The issuer as configured: go-oidc compares it exactly with the one the
	// discovery document names, trailing slash included.
	p, err := discover(ctx, cfg.Issuer, cmp.Or(cfg.DiscoveryTimeout, DefaultDiscoveryTimeout))
	if err != nil {
		return nil, err
	}
	var meta struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURL == "" {
		return nil, fmt.Errorf("identity: discovery for %s: no jwks_uri", cfg.Issuer)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KeysMaxAge <= 0 {
		cfg.KeysMaxAge = DefaultKeysMaxAge
	}
	keys := &keySet{url: meta.JWKSURL, maxAge: cfg.KeysMaxAge, now: cfg.Now, ctx: ctx}
	issuer := cfg.Issuer
	if c, ok := issuerOf(p); ok {
		issuer = c
	}
	v := oidc.NewVerifier(issuer, keys, &oidc.Config{ClientID: cfg.ClientID, SupportedSigningAlgs: signingAlgs, Now: cfg.Now})
	return &Verifier{cfg: cfg, provider: p, verifier: v}, nil
}

// discover reads the issuer's discovery document within timeout. The
// timeout bounds this request only: ctx, which go-oidc keeps for fetching
// keys later, is not cancelled.
func discover(ctx context.Context, issuer string, timeout time.Duration) (*oidc.Provider, error) {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, issuer)
	switch {
	case err != nil && dctx.Err() != nil && ctx.Err() == nil:
		return nil, fmt.Errorf("identity: discovery for %s: no answer within %s: %w", issuer, timeout, dctx.Err())
	case err != nil:
		return nil, fmt.Errorf("identity: discovery for %s: %w", issuer, err)
	}
	return p, nil
}

// issuerOf is the issuer the discovery document names (go-oidc has checked
// it matches the configured one).
func issuerOf(p *oidc.Provider) (string, bool) {
	var meta struct {
		Issuer string `json:"issuer"`
	}
	if err := p.Claims(&meta); err != nil || meta.Issuer == "" {
		return "", false
	}
	return meta.Issuer, true
}

// keySet is go-oidc's remote key set, started afresh once its keys are older
// than maxAge: go-oidc alone keeps a retired key forever once it has seen it.
type keySet struct {
	url    string
	maxAge time.Duration
	now    func() time.Time
	ctx    context.Context // carries the HTTP client only

	mu      sync.Mutex
	set     *oidc.RemoteKeySet
	created time.Time
}

func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	k.mu.Lock()
	if now := k.now(); k.set == nil || now.Sub(k.created) >= k.maxAge {
		k.set, k.created = oidc.NewRemoteKeySet(k.ctx, k.url), now
	}
	set := k.set
	k.mu.Unlock()
	return set.VerifySignature(ctx, jwt)
}

// Endpoint is the issuer's OAuth 2 endpoints, for the sign-in flow.
func (v *Verifier) Endpoint() oauth2.Endpoint { return v.provider.Endpoint() }

// ClientID is the configured client id.
func (v *Verifier) ClientID() string { return v.cfg.ClientID }

// HTTPClient is the client that talks to the issuer (nil for the default).
func (v *Verifier) HTTPClient() *http.Client { return v.cfg.HTTPClient }

// claims are the token claims identity reads.
type claims struct {
	Name              string     `json:"name"`
	Email             string     `json:"email"`
	PreferredUsername string     `json:"preferred_username"`
	OID               string     `json:"oid"`
	Roles             stringList `json:"roles"`
	Groups            stringList `json:"groups"`
	// Group overage: the groups claim is left out and named here instead
	// (_claim_names.groups), or flagged by hasgroups (implicit flow).
	ClaimNames map[string]any `json:"_claim_names"`
	HasGroups  bool           `json:"hasgroups"`
}

// stringList is a claim that is a list of strings, also when a provider
// sends one value as a plain string ("roles": "editor-in-chief").
type stringList []string

// UnmarshalJSON reads an array of strings, a string, or null.
func (l *stringList) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*l = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("a list of strings or a string was expected")
	}
	*l = many
	return nil
}

// groupsLeftOut reports whether the token says it left out the groups claim.
func (c claims) groupsLeftOut() bool {
	_, named := c.ClaimNames["groups"]
	return c.Groups == nil && (named || c.HasGroups)
}

// Verify validates raw and returns who it names and their role. A valid
// token without a known role or group has RoleNone.
func (v *Verifier) Verify(ctx context.Context, raw string) (Principal, error) {
	return v.verify(ctx, raw, "")
}

// VerifyNonce is Verify for an ID token from the sign-in flow, which must
// carry nonce.
func (v *Verifier) VerifyNonce(ctx context.Context, raw, nonce string) (Principal, error) {
	if nonce == "" {
		return Principal{}, fmt.Errorf("%w: no nonce to check", ErrInvalidToken)
	}
	return v.verify(ctx, raw, nonce)
}

func (v *Verifier) verify(ctx context.Context, raw, nonce string) (Principal, error) {
	if v.cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, v.cfg.HTTPClient)
	}
	tok, err := v.verifier.Verify(ctx, raw)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %s", ErrInvalidToken, scrub(err.Error(), raw))
	}
	if nonce != "" && tok.Nonce != nonce {
		return Principal{}, fmt.Errorf("%w: nonce does not match", ErrInvalidToken)
	}
	var c claims
	if err := tok.Claims(&c); err != nil {
		return Principal{}, fmt.Errorf("%w: claims: %s", ErrInvalidToken, scrub(err.Error(), raw))
	}
	// Entra ID's subject is per application; oid is the person's object id
	// across applications, so decisions name the same person everywhere.
	id := tok.Subject
	if c.OID != "" {
		id = c.OID
	}
	name := c.Name
	for _, alt := range []string{c.PreferredUsername, c.Email} {
		if name == "" {
			name = alt
		}
	}
	p := Principal{ID: "oidc:" + id, Name: name, Subject: tok.Subject}
	groups, note := c.Groups, ""
	if c.groupsLeftOut() && len(v.cfg.RoleMap) > 0 {
		groups, note = v.overageGroups(ctx, c.OID)
	}
	p.Role = roleFrom(c.Roles, groups, v.cfg.RoleMap)
	if p.Role == RoleNone {
		p.RoleNote = cmp.Or(note, noRoleClaimsNote(c))
	}
	return p, nil
}

// noRoleClaimsNote is noRoleClaims when the token had neither claim.
func noRoleClaimsNote(c claims) string {
	if c.Roles == nil && c.Groups == nil && !c.groupsLeftOut() {
		return noRoleClaims
	}
	return ""
}

// UserInfo reads the claims the provider keeps at its userinfo endpoint
// with the sign-in's access token (in OpenID Connect's code flow a provider
// may release roles, groups and the name there only) and returns p with
// them counted: the higher of the two roles, the name if p had none. The
// answer must be about p's subject.
func (v *Verifier) UserInfo(ctx context.Context, accessToken string, p Principal) (Principal, error) {
	if v.cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, v.cfg.HTTPClient)
	}
	ui, err := v.provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}))
	if err != nil {
		return p, fmt.Errorf("identity: userinfo: %s", scrub(err.Error(), accessToken))
	}
	if ui.Subject != p.Subject {
		return p, errors.New("identity: userinfo: the answer is about another subject than the ID token")
	}
	var c claims
	if err := ui.Claims(&c); err != nil {
		return p, fmt.Errorf("identity: userinfo claims: %s", scrub(err.Error(), accessToken))
	}
	if p.Name == "" {
		p.Name = cmp.Or(c.Name, c.PreferredUsername, c.Email)
	}
	if r := roleFrom(c.Roles, c.Groups, v.cfg.RoleMap); r > p.Role {
		p.Role, p.RoleNote = r, ""
	}
	return p, nil
}

// overageGroups reads, for a token that left out its groups, which of the
// role map's groups the person is in. When they cannot be read, note says
// why (for the 403 answer and the log); the roles claim still counts.
func (v *Verifier) overageGroups(ctx context.Context, oid string) (groups []string, note string) {
	if v.cfg.Groups == nil {
		return nil, "the token left out the person's groups (too many for a token); give the person an app role, " +
			"or let the service read groups from Microsoft Graph (serve --oidc-graph-groups)"
	}
	groups, err := v.cfg.Groups.MemberOf(ctx, oid, slices.Collect(maps.Keys(v.cfg.RoleMap)))
	if err != nil {
		return nil, "the token left out the person's groups and reading them from Microsoft Graph failed: " + err.Error()
	}
	return groups, ""
}

// scrub removes the token, and each of its parts, from an error message.
func scrub(msg, raw string) string {
	if raw == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, raw, "[token]")
	for part := range strings.SplitSeq(raw, ".") {
		if len(part) >= 8 {
			msg = strings.ReplaceAll(msg, part, "[token]")
		}
	}
	return msg
}
