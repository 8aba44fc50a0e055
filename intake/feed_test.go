package intake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/intake"
)

// feedFixture serves an RSS feed on loopback with an ETag, answering 304 to
// a request that has it, and failing while fail is set.
type feedFixture struct {
	mu       sync.Mutex
	items    []string // RSS <item> elements
	fail     int      // requests still to answer 500
	body     string   // when set, served as is
	requests int
	notMod   int
}

func (f *feedFixture) add(guid, title string, pub time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = append(f.items, fmt.Sprintf(`<item><guid>%s</guid><title>%s</title><link>https://harbour.example/%s</link>
<description>About %s.</description><category>Port</category><pubDate>%s</pubDate></item>`, guid, title, guid, title, pub.Format(time.RFC1123Z)))
}

func (f *feedFixture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if f.fail > 0 {
		f.fail--
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	if f.body != "" {
		fmt.Fprint(w, f.body)
		return
	}
	etag := fmt.Sprintf(`"v%d"`, len(f.items))
	if r.Header.Get("If-None-Match") == etag {
		f.notMod++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/rss+xml")
	fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour press</title>%s</channel></rss>`, strings.Join(f.items, ""))
}

func newFeed(t *testing.T, fx *feedFixture, start string, now time.Time, maxBytes int64) *intake.Feed {
	t.Helper()
	srv := httptest.NewServer(fx)
	t.Cleanup(srv.Close)
	src := &intake.Source{Name: "harbour-press", Feed: srv.URL + "/press.xml", Desk: "roundrobin", Start: start, Every: "1m"}
	return intake.NewFeed(src, intake.FeedOptions{Client: srv.Client(), Now: now, MaxBytes: maxBytes,
		Jitter: func(d time.Duration) time.Duration { return d }})
}

func ids(items []intake.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func TestFeed_FirstPollSkipsTheBacklogThenTakesNewItems(t *testing.T) {
	now := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	fx := &feedFixture{}
	fx.add("old-1", "Old news", now.Add(-2*time.Hour))
	fx.add("new-1", "Ferry strike", now.Add(time.Minute))
	f := newFeed(t, fx, "now", now, 0)
	ctx := context.Background()
	got, err := f.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids(got)) != "[new-1]" {
		t.Errorf("first poll = %v, want [new-1] (old-1 is backlog)", ids(got))
	}
	if got[0].Title != "Ferry strike" || got[0].Summary != "About Ferry strike." || got[0].Link != "https://harbour.example/new-1" ||
		fmt.Sprint(got[0].Categories) != "[Port]" || !got[0].Published.Equal(now.Add(time.Minute)) {
		t.Errorf("item = %+v", got[0])
	}
	// Unchanged: a conditional request answered 304, no items.
	got, err = f.Poll(ctx)
	if err != nil || got != nil || fx.notMod != 1 {
		t.Errorf("unchanged poll = %v, %v; 304s %d, want none, 1", ids(got), err, fx.notMod)
	}
	// After the first poll a new item counts whatever its date (the inbox
	// says what is new); the backlog stays skipped.
	fx.add("new-2", "Dredging starts", now.Add(-time.Hour))
	got, err = f.Poll(ctx)
	if err != nil || fmt.Sprint(ids(got)) != "[new-1 new-2]" {
		t.Errorf("changed poll = %v, %v; want [new-1 new-2]", ids(got), err)
	}
}

func TestFeed_StartAllTakesTheBacklog(t *testing.T) {
	now := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	fx := &feedFixture{}
	fx.add("old-1", "Old news", now.Add(-48*time.Hour))
	got, err := newFeed(t, fx, "all", now, 0).Poll(context.Background())
	if err != nil || fmt.Sprint(ids(got)) != "[old-1]" {
		t.Errorf("poll = %v, %v; want [old-1]", ids(got), err)
	}
}

func TestFeed_ErrorsBackOffAndRecover(t *testing.T) {
	now := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	fx := &feedFixture{fail: 2}
	fx.add("new-1", "Ferry strike", now.Add(time.Minute))
	f := newFeed(t, fx, "now", now, 0)
	ctx := context.Background()
	var waits []time.Duration
	for range 2 {
		if _, err := f.Poll(ctx); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
			t.Fatalf("poll of a failing feed: %v", err)
		}
		waits = append(waits, f.Next())
	}
	if waits[0] != 2*time.Minute || waits[1] != 4*time.Minute {
		t.Errorf("backoff %v, want [2m 4m] (the jitter here keeps the full wait)", waits)
	}
	got, err := f.Poll(ctx)
	if err != nil || fmt.Sprint(ids(got)) != "[new-1]" || f.Next() != time.Minute || f.Failures() != 0 {
		t.Errorf("recovered poll = %v, %v, next %s", ids(got), err, f.Next())
	}
}

func TestFeed_RefusesAHugeFeed(t *testing.T) {
	fx := &feedFixture{body: `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>` +
		strings.Repeat("<item><title>padding padding padding</title></item>", 2000) + `</channel></rss>`}
	_, err := newFeed(t, fx, "all", time.Now(), 32<<10).Poll(context.Background())
	if !errors.Is(err, intake.ErrFeedTooLarge) {
		t.Errorf("poll of a %d-byte feed with a 32 KiB limit: %v, want ErrFeedTooLarge", len(fx.body), err)
	}
}

func TestFeed_ReadsAtomAndJSONFeed(t *testing.T) {
	cases := map[string]string{
		"atom": `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title>
<entry><id>urn:a:1</id><title>Quay closes</title><link href="https://harbour.example/a1"/><updated>2030-01-01T00:00:00Z</updated><summary>S</summary></entry></feed>`,
		"json": `{"version":"https://jsonfeed.org/version/1.1","title":"x","items":[{"id":"urn:a:1","title":"Quay closes",
"url":"https://harbour.example/a1","date_published":"2030-01-01T00:00:00Z","summary":"S"}]}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := newFeed(t, &feedFixture{body: body}, "now", time.Now(), 0).Poll(context.Background())
			if err != nil || len(got) != 1 || got[0].ID != "urn:a:1" || got[0].Title != "Quay closes" || got[0].Link != "https://harbour.example/a1" {
				t.Errorf("poll = %+v, %v", got, err)
			}
		})
	}
}

func TestFeed_LastModifiedGivesA304(t *testing.T) {
	modified := time.Date(2026, 12, 8, 8, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	var conditional, full int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-Modified-Since") == modified {
			conditional++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full++
		w.Header().Set("Last-Modified", modified)
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><guid>g1</guid><title>T</title></item></channel></rss>`)
	}))
	defer srv.Close()
	f := intake.NewFeed(&intake.Source{Name: "lm", Feed: srv.URL, Desk: "d", Start: "all"}, intake.FeedOptions{Client: srv.Client()})
	for range 3 {
		if _, err := f.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if full != 1 || conditional != 2 {
		t.Errorf("%d full and %d conditional requests, want 1 and 2", full, conditional)
	}
}
