package identity_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/internal/oidctest"
)

// TestNew_AnIssuerEndingInASlashMatches configures the issuer exactly as an
// independent provider (npm oidc-provider) names itself, with a trailing
// slash: discovery must match it (go-oidc compares the two exactly).
func TestNew_AnIssuerEndingInASlashMatches(t *testing.T) {
	t.Parallel()
	p := oidctest.StartProvider(t, oidctest.ProviderConfig{TrailingSlash: true})
	if !strings.HasSuffix(p.Issuer, "/") {
		t.Fatalf("issuer %q has no trailing slash; the test proves nothing", p.Issuer)
	}
	if _, err := identity.New(context.Background(), identity.Config{Issuer: p.Issuer, ClientID: p.ClientID}); err != nil {
		t.Errorf("New with the issuer %q = %v, want it to match", p.Issuer, err)
	}
}

// refusingTransport fails every request and counts them.
type refusingTransport struct{ n atomic.Int64 }

func (r *refusingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	r.n.Add(1)
	return nil, errors.New("no network in this test")
}

// TestNew_RefusesAPlainHTTPIssuerOffLoopback configures issuers over plain
// http: refused before any request unless the host is loopback.
func TestNew_RefusesAPlainHTTPIssuerOffLoopback(t *testing.T) {
	t.Parallel()
	for _, issuer := range []string{"http://login.example.com/tenant/v2.0", "http://192.0.2.10/", "http://10.0.0.5:8080/realms/news", "ftp://idp.example/"} {
		tr := &refusingTransport{}
		_, err := identity.New(context.Background(), identity.Config{Issuer: issuer, ClientID: "c", HTTPClient: &http.Client{Transport: tr}})
		if !errors.Is(err, identity.ErrInsecureIssuer) && !strings.Contains(fmtErr(err), "https") {
			t.Errorf("New(%s) = %v, want a refusal saying https", issuer, err)
		}
		if n := tr.n.Load(); n != 0 {
			t.Errorf("New(%s) made %d requests before refusing", issuer, n)
		}
	}
	for _, issuer := range []string{"http://127.0.0.1:1/", "http://localhost:1/", "http://[::1]:1/"} {
		tr := &refusingTransport{}
		_, err := identity.New(context.Background(), identity.Config{Issuer: issuer, ClientID: "c", HTTPClient: &http.Client{Transport: tr}})
		if errors.Is(err, identity.ErrInsecureIssuer) || tr.n.Load() == 0 {
			t.Errorf("New(%s) = %v after %d requests, want a discovery attempt (loopback may be plain http)", issuer, err, tr.n.Load())
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestNew_DiscoveryThatNeverAnswersFailsClearly points the issuer at a
// server that accepts connections and never answers: New returns, saying
// the issuer did not answer in time, instead of hanging start-up.
func TestNew_DiscoveryThatNeverAnswersFailsClearly(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	// The test's own deadline only stops a hang; the verifier's timeout must come first.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = identity.New(ctx, identity.Config{Issuer: "http://" + l.Addr().String(), ClientID: "c", DiscoveryTimeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "no answer within") || ctx.Err() != nil {
		t.Errorf("New against an issuer that never answers = %v, want an error saying it did not answer in time", err)
	}
}

// TestVerifier_RolesAndGroupsAsOneString signs tokens whose roles and groups
// claims are single strings, as some providers send one value: they count
// like one-element lists, and do not reject the token.
func TestVerifier_RolesAndGroupsAsOneString(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, clientID)
	v := newVerifier(t, iss, identity.RoleMap{"grp-desk": identity.RoleReporter})
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   identity.Role
	}{
		{"roles", with(iss.Claims("ann"), "roles", "editor-in-chief"), identity.RoleEditorInChief},
		{"groups", with(iss.Claims("ben"), "groups", "grp-desk"), identity.RoleReporter},
		{"null roles", with(iss.Claims("cy"), "roles", nil, "groups", []string{"grp-desk"}), identity.RoleReporter},
	} {
		p, err := v.Verify(context.Background(), iss.Sign(t, tc.claims))
		if err != nil || p.Role != tc.want {
			t.Errorf("%s as one string: %+v, %v; want role %s", tc.name, p, err, tc.want)
		}
	}
	if _, err := v.Verify(context.Background(), iss.Sign(t, with(iss.Claims("dee"), "roles", 42))); !errors.Is(err, identity.ErrInvalidToken) {
		t.Errorf("roles as a number = %v, want ErrInvalidToken", err)
	}
}
