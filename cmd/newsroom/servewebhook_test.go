package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRunServe_WebhookGetsASignedArticlePublished starts serve with
// --webhook at a loopback receiver (let through the guard by
// NEWSROOM_FETCH_ALLOW) and NEWSROOM_WEBHOOK_SECRET, publishes a run, and
// checks the receiver got an article.published delivery whose
// Newsroom-Signature verifies with the secret.
func TestRunServe_WebhookGetsASignedArticlePublished(t *testing.T) {
	type delivery struct {
		event, sig string
		body       []byte
	}
	got := make(chan delivery, 8)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Get("Newsroom-Event"), r.Header.Get("Newsroom-Signature"), b}
	}))
	defer recv.Close()
	dir := isolate(t)
	const secret = "whsec-test-0123456789"
	t.Setenv("NEWSROOM_WEBHOOK_SECRET", secret)
	t.Setenv("NEWSROOM_FETCH_ALLOW", strings.TrimPrefix(recv.URL, "http://"))
	srv := startServe(t, dir, "--drain-delay", "0s", "--webhook", recv.URL+"/hook")
	resp := srv.do(t, "POST", "/v1/runs", `{"task":"Facts: A library opened on Monday.","approval":"none"}`)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/runs = %d %s", resp.StatusCode, b)
	}
	for deadline := time.After(60 * time.Second); ; {
		select {
		case d := <-got:
			if d.event != "article.published" {
				continue
			}
			ts, v1, ok := strings.Cut(strings.TrimPrefix(d.sig, "t="), ",v1=")
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write([]byte(ts + "."))
			mac.Write(d.body)
			if !ok || !hmac.Equal([]byte(v1), []byte(hex.EncodeToString(mac.Sum(nil)))) {
				t.Fatalf("signature %q does not verify for %s", d.sig, d.body)
			}
			if !strings.Contains(string(d.body), "article.published") && !strings.Contains(string(d.body), "headline") {
				t.Fatalf("delivery body %s", d.body)
			}
			return
		case <-deadline:
			t.Fatalf("no article.published delivery; serve said:\n%s", srv.stderr.String())
		}
	}
}
