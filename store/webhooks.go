package store

import (
	"context"
	"time"
)

// Webhook events.
const (
	EventArticlePublished = "article.published"
	EventArticleCorrected = "article.corrected"
	EventArticleRetracted = "article.retracted"
)

// Webhook is a receiver of article events.
type Webhook struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	// Secret signs the deliveries; never shown after creation.
	Secret    string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Delivery is one event for one webhook, kept in the outbox: written with
// the article change it announces, made by exactly one instance (a lease,
// see Webhooks.ClaimDeliveries), retried until delivered or failed.
type Delivery struct {
	ID        string         `json:"id"`
	WebhookID string         `json:"webhook_id"`
	Event     string         `json:"event"`
	ArticleID string         `json:"article_id"`
	Payload   []byte         `json:"-"`
	Status    DeliveryStatus `json:"status"`
	Attempts  []Attempt      `json:"attempts"`
	NextAt    time.Time      `json:"next_at,omitzero"`
	CreatedAt time.Time      `json:"created_at"`
}

// Attempt is one try of a delivery.
type Attempt struct {
	At time.Time `json:"at"`
	// Status is the receiver's HTTP status; 0 when it did not answer.
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Webhooks keeps the webhooks and their outbox of deliveries.
type Webhooks interface {
	// PutWebhook stores a webhook, or replaces the one with its id.
	PutWebhook(ctx context.Context, w *Webhook) error
	// ListWebhooks returns every webhook, oldest first.
	ListWebhooks(ctx context.Context) ([]*Webhook, error)
	// GetWebhook returns a webhook or ErrNotFound.
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	// ClaimDeliveries leases up to limit pending deliveries that are due
	// (NextAt passed) and not leased to another owner (or whose lease
	// ended) to owner until the lease ends; of concurrent claims each
	// delivery goes to one owner.
	ClaimDeliveries(ctx context.Context, owner string, lease time.Duration, limit int) ([]*Delivery, error)
	// SaveDelivery saves a delivery's status, attempts and NextAt and ends
	// owner's lease on it, on condition that owner holds the lease
	// (ErrConflict otherwise: its lease ended and another owner took it).
	SaveDelivery(ctx context.Context, owner string, d *Delivery) error
	// Deliveries returns a webhook's deliveries, newest first, at most 100.
	Deliveries(ctx context.Context, webhookID string) ([]*Delivery, error)
	// Redeliver makes a delivery pending and due now (ErrNotFound if unknown).
	Redeliver(ctx context.Context, id string) error
}
