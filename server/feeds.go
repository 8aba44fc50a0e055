package server

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/store"
)

// feedSize is how many articles the feeds list.
const feedSize = 50

// feedRoutes are the public article page and the feeds.
func (s *Server) feedRoutes() []route {
	return []route{
		{"GET /articles/{slug}", s.readable(s.handleArticlePage)},
		{"GET /feeds/articles.atom", s.readable(s.handleAtom)},
		{"GET /feeds/articles.json", s.readable(s.handleJSONFeed)},
	}
}

// readable serves h to anyone with Config.PublicArticles, otherwise to a
// key (or person) with the reader role or more, as on the API.
func (s *Server) readable(h http.HandlerFunc) http.HandlerFunc {
	if s.cfg.PublicArticles {
		return h
	}
	return s.authed(func(w http.ResponseWriter, r *http.Request, k *store.Key) {
		if err := need(k, identity.RoleReader); err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r)
	})
}

// feedArticles are the newest articles, for the feeds.
func (s *Server) feedArticles(r *http.Request) ([]*store.Article, error) {
	as, _, err := s.cfg.Store.ListArticles(r.Context(), store.ArticleListOptions{Limit: feedSize})
	return as, err
}

// feedText is an article's text as a feed carries it: the body (a
// retracted article's notice only: its text leaves the feeds) and the
// disclosure line.
func (s *Server) feedText(a *store.Article) (title, text string) {
	title, text = a.Headline, a.Body
	if a.Status == store.ArticleRetracted && a.Retraction != nil {
		title = "Retracted: " + a.Headline
		text = "This article was retracted on " + a.Retraction.At.Format(time.DateOnly) + ": " + a.Retraction.Note
	}
	return title, text + "\n\n" + s.disclosure()
}

// Atom (RFC 4287) documents.
type atomFeed struct {
	XMLName  xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID       string      `xml:"id"`
	Title    string      `xml:"title"`
	Subtitle string      `xml:"subtitle"`
	Updated  string      `xml:"updated"`
	Author   atomPerson  `xml:"author"`
	Links    []atomLink  `xml:"link"`
	Entries  []atomEntry `xml:"entry"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomEntry struct {
	ID          string       `xml:"id"`
	Title       string       `xml:"title"`
	Updated     string       `xml:"updated"`
	Published   string       `xml:"published"`
	Authors     []atomPerson `xml:"author"`
	Contributor []atomPerson `xml:"contributor"`
	Links       []atomLink   `xml:"link"`
	Summary     *atomText    `xml:"summary,omitempty"`
	Content     atomText     `xml:"content"`
	Rights      string       `xml:"rights"`
}

func (s *Server) handleAtom(w http.ResponseWriter, r *http.Request) {
	as, err := s.feedArticles(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	base := baseURL(r)
	f := atomFeed{ID: base + "/feeds/articles.atom", Title: "newsroom: published articles", Subtitle: s.disclosure(),
		Author: atomPerson{Name: "newsroom"},
		Links:  []atomLink{{Rel: "self", Type: "application/atom+xml", Href: base + "/feeds/articles.atom"}}}
	var updated time.Time // the feed's: its newest entry's, or the epoch when it has none
	for _, a := range as {
		if a.UpdatedAt.After(updated) {
			updated = a.UpdatedAt
		}
		title, text := s.feedText(a)
		e := atomEntry{ID: "urn:newsroom:article:" + a.ID, Title: title, Updated: a.UpdatedAt.UTC().Format(time.RFC3339Nano),
			Published: a.PublishedAt.UTC().Format(time.RFC3339Nano), Authors: []atomPerson{{Name: a.Byline}},
			Links:   []atomLink{{Rel: "alternate", Type: "text/html", Href: base + "/articles/" + a.Slug}},
			Content: atomText{Type: "text", Body: text}, Rights: s.disclosure()}
		if a.Approval.By != "" {
			e.Contributor = []atomPerson{{Name: a.Approval.By}}
		}
		if a.Summary != "" {
			e.Summary = &atomText{Type: "text", Body: a.Summary}
		}
		f.Entries = append(f.Entries, e)
	}
	f.Updated = updated.UTC().Format(time.RFC3339Nano)
	if updated.IsZero() {
		f.Updated = time.Unix(0, 0).UTC().Format(time.RFC3339Nano)
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	_ = enc.Encode(f)
}

// JSON Feed 1.1 documents.
type jsonFeed struct {
	Version     string         `json:"version"`
	Title       string         `json:"title"`
	HomePageURL string         `json:"home_page_url"`
	FeedURL     string         `json:"feed_url"`
	Description string         `json:"description"`
	Authors     []jsonFeedName `json:"authors"`
	Items       []jsonFeedItem `json:"items"`
}

type jsonFeedName struct {
	Name string `json:"name"`
}

type jsonFeedItem struct {
	ID            string         `json:"id"`
	URL           string         `json:"url"`
	Title         string         `json:"title"`
	ContentText   string         `json:"content_text"`
	Summary       string         `json:"summary,omitempty"`
	DatePublished string         `json:"date_published"`
	DateModified  string         `json:"date_modified"`
	Authors       []jsonFeedName `json:"authors"`
	// Newsroom is this service's extension (JSON Feed's "_" prefix): the
	// article's status, version and provenance.
	Newsroom jsonFeedExt `json:"_newsroom"`
}

type jsonFeedExt struct {
	Status            store.ArticleStatus `json:"status"`
	Version           int                 `json:"version"`
	DigitalSourceType string              `json:"digital_source_type"`
	Provenance        store.Provenance    `json:"provenance"`
}

func (s *Server) handleJSONFeed(w http.ResponseWriter, r *http.Request) {
	as, err := s.feedArticles(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	base := baseURL(r)
	f := jsonFeed{Version: "https://jsonfeed.org/version/1.1", Title: "newsroom: published articles", HomePageURL: base + "/",
		FeedURL: base + "/feeds/articles.json", Description: s.disclosure(), Authors: []jsonFeedName{{Name: "newsroom"}},
		Items: []jsonFeedItem{}}
	for _, a := range as {
		title, text := s.feedText(a)
		f.Items = append(f.Items, jsonFeedItem{ID: "urn:newsroom:article:" + a.ID, URL: base + "/articles/" + a.Slug, Title: title,
			ContentText: text, Summary: a.Summary, DatePublished: a.PublishedAt.UTC().Format(time.RFC3339Nano),
			DateModified: a.UpdatedAt.UTC().Format(time.RFC3339Nano), Authors: []jsonFeedName{{Name: a.Byline}},
			Newsroom: jsonFeedExt{Status: a.Status, Version: a.Version, DigitalSourceType: a.Provenance.DigitalSourceType, Provenance: a.Provenance}})
	}
	w.Header().Set("Content-Type", "application/feed+json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(f)
}

// articlePage is the public HTML page of an article.
var articlePage = template.Must(template.New("article").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.A.Headline}}</title>
<script type="application/ld+json">{{.LD}}</script>
</head>
<body>
<main>
<article>
<header>
{{if .Retracted}}<p role="alert"><strong>Retracted</strong> on {{.Retracted}}: {{.A.Retraction.Note}}</p>{{end}}
<h1>{{.A.Headline}}</h1>
<p>{{.A.Byline}} · published <time datetime="{{.Published}}">{{.PublishedDay}}</time>{{if gt .A.Version 1}} · updated <time datetime="{{.Updated}}">{{.UpdatedDay}}</time>{{end}}</p>
</header>
{{range .Paragraphs}}<p>{{.}}</p>
{{end}}
{{if .A.Sources}}<section aria-labelledby="sources-h"><h2 id="sources-h">Sources</h2><ol>{{range .A.Sources}}<li>{{if .Title}}{{.Title}}: {{end}}{{.URL}}</li>{{end}}</ol></section>{{end}}
<footer>
<p>{{.Disclosure}}</p>
<p>{{.Responsibility}}</p>
</footer>
</article>
</main>
</body>
</html>
`))

// newsArticleLD is the schema.org NewsArticle JSON-LD of an article.
func (s *Server) newsArticleLD(a *store.Article, base string) map[string]any {
	ld := map[string]any{"@context": "https://schema.org", "@type": "NewsArticle", "headline": a.Headline,
		"url": base + "/articles/" + a.Slug, "datePublished": a.PublishedAt.UTC().Format(time.RFC3339Nano),
		"dateModified": a.UpdatedAt.UTC().Format(time.RFC3339Nano), "author": map[string]any{"@type": "Organization", "name": a.Byline},
		"articleBody": a.Body, "version": a.Version, "digitalSourceType": a.Provenance.DigitalSourceType,
		"creditText": s.disclosure()}
	if a.Approval.By != "" {
		ld["editor"] = map[string]any{"@type": "Person", "name": a.Approval.By}
	}
	based := []string{}
	for _, src := range a.Sources {
		based = append(based, src.URL)
	}
	ld["isBasedOn"] = based
	corr := []map[string]any{}
	for _, c := range a.Corrections {
		corr = append(corr, map[string]any{"@type": "CorrectionComment", "text": c.Note, "datePublished": c.At.UTC().Format(time.RFC3339Nano)})
	}
	ld["correction"] = corr
	return ld
}

func (s *Server) handleArticlePage(w http.ResponseWriter, r *http.Request) {
	a, err := s.cfg.Store.ArticleBySlug(r.Context(), r.PathValue("slug"))
	if errors.Is(err, store.ErrNotFound) {
		err = errNoArticle
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ld, err := json.Marshal(s.newsArticleLD(a, baseURL(r))) // escapes <, > and &: safe in a script element
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var paras []string
	for p := range strings.SplitSeq(a.Body, "\n\n") {
		if p = strings.TrimSpace(p); p != "" && p != "---" {
			paras = append(paras, p)
		}
	}
	data := map[string]any{"A": a, "LD": template.JS(ld), "Paragraphs": paras, "Disclosure": s.disclosure(),
		"Responsibility": responsibilityLine(a),
		"Published":      a.PublishedAt.UTC().Format(time.RFC3339Nano), "PublishedDay": a.PublishedAt.UTC().Format(time.DateOnly),
		"Updated": a.UpdatedAt.UTC().Format(time.RFC3339Nano), "UpdatedDay": a.UpdatedAt.UTC().Format(time.DateOnly)}
	if a.Retraction != nil {
		data["Retracted"] = a.Retraction.At.UTC().Format(time.DateOnly)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := articlePage.Execute(w, data); err != nil {
		s.log.Warn("writing an article page", "article", a.ID, "err", err)
	}
}
