package web

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/newsroom-dev/newsroom/tool"
)

// MaxURLBytes is the longest URL CheckURL accepts.
const MaxURLBytes = 2048

// CheckURL reports what is wrong with a URL a person gives as a source, or
// nil: it must be an absolute http or https URL with a host and without
// credentials, at most MaxURLBytes long. The guard still decides at dial
// time whether its destination may be reached.
func CheckURL(raw string) error {
	if len(raw) > MaxURLBytes {
		return fmt.Errorf("%w: longer than %d bytes", ErrBadURL, MaxURLBytes)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%w: %q", ErrBadURL, raw)
	case u.User != nil:
		return fmt.Errorf("%w: credentials in the URL", ErrBadURL)
	}
	return nil
}

// SourceError is the failure of one of the documents Sources fetches.
type SourceError struct {
	// Index is the URL's position in the list given to Sources.
	Index int
	URL   string
	Err   error
}

func (e *SourceError) Error() string { return e.URL + ": " + e.Err.Error() }

// Unwrap returns the fetch's error (a *RefusedError, ErrBadURL, ...).
func (e *SourceError) Unwrap() error { return e.Err }

// Sources fetches the documents a run is given before its team starts
// (`newsroom run --source`, the service's "sources"), at once and each under
// the guard, and returns them in the order of urls, read at the fetcher's
// clock. A URL that cannot be read fails them all: the first such URL in
// the list is returned as a *SourceError.
func (f *Fetcher) Sources(ctx context.Context, urls []string) ([]*tool.Source, error) {
	out := make([]*tool.Source, len(urls))
	errs := make([]error, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			p, err := f.Fetch(ctx, u)
			if err != nil {
				errs[i] = &SourceError{Index: i, URL: u, Err: err}
				return
			}
			out[i] = tool.NewSource(p.FinalURL, p.Title, p.Text, f.cfg.Now())
			out[i].Links = p.Links
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
