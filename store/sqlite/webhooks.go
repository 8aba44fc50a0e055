package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/internal/storeutil"
)

// putOutbox inserts deliveries inside tx.
func putOutbox(ctx context.Context, tx execer, ds []*store.Delivery) error {
	for _, d := range ds {
		o, err := storeutil.PrepareDelivery(d)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, webhook_id, event, article_id, payload, status, attempts, next_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, o.ID, o.WebhookID, o.Event, o.ArticleID, string(o.Payload), o.Status, string(o.Attempts),
			o.NextAt.UnixMicro(), o.CreatedAt.UnixMicro()); err != nil {
			return fmt.Errorf("outbox %s: %w", o.ID, err)
		}
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
		return fmt.Errorf("sqlite: put webhook: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO webhooks (id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url, events = excluded.events, secret = excluded.secret`,
		storeutil.Text(w.ID), storeutil.Text(w.URL), string(ev), w.Secret, storeutil.Time(w.CreatedAt).UnixMicro()); err != nil {
		return fmt.Errorf("sqlite: put webhook %s: %w", w.ID, err)
	}
	return nil
}

func scanWebhook(sc interface{ Scan(...any) error }) (*store.Webhook, error) {
	var w store.Webhook
	var ev string
	var created int64
	if err := sc.Scan(&w.ID, &w.URL, &ev, &w.Secret, &created); err != nil {
		return nil, err
	}
	w.CreatedAt = time.UnixMicro(created).UTC()
	return &w, json.Unmarshal([]byte(ev), &w.Events)
}

// ListWebhooks returns every webhook; see store.Webhooks.
func (s *Store) ListWebhooks(ctx context.Context) ([]*store.Webhook, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, url, events, secret, created_at FROM webhooks ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
	}
	defer rows.Close()
	var out []*store.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// GetWebhook returns a webhook; see store.Webhooks.
func (s *Store) GetWebhook(ctx context.Context, id string) (*store.Webhook, error) {
	w, err := scanWebhook(s.r.QueryRowContext(ctx, `SELECT id, url, events, secret, created_at FROM webhooks WHERE id = ?`, storeutil.Text(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: webhook %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhook %s: %w", id, err)
	}
	return w, nil
}

const deliveryColumns = `id, webhook_id, event, article_id, status, payload, attempts, next_at, created_at`

func (s *Store) deliveries(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q string, args ...any) ([]*store.Delivery, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: deliveries: %w", err)
	}
	defer rows.Close()
	var out []*store.Delivery
	for rows.Next() {
		var id, wh, ev, art, status, payload, attempts string
		var next, created int64
		if err := rows.Scan(&id, &wh, &ev, &art, &status, &payload, &attempts, &next, &created); err != nil {
			return nil, fmt.Errorf("sqlite: deliveries: %w", err)
		}
		d, err := storeutil.DecodeDelivery(id, wh, ev, art, status, []byte(payload), []byte(attempts), time.UnixMicro(next), time.UnixMicro(created))
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimDeliveries leases due deliveries to owner; see store.Webhooks. The
// one writer connection makes the claim atomic.
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, lease time.Duration, limit int) ([]*store.Delivery, error) {
	now := storeutil.Now().UnixMicro()
	return s.deliveries(ctx, s.w, `UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE id IN (
			SELECT id FROM deliveries WHERE status = 'pending' AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?)
			ORDER BY next_at LIMIT ?)
		RETURNING `+deliveryColumns, owner, now+lease.Microseconds(), now, now, max(limit, 1))
}

// SaveDelivery saves an attempt's outcome under owner's lease; see store.Webhooks.
func (s *Store) SaveDelivery(ctx context.Context, owner string, d *store.Delivery) error {
	at, err := json.Marshal(d.Attempts)
	if err != nil {
		return fmt.Errorf("sqlite: save delivery: %w", err)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE deliveries SET status = ?, attempts = ?, next_at = ?, lease_owner = NULL, lease_until = NULL
		WHERE id = ? AND lease_owner = ?`, string(d.Status), string(storeutil.JSON(at)), storeutil.Time(d.NextAt).UnixMicro(), d.ID, owner)
	if err != nil {
		return fmt.Errorf("sqlite: save delivery %s: %w", d.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: delivery %s is not leased to %s: %w", d.ID, owner, store.ErrConflict)
	}
	return nil
}

// Deliveries returns a webhook's deliveries; see store.Webhooks.
func (s *Store) Deliveries(ctx context.Context, webhookID string) ([]*store.Delivery, error) {
	return s.deliveries(ctx, s.r, `SELECT `+deliveryColumns+` FROM deliveries WHERE webhook_id = ? ORDER BY created_at DESC, id DESC LIMIT 100`, storeutil.Text(webhookID))
}

// Redeliver makes a delivery due again; see store.Webhooks.
func (s *Store) Redeliver(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', next_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?`,
		storeutil.Now().UnixMicro(), storeutil.Text(id))
	if err != nil {
		return fmt.Errorf("sqlite: redeliver %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: delivery %s: %w", id, store.ErrNotFound)
	}
	return nil
}
