package server

import (
	"cmp"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/store"
)

// ninjsType is the media type of IPTC ninjs.
const ninjsType = "application/ninjs+json"

// ninjsSchema is the ninjs 2.1 JSON Schema the documents are valid against.
const ninjsSchema = "http://www.iptc.org/std/ninjs/ninjs-schema_2.1.json"

// wantsNinjs reports whether the request asks for ninjs: ?format=ninjs or
// an Accept header naming its media type.
func wantsNinjs(r *http.Request) bool {
	if r.URL.Query().Get("format") == "ninjs" {
		return true
	}
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == ninjsType {
			return true
		}
	}
	return false
}

// ninjsText is a ninjs headline, body or description.
type ninjsText struct {
	Role        string `json:"role,omitempty"`
	ContentType string `json:"contenttype,omitempty"`
	Value       string `json:"value"`
}

// ninjsParty is a ninjs infosource.
type ninjsParty struct {
	Name    string `json:"name,omitempty"`
	Role    string `json:"role,omitempty"`
	URI     string `json:"uri,omitempty"`
	Literal string `json:"literal,omitempty"`
}

// ninjsTrust is a ninjs trust indicator.
type ninjsTrust struct {
	Role  string `json:"role,omitempty"`
	Title string `json:"title,omitempty"`
	Href  string `json:"href,omitempty"`
}

// ninjsDoc is an article as an IPTC ninjs 2.1 news item. ninjs 2.x has no
// digitalSourceType property of its own: the IPTC digitalSourceType URI is
// the role of a trust indicator, whose title is the disclosure line; the
// models and the sources are infosources, and the editorial responsibility
// record (who approved each version, when) is the ednote.
type ninjsDoc struct {
	URI             string        `json:"uri"`
	Standard        ninjsStandard `json:"standard"`
	Type            string        `json:"type"`
	Version         string        `json:"version"`
	FirstCreated    string        `json:"firstcreated"`
	VersionCreated  string        `json:"versioncreated"`
	PubStatus       string        `json:"pubstatus"`
	Language        string        `json:"language,omitempty"`
	Slugline        string        `json:"slugline"`
	By              string        `json:"by"`
	Headlines       []ninjsText   `json:"headlines"`
	Descriptions    []ninjsText   `json:"descriptions,omitempty"`
	Bodies          []ninjsText   `json:"bodies"`
	EdNote          string        `json:"ednote"`
	InfoSources     []ninjsParty  `json:"infosources,omitempty"`
	TrustIndicators []ninjsTrust  `json:"trustindicators"`
}

type ninjsStandard struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Schema  string `json:"schema"`
}

// ninjsOf is a as ninjs; base is the service's URL, for the item's uri.
func (s *Server) ninjsOf(a *store.Article, base string) ninjsDoc {
	d := ninjsDoc{URI: base + "/v1/articles/" + a.ID, Standard: ninjsStandard{Name: "ninjs", Version: "2.1", Schema: ninjsSchema},
		Type: "text", Version: strconv.Itoa(a.Version), FirstCreated: a.PublishedAt.UTC().Format(time.RFC3339),
		VersionCreated: a.UpdatedAt.UTC().Format(time.RFC3339), PubStatus: "usable", Slugline: a.Slug, By: a.Byline,
		Headlines: []ninjsText{{Role: "main", Value: a.Headline}},
		Bodies:    []ninjsText{{Role: "main", ContentType: "text/markdown", Value: a.Body}},
		EdNote:    responsibilityLine(a),
		TrustIndicators: []ninjsTrust{{Role: a.Provenance.DigitalSourceType, Title: s.disclosure(),
			Href: base + "/articles/" + a.Slug}}}
	if a.Status == store.ArticleRetracted {
		d.PubStatus = "canceled"
	}
	if a.Summary != "" {
		d.Descriptions = []ninjsText{{Role: "summary", Value: a.Summary}}
	}
	for _, m := range a.Provenance.Models {
		d.InfoSources = append(d.InfoSources, ninjsParty{Name: m, Role: "model", Literal: m})
	}
	for _, src := range a.Sources {
		d.InfoSources = append(d.InfoSources, ninjsParty{Name: cmp.Or(src.Title, src.URL), Role: "source", URI: src.URL})
	}
	return d
}

// responsibilityLine is the editorial responsibility record in one line:
// who approved or changed each version, and when.
func responsibilityLine(a *store.Article) string {
	parts := make([]string, 0, len(a.Provenance.Approvals))
	for _, ap := range a.Provenance.Approvals {
		parts = append(parts, "version "+strconv.Itoa(ap.Version)+" approved by "+ap.By+" at "+ap.At.UTC().Format(time.RFC3339))
	}
	return "Written by " + strings.Join(a.Provenance.Models, ", ") + "; " + strings.Join(parts, "; ") + "."
}

func (s *Server) writeNinjs(w http.ResponseWriter, r *http.Request, a *store.Article) {
	w.Header().Set("Content-Type", ninjsType)
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(s.ninjsOf(a, baseURL(r)))
}

// baseURL is the service's URL as the request reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
