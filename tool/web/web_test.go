package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/tool/web"
)

// serveOn starts a real HTTP server on a given loopback address (127.0.0.2
// and the like: the whole 127/8 block is the loopback interface on Linux).
func serveOn(t *testing.T, ip string, h http.Handler) (host string, port int) {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return ip, l.Addr().(*net.TCPAddr).Port
}

const article = `<!doctype html><html><head><title>Harbour library opens | City News</title></head><body>
<nav><a href="/">Home</a> <a href="/sport">Sport</a></nav>
<article><h1>Harbour library opens</h1>
<p>The new harbour library opened on Saturday with 12,000 books on its shelves, the city said in a statement.</p>
<p>Director Léa Martin said the building had been planned for six years and was finished on budget.</p>
<p>Opening hours are from nine in the morning until eight in the evening, every day of the week except Monday.</p>
</article><footer>Copyright City News</footer></body></html>`

func pageHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/article", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, article)
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "Press release.\nThe bridge reopens on Monday.")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, strings.Repeat("word ", 100_000))
	})
	mux.HandleFunc("/image", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write([]byte{0x89, 'P', 'N', 'G'})
	})
	mux.HandleFunc("/missing", http.NotFound)
	return mux
}

// logs collects WARN lines.
type logs struct{ bytes.Buffer }

func (l *logs) logger() *slog.Logger { return slog.New(slog.NewTextHandler(&l.Buffer, nil)) }

func call(t *testing.T, f *web.Fetcher, name, url string) (string, error) {
	t.Helper()
	for _, tl := range f.Tools() {
		if tl.Definition().Name == name {
			args, _ := json.Marshal(map[string]string{"url": url})
			r, err := tl.Call(context.Background(), args)
			if err == nil && r.Source == nil {
				t.Errorf("%s %s: no source", name, url)
			}
			return r.Content, err
		}
	}
	t.Fatalf("no tool %s", name)
	return "", nil
}

func TestFetchURL_ReturnsReadableTextOfAnAllowedPage(t *testing.T) {
	t.Parallel()
	host, port := serveOn(t, "127.0.0.2", pageHandler())
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	f := web.New(web.Config{Allow: []string{addr}})
	out, err := call(t, f, web.FetchURLName, "http://"+addr+"/article")
	if err != nil {
		t.Fatal(err)
	}
	var p web.Page
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Title, "Harbour library opens") || !strings.Contains(p.Text, "12,000 books") ||
		strings.Contains(p.Text, "Copyright") || strings.Contains(p.Text, "<p>") || p.Truncated || p.FinalURL != "http://"+addr+"/article" {
		t.Fatalf("page %+v", p)
	}

	plain, err := f.Fetch(context.Background(), "http://"+addr+"/plain")
	if err != nil || !strings.Contains(plain.Text, "The bridge reopens on Monday.") {
		t.Fatalf("plain text: %+v %v", plain, err)
	}
	big, err := f.Fetch(context.Background(), "http://"+addr+"/big")
	if err != nil || !big.Truncated || len(strings.Fields(big.Text)) > web.DefaultMaxTokens {
		t.Fatalf("big page: truncated %v, %d words, %v", big != nil && big.Truncated, len(strings.Fields(big.Text)), err)
	}
	small := web.New(web.Config{Allow: []string{addr}, MaxBytes: 1000})
	if p, err := small.Fetch(context.Background(), "http://"+addr+"/big"); err != nil || !p.Truncated || len(p.Text) > 1000 {
		t.Fatalf("byte cap: %v", err)
	}
	for _, path := range []string{"/image", "/missing"} {
		if _, err := f.Fetch(context.Background(), "http://"+addr+path); err == nil {
			t.Errorf("%s: no error", path)
		}
	}
	for _, bad := range []string{"file:///etc/passwd", "ftp://example.org/", "/relative", "http://user:pw@" + addr + "/plain"} {
		if _, err := f.Fetch(context.Background(), bad); !errors.Is(err, web.ErrBadURL) {
			t.Errorf("%s: err %v, want ErrBadURL", bad, err)
		}
	}
}

func TestGuard_RefusesInternalDestinationsAtDialTime(t *testing.T) {
	t.Parallel()
	_, port := serveOn(t, "127.0.0.2", pageHandler())
	// A public-looking redirect is impossible on loopback, so the allowed
	// first hop is an allow-listed server whose redirect goes elsewhere.
	_, hop := serveOn(t, "127.0.0.4", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.2:"+strconv.Itoa(port)+"/article", http.StatusFound)
	}))
	_, loop := serveOn(t, "127.0.0.5", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"x", http.StatusFound)
	}))
	hopAddr := "127.0.0.4:" + strconv.Itoa(hop)
	loopAddr := "127.0.0.5:" + strconv.Itoa(loop)
	var log logs
	// Every test port is allowed, so only the address classes decide.
	f := web.New(web.Config{Allow: []string{hopAddr, loopAddr}, AllowPorts: []int{port, hop, loop}, Logger: log.logger()})
	p := strconv.Itoa(port)
	refused := []struct{ name, url, host string }{
		{"loopback 127.0.0.2", "http://127.0.0.2:" + p + "/article", "127.0.0.2"},
		{"a name resolving to loopback", "http://localhost:" + p + "/article", "localhost"},
		{"IPv6 loopback", "http://[::1]:" + p + "/", "::1"},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/", "169.254.169.254"},
		{"private 10/8", "http://10.1.2.3/", "10.1.2.3"},
		{"private 192.168/16", "http://192.168.0.1/", "192.168.0.1"},
		{"unspecified", "http://0.0.0.0:" + p + "/", "0.0.0.0"},
		{"a redirect hop to a refused address", "http://" + hopAddr + "/", "127.0.0.2"},
		{"a public port other than 80 or 443", "http://127.0.0.2:8081/", "127.0.0.2"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.Fetch(context.Background(), tc.url)
			var re *web.RefusedError
			if !errors.As(err, &re) || !errors.Is(err, web.ErrRefused) {
				t.Fatalf("err %v, want a refusal", err)
			}
			if re.Host != tc.host {
				t.Errorf("refused host %q, want %q", re.Host, tc.host)
			}
			if !strings.Contains(log.String(), "host="+tc.host) && !strings.Contains(log.String(), `host="`+tc.host) {
				t.Errorf("no WARN line names %s:\n%s", tc.host, log.String())
			}
		})
	}
	if _, err := f.Fetch(context.Background(), "http://"+loopAddr+"/"); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("redirect loop: %v", err)
	}
	// Allow-listed, the same server is read.
	ok := web.New(web.Config{Allow: []string{"127.0.0.2:" + p, hopAddr}})
	if pg, err := ok.Fetch(context.Background(), "http://"+hopAddr+"/"); err != nil || !strings.Contains(pg.Text, "12,000") {
		t.Fatalf("allowed redirect: %v", err)
	}
}

func TestGuard_AddressClasses(t *testing.T) {
	t.Parallel()
	// Addresses that cannot be served on this machine are checked through
	// a dial that the guard stops before any packet is sent.
	f := web.New(web.Config{})
	for _, host := range []string{"[fd00::1]", "[fe80::1]", "224.0.0.1", "100.64.0.1", "172.16.0.1", "[::ffff:127.0.0.1]", "255.255.255.255"} {
		_, err := f.Fetch(context.Background(), "http://"+host+"/")
		if !errors.Is(err, web.ErrRefused) {
			// A machine without IPv6 may fail to create the socket first; that too is no connection.
			var ne *net.OpError
			if strings.HasPrefix(host, "[f") && errors.As(err, &ne) {
				continue
			}
			t.Errorf("%s: err %v, want a refusal", host, err)
		}
	}
}

const rss = `<?xml version="1.0"?><rss version="2.0"><channel><title>City Agency</title>
<item><title>Older story</title><link>https://example.org/1</link><pubDate>Mon, 02 Jan 2026 10:00:00 GMT</pubDate><description>Old &lt;b&gt;news&lt;/b&gt;.</description></item>
<item><title>Newest story</title><link>https://example.org/2</link><pubDate>Tue, 03 Jan 2026 10:00:00 GMT</pubDate><description>Fresh news.</description></item>
</channel></rss>`

const atom = `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Desk</title>
<entry><title>Atom entry</title><link href="https://example.org/a"/><updated>2026-01-05T10:00:00Z</updated><summary>Atom summary.</summary></entry></feed>`

const jsonFeed = `{"version":"https://jsonfeed.org/version/1.1","title":"JSON Desk","items":[{"id":"1","title":"JSON item","url":"https://example.org/j","content_text":"JSON text.","date_published":"2026-01-06T10:00:00Z"}]}`

func TestReadFeed_ReadsRSSAtomAndJSONFeedNewestFirst(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	for path, body := range map[string]string{"/rss": rss, "/atom": atom, "/feed.json": jsonFeed, "/notafeed": "hello"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, body) })
	}
	host, port := serveOn(t, "127.0.0.6", mux)
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	f := web.New(web.Config{Allow: []string{addr}})
	want := map[string]string{"/rss": "Newest story", "/atom": "Atom entry", "/feed.json": "JSON item"}
	for path, first := range want {
		out, err := call(t, f, web.ReadFeedName, "http://"+addr+path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var fd web.Feed
		if err := json.Unmarshal([]byte(out), &fd); err != nil {
			t.Fatal(err)
		}
		if len(fd.Items) == 0 || fd.Items[0].Title != first || fd.Title == "" || fd.Items[0].Date == "" {
			t.Errorf("%s: %+v", path, fd)
		}
		if path == "/rss" && (len(fd.Items) != 2 || fd.Items[1].Summary != "Old news.") {
			t.Errorf("rss items %+v", fd.Items)
		}
	}
	if _, err := f.Feed(context.Background(), "http://"+addr+"/notafeed"); err == nil {
		t.Error("a page that is not a feed was read as one")
	}
}

// The limits the issue sets: 2 MB, 15 s, 5 redirects.
func TestDefaults_AreTheIssuesLimits(t *testing.T) {
	t.Parallel()
	if web.DefaultMaxBytes != 2*1024*1024 || web.DefaultTimeout != 15*time.Second || web.DefaultMaxRedirects != 5 {
		t.Fatalf("defaults %d bytes, %v, %d redirects; want 2 MB, 15s, 5", web.DefaultMaxBytes, web.DefaultTimeout, web.DefaultMaxRedirects)
	}
}

// A fetcher with the default settings follows a chain of five redirects
// and refuses the sixth.
func TestFetch_FollowsFiveRedirectsByDefaultNotSix(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.Handle("/article", pageHandler())
	mux.HandleFunc("/r/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n <= 0 {
			http.NotFound(w, r)
			return
		}
		next := "/article"
		if n > 1 {
			next = "/r/" + strconv.Itoa(n-1)
		}
		http.Redirect(w, r, next, http.StatusFound)
	})
	host, port := serveOn(t, "127.0.0.7", mux)
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	f := web.New(web.Config{Allow: []string{addr}})
	p, err := f.Fetch(context.Background(), "http://"+addr+"/r/5")
	if err != nil || !strings.Contains(p.Text, "12,000 books") || p.FinalURL != "http://"+addr+"/article" {
		t.Fatalf("five redirects: %+v, %v", p, err)
	}
	if _, err := f.Fetch(context.Background(), "http://"+addr+"/r/6"); err == nil || !strings.Contains(err.Error(), "more than 5 redirects") {
		t.Fatalf("six redirects: err %v, want more than 5 redirects", err)
	}
}

// A feed is read whole or not at all: with the default settings one of
// exactly 2 MB is read and one byte more is refused.
func TestFeed_DefaultByteCapIsTwoMegabytes(t *testing.T) {
	t.Parallel()
	const twoMB = 2 << 20
	exact := rss + strings.Repeat(" ", twoMB-len(rss))
	mux := http.NewServeMux()
	mux.HandleFunc("/exact", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, exact) })
	mux.HandleFunc("/over", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, exact+" ") })
	host, port := serveOn(t, "127.0.0.8", mux)
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	f := web.New(web.Config{Allow: []string{addr}})
	if fd, err := f.Feed(context.Background(), "http://"+addr+"/exact"); err != nil || len(fd.Items) != 2 {
		t.Fatalf("a 2 MB feed: %+v, %v", fd, err)
	}
	if _, err := f.Feed(context.Background(), "http://"+addr+"/over"); err == nil || !strings.Contains(err.Error(), "larger than 2097152 bytes") {
		t.Fatalf("a feed one byte over 2 MB: err %v", err)
	}
}

// A server that never answers ends the fetch at the fetcher's Timeout with
// an error saying so, and a WARN line naming the host.
func TestFetch_ASlowServerTimesOutClearly(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	host, port := serveOn(t, "127.0.0.9", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop) }) // runs before the server's Close
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	var log logs
	f := web.New(web.Config{Allow: []string{addr}, Timeout: 100 * time.Millisecond, Logger: log.logger()})
	start := time.Now()
	_, err := f.Fetch(context.Background(), "http://"+addr+"/slow")
	if err == nil || !strings.Contains(err.Error(), "http://"+addr+"/slow") ||
		!(strings.Contains(strings.ToLower(err.Error()), "timeout") || strings.Contains(err.Error(), "deadline exceeded")) {
		t.Fatalf("err %v, want a timeout naming the URL", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("the fetch took %v: Timeout was not applied", time.Since(start))
	}
	if !strings.Contains(log.String(), "fetch failed") || !strings.Contains(log.String(), "host="+host) {
		t.Fatalf("no WARN line names the host:\n%s", log.String())
	}
}

// read_feed is under the same guard as fetch_url.
func TestReadFeed_RefusesAnInternalAddress(t *testing.T) {
	t.Parallel()
	host, port := serveOn(t, "127.0.0.10", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, rss) }))
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/rss"
	var log logs
	f := web.New(web.Config{AllowPorts: []int{port}, Logger: log.logger()}) // the port is not what refuses it
	_, err := call(t, f, web.ReadFeedName, url)
	var re *web.RefusedError
	if !errors.As(err, &re) || re.Host != host || !strings.Contains(re.Reason, "loopback") {
		t.Fatalf("err %v, want a refusal of the loopback address", err)
	}
	if !strings.Contains(log.String(), "fetch refused") || !strings.Contains(log.String(), "host="+host) {
		t.Fatalf("no WARN line names the host:\n%s", log.String())
	}
}

// A bare "host" entry of the allow list lets that destination through on
// ports 80 and 443 (a "host:port" entry is needed for any other port).
func TestGuard_ABareHostEntryAllowsAnInternalDestinationOnPort80(t *testing.T) {
	t.Parallel()
	const ip = "127.0.0.11"
	l, err := net.Listen("tcp", ip+":80")
	if err != nil {
		if errors.Is(err, syscall.EACCES) && os.Getenv("CI") == "" {
			t.Skipf("cannot listen on port 80 here: %v", err)
		}
		t.Fatalf("listen on %s:80: %v", ip, err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: pageHandler()}}
	srv.Start()
	t.Cleanup(srv.Close)
	_, other := serveOn(t, ip, pageHandler())

	allowed := web.New(web.Config{Allow: []string{ip}})
	if p, err := allowed.Fetch(context.Background(), "http://"+ip+"/article"); err != nil || !strings.Contains(p.Text, "12,000 books") {
		t.Fatalf("allowed host on port 80: %+v, %v", p, err)
	}
	if _, err := allowed.Fetch(context.Background(), "http://"+ip+":"+strconv.Itoa(other)+"/article"); !errors.Is(err, web.ErrRefused) {
		t.Fatalf("allowed host on another port: err %v, want a refusal", err)
	}
	if _, err := web.New(web.Config{}).Fetch(context.Background(), "http://"+ip+"/article"); !errors.Is(err, web.ErrRefused) {
		t.Fatalf("without the entry: err %v, want a refusal", err)
	}
}
