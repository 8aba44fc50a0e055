package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/internal/syncbuf"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
)

// receiver is a webhook receiver on loopback: it checks every delivery's
// signature against its secret, answers 500 to the first fail attempts of
// each delivery, and records what it received.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	secret string
	fail   int
	tries  map[string]int    // delivery id → attempts seen
	ok     map[string]int    // delivery id → attempts answered 2xx
	events map[string]string // delivery id → Newsroom-Event
	bodies map[string][]byte
	bad    []string
	srv    *http.Server
	addr   string
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{t: t, fail: fail, tries: map[string]int{}, ok: map[string]int{}, events: map[string]string{}, bodies: map[string][]byte{}}
	r.listen("127.0.0.1:0")
	return r
}

// listen serves on addr (again, after stop, on the same address).
func (r *receiver) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve)}
	go func() { _ = r.srv.Serve(ln) }()
	r.t.Cleanup(r.stop)
}

func (r *receiver) stop() { _ = r.srv.Close() }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	id := req.Header.Get("Newsroom-Delivery")
	if !r.valid(req.Header.Get("Newsroom-Signature"), body) || id == "" || req.Header.Get("Newsroom-Event") == "" {
		r.bad = append(r.bad, id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.tries[id]++
	if r.tries[id] <= r.fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	r.ok[id]++
	r.events[id], r.bodies[id] = req.Header.Get("Newsroom-Event"), body
	w.WriteHeader(http.StatusNoContent)
}

// valid checks a Newsroom-Signature: t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")>.
func (r *receiver) valid(sig string, body []byte) bool {
	ts, v1, ok := strings.Cut(sig, ",v1=")
	ts, found := strings.CutPrefix(ts, "t=")
	if !ok || !found {
		return false
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(r.secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(v1))
}

// waitFor polls cond (bounded; no fixed sleeps).
func waitFor30(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *receiver) delivered(event string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for id, ev := range r.events {
		if ev == event {
			ids = append(ids, id)
		}
	}
	return ids
}

// fastWebhooks are the settings that make the tests' retries quick.
func fastWebhooks(cfg Config, r *receiver) Config {
	cfg.KeyRateLimit = -1
	cfg.WebhookPoll = 5 * time.Millisecond
	cfg.WebhookBackoff = func(int) time.Duration { return 10 * time.Millisecond }
	cfg.WebhookAllow = []string{r.addr}
	return cfg
}

func (e *env) createWebhook(url string) WebhookCreated {
	e.t.Helper()
	resp, b := e.do("POST", "/v1/webhooks", e.admin, `{"url":"`+url+`"}`)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("POST /v1/webhooks = %d %s", resp.StatusCode, b)
	}
	var w WebhookCreated
	mustJSON(e.t, b, &w)
	return w
}

// TestWebhooks_SignedRetriedAndEveryEvent adds a webhook through the API
// (201, the secret once, never in GET nor the logs), publishes, corrects
// and retracts an article, and checks that a loopback receiver that
// verifies signatures and fails the first two attempts of every delivery
// gets each event once, after retries recorded with the delivery. A target
// the network guard refuses gets nothing.
func TestWebhooks_SignedRetriedAndEveryEvent(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, 2)
	logs := &syncbuf.Buffer{}
	e := newEnv(t, envOpts{cfg: fastWebhooks(Config{Logger: slog.New(slog.NewTextHandler(logs, nil))}, rc)})
	if resp, _ := e.do("POST", "/v1/webhooks", e.user, `{"url":"http://`+rc.addr+`/hook"}`); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a reporter's webhook = %d, want 403", resp.StatusCode)
	}
	if resp, _ := e.do("POST", "/v1/webhooks", e.admin, `{"url":"ftp://x"}`); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad URL = %d, want 400", resp.StatusCode)
	}
	hook := e.createWebhook("http://" + rc.addr + "/hook")
	if !strings.HasPrefix(hook.Secret, "whsec_") || len(hook.Events) != 3 {
		t.Fatalf("created %+v", hook)
	}
	rc.mu.Lock()
	rc.secret = hook.Secret
	rc.mu.Unlock()
	refused := e.createWebhook("http://127.0.0.1:1/hook") // loopback, not allowed
	if _, b := e.do("GET", "/v1/webhooks", e.admin, ""); strings.Contains(string(b), hook.Secret) || !strings.Contains(string(b), hook.ID) {
		t.Fatalf("GET /v1/webhooks shows the secret or not the webhook: %s", b)
	}

	eic := e.roleKey(identity.RoleEditorInChief)
	art := e.approvedArticle(eic, approvalTask).ArticleID
	waitFor30(t, "article.published", func() bool { return len(rc.delivered(store.EventArticlePublished)) == 1 })
	if resp, b := e.do("POST", "/v1/articles/"+art+"/corrections", eic, `{"note":"The vote was seven to two."}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("correct = %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do("POST", "/v1/articles/"+art+"/retract", eic, `{"note":"Annulled."}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("retract = %d %s", resp.StatusCode, b)
	}
	waitFor30(t, "article.corrected and article.retracted", func() bool {
		return len(rc.delivered(store.EventArticleCorrected)) == 1 && len(rc.delivered(store.EventArticleRetracted)) == 1
	})
	rc.mu.Lock()
	for id, n := range rc.ok {
		if n != 1 || rc.tries[id] != 3 {
			t.Errorf("delivery %s: %d successes after %d attempts, want 1 after 3", id, n, rc.tries[id])
		}
	}
	if len(rc.bad) != 0 {
		t.Errorf("deliveries with bad signatures or headers: %v", rc.bad)
	}
	var payload webhookPayload
	for id, ev := range rc.events {
		if ev == store.EventArticleRetracted {
			_ = json.Unmarshal(rc.bodies[id], &payload)
		}
	}
	rc.mu.Unlock()
	if payload.Article == nil || payload.Article.Status != store.ArticleRetracted || payload.Article.Provenance.DigitalSourceType != store.DigitalSourceTypeTrained {
		t.Errorf("the retraction's body: %+v", payload)
	}

	var ds struct{ Deliveries []store.Delivery }
	waitFor30(t, "three deliveries saved as delivered", func() bool {
		resp, b := e.do("GET", "/v1/webhooks/"+hook.ID+"/deliveries", e.admin, "")
		mustJSON(t, b, &ds)
		if resp.StatusCode != http.StatusOK || len(ds.Deliveries) != 3 {
			return false
		}
		for _, d := range ds.Deliveries {
			if d.Status == store.DeliveryPending {
				return false
			}
		}
		return true
	})
	for _, d := range ds.Deliveries {
		if d.Status != store.DeliveryDelivered || len(d.Attempts) != 3 || d.Attempts[0].Status != 500 || d.Attempts[2].Status != 204 {
			t.Errorf("delivery %+v", d)
		}
	}
	// The refused target: attempts that never left, saying why.
	waitFor30(t, "an attempt at the refused target", func() bool {
		_, b := e.do("GET", "/v1/webhooks/"+refused.ID+"/deliveries", e.admin, "")
		var r struct{ Deliveries []store.Delivery }
		mustJSON(t, b, &r)
		return len(r.Deliveries) > 0 && len(r.Deliveries[0].Attempts) > 0 && strings.Contains(r.Deliveries[0].Attempts[0].Error, "refused") &&
			r.Deliveries[0].Status == store.DeliveryPending
	})

	// Redeliver: the same id again, once more.
	first := ds.Deliveries[len(ds.Deliveries)-1]
	if resp, b := e.do("POST", "/v1/webhooks/"+hook.ID+"/deliveries/"+first.ID+"/redeliver", e.admin, ""); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("redeliver = %d %s", resp.StatusCode, b)
	}
	waitFor30(t, "the redelivery", func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return rc.ok[first.ID] == 2 })
	if strings.Contains(logs.String(), hook.Secret) || strings.Contains(logs.String(), refused.Secret) {
		t.Fatal("a webhook secret reached the logs")
	}
}

// TestWebhooks_AReceiverThatGoesAwayAndComesBack publishes while the
// receiver is down: the delivery is retried (attempts without an answer)
// and made once when it listens again on the same address.
func TestWebhooks_AReceiverThatGoesAwayAndComesBack(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, 0)
	e := newEnv(t, envOpts{cfg: fastWebhooks(Config{}, rc)})
	hook := e.createWebhook("http://" + rc.addr + "/hook")
	rc.secret = hook.Secret
	rc.stop()
	eic := e.roleKey(identity.RoleEditorInChief)
	e.approvedArticle(eic, approvalTask)
	deliveries := func() []store.Delivery {
		_, b := e.do("GET", "/v1/webhooks/"+hook.ID+"/deliveries", e.admin, "")
		var ds struct{ Deliveries []store.Delivery }
		mustJSON(t, b, &ds)
		return ds.Deliveries
	}
	waitFor30(t, "two attempts without an answer", func() bool { ds := deliveries(); return len(ds) == 1 && len(ds[0].Attempts) >= 2 })
	if a := deliveries()[0].Attempts[0]; a.Status != 0 || a.Error == "" {
		t.Fatalf("an attempt at a receiver that is down: %+v", a)
	}
	rc.listen(rc.addr)
	waitFor30(t, "the delivery", func() bool { return deliveries()[0].Status == store.DeliveryDelivered })
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.ok) != 1 {
		t.Fatalf("received %v", rc.ok)
	}
	for _, n := range rc.ok {
		if n != 1 {
			t.Fatalf("the delivery was made %d times", n)
		}
	}
}

// TestWebhooks_TwoInstancesOnOnePostgreSQLDeliverEachOnce runs two
// instances on one PostgreSQL database, both delivering from the shared
// outbox, with a receiver that fails the first attempt of every delivery:
// every delivery arrives, none twice.
func TestWebhooks_TwoInstancesOnOnePostgreSQLDeliverEachOnce(t *testing.T) {
	t.Parallel()
	dsn := testsvc.Postgres(t)
	open := func(t testing.TB) store.Store {
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	rc := newReceiver(t, 1)
	a := newEnv(t, envOpts{openStore: open, cfg: fastWebhooks(Config{}, rc)})
	b := newEnv(t, envOpts{openStore: open, cfg: fastWebhooks(Config{}, rc)})
	hook := a.createWebhook("http://" + rc.addr + "/hook")
	rc.mu.Lock()
	rc.secret = hook.Secret
	rc.mu.Unlock()
	eic := a.roleKey(identity.RoleEditorInChief)
	const n = 4
	for i := range n {
		a.approvedArticle(eic, `{"task":"Facts: The ferry number `+strconv.Itoa(i)+` resumed service on Monday.","approval":"required"}`)
	}
	waitFor30(t, "every delivery", func() bool { return len(rc.delivered(store.EventArticlePublished)) == n })
	var ds struct{ Deliveries []store.Delivery }
	waitFor30(t, "every delivery saved", func() bool {
		_, body := b.do("GET", "/v1/webhooks/"+hook.ID+"/deliveries", b.admin, "")
		mustJSON(t, body, &ds)
		done := len(ds.Deliveries) == n
		for _, d := range ds.Deliveries {
			done = done && d.Status == store.DeliveryDelivered
		}
		return done
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for id, k := range rc.ok {
		if k != 1 || rc.tries[id] != 2 {
			t.Errorf("delivery %s: %d successes in %d attempts, want 1 in 2", id, k, rc.tries[id])
		}
	}
	if len(ds.Deliveries) != n {
		t.Fatalf("%d deliveries stored, want %d", len(ds.Deliveries), n)
	}
}

// TestWebhooks_ARestartInTheMiddleOfRetries stops the instance while a
// delivery is being retried and starts another on the same database: the
// delivery is not lost, its earlier attempts are kept, and it is made once.
func TestWebhooks_ARestartInTheMiddleOfRetries(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, 1000) // fails until told otherwise
	first := newEnv(t, envOpts{cfg: fastWebhooks(Config{}, rc)})
	hook := first.createWebhook("http://" + rc.addr + "/hook")
	rc.mu.Lock()
	rc.secret = hook.Secret
	rc.mu.Unlock()
	eic := first.roleKey(identity.RoleEditorInChief)
	first.approvedArticle(eic, approvalTask)
	waitFor30(t, "failed attempts", func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.tries) == 1 && maxTries(rc.tries) >= 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.fail = 0
	before := maxTries(rc.tries)
	rc.mu.Unlock()

	second := newEnv(t, envOpts{dbPath: first.dbPath, cfg: fastWebhooks(Config{}, rc)})
	var ds struct{ Deliveries []store.Delivery }
	waitFor30(t, "the delivery after the restart", func() bool {
		_, body := second.do("GET", "/v1/webhooks/"+hook.ID+"/deliveries", second.admin, "")
		mustJSON(t, body, &ds)
		return len(ds.Deliveries) == 1 && ds.Deliveries[0].Status != store.DeliveryPending
	})
	if len(ds.Deliveries) != 1 || ds.Deliveries[0].Status != store.DeliveryDelivered || len(ds.Deliveries[0].Attempts) < min(before+1, maxAttemptsKept) {
		t.Fatalf("after the restart: %+v (the receiver saw %d attempts before)", ds.Deliveries, before)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, k := range rc.ok {
		if k != 1 {
			t.Fatalf("the delivery was made %d times", k)
		}
	}
}

func maxTries(m map[string]int) int {
	n := 0
	for _, v := range m {
		n = max(n, v)
	}
	return n
}

// TestWebhooks_ADeliveryFailsWhenItsRetriesRunOut checks the end of the
// retries: a receiver that never answers 2xx, past the retry period (24h;
// shortened here), leaves the delivery failed, not retried any more.
func TestWebhooks_ADeliveryFailsWhenItsRetriesRunOut(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, 1<<30)
	cfg := fastWebhooks(Config{}, rc)
	cfg.WebhookGiveUp = 50 * time.Millisecond
	e := newEnv(t, envOpts{cfg: cfg})
	hook := e.createWebhook("http://" + rc.addr + "/hook")
	rc.mu.Lock()
	rc.secret = hook.Secret
	rc.mu.Unlock()
	e.approvedArticle(e.roleKey(identity.RoleEditorInChief), approvalTask)
	var d store.Delivery
	waitFor30(t, "the failed delivery", func() bool {
		_, b := e.do("GET", "/v1/webhooks/"+hook.ID+"/deliveries", e.admin, "")
		var ds struct{ Deliveries []store.Delivery }
		mustJSON(t, b, &ds)
		if len(ds.Deliveries) == 1 {
			d = ds.Deliveries[0]
		}
		return d.Status == store.DeliveryFailed
	})
	if len(d.Attempts) == 0 || d.Attempts[len(d.Attempts)-1].Status != 500 {
		t.Fatalf("failed delivery %+v", d)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.ok) != 0 {
		t.Fatalf("a failing receiver recorded successes: %v", rc.ok)
	}
}
