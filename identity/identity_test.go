package identity_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/newsroom-dev/newsroom/entra/entratest"
	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/internal/oidctest"
)

const clientID = "7d1c5a7e-0000-4000-8000-00000000c11e"

func newVerifier(t *testing.T, iss *oidctest.Issuer, rm identity.RoleMap) *identity.Verifier {
	t.Helper()
	v, err := identity.New(context.Background(), identity.Config{Issuer: iss.URL(), ClientID: clientID, RoleMap: rm, HTTPClient: iss.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func with(c map[string]any, kv ...any) map[string]any {
	out := maps.Clone(c)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestVerifier_RefusesEveryBadToken(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, clientID)
	other := oidctest.Start(t, clientID) // a real issuer, but not ours
	v := newVerifier(t, iss, nil)
	good := with(iss.Claims("alice"), "roles", []string{"editor-in-chief"})
	now := time.Now()
	cases := []struct {
		name  string
		token string
	}{
		{"expired", iss.Sign(t, with(good, "exp", now.Add(-time.Hour).Unix(), "iat", now.Add(-2*time.Hour).Unix()))},
		{"not yet valid", iss.Sign(t, with(good, "nbf", now.Add(time.Hour).Unix()))},
		{"wrong audience", iss.Sign(t, with(good, "aud", "some-other-app"))},
		{"wrong issuer claim", iss.Sign(t, with(good, "iss", other.URL()))},
		{"signed by another issuer", other.Sign(t, with(other.Claims("alice"), "iss", iss.URL()))},
		{"unknown key", oidctest.SignRS256(t, oidctest.NewKey(t), "key-never-published", good)},
		{"unknown key under a published key id", oidctest.SignRS256(t, oidctest.NewKey(t), iss.CurrentKID(), good)},
		{"alg none", oidctest.Unsigned(t, good)},
		{"HS256 with the public key as secret", oidctest.SignHS256(t, iss.PublicKeyBytes(), iss.CurrentKID(), good)},
		{"HS256 with any secret", oidctest.SignHS256(t, []byte("0123456789abcdef0123456789abcdef"), "", good)},
		{"not a JWT", "not-a-token"},
		{"empty", ""},
		{"tampered payload", tamper(iss.Sign(t, good), iss.Sign(t, with(good, "roles", []string{"admin"})))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), c.token)
			if !errors.Is(err, identity.ErrInvalidToken) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", p, err)
			}
			if p != (identity.Principal{}) {
				t.Fatalf("a refused token yields principal %+v", p)
			}
			for part := range strings.SplitSeq(c.token, ".") {
				if len(part) >= 8 && strings.Contains(err.Error(), part) {
					t.Fatalf("error %q contains the token", err)
				}
			}
		})
	}
	t.Run("the good token passes", func(t *testing.T) {
		p, err := v.Verify(context.Background(), iss.Sign(t, good))
		if err != nil {
			t.Fatal(err)
		}
		if p.ID != "oidc:alice" || p.Role != identity.RoleEditorInChief {
			t.Fatalf("principal %+v", p)
		}
	})
}

// tamper puts b's payload under a's header and signature.
func tamper(a, b string) string {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	return pa[0] + "." + pb[1] + "." + pa[2]
}

func TestVerifier_FollowsKeyRotation(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, clientID)
	var skew atomic.Int64
	v, err := identity.New(context.Background(), identity.Config{Issuer: iss.URL(), ClientID: clientID, HTTPClient: iss.Client(),
		Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	day := func() map[string]any { return with(iss.Claims("bob"), "exp", time.Now().Add(24*time.Hour).Unix()) }
	old := iss.Sign(t, day())
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	fetches := iss.JWKSFetches()

	iss.Rotate(t, false) // new key published beside the old one
	fresh := iss.Sign(t, iss.Claims("bob"))
	if _, err := v.Verify(context.Background(), fresh); err != nil {
		t.Fatalf("token signed with the new key: %v", err)
	}
	if iss.JWKSFetches() <= fetches {
		t.Fatal("the key set was not fetched again for the new key")
	}
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatalf("old key still published: %v", err)
	}

	iss.Rotate(t, true) // old keys retired
	skew.Store(int64(identity.DefaultKeysMaxAge + time.Minute))
	if _, err := v.Verify(context.Background(), old); !errors.Is(err, identity.ErrInvalidToken) {
		t.Fatalf("token of a retired key, keys older than their max age: %v", err)
	}
	if _, err := v.Verify(context.Background(), iss.Sign(t, day())); err != nil {
		t.Fatalf("token of the newest key: %v", err)
	}
}

func TestVerifier_RolesFromClaimsAndGroups(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, clientID)
	rm, err := identity.ParseRoleMap("editor-in-chief=grp-eic, reporter=grp-rep,admin=grp-ops")
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, iss, rm)
	cases := []struct {
		name   string
		claims map[string]any
		want   identity.Role
	}{
		{"app role", map[string]any{"roles": []string{"reporter"}}, identity.RoleReporter},
		{"app role in Entra's spelling", map[string]any{"roles": []string{"EditorInChief"}}, identity.RoleEditorInChief},
		{"the highest of several", map[string]any{"roles": []string{"reader", "admin", "reporter"}}, identity.RoleAdmin},
		{"group mapped", map[string]any{"groups": []string{"grp-unknown", "grp-eic"}}, identity.RoleEditorInChief},
		{"group beats a lower app role", map[string]any{"roles": []string{"reader"}, "groups": []string{"grp-rep"}}, identity.RoleReporter},
		{"nothing known is no role", map[string]any{"roles": []string{"owner"}, "groups": []string{"grp-x"}}, identity.RoleNone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), iss.Sign(t, with(iss.Claims("carol"), flatten(c.claims)...)))
			if err != nil {
				t.Fatal(err)
			}
			if p.Role != c.want {
				t.Fatalf("role %s, want %s", p.Role, c.want)
			}
		})
	}
	t.Run("oid and name are preferred", func(t *testing.T) {
		p, err := v.Verify(context.Background(), iss.Sign(t, with(iss.Claims("pairwise-sub"), "oid", "0000-oid", "name", "Carol Chief")))
		if err != nil || p.ID != "oidc:0000-oid" || p.Name != "Carol Chief" {
			t.Fatalf("principal %+v err %v", p, err)
		}
	})
}

func flatten(m map[string]any) []any {
	var out []any
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}

func TestNew_NeedsIssuerAndClient(t *testing.T) {
	t.Parallel()
	if _, err := identity.New(context.Background(), identity.Config{Issuer: "https://x"}); !errors.Is(err, identity.ErrNoConfig) {
		t.Fatalf("err %v", err)
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]identity.Role{"reader": identity.RoleReader, "Reporter": identity.RoleReporter,
		"editor-in-chief": identity.RoleEditorInChief, "Editor.In.Chief": identity.RoleEditorInChief, "ADMIN": identity.RoleAdmin} {
		if got, err := identity.ParseRole(in); err != nil || got != want {
			t.Errorf("ParseRole(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "none", "root", "editor"} {
		if _, err := identity.ParseRole(bad); !errors.Is(err, identity.ErrUnknownRole) {
			t.Errorf("ParseRole(%q) err %v", bad, err)
		}
	}
	if !identity.RoleAdmin.Allows(identity.RoleEditorInChief) || identity.RoleReporter.Allows(identity.RoleEditorInChief) {
		t.Error("role order is wrong")
	}
}

func TestParseRoleMap(t *testing.T) {
	t.Parallel()
	m, err := identity.ParseRoleMap("reporter=g1,editor-in-chief=g2,reporter=g3")
	if err != nil || m.String() != "editor-in-chief=g2,reporter=g1,reporter=g3" {
		t.Fatalf("map %v err %v", m, err)
	}
	for _, bad := range []string{"reporter", "reporter=", "boss=g1", "reporter=g1,admin=g1"} {
		if _, err := identity.ParseRoleMap(bad); err == nil {
			t.Errorf("ParseRoleMap(%q) accepted", bad)
		}
	}
}

// BenchmarkVerifier_Verify measures checking one token with the keys cached
// (what every signed-in request costs).
func BenchmarkVerifier_Verify(b *testing.B) {
	iss := oidctest.Start(b, clientID)
	v, err := identity.New(context.Background(), identity.Config{Issuer: iss.URL(), ClientID: clientID, HTTPClient: iss.Client()})
	if err != nil {
		b.Fatal(err)
	}
	tok := iss.Sign(b, with(iss.Claims("bench"), "roles", []string{"reporter"}))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// overage is a token's claims when the person is in too many groups for the
// token to carry them, as Entra ID makes them.
func overage(c map[string]any) map[string]any {
	return with(c, "_claim_names", map[string]any{"groups": "src1"},
		"_claim_sources", map[string]any{"src1": map[string]any{"endpoint": "https://graph.windows.net/tenant/users/x/getMemberObjects"}})
}

func TestVerifier_GroupOverageWithoutGraphSaysWhy(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, clientID)
	v := newVerifier(t, iss, identity.RoleMap{"grp-eic": identity.RoleEditorInChief})
	p, err := v.Verify(context.Background(), iss.Sign(t, overage(iss.Claims("dave"))))
	if err != nil {
		t.Fatal(err)
	}
	if p.Role != identity.RoleNone || !strings.Contains(p.RoleNote, "left out the person's groups") || !strings.Contains(p.RoleNote, "--oidc-graph-groups") {
		t.Fatalf("principal %+v: want no role and a note saying why and what to do", p)
	}
	// An app role still counts, and then there is nothing to explain.
	p, err = v.Verify(context.Background(), iss.Sign(t, with(overage(iss.Claims("dave")), "roles", []string{"reporter"})))
	if err != nil || p.Role != identity.RoleReporter || p.RoleNote != "" {
		t.Fatalf("principal %+v err %v, want reporter without a note", p, err)
	}
}

// TestVerifier_GroupOverageReadsGraph asks Microsoft Graph's
// checkMemberGroups (the project's stand-in) with a token the real
// azidentity credential gets from a managed identity endpoint on loopback.
// Not parallel: the credential is configured by the environment.
func TestVerifier_GroupOverageReadsGraph(t *testing.T) {
	mi := entratest.Start(t, time.Hour)
	iss := oidctest.Start(t, clientID)
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := identity.NewGraphGroups(identity.GraphConfig{Endpoint: iss.URL(), Credential: cred, HTTPClient: iss.Client()})
	if err != nil {
		t.Fatal(err)
	}
	// 25 mapped groups: more than one checkMemberGroups request holds.
	rm := identity.RoleMap{"grp-eic": identity.RoleEditorInChief}
	for i := range 24 {
		rm[fmt.Sprintf("grp-r%02d", i)] = identity.RoleReader
	}
	iss.SetGraph(func(bearer string) bool { return mi.Served(bearer, iss.URL()) },
		map[string][]string{"oid-dave": {"grp-other", "grp-eic"}, "oid-erin": {"grp-r07"}})
	v, err := identity.New(context.Background(), identity.Config{Issuer: iss.URL(), ClientID: clientID, RoleMap: rm,
		HTTPClient: iss.Client(), Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(c map[string]any) identity.Principal {
		t.Helper()
		p, err := v.Verify(context.Background(), iss.Sign(t, c))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := verify(overage(with(iss.Claims("dave"), "oid", "oid-dave"))); p.Role != identity.RoleEditorInChief || p.RoleNote != "" {
		t.Fatalf("dave: %+v, want editor-in-chief from Graph", p)
	}
	if n := iss.GraphCalls(); n != 2 {
		t.Fatalf("%d Graph requests for 25 groups, want 2 (20 ids at most per request)", n)
	}
	if p := verify(overage(with(iss.Claims("dave"), "oid", "oid-dave"))); p.Role != identity.RoleEditorInChief {
		t.Fatalf("dave again: %+v", p)
	}
	if n := iss.GraphCalls(); n != 2 {
		t.Fatalf("%d Graph requests after the second sign-in, want the kept answer (2)", n)
	}
	if p := verify(overage(with(iss.Claims("erin"), "oid", "oid-erin"))); p.Role != identity.RoleReader {
		t.Fatalf("erin: %+v, want reader", p)
	}
	// A token that carries its groups is not looked up.
	calls := iss.GraphCalls()
	if p := verify(with(iss.Claims("frank"), "oid", "oid-frank", "groups", []string{"grp-eic"})); p.Role != identity.RoleEditorInChief || iss.GraphCalls() != calls {
		t.Fatalf("frank: %+v, Graph asked %d times more", p, iss.GraphCalls()-calls)
	}
	// Graph failing (an unknown user) leaves the person without a group
	// role, and the note says what Graph said, never the token.
	p := verify(overage(with(iss.Claims("gina"), "oid", "oid-gina")))
	if p.Role != identity.RoleNone || !strings.Contains(p.RoleNote, "Request_ResourceNotFound") || !strings.Contains(p.RoleNote, "404") {
		t.Fatalf("gina: %+v, want no role and Graph's error", p)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{iss.URL() + "/.default"}})
	if err != nil || strings.Contains(p.RoleNote, tok.Token) {
		t.Fatalf("the note holds the Graph token (or no token: %v)", err)
	}
	// A Graph that refuses the service's token is a clear error too.
	iss.SetGraph(func(string) bool { return false }, nil)
	if p := verify(overage(with(iss.Claims("hal"), "oid", "oid-hal"))); !strings.Contains(p.RoleNote, "401 InvalidAuthenticationToken") {
		t.Fatalf("hal: %+v, want Graph's 401", p)
	}
}

func TestNewGraphGroups_RefusesBadConfig(t *testing.T) {
	t.Parallel()
	if _, err := identity.NewGraphGroups(identity.GraphConfig{}); err == nil {
		t.Error("no credential accepted")
	}
	cred := azcoreCredential{}
	for _, bad := range []string{"graph.microsoft.com", "ftp://graph.microsoft.com", "https://"} {
		if _, err := identity.NewGraphGroups(identity.GraphConfig{Endpoint: bad, Credential: cred}); err == nil {
			t.Errorf("endpoint %q accepted", bad)
		}
	}
}

// azcoreCredential is a credential that is never asked for a token (the
// configuration is refused first).
type azcoreCredential struct{}

func (azcoreCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("not asked")
}
