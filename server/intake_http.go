package server

import (
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/newsroom-dev/newsroom/intake"
	"github.com/newsroom-dev/newsroom/store"
)

// IntakeSourceView is one intake source as GET /v1/intake shows it: the
// totals come from the store (every instance), the polls from this one.
type IntakeSourceView struct {
	Name           string `json:"name"`
	Kind           string `json:"kind"`
	Desk           string `json:"desk"`
	Approval       string `json:"approval"`
	MaxRunsPerHour int    `json:"max_runs_per_hour"`
	// LastPoll is when this instance last polled the feed or queue (or
	// received a delivery); LastError what went wrong then, if anything.
	LastPoll  time.Time `json:"last_poll,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Errors    int       `json:"errors"`
	// ItemsSeen are the items recorded in the inbox, RunsCreated those that
	// started a run, Deferred those waiting for room under the caps, and
	// RunsLastHour the runs started in the last hour (against
	// MaxRunsPerHour).
	ItemsSeen    int `json:"items_seen"`
	RunsCreated  int `json:"runs_created"`
	Deferred     int `json:"deferred"`
	RunsLastHour int `json:"runs_last_hour"`
}

// IntakeList is GET /v1/intake's body.
type IntakeList struct {
	Sources []IntakeSourceView `json:"sources"`
}

func (s *Server) handleListIntake(w http.ResponseWriter, r *http.Request, _ *store.Key) {
	out := IntakeList{Sources: []IntakeSourceView{}}
	if s.intake == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	stats, err := s.store.InboxStats(r.Context(), s.now().Add(-time.Hour))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	totals := map[string]store.InboxStats{}
	for _, st := range stats {
		totals[st.Source] = st
	}
	d := s.intake
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, src := range d.cfg.File.Sources {
		st, t := d.state(src.Name), totals[src.Name]
		approval := intake.ApprovalRequired
		if !src.ApprovalRequired() {
			approval = intake.ApprovalNone
		}
		out.Sources = append(out.Sources, IntakeSourceView{Name: src.Name, Kind: src.Kind(), Desk: src.Desk, Approval: approval,
			MaxRunsPerHour: src.HourlyCap(), LastPoll: st.lastPoll, LastError: st.lastError, Errors: st.errors,
			ItemsSeen: t.Items, RunsCreated: t.Runs, Deferred: t.Deferred, RunsLastHour: t.RunsSince})
	}
	writeJSON(w, http.StatusOK, out)
}

// IntakeDelivery is the answer to a delivery: what became of each item.
type IntakeDelivery struct {
	Source string              `json:"source"`
	Items  []IntakeItemOutcome `json:"items"`
}

// IntakeItemOutcome is one delivered item's fate: created (its run was
// queued now), duplicate (it had one already) or deferred (by the caps; it
// starts when there is room).
type IntakeItemOutcome struct {
	Item   string `json:"item"`
	Status string `json:"status"`
	RunID  string `json:"run_id,omitempty"`
}

var outcomeNames = map[outcome]string{outcomeCreated: "created", outcomeDuplicate: "duplicate", outcomeDeferred: "deferred"}

var (
	errNoIntakeWebhook = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no webhook intake source has that name"}
	errSignature       = &apiError{Status: http.StatusUnauthorized, Code: "bad_signature",
		Message: "the Newsroom-Signature is missing, does not match the body, or is outside the tolerance window"}
	errEventKey = &apiError{Status: http.StatusUnauthorized, Code: "bad_key", Message: "an Event Grid delivery needs the source's secret as ?key="}
	errNoEvents = &apiError{Status: http.StatusBadRequest, Code: "event_grid_off", Message: "this source does not take Event Grid deliveries (event_grid: true)"}
)

// webhookSource returns the webhook source named in the path and its secret.
func (s *Server) webhookSource(r *http.Request) (*intake.Source, []byte, error) {
	if s.intake == nil {
		return nil, nil, errNoIntakeWebhook
	}
	src, ok := s.intake.cfg.File.Lookup(r.PathValue("name"))
	if !ok || src.Webhook == nil {
		return nil, nil, errNoIntakeWebhook
	}
	return src, s.intake.secrets[src.Name], nil
}

// eventKeyOK checks an Event Grid delivery's ?key= against the secret (Event
// Grid signs nothing; its endpoint URL carries the secret).
func eventKeyOK(r *http.Request, secret []byte) bool {
	return subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("key")), secret) == 1
}

func (s *Server) handleIntakeDelivery(w http.ResponseWriter, r *http.Request) {
	src, secret, err := s.webhookSource(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var items []intake.Item
	grid := r.Header.Get(intake.EventTypeHeader) != "" || intake.IsCloudEvents(r.Header.Get("Content-Type"))
	if grid {
		var answered bool
		items, answered = s.gridItems(w, r, src, secret, body)
		if answered {
			return
		}
	} else {
		if err := intake.Verify(secret, r.Header.Get(intake.SignatureHeader), body, s.now(), src.Webhook.ToleranceWindow()); err != nil {
			s.log.Info("intake delivery refused", "source", src.Name, "err", err)
			s.writeError(w, r, errSignature)
			return
		}
		id := r.Header.Get(intake.DeliveryHeader)
		if id == "" {
			id = intake.BodyIdentity(body)
		}
		it, err := intake.ParseMessage("delivery:"+id, body)
		if err != nil {
			s.writeError(w, r, badRequest("bad_assignment", err.Error()))
			return
		}
		it.ID = "delivery:" + id
		items = []intake.Item{it}
	}
	s.admitDelivered(w, r, src, items)
}

// gridItems reads an Event Grid or CloudEvents delivery. It answers the
// request itself (answered true) for a refusal or the Event Grid schema's
// SubscriptionValidation handshake.
func (s *Server) gridItems(w http.ResponseWriter, r *http.Request, src *intake.Source, secret, body []byte) ([]intake.Item, bool) {
	switch {
	case !src.Webhook.EventGrid:
		s.writeError(w, r, errNoEvents)
		return nil, true
	case !eventKeyOK(r, secret):
		s.writeError(w, r, errEventKey)
		return nil, true
	}
	var items []intake.Item
	if intake.IsCloudEvents(r.Header.Get("Content-Type")) {
		evs, err := intake.ParseCloudEvents(r.Header.Get("Content-Type"), body)
		if err != nil {
			s.writeError(w, r, badRequest("bad_events", err.Error()))
			return nil, true
		}
		for _, e := range evs {
			items = append(items, e.Item())
		}
		return items, false
	}
	evs, err := intake.ParseGridEvents(body)
	if err != nil {
		s.writeError(w, r, badRequest("bad_events", err.Error()))
		return nil, true
	}
	for _, e := range evs {
		if code, ok := e.ValidationCode(); ok {
			s.log.Info("Event Grid subscription validated", "source", src.Name)
			writeJSON(w, http.StatusOK, map[string]string{"validationResponse": code})
			return nil, true
		}
		items = append(items, e.Item())
	}
	return items, false
}

// admitDelivered admits the items of a delivery and answers 202 with each
// one's fate; 503 while shutting down (the sender retries).
func (s *Server) admitDelivered(w http.ResponseWriter, r *http.Request, src *intake.Source, items []intake.Item) {
	out := IntakeDelivery{Source: src.Name, Items: []IntakeItemOutcome{}}
	var failed error
	for _, it := range items {
		o, id, err := s.intake.admit(r.Context(), src, it)
		if err != nil {
			failed = err
			break
		}
		out.Items = append(out.Items, IntakeItemOutcome{Item: itemKey(it.ID), Status: outcomeNames[o], RunID: id})
	}
	s.intake.recordPoll(src.Name, failed)
	switch {
	case errors.Is(failed, errIntakeStopped):
		s.writeError(w, r, errDraining)
	case failed != nil && len(out.Items) == 0:
		s.writeError(w, r, &apiError{Status: http.StatusUnprocessableEntity, Code: "intake_refused", Message: failed.Error()})
	default:
		writeJSON(w, http.StatusAccepted, out)
	}
}

// handleIntakeHandshake answers CloudEvents 1.0 abuse protection: an OPTIONS
// request with WebHook-Request-Origin gets WebHook-Allowed-Origin (and a
// rate) when the source takes Event Grid deliveries and the key is right.
func (s *Server) handleIntakeHandshake(w http.ResponseWriter, r *http.Request) {
	src, secret, err := s.webhookSource(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	origin := r.Header.Get(intake.RequestOriginHeader)
	switch {
	case !src.Webhook.EventGrid:
		s.writeError(w, r, errNoEvents)
		return
	case !eventKeyOK(r, secret):
		s.writeError(w, r, errEventKey)
		return
	case origin == "":
		s.writeError(w, r, badRequest("no_origin", "an OPTIONS handshake needs the "+intake.RequestOriginHeader+" header"))
		return
	}
	h := w.Header()
	h.Set("Allow", "POST, OPTIONS")
	h.Set(intake.AllowedOriginHeader, origin)
	h.Set(intake.AllowedRateHeader, strconv.Itoa(max(1, src.HourlyCap())))
	w.WriteHeader(http.StatusOK)
}
