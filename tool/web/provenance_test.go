package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tool/web"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// hits counts the requests a test server received, by path and query.
type hits struct {
	mu   sync.Mutex
	seen []string
}

func (h *hits) add(r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, r.URL.RequestURI())
}

func (h *hits) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...)
}

// provenanceSite serves a page whose links are the only other URLs a run
// may reach, a redirect within the site and one off it.
func provenanceSite(t *testing.T, h *hits, other string) string {
	mux := http.NewServeMux()
	var addr string
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.add(r)
		switch r.URL.Path {
		case "/index":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<html><head><title>Index</title></head><body><article><h1>Index of the council's papers</h1>
<p>The council published its papers on Monday, with the minutes of the harbour vote and the budget.</p>
<p><a href="/minutes?year=2026">Minutes</a> and <a href="http://%s/budget">the budget</a>.</p>
<p hidden><a href="/secret">a link no reader sees</a></p></article></body></html>`, other)
		case "/moved":
			http.Redirect(w, r, "/minutes?year=2026", http.StatusFound)
		case "/away":
			http.Redirect(w, r, "http://"+other+"/collect?d=embargoed", http.StatusFound)
		case "/away-known":
			http.Redirect(w, r, "http://"+other+"/budget", http.StatusFound)
		default:
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "The page %s of the council's site, with its text.", r.URL.Path)
		}
	})
	host, port := serveOn(t, "127.0.0.2", mux)
	addr = net.JoinHostPort(host, strconv.Itoa(port))
	return addr
}

func otherSite(t *testing.T, h *hits) string {
	host, port := serveOn(t, "127.0.0.3", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.add(r)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "The budget is 14.5 million euros over three years.")
	}))
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func callIn(ctx context.Context, t *testing.T, f *web.Fetcher, name, url string) (string, error) {
	t.Helper()
	for _, tl := range f.Tools() {
		if tl.Definition().Name == name {
			args, _ := json.Marshal(map[string]string{"url": url})
			r, err := tl.Call(ctx, args)
			return r.Content, err
		}
	}
	t.Fatalf("no tool %s", name)
	return "", nil
}

func TestFetchURL_OpensOnlyURLsWithProvenance(t *testing.T) {
	t.Parallel()
	var site, away hits
	other := otherSite(t, &away)
	addr := provenanceSite(t, &site, other)
	var log logs
	f := web.New(web.Config{Allow: []string{addr, other}, Logger: log.logger()})
	base := "http://" + addr
	// What every case shares: a run whose task names the index page, and
	// which has fetched it (so its links have provenance).
	newRun := func(t *testing.T, open ...string) (context.Context, *untrusted.Run) {
		run := untrusted.New(untrusted.Options{Open: open})
		run.AddText("Write about the council's papers at " + base + "/index.")
		ctx := model.WithMeta(untrusted.With(context.Background(), run), model.Meta{RunID: "run-42"})
		if _, err := callIn(ctx, t, f, web.FetchURLName, base+"/index"); err != nil {
			t.Fatalf("the task's URL was refused: %v", err)
		}
		return ctx, run
	}
	tests := []struct {
		name string
		url  string
		open []string
		// kind is the refusal's kind, "" when the fetch is allowed.
		kind string
	}{
		{name: "the task's URL", url: base + "/index"},
		{name: "a link of a fetched page, as the page had it", url: base + "/minutes?year=2026"},
		{name: "a link to another site of a fetched page", url: "http://" + other + "/budget"},
		{name: "a URL of an open host", url: base + "/anything?q=1", open: []string{"127.0.0.2"}},
		{name: "a known URL without its fragment", url: base + "/index"},
		{name: "a URL the model made up", url: base + "/collect?d=the+embargoed+names", kind: untrusted.KindNoProvenance},
		{name: "a link hidden from readers", url: base + "/secret", kind: untrusted.KindNoProvenance},
		{name: "a known URL with a changed query", url: base + "/minutes?year=2026&d=leak", kind: untrusted.KindChangedQuery},
		{name: "a known URL with a query added", url: base + "/index?d=leak", kind: untrusted.KindChangedQuery},
		{name: "a known URL with a fragment added", url: base + "/index#leak", kind: untrusted.KindChangedQuery},
		{name: "a redirect within the site", url: base + "/moved", open: []string{"127.0.0.2"}},
		{name: "a redirect off-site to a URL without provenance", url: base + "/away", open: []string{"127.0.0.2"}, kind: untrusted.KindRedirect},
		{name: "a redirect off-site to a URL with provenance", url: base + "/away-known", open: []string{"127.0.0.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, run := newRun(t, tt.open...)
			before := len(site.got()) + len(away.got())
			_, err := callIn(ctx, t, f, web.FetchURLName, tt.url)
			if tt.kind == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var np *untrusted.NoProvenanceError
			if !errors.As(err, &np) || np.Kind != tt.kind || !strings.Contains(err.Error(), "no provenance") && tt.kind != untrusted.KindRedirect {
				t.Fatalf("err %v, want a refusal of kind %s", err, tt.kind)
			}
			if strings.Contains(err.Error(), "leak") || strings.Contains(err.Error(), "embargoed") {
				t.Errorf("the error repeats the query's values: %v", err)
			}
			evs := run.Drain()
			if len(evs) != 1 || evs[0].Kind != tt.kind || evs[0].Tool != web.FetchURLName {
				t.Errorf("security events %+v, want one of kind %s", evs, tt.kind)
			}
			if tt.kind != untrusted.KindRedirect {
				if n := len(site.got()) + len(away.got()); n != before {
					t.Errorf("%d requests left for a refused URL: %v %v", n-before, site.got(), away.got())
				}
			}
			for _, r := range away.got() {
				if strings.Contains(r, "collect") {
					t.Errorf("the off-site redirect's target was requested: %s", r)
				}
			}
		})
	}
	out := log.String()
	if !strings.Contains(out, "fetch refused: no provenance") || !strings.Contains(out, "run=run-42") {
		t.Errorf("no WARN line with the run: %s", out)
	}
	for _, secret := range []string{"the+embargoed+names", "d=leak", "embargoed"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log has the query value %q:\n%s", secret, out)
		}
	}
}

func TestReadFeed_RefusesAFeedWithoutProvenanceAndOffLetsItThrough(t *testing.T) {
	t.Parallel()
	var site, away hits
	other := otherSite(t, &away)
	addr := provenanceSite(t, &site, other)
	f := web.New(web.Config{Allow: []string{addr, other}})
	strict := untrusted.With(context.Background(), untrusted.New(untrusted.Options{}))
	if _, err := callIn(strict, t, f, web.ReadFeedName, "http://"+addr+"/feed"); !errors.Is(err, untrusted.ErrNoProvenance) {
		t.Fatalf("read_feed of an unseen URL: %v", err)
	}
	if n := len(site.got()); n != 0 {
		t.Fatalf("%d requests left", n)
	}
	off := untrusted.With(context.Background(), untrusted.New(untrusted.Options{Off: true}))
	if _, err := callIn(off, t, f, web.FetchURLName, "http://"+addr+"/anything?d=1"); err != nil {
		t.Fatalf("provenance off refused: %v", err)
	}
}
