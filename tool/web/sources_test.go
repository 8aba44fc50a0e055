package web_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/tool/web"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://news.example/a?b=1", true},
		{"http://127.0.0.2:8080/x", true}, // the guard, not CheckURL, decides on destinations
		{"ftp://news.example/a", false},
		{"javascript:alert(1)", false},
		{"/relative", false},
		{"https://", false},
		{"https://user:secret@news.example/", false},
		{"https://news.example/" + string(make([]byte, web.MaxURLBytes)), false},
	} {
		if err := web.CheckURL(c.url); (err == nil) != c.ok || (err != nil && !errors.Is(err, web.ErrBadURL)) {
			t.Errorf("CheckURL(%.40q) = %v, want ok %v", c.url, err, c.ok)
		}
	}
}

func TestFetcher_SourcesReadsAllInOrderOrNamesTheFirstFailure(t *testing.T) {
	t.Parallel()
	host, port := serveOn(t, "127.0.0.2", pageHandler())
	base := "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	at := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	f := web.New(web.Config{Allow: []string{net.JoinHostPort(host, strconv.Itoa(port))}, Now: func() time.Time { return at }})

	docs, err := f.Sources(context.Background(), []string{base + "/plain", base + "/article"})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].URL != base+"/plain" || docs[1].Title != "Harbour library opens | City News" ||
		!docs[0].FetchedAt.Equal(at) || len(docs[1].Hash) != 64 || docs[0].Text != "Press release.\nThe bridge reopens on Monday." {
		t.Fatalf("sources %+v", docs)
	}

	// A missing page and a refused destination: the first in the list is named.
	refused := "http://127.0.0.3:" + strconv.Itoa(port) + "/plain"
	_, err = f.Sources(context.Background(), []string{base + "/plain", refused, base + "/missing"})
	var se *web.SourceError
	if !errors.As(err, &se) || se.Index != 1 || se.URL != refused || !errors.Is(err, web.ErrRefused) {
		t.Fatalf("err = %v, want the refused second URL named", err)
	}
	_, err = f.Sources(context.Background(), []string{base + "/missing"})
	if !errors.As(err, &se) || se.Index != 0 || errors.Is(err, web.ErrRefused) {
		t.Fatalf("err = %v, want the missing page named", err)
	}
}
