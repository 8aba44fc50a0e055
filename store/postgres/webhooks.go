package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/internal/storeutil"
)

// outboxJSON is deliveries as one JSON array, for jsonb_to_recordset.
func outboxJSON(ds []*store.Delivery) ([]byte, error) {
	type row struct {
		ID        string          `json:"id"`
		WebhookID string          `json:"webhook_id"`
		Event     string          `json:"event"`
		ArticleID string          `json:"article_id"`
		Payload   json.RawMessage `json:"payload"`
		Status    string          `json:"status"`
		Attempts  json.RawMessage `json:"attempts"`
		NextAt    time.Time       `json:"next_at"`
		CreatedAt time.Time       `json:"created_at"`
	}
	rows := make([]row, 0, len(ds))
	for _, d := range ds {
		o, err := storeutil.PrepareDelivery(d)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{o.ID, o.WebhookID, o.Event, o.ArticleID, o.Payload, o.Status, o.Attempts, o.NextAt, o.CreatedAt})
	}
	b, err := json.Marshal(rows)
	return storeutil.JSON(b), err
}

// outboxInsert inserts the deliveries of $1 (outboxJSON) when the rows of
// the CTE named from exist; from "" inserts them unconditionally.
func outboxInsert(param, from string) string {
	q := `INSERT INTO deliveries (id, webhook_id, event, article_id, payload, status, attempts, next_at, created_at)
		SELECT x.id, x.webhook_id, x.event, x.article_id, x.payload, x.status, x.attempts, x.next_at, x.created_at
		FROM jsonb_to_recordset(` + param + `::jsonb) AS x(id text, webhook_id text, event text, article_id text, payload jsonb,
			status text, attempts jsonb, next_at timestamptz, created_at timestamptz)`
	if from != "" {
		q += `, ` + from
	}
	return q
}

// putOutbox inserts deliveries through q (a transaction).
func putOutbox(ctx context.Context, q querier, ds []*store.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	b, err := outboxJSON(ds)
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, outboxInsert("$1", ""), b); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// PutWebhook stores or replaces a webhook; see store.Webhooks.
func (s *Store) PutWebhook(ctx context.Context, w *store.Webhook) error {
	if w.CreatedAt.IsZero() {
		w.CreatedAt = storeutil.Now()
	}
	ev, err := json.Marshal(w.Events)
	if err != nil {
		return fmt.Errorf("postgres: put webhook: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO webhooks (id, url, events, secret, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url, events = excluded.events, secret = excluded.secret`,
		storeutil.Text(w.ID), storeutil.Text(w.URL), ev, w.Secret, storeutil.Time(w.CreatedAt)); err != nil {
		return fmt.Errorf("postgres: put webhook %s: %w", w.ID, err)
	}
	return nil
}

func scanWebhook(row pgx.Row) (*store.Webhook, error) {
	var w store.Webhook
	var ev []byte
	if err := row.Scan(&w.ID, &w.URL, &ev, &w.Secret, &w.CreatedAt); err != nil {
		return nil, err
	}
	w.CreatedAt = w.CreatedAt.UTC()
	return &w, json.Unmarshal(ev, &w.Events)
}

// ListWebhooks returns every webhook; see store.Webhooks.
func (s *Store) ListWebhooks(ctx context.Context) ([]*store.Webhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, url, events, secret, created_at FROM webhooks ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhooks: %w", err)
	}
	defer rows.Close()
	var out []*store.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list webhooks: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// GetWebhook returns a webhook; see store.Webhooks.
func (s *Store) GetWebhook(ctx context.Context, id string) (*store.Webhook, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, `SELECT id, url, events, secret, created_at FROM webhooks WHERE id = $1`, storeutil.Text(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: webhook %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: webhook %s: %w", id, err)
	}
	return w, nil
}

const deliveryColumns = `id, webhook_id, event, article_id, status, payload, attempts, next_at, created_at`

func (s *Store) deliveries(ctx context.Context, q string, args ...any) ([]*store.Delivery, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: deliveries: %w", err)
	}
	defer rows.Close()
	var out []*store.Delivery
	for rows.Next() {
		var id, wh, ev, art, status string
		var payload, attempts []byte
		var next, created time.Time
		if err := rows.Scan(&id, &wh, &ev, &art, &status, &payload, &attempts, &next, &created); err != nil {
			return nil, fmt.Errorf("postgres: deliveries: %w", err)
		}
		d, err := storeutil.DecodeDelivery(id, wh, ev, art, status, payload, attempts, next, created)
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimDeliveries leases due deliveries to owner; see store.Webhooks.
// SKIP LOCKED lets instances claiming at once take different rows, and the
// lease (by the database's clock) keeps a delivery in progress from a
// second instance until it ends.
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, lease time.Duration, limit int) ([]*store.Delivery, error) {
	return s.deliveries(ctx, `UPDATE deliveries SET lease_owner = $1, lease_until = now() + $2::interval WHERE id IN (
			SELECT id FROM deliveries WHERE status = 'pending' AND next_at <= now() AND (lease_until IS NULL OR lease_until < now())
			ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING `+deliveryColumns, owner, fmt.Sprintf("%d microseconds", lease.Microseconds()), max(limit, 1))
}

// SaveDelivery saves an attempt's outcome under owner's lease; see store.Webhooks.
func (s *Store) SaveDelivery(ctx context.Context, owner string, d *store.Delivery) error {
	at, err := json.Marshal(d.Attempts)
	if err != nil {
		return fmt.Errorf("postgres: save delivery: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE deliveries SET status = $1, attempts = $2, next_at = $3, lease_owner = NULL, lease_until = NULL
		WHERE id = $4 AND lease_owner = $5`, string(d.Status), storeutil.JSON(at), storeutil.Time(d.NextAt), d.ID, owner)
	if err != nil {
		return fmt.Errorf("postgres: save delivery %s: %w", d.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delivery %s is not leased to %s: %w", d.ID, owner, store.ErrConflict)
	}
	return nil
}

// Deliveries returns a webhook's deliveries; see store.Webhooks.
func (s *Store) Deliveries(ctx context.Context, webhookID string) ([]*store.Delivery, error) {
	return s.deliveries(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE webhook_id = $1 ORDER BY created_at DESC, id DESC LIMIT 100`, storeutil.Text(webhookID))
}

// Redeliver makes a delivery due again; see store.Webhooks.
func (s *Store) Redeliver(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE deliveries SET status = 'pending', next_at = now(), lease_owner = NULL, lease_until = NULL WHERE id = $1`, storeutil.Text(id))
	if err != nil {
		return fmt.Errorf("postgres: redeliver %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delivery %s: %w", id, store.ErrNotFound)
	}
	return nil
}
