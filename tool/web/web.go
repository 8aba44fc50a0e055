// Package web holds the built-in tools that read the web: fetch_url (a page
// as readable text, through a readability library) and read_feed (the newest
// items of an RSS, Atom or JSON feed). Every connection goes through one
// Guard that refuses private, loopback, link-local and other internal
// destinations at dial time, so a model cannot be talked into reading an
// intranet page or the cloud metadata service.
package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"codeberg.org/readeck/go-readability/v2"
	"github.com/mmcdole/gofeed"
	"golang.org/x/net/html"

	"github.com/newsroom-dev/newsroom/tokenizer"
	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// Limits of a fetch.
const (
	DefaultMaxBytes     = 2 << 20
	DefaultTimeout      = 15 * time.Second
	DefaultMaxRedirects = 5
	// DefaultMaxTokens is the token budget of a page's text.
	DefaultMaxTokens = 3000
	// DefaultMaxItems is how many feed items read_feed returns.
	DefaultMaxItems = 10
)

// Tool names.
const (
	FetchURLName = "fetch_url"
	ReadFeedName = "read_feed"
)

// Config configures the tools. The zero value is usable: no allow list,
// the default limits, slog.Default for warnings, time.Now.
type Config struct {
	// Allow lists destinations the guard lets through (see NewGuard).
	Allow []string
	// MaxBytes, Timeout, MaxRedirects, MaxTokens, MaxItems: 0 means the default.
	MaxBytes     int64
	Timeout      time.Duration
	MaxRedirects int
	MaxTokens    int
	MaxItems     int
	// AllowPorts are ports allowed besides 80 and 443, for public
	// addresses only (an allow-list entry is what lets an internal address through).
	AllowPorts []int
	// Logger receives a WARN line naming the host of every refused or failed fetch.
	Logger *slog.Logger
	Now    func() time.Time
	// Resolver resolves host names; nil means the system's.
	Resolver *net.Resolver
}

// Fetcher holds the HTTP client the tools share.
type Fetcher struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	tok    *tokenizer.Tokenizer
}

// New returns a fetcher whose client dials through a Guard.
func New(cfg Config) *Fetcher {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.MaxItems <= 0 {
		cfg.MaxItems = DefaultMaxItems
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	g := NewGuard(cfg.Allow, cfg.AllowPorts...)
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the guard
		DialContext:           g.dialer(cfg.Timeout, cfg.Resolver),
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > cfg.MaxRedirects {
			return fmt.Errorf("web: more than %d redirects", cfg.MaxRedirects)
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return fmt.Errorf("web: redirect to a %s URL refused", req.URL.Scheme)
		}
		// Within the same site a redirect is the site's own business;
		// elsewhere only to a URL the run has seen.
		if run := untrusted.From(req.Context()); run != nil {
			return run.CheckRedirect(via[0].URL, req.URL)
		}
		return nil
	}}
	return &Fetcher{cfg: cfg, client: client, log: log, tok: tokenizer.MustForModel("gpt-4o")}
}

// Client is the fetcher's HTTP client: dialling through the guard, with its
// timeouts and redirect limits (intake reads feeds with it).
func (f *Fetcher) Client() *http.Client { return f.client }

// Tools returns fetch_url and read_feed.
func (f *Fetcher) Tools() []tool.Tool { return []tool.Tool{f.FetchURL(), f.ReadFeed()} }

type urlArgs struct {
	URL string `json:"url" jsonschema:"an absolute http or https URL"`
}

// Page is what fetch_url returns.
type Page struct {
	URL       string `json:"url"`
	FinalURL  string `json:"final_url"`
	Title     string `json:"title"`
	Text      string `json:"text"`
	Truncated bool   `json:"truncated"`
	// Links are the page's links (at most MaxLinks): a run may fetch them.
	Links []string `json:"links,omitempty"`
}

// FetchURL is the fetch_url tool.
func (f *Fetcher) FetchURL() tool.Tool {
	return tool.MustFunc(FetchURLName, "Fetch a web page (http or https) and return its readable text as JSON: url, final_url, title, text, truncated, links. Only URLs from the assignment, the sources or the links of a page you fetched may be fetched.",
		func(ctx context.Context, a urlArgs) (tool.Result, error) {
			ctx = withTool(ctx, FetchURLName)
			if err := f.provenance(ctx, FetchURLName, a.URL); err != nil {
				return tool.Result{}, err
			}
			p, err := f.Fetch(ctx, a.URL)
			if err != nil {
				return tool.Result{}, err
			}
			record(ctx, append([]string{p.FinalURL}, p.Links...)...)
			b, _ := json.Marshal(p)
			src := tool.NewSource(p.FinalURL, p.Title, p.Text, f.cfg.Now())
			src.Links = p.Links
			return tool.Result{Content: string(b), Source: src}, nil
		})
}

// ErrBadURL is wrapped for a URL that is not absolute http(s).
var ErrBadURL = errors.New("web: not an absolute http or https URL")

// get fetches a URL under the guard and returns the body (at most MaxBytes,
// truncated says whether there was more), the final URL and the media type.
func (f *Fetcher) get(ctx context.Context, raw string, accept string) (body []byte, truncated bool, final *url.URL, mediaType string, err error) {
	if err := CheckURL(raw); err != nil {
		return nil, false, nil, "", err
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, false, nil, "", fmt.Errorf("%w: %q", ErrBadURL, raw)
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, false, nil, "", err
	}
	req.Header.Set("User-Agent", "newsroom/1.0 (+https://github.com/newsroom-dev/newsroom)")
	req.Header.Set("Accept", accept)
	resp, err := f.client.Do(req)
	if err != nil {
		var np *untrusted.NoProvenanceError
		if errors.As(err, &np) {
			f.refused(ctx, "", np)
			return nil, false, nil, "", np
		}
		var refused *RefusedError
		if errors.As(err, &refused) {
			f.log.WarnContext(ctx, "fetch refused", "host", refused.Host, "address", refused.Address, "reason", refused.Reason)
			return nil, false, nil, "", refused
		}
		f.log.WarnContext(ctx, "fetch failed", "host", u.Hostname(), "error", err)
		return nil, false, nil, "", fmt.Errorf("web: fetching %s: %w", u.Redacted(), publicError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		f.log.WarnContext(ctx, "fetch failed", "host", resp.Request.URL.Hostname(), "status", resp.StatusCode)
		return nil, false, nil, "", fmt.Errorf("web: %s answered HTTP %d", resp.Request.URL.Redacted(), resp.StatusCode)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return nil, false, nil, "", fmt.Errorf("web: reading %s: %w", resp.Request.URL.Redacted(), err)
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		body, truncated = body[:f.cfg.MaxBytes], true
	}
	mediaType, _, _ = mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return body, truncated, resp.Request.URL, mediaType, nil
}

// unwrapURLError drops *url.Error's repetition of the method and URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Fetch reads a page and returns its readable text, cut to the token budget.
func (f *Fetcher) Fetch(ctx context.Context, raw string) (*Page, error) {
	body, truncated, final, mt, err := f.get(ctx, raw, "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5")
	if err != nil {
		return nil, err
	}
	p := &Page{URL: raw, FinalURL: final.String(), Truncated: truncated}
	if isText(mt) {
		if err := sniffText(body, mt, final); err != nil {
			return nil, err
		}
	}
	switch {
	case mt == "text/html" || mt == "application/xhtml+xml" || mt == "":
		f.readHTML(p, body, final)
	case strings.HasPrefix(mt, "text/") || mt == "application/json":
		p.Text = Invisible(string(body))
		p.Links = textLinks(p.Text)
	default:
		return nil, fmt.Errorf("web: %s is %s, not a page with text", final.Redacted(), mt)
	}
	p.Text = tidy(p.Text)
	if !readable(p.Text) {
		return nil, errNoText(final)
	}
	if cut, ok := f.tok.Truncate(p.Text, f.cfg.MaxTokens); ok {
		p.Text, p.Truncated = cut, true
	}
	return p, nil
}

// isText reports whether a media type is one Fetch reads as text (no type
// is read as HTML).
func isText(mt string) bool {
	return mt == "" || strings.HasPrefix(mt, "text/") || mt == "application/xhtml+xml" || mt == "application/json"
}

// readHTML sets the page's title, text and links from its HTML, without
// what a reader would not see.
func (f *Fetcher) readHTML(p *Page, body []byte, final *url.URL) {
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		p.Text = Invisible(stripTags(string(body)))
		return
	}
	clean(doc)
	p.Links = links(doc, final)
	art, err := readability.FromDocument(doc, final)
	if err == nil && art.Node != nil {
		var b strings.Builder
		_ = art.RenderText(&b)
		p.Title, p.Text = strings.TrimSpace(art.Title()), b.String()
		return
	}
	var b bytes.Buffer
	_ = html.Render(&b, doc)
	p.Text = stripTags(b.String())
}

// textLinks returns the URLs written in a plain text document, at most MaxLinks.
func textLinks(text string) []string {
	us := untrusted.URLsIn(text)
	return slices.Compact(us[:min(len(us), MaxLinks)])
}

// Feed is what read_feed returns.
type Feed struct {
	URL   string `json:"url"`
	Title string `json:"title"`
	Items []Item `json:"items"`
}

// Item is one feed entry.
type Item struct {
	Title   string `json:"title"`
	Link    string `json:"link,omitempty"`
	Date    string `json:"date,omitempty"`
	Summary string `json:"summary,omitempty"`
}

// ReadFeed is the read_feed tool.
func (f *Fetcher) ReadFeed() tool.Tool {
	return tool.MustFunc(ReadFeedName, "Read an RSS, Atom or JSON feed (http or https URL) and return its newest items as JSON: title, link, date, summary.",
		func(ctx context.Context, a urlArgs) (tool.Result, error) {
			ctx = withTool(ctx, ReadFeedName)
			if err := f.provenance(ctx, ReadFeedName, a.URL); err != nil {
				return tool.Result{}, err
			}
			fd, err := f.Feed(ctx, a.URL)
			if err != nil {
				return tool.Result{}, err
			}
			b, _ := json.Marshal(fd)
			var text strings.Builder
			var seen []string
			for _, it := range fd.Items {
				text.WriteString(it.Title + "\n" + it.Summary + "\n")
				if it.Link != "" {
					seen = append(seen, it.Link)
				}
			}
			record(ctx, append([]string{fd.URL}, seen...)...)
			src := tool.NewSource(fd.URL, fd.Title, text.String(), f.cfg.Now())
			src.Links = seen
			return tool.Result{Content: string(b), Source: src}, nil
		})
}

// Feed reads a feed and returns its newest items, newest first.
func (f *Fetcher) Feed(ctx context.Context, raw string) (*Feed, error) {
	body, truncated, final, _, err := f.get(ctx, raw, "application/rss+xml,application/atom+xml,application/feed+json,application/xml;q=0.9,*/*;q=0.5")
	if err != nil {
		return nil, err
	}
	if truncated {
		return nil, fmt.Errorf("web: the feed at %s is larger than %d bytes", final.Redacted(), f.cfg.MaxBytes)
	}
	parsed, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("web: %s is not an RSS, Atom or JSON feed: %w", final.Redacted(), err)
	}
	items := slices.Clone(parsed.Items)
	date := func(it *gofeed.Item) time.Time {
		switch {
		case it.PublishedParsed != nil:
			return *it.PublishedParsed
		case it.UpdatedParsed != nil:
			return *it.UpdatedParsed
		}
		return time.Time{}
	}
	slices.SortStableFunc(items, func(a, b *gofeed.Item) int { return date(b).Compare(date(a)) })
	fd := &Feed{URL: final.String(), Title: strings.TrimSpace(parsed.Title)}
	for _, it := range items[:min(len(items), f.cfg.MaxItems)] {
		summary := it.Description
		if summary == "" {
			summary = it.Content
		}
		summary = tidy(textOf(summary))
		if cut, ok := f.tok.Truncate(summary, 200); ok {
			summary = cut + " …"
		}
		item := Item{Title: strings.TrimSpace(Invisible(it.Title)), Link: it.Link, Summary: summary}
		if d := date(it); !d.IsZero() {
			item.Date = d.UTC().Format(time.RFC3339)
		}
		fd.Items = append(fd.Items, item)
	}
	return fd, nil
}

var (
	tagRe    = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]*>`)
	blankRe  = regexp.MustCompile(`\n\s*\n\s*`)
	spacesRe = regexp.MustCompile(`[ \t\r\f\v]+`)
	entities = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&nbsp;", " ")
)

var spaceBeforePunct = regexp.MustCompile(`[ \t]+([.,;:!?])`)

func stripTags(s string) string {
	return spaceBeforePunct.ReplaceAllString(entities.Replace(tagRe.ReplaceAllString(s, " ")), "$1")
}

// tidy collapses runs of spaces and blank lines.
func tidy(s string) string {
	s = spacesRe.ReplaceAllString(s, " ")
	s = blankRe.ReplaceAllString(s, "\n\n")
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}
