package untrusted

import (
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// SameSite reports whether two URLs are on the same site: the same
// registrable domain (example.com for www.example.com and news.example.com,
// by the public suffix list) and the same scheme, or the same host.
func SameSite(a, b *url.URL) bool {
	ha, hb := strings.ToLower(a.Hostname()), strings.ToLower(b.Hostname())
	if ha == hb {
		return true
	}
	if net.ParseIP(ha) != nil || net.ParseIP(hb) != nil {
		return false // an address is its own site
	}
	if !strings.EqualFold(a.Scheme, b.Scheme) && !(strings.EqualFold(a.Scheme, "http") && strings.EqualFold(b.Scheme, "https")) {
		return false
	}
	sa, err1 := publicsuffix.EffectiveTLDPlusOne(ha)
	sb, err2 := publicsuffix.EffectiveTLDPlusOne(hb)
	return err1 == nil && err2 == nil && sa == sb
}

// CheckRedirect returns nil when the run may follow a redirect from from to
// to: within the same site, or to a URL with provenance; else a
// *NoProvenanceError of KindRedirect.
func (r *Run) CheckRedirect(from, to *url.URL) error {
	if r.off || SameSite(from, to) || r.Check(to.String()) == nil {
		return nil
	}
	return &NoProvenanceError{URL: RedactURL(to.String()), Kind: KindRedirect}
}
