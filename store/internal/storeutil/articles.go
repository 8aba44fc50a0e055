package storeutil

import (
	"encoding/json"
	"fmt"

	"github.com/newsroom-dev/newsroom/store"
)

// ArticleWrite is a version of an article as PutArticle writes it, checked
// and encoded once for either backend.
type ArticleWrite struct {
	A   *store.Article // the article as stored: text made storable, times in µs
	Doc []byte         // the article as JSON
}

// PrepareArticle checks and encodes a version of a: an id, a slug, a
// version >= 1 and a status are required. Errors carry no backend prefix.
func PrepareArticle(a *store.Article) (ArticleWrite, error) {
	if a == nil || a.ID == "" || a.Slug == "" || a.Version < 1 || a.Status == "" {
		return ArticleWrite{}, fmt.Errorf("put article: an id, a slug, a version and a status are required")
	}
	c := *a
	for _, p := range []*string{&c.ID, &c.Slug, &c.RunID, &c.Desk, &c.Headline, &c.Body, &c.Summary, &c.Byline} {
		*p = Text(*p)
	}
	if c.PublishedAt.IsZero() {
		c.PublishedAt = Now()
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = Now()
	}
	c.PublishedAt, c.UpdatedAt = Time(c.PublishedAt), Time(c.UpdatedAt)
	doc, err := json.Marshal(&c)
	if err != nil {
		return ArticleWrite{}, fmt.Errorf("put article %s: %w", c.ID, err)
	}
	return ArticleWrite{A: &c, Doc: JSON(doc)}, nil
}

// DecodeArticle decodes a stored article document.
func DecodeArticle(doc []byte) (*store.Article, error) {
	var a store.Article
	if err := json.Unmarshal(doc, &a); err != nil {
		return nil, fmt.Errorf("decode article: %w", err)
	}
	return &a, nil
}

// PageArticles cuts a list fetched with one extra row to limit and returns
// the next page's cursor ("" when there is no more).
func PageArticles(as []*store.Article, limit int) ([]*store.Article, string) {
	if len(as) <= limit {
		return as, ""
	}
	as = as[:limit]
	last := as[len(as)-1]
	return as, EncodeCursor(last.PublishedAt, last.ID)
}
