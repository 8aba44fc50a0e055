package intake

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"
)

// Item is one thing a source delivered: a feed entry, a queue message, a
// webhook delivery or an event. The task template sees its exported fields.
type Item struct {
	// ID is the item's identity within its source (see Identity); it is
	// not shown to the template.
	ID         string    `json:"id"`
	Title      string    `json:"title,omitempty"`
	Summary    string    `json:"summary,omitempty"`
	Link       string    `json:"link,omitempty"`
	Published  time.Time `json:"published,omitzero"`
	Categories []string  `json:"categories,omitempty"`
	Body       string    `json:"body,omitempty"`
	// Desk and Sources are what an assignment asked for (empty: the
	// source's desk, no sources but the link).
	Desk    string   `json:"desk,omitempty"`
	Sources []string `json:"sources,omitempty"`
	// Task, when set, is the task as an assignment wrote it: the source's
	// template is not used.
	Task string `json:"task,omitempty"`
}

// FeedIdentity is a feed item's identity: its guid, or else its link and
// a hash of its content, so an entry republished with new text is new.
func FeedIdentity(guid, link, title, content string) string {
	if guid != "" {
		return guid
	}
	h := sha256.Sum256([]byte(title + "\x00" + content))
	return link + "#" + hex.EncodeToString(h[:8])
}

// defaultTask is the template of a source without one.
const defaultTask = "{{.Title}}\n{{.Summary}}\n{{.Body}}"

// Render renders the source's task template over item, trimmed; a blank
// result is an error (the item has nothing to write about).
func (s *Source) Render(item Item) (string, error) {
	if item.Task != "" {
		return strings.TrimSpace(item.Task), nil
	}
	t, err := s.template()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, item); err != nil {
		return "", fmt.Errorf("intake: source %s: task template: %w", s.Name, err)
	}
	task := strings.TrimSpace(b.String())
	if task == "" {
		return "", fmt.Errorf("intake: source %s: item %s gives an empty task", s.Name, item.ID)
	}
	return task, nil
}

func (s *Source) template() (*template.Template, error) {
	t, err := template.New("task").Option("missingkey=error").Parse(cmp.Or(s.Task, defaultTask))
	if err != nil {
		return nil, fmt.Errorf("intake: source %s: task template: %w", s.Name, err)
	}
	return t, nil
}

// Match reports whether item passes the source's filters.
func (f *Filters) Match(item Item) bool {
	if f == nil {
		return true
	}
	text := strings.ToLower(item.Title + "\n" + item.Summary + "\n" + item.Body)
	mentions := func(words []string) bool {
		return slices.ContainsFunc(words, func(w string) bool { return strings.Contains(text, strings.ToLower(w)) })
	}
	hasCategory := func(cats []string) bool {
		return slices.ContainsFunc(cats, func(c string) bool {
			return slices.ContainsFunc(item.Categories, func(ic string) bool { return strings.EqualFold(ic, c) })
		})
	}
	switch {
	case len(f.KeywordsIn) > 0 && !mentions(f.KeywordsIn),
		mentions(f.KeywordsOut),
		len(f.CategoriesIn) > 0 && !hasCategory(f.CategoriesIn),
		hasCategory(f.CategoriesOut):
		return false
	}
	return true
}

// Select filters items and keeps the newest N of them (Filters.Newest),
// newest first; items without a date count as oldest.
func (f *Filters) Select(items []Item) []Item {
	var out []Item
	for _, it := range items {
		if f.Match(it) {
			out = append(out, it)
		}
	}
	slices.SortStableFunc(out, func(a, b Item) int { return b.Published.Compare(a.Published) })
	if f != nil && f.Newest > 0 && len(out) > f.Newest {
		out = out[:f.Newest]
	}
	return out
}
