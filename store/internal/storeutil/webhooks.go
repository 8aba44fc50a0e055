package storeutil

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/newsroom-dev/newsroom/store"
)

// Outbox is a delivery as an outbox row: its attempts as JSON, its times
// in µs, its text made storable.
type Outbox struct {
	ID, WebhookID, Event, ArticleID, Status string
	Payload, Attempts                       []byte
	NextAt, CreatedAt                       time.Time
}

// PrepareDelivery checks and encodes a new delivery; its id, webhook,
// event and payload are required. A zero CreatedAt or NextAt is now.
func PrepareDelivery(d *store.Delivery) (Outbox, error) {
	if d.ID == "" || d.WebhookID == "" || d.Event == "" || len(d.Payload) == 0 {
		return Outbox{}, fmt.Errorf("delivery: an id, a webhook, an event and a payload are required")
	}
	now := Now()
	if d.CreatedAt.IsZero() {
		d.CreatedAt = now
	}
	if d.NextAt.IsZero() {
		d.NextAt = d.CreatedAt
	}
	if d.Status == "" {
		d.Status = store.DeliveryPending
	}
	if d.Attempts == nil {
		d.Attempts = []store.Attempt{}
	}
	at, err := json.Marshal(d.Attempts)
	if err != nil {
		return Outbox{}, fmt.Errorf("delivery %s: %w", d.ID, err)
	}
	return Outbox{ID: Text(d.ID), WebhookID: Text(d.WebhookID), Event: Text(d.Event), ArticleID: Text(d.ArticleID),
		Status: string(d.Status), Payload: JSON(d.Payload), Attempts: JSON(at), NextAt: Time(d.NextAt), CreatedAt: Time(d.CreatedAt)}, nil
}

// DecodeDelivery builds a delivery from its row's values.
func DecodeDelivery(id, webhookID, event, articleID, status string, payload, attempts []byte, next, created time.Time) (*store.Delivery, error) {
	d := &store.Delivery{ID: id, WebhookID: webhookID, Event: event, ArticleID: articleID, Status: store.DeliveryStatus(status),
		Payload: payload, NextAt: next.UTC(), CreatedAt: created.UTC()}
	if err := json.Unmarshal(attempts, &d.Attempts); err != nil {
		return nil, fmt.Errorf("decode delivery %s: %w", id, err)
	}
	return d, nil
}
