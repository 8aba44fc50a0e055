package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/internal/dnstest"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// TestFetch_ANameThatDoesNotResolveNamesNoResolver fetches a host name the
// DNS server does not know: the error says the name did not resolve, and
// names neither the resolver nor its port.
func TestFetch_ANameThatDoesNotResolveNamesNoResolver(t *testing.T) {
	t.Parallel()
	r := dnstest.NXDomain(t)
	if _, err := r.LookupHost(context.Background(), "0x7f000001.example"); err == nil || !strings.Contains(err.Error(), ":53") {
		t.Fatalf("the resolver's own error = %v, want one naming its server (the test proves nothing otherwise)", err)
	}
	f := web.New(web.Config{Resolver: r})
	for _, u := range []string{"http://0x7f000001.example/", "https://news.invalid/a?b=c"} {
		_, err := f.Fetch(context.Background(), u)
		if !errors.Is(err, web.ErrNameNotResolved) || !strings.Contains(err.Error(), "did not resolve") {
			t.Errorf("Fetch(%s) = %v, want ErrNameNotResolved", u, err)
		}
		if err != nil {
			for _, leak := range []string{":53", "lookup", "on 1", "on [", "udp", "10.255."} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("Fetch(%s) = %q names the resolver (%q)", u, err, leak)
				}
			}
		}
	}
}

// contentHandler serves documents that are not text: a gzip bomb of zeros
// declared HTML, a PNG and a PDF declared text, and pages with nothing to
// read.
func contentHandler(t *testing.T) http.Handler {
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 64 { // 64 MB of zeros in about 64 KB
		if _, err := zw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02")
	mux := http.NewServeMux()
	serve := func(path, ct string, body []byte, gz bool) {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", ct)
			if gz {
				w.Header().Set("Content-Encoding", "gzip")
			}
			_, _ = w.Write(body)
		})
	}
	serve("/bomb", "text/html; charset=utf-8", bomb.Bytes(), true)
	serve("/png-as-html", "text/html", png, false)
	serve("/pdf-as-text", "text/plain", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"), false)
	serve("/blank", "text/html", []byte("<!doctype html><html><head><title></title></head><body>  \n\t </body></html>"), false)
	serve("/replacement", "text/plain; charset=utf-8", bytes.Repeat([]byte("\xef\xbf\xbd "), 5000), false)
	serve("/empty", "text/plain", nil, false)
	serve("/ok", "text/plain", []byte("The bridge reopens on Monday."), false)
	return mux
}

// TestFetch_RefusesDocumentsWithoutText fetches a gzip bomb of zeros, binary
// content declared as text, and pages with no readable text: each is
// refused (ErrNotText or ErrNoText) and no replacement characters reach
// the caller; a page with text still reads.
func TestFetch_RefusesDocumentsWithoutText(t *testing.T) {
	t.Parallel()
	host, port := serveOn(t, "127.0.0.1", contentHandler(t))
	base := "http://" + host + ":" + strconv.Itoa(port)
	f := web.New(web.Config{Allow: []string{host + ":" + strconv.Itoa(port)}})
	for path, want := range map[string]error{"/bomb": web.ErrNotText, "/png-as-html": web.ErrNotText, "/pdf-as-text": web.ErrNotText,
		"/blank": web.ErrNoText, "/replacement": web.ErrNoText, "/empty": web.ErrNoText} {
		p, err := f.Fetch(context.Background(), base+path)
		if !errors.Is(err, want) || !strings.Contains(err.Error(), "no text") {
			t.Errorf("Fetch(%s) = %v, want %v saying no text", path, err, want)
		}
		if p != nil {
			t.Errorf("Fetch(%s) returned a page of %d characters", path, len(p.Text))
		}
	}
	if p, err := f.Fetch(context.Background(), base+"/ok"); err != nil || !strings.Contains(p.Text, "bridge") {
		t.Errorf("Fetch(/ok) = %v, %v", p, err)
	}
	docs, err := f.Sources(context.Background(), []string{base + "/ok", base + "/bomb"})
	var se *web.SourceError
	if !errors.As(err, &se) || se.Index != 1 || docs != nil {
		t.Errorf("Sources with a bomb second = %v, %v, want a SourceError for index 1", docs, err)
	}
}
