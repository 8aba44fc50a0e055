package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"
)

// DefaultMaxFeedBytes bounds a feed document.
const DefaultMaxFeedBytes = 4 << 20

// ErrFeedTooLarge is returned for a feed document over the size limit.
var ErrFeedTooLarge = errors.New("intake: feed too large")

// Feed polls one feed source: conditional requests (ETag, Last-Modified),
// a start before which the first poll's items are backlog, and backoff with
// jitter after errors. It is not safe for concurrent use: one goroutine
// polls a feed.
type Feed struct {
	src      *Source
	client   *http.Client
	maxBytes int64
	start    time.Time
	primed   bool
	// backlog are the items the first poll skipped: they stay skipped.
	backlog  map[string]bool
	etag     string
	modified string
	failures int
	jitter   func(time.Duration) time.Duration
}

// FeedOptions configure a Feed; the zero value of each field is the default.
type FeedOptions struct {
	// Client makes the requests: the fetch tools' client, under the network
	// guard and the allow list. Required.
	Client *http.Client
	// MaxBytes bounds a feed document; 0 means DefaultMaxFeedBytes.
	MaxBytes int64
	// Now is when the feed was first polled, for start: now; zero means time.Now().
	Now time.Time
	// Jitter picks the wait in [d/2, d] after an error; nil means random.
	Jitter func(d time.Duration) time.Duration
}

// NewFeed returns the poller of a feed source.
func NewFeed(src *Source, opts FeedOptions) *Feed {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxFeedBytes
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Jitter == nil {
		opts.Jitter = func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
	}
	return &Feed{src: src, client: opts.Client, maxBytes: opts.MaxBytes, start: src.StartTime(opts.Now), jitter: opts.Jitter}
}

// Poll fetches the feed and returns its items that pass the filters, newest
// first; nil when it did not change (304). The first successful poll sets
// the backlog aside: the items published before the source's start (and
// those without a date), which no later poll returns either.
func (f *Feed) Poll(ctx context.Context) ([]Item, error) {
	items, err := f.poll(ctx)
	if err != nil {
		f.failures++
		return nil, err
	}
	f.failures = 0
	if items == nil {
		return nil, nil
	}
	if !f.primed {
		f.primed = true
		f.backlog = map[string]bool{}
		for _, it := range items {
			if !f.start.IsZero() && !it.Published.After(f.start) {
				f.backlog[it.ID] = true
			}
		}
	}
	fresh := items[:0]
	for _, it := range items {
		if !f.backlog[it.ID] {
			fresh = append(fresh, it)
		}
	}
	return f.src.Filters.Select(fresh), nil
}

// Next is how long to wait before the next poll: the interval, or after
// errors an exponential backoff (interval × 2^failures, at most an hour)
// with jitter.
func (f *Feed) Next() time.Duration {
	d := f.src.Interval()
	if f.failures == 0 {
		return d
	}
	for range min(f.failures, 10) {
		d *= 2
	}
	return f.jitter(min(d, time.Hour))
}

// Failures is the number of polls in a row that failed.
func (f *Feed) Failures() int { return f.failures }

func (f *Feed) poll(ctx context.Context) ([]Item, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.src.Feed, nil)
	if err != nil {
		return nil, fmt.Errorf("intake: feed %s: %w", f.src.Name, err)
	}
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, */*;q=0.5")
	if f.etag != "" {
		req.Header.Set("If-None-Match", f.etag)
	}
	if f.modified != "" {
		req.Header.Set("If-Modified-Since", f.modified)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("intake: feed %s: %w", f.src.Name, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("intake: feed %s: HTTP %d", f.src.Name, resp.StatusCode)
	case resp.ContentLength > f.maxBytes:
		return nil, fmt.Errorf("%w: %s says %d bytes, the limit is %d", ErrFeedTooLarge, f.src.Name, resp.ContentLength, f.maxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("intake: feed %s: %w", f.src.Name, err)
	}
	if int64(len(body)) > f.maxBytes {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrFeedTooLarge, f.src.Name, f.maxBytes)
	}
	parsed, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("intake: feed %s: %w", f.src.Name, err)
	}
	// Validators are kept only once the document is read and parsed: a
	// failed poll is retried in full.
	f.etag, f.modified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	items := make([]Item, 0, len(parsed.Items))
	for _, it := range parsed.Items {
		items = append(items, feedItem(it))
	}
	return items, nil
}

func feedItem(it *gofeed.Item) Item {
	out := Item{
		ID:         FeedIdentity(it.GUID, it.Link, it.Title, it.Content+it.Description),
		Title:      strings.TrimSpace(it.Title),
		Summary:    strings.TrimSpace(stripTags(it.Description)),
		Link:       it.Link,
		Categories: it.Categories,
		Body:       strings.TrimSpace(stripTags(it.Content)),
	}
	switch {
	case it.PublishedParsed != nil:
		out.Published = it.PublishedParsed.UTC()
	case it.UpdatedParsed != nil:
		out.Published = it.UpdatedParsed.UTC()
	}
	return out
}

// stripTags drops markup from a feed's HTML text (a summary, not a page).
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
