// Package pgnotify is the server.Notifier of instances sharing a PostgreSQL
// store: NOTIFY on one channel, LISTEN on a dedicated connection. It carries
// only "run X has events up to seq"; the events stay in the store.
package pgnotify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/newsroom-dev/newsroom/entra"
	"github.com/newsroom-dev/newsroom/server"
)

// Channel is the LISTEN/NOTIFY channel of run notifications.
const Channel = "newsroom_run_events"

var _ server.Notifier = (*Notifier)(nil)

// Notifier sends notifications through a small pool and listens on a
// connection of its own (LISTEN belongs to a session). Safe for concurrent
// use.
type Notifier struct {
	cfg  *pgxpool.Config
	pool *pgxpool.Pool
	// Retry is the pause before Listen reconnects; 0 means a second.
	Retry time.Duration
}

// New connects to the database at url (the store's URL). Errors never
// include the password.
func New(ctx context.Context, url string) (*Notifier, error) {
	return NewWith(ctx, url, entra.ModeAuto, nil)
}

// NewWith is New signing in as the store does (auth and cred: see package
// entra; nil cred means DefaultAzureCredential).
func NewWith(ctx context.Context, url string, auth entra.Mode, cred entra.CredentialSource) (*Notifier, error) {
	cfg, err := entra.PostgresConfig(url, auth, cred)
	if err != nil {
		return nil, fmt.Errorf("pgnotify: %w", err) // never the URL: entra's errors do not echo it
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgnotify: connect: %w", err)
	}
	return &Notifier{cfg: cfg, pool: pool}, nil
}

// Close closes the pool.
func (n *Notifier) Close() { n.pool.Close() }

// Notify sends a notification to every listening instance.
func (n *Notifier) Notify(ctx context.Context, note server.Notification) error {
	payload, err := json.Marshal(note)
	if err != nil {
		return fmt.Errorf("pgnotify: %w", err)
	}
	if _, err := n.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, string(payload)); err != nil {
		return fmt.Errorf("pgnotify: notify: %w", err)
	}
	return nil
}

// Listen calls wake for every notification until ctx ends. After a
// (re)connection it also calls wake with an empty Run: notifications sent
// while it was not listening are lost, so every follower should read the
// store once.
func (n *Notifier) Listen(ctx context.Context, wake func(server.Notification)) error {
	retry := n.Retry
	if retry <= 0 {
		retry = time.Second
	}
	for {
		err := n.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // the connection broke: reconnect after a pause
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retry):
		}
	}
}

func (n *Notifier) listenOnce(ctx context.Context, wake func(server.Notification)) error {
	cc := n.cfg.ConnConfig.Copy()
	if n.cfg.BeforeConnect != nil {
		if err := n.cfg.BeforeConnect(ctx, cc); err != nil {
			return err
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+Channel); err != nil {
		return err
	}
	wake(server.Notification{})
	for {
		msg, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var note server.Notification
		if json.Unmarshal([]byte(msg.Payload), &note) == nil && note.Run != "" {
			wake(note)
		}
	}
}
