package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// Webhook delivery limits.
const (
	// webhookTimeout is how long a receiver has to answer an attempt.
	webhookTimeout = 10 * time.Second
	// webhookLease is how long a claimed delivery is this instance's: more
	// than an attempt takes, so no other instance makes it meanwhile.
	webhookLease = 3 * webhookTimeout
	// defaultGiveUp is how long a delivery is retried before it fails.
	defaultGiveUp = 24 * time.Hour
	// maxAttemptsKept bounds the attempts a delivery keeps (the default
	// backoff makes about 20 in 24 hours; a short one in tests, many more).
	maxAttemptsKept = 50
)

var webhookEvents = []string{store.EventArticlePublished, store.EventArticleCorrected, store.EventArticleRetracted}

// webhookBackoff is the default wait before retry n (1, 2, ...): the first
// within 30 seconds, then exponential (1m, 2m, 4m, ... at most 6h) with
// jitter, so receivers coming back are not all hit at once.
func webhookBackoff(n int) time.Duration {
	if n <= 1 {
		return 10*time.Second + rand.N(20*time.Second)
	}
	d := time.Minute << min(n-2, 9)
	d = min(d, 6*time.Hour)
	return d/2 + rand.N(d/2)
}

// staticWebhookID is the id of a webhook given at start (serve --webhook):
// the same on every instance and across restarts.
func staticWebhookID(u string) string {
	sum := sha256.Sum256([]byte(u))
	return "wh_static_" + hex.EncodeToString(sum[:6])
}

// registerStaticWebhooks stores the webhooks of Config.Webhooks.
func (s *Server) registerStaticWebhooks(ctx context.Context) error {
	for _, u := range s.cfg.Webhooks {
		w := &store.Webhook{ID: staticWebhookID(u), URL: u, Events: webhookEvents, Secret: s.cfg.WebhookSecret}
		if err := s.cfg.Store.PutWebhook(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// webhookPayload is the body of a delivery.
type webhookPayload struct {
	ID        string         `json:"id"`
	Event     string         `json:"event"`
	CreatedAt time.Time      `json:"created_at"`
	Article   *store.Article `json:"article"`
}

// outboxFor is the deliveries announcing event for a's current version, one
// for each webhook subscribed to it; the caller writes them with a.
func (s *Server) outboxFor(ctx context.Context, event string, a *store.Article) ([]*store.Delivery, error) {
	hooks, err := s.cfg.Store.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	var out []*store.Delivery
	now := s.now().UTC()
	for _, w := range hooks {
		if !slices.Contains(w.Events, event) {
			continue
		}
		id := "dlv_" + randomHex(10)
		body, err := json.Marshal(webhookPayload{ID: id, Event: event, CreatedAt: now, Article: a})
		if err != nil {
			return nil, err
		}
		out = append(out, &store.Delivery{ID: id, WebhookID: w.ID, Event: event, ArticleID: a.ID, Payload: body, CreatedAt: now, NextAt: now})
	}
	return out, nil
}

// withOutbox sets a's outbox for event; a failure is logged and leaves it
// without deliveries (the store that could not list the webhooks would not
// take the publication either).
func (s *Server) withOutbox(ctx context.Context, event string, a *store.Article) {
	if a == nil {
		return
	}
	ds, err := s.outboxFor(ctx, event, a)
	if err != nil {
		s.log.Warn("listing webhooks for an article event", "article", a.ID, "event", event, "err", err)
	}
	a.Outbox = ds
}

// sign is the Newsroom-Signature header of body sent at t.
func sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// webhookClient posts deliveries through the network guard, with the
// attempt timeout and no redirects (a 3xx is a failed attempt).
func (s *Server) webhookClient() *http.Client {
	g := web.NewGuard(s.cfg.WebhookAllow)
	return &http.Client{Timeout: webhookTimeout,
		Transport:     &http.Transport{DialContext: g.Dialer(webhookTimeout), TLSHandshakeTimeout: webhookTimeout, MaxIdleConns: 10, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// deliverLoop delivers the outbox every WebhookPoll until shutdown.
func (s *Server) deliverLoop(client *http.Client) {
	defer s.background.Done()
	t := time.NewTicker(cmp.Or(s.cfg.WebhookPoll, time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		// While there are due deliveries, go on; a shutdown stops it
		// between batches.
		for s.deliverDue(client) {
			select {
			case <-s.done:
				return
			default:
			}
		}
	}
}

// deliverDue claims and makes the due deliveries; it reports whether it
// found any (there may be more).
func (s *Server) deliverDue(client *http.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), webhookLease)
	defer cancel()
	ds, err := s.cfg.Store.ClaimDeliveries(ctx, s.cfg.InstanceID, webhookLease, 10)
	if err != nil {
		s.log.Warn("claiming webhook deliveries", "err", err)
		return false
	}
	for _, d := range ds {
		s.attempt(ctx, client, d)
	}
	return len(ds) > 0
}

// attempt makes one attempt of d and saves its outcome.
func (s *Server) attempt(ctx context.Context, client *http.Client, d *store.Delivery) {
	w, err := s.cfg.Store.GetWebhook(ctx, d.WebhookID)
	now := s.now().UTC()
	at := store.Attempt{At: now}
	if err == nil {
		at.Status, err = s.post(ctx, client, w, d, now)
	}
	if err != nil {
		at.Error = err.Error()
	}
	d.Attempts = append(d.Attempts, at)
	if len(d.Attempts) > maxAttemptsKept { // the first and the latest are kept
		d.Attempts = append(d.Attempts[:1], d.Attempts[len(d.Attempts)-maxAttemptsKept+1:]...)
	}
	backoff := s.cfg.WebhookBackoff
	if backoff == nil {
		backoff = webhookBackoff
	}
	switch {
	case err == nil && at.Status >= 200 && at.Status < 300:
		d.Status = store.DeliveryDelivered
	case now.Sub(d.CreatedAt) >= cmp.Or(s.cfg.WebhookGiveUp, defaultGiveUp):
		d.Status = store.DeliveryFailed
	default:
		d.NextAt = now.Add(backoff(len(d.Attempts)))
	}
	if err := s.cfg.Store.SaveDelivery(ctx, s.cfg.InstanceID, d); err != nil {
		s.log.Warn("saving a webhook delivery", "delivery", d.ID, "err", err)
		return
	}
	s.log.Info("webhook delivery attempt", "delivery", d.ID, "webhook", d.WebhookID, "event", d.Event,
		"attempt", len(d.Attempts), "status", at.Status, "outcome", d.Status)
}

// post sends d to w and returns the receiver's status.
func (s *Server) post(ctx context.Context, client *http.Client, w *store.Webhook, d *store.Delivery, now time.Time) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, errors.New("bad webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "newsroom-webhooks")
	req.Header.Set("Newsroom-Event", d.Event)
	req.Header.Set("Newsroom-Delivery", d.ID)
	req.Header.Set("Newsroom-Signature", sign(w.Secret, now, d.Payload))
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // the URL may carry credentials: say what failed, not where
			return 0, errors.New("no answer: " + ue.Err.Error())
		}
		return 0, errors.New("no answer")
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// WebhookRequest is the body of POST /v1/webhooks.
type WebhookRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// WebhookCreated is the answer of POST /v1/webhooks: the secret is shown
// this once.
type WebhookCreated struct {
	*store.Webhook
	Secret string `json:"secret"`
}

// webhookRoutes are the admin routes of webhooks.
func (s *Server) webhookRoutes() []route {
	return []route{
		{"POST /v1/webhooks", s.authed(s.handleCreateWebhook)},
		{"GET /v1/webhooks", s.authed(s.handleListWebhooks)},
		{"GET /v1/webhooks/{id}/deliveries", s.authed(s.handleDeliveries)},
		{"POST /v1/webhooks/{id}/deliveries/{delivery}/redeliver", s.authed(s.handleRedeliver)},
	}
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request, k *store.Key) {
	if err := need(k, identity.RoleAdmin); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req WebhookRequest
	if _, err := s.decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		s.writeError(w, r, badRequest("bad_url", "url must be an absolute http or https URL"))
		return
	}
	if len(req.Events) == 0 {
		req.Events = webhookEvents
	}
	for _, e := range req.Events {
		if !slices.Contains(webhookEvents, e) {
			s.writeError(w, r, badRequest("bad_event", "events must be among article.published, article.corrected, article.retracted, not "+strconv.Quote(e)))
			return
		}
	}
	hook := &store.Webhook{ID: "wh_" + randomHex(8), URL: req.URL, Events: req.Events, Secret: "whsec_" + randomHex(24), CreatedAt: s.now().UTC()}
	if err := s.cfg.Store.PutWebhook(r.Context(), hook); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("webhook created", "webhook", hook.ID, "by", k.ID)
	writeJSON(w, http.StatusCreated, WebhookCreated{Webhook: hook, Secret: hook.Secret})
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request, k *store.Key) {
	if err := need(k, identity.RoleAdmin); err != nil {
		s.writeError(w, r, err)
		return
	}
	hooks, err := s.cfg.Store.ListWebhooks(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if hooks == nil {
		hooks = []*store.Webhook{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": hooks})
}

var errNoWebhook = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such webhook"}

func (s *Server) handleDeliveries(w http.ResponseWriter, r *http.Request, k *store.Key) {
	if err := need(k, identity.RoleAdmin); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.cfg.Store.GetWebhook(r.Context(), r.PathValue("id")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errNoWebhook
		}
		s.writeError(w, r, err)
		return
	}
	ds, err := s.cfg.Store.Deliveries(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ds == nil {
		ds = []*store.Delivery{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds})
}

func (s *Server) handleRedeliver(w http.ResponseWriter, r *http.Request, k *store.Key) {
	if err := need(k, identity.RoleAdmin); err != nil {
		s.writeError(w, r, err)
		return
	}
	ds, err := s.cfg.Store.Deliveries(r.Context(), r.PathValue("id"))
	if err == nil && !slices.ContainsFunc(ds, func(d *store.Delivery) bool { return d.ID == r.PathValue("delivery") }) {
		err = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such delivery"}
	}
	if err == nil {
		err = s.cfg.Store.Redeliver(r.Context(), r.PathValue("delivery"))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("webhook redelivery", "delivery", r.PathValue("delivery"), "by", k.ID)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": r.PathValue("delivery"), "status": string(store.DeliveryPending)})
}
