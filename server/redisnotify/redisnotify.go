// Package redisnotify is the server.Notifier of instances sharing a Redis:
// pub/sub on one channel. It carries only "run X has events up to seq"; the
// events stay in the store.
package redisnotify

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/server"
)

// DefaultChannel is the pub/sub channel when Config.Channel is empty.
const DefaultChannel = "newsroom:run-events"

var _ server.Notifier = (*Notifier)(nil)

// Notifier publishes and subscribes through a go-redis client (whose pub/sub
// reconnects by itself). Safe for concurrent use.
type Notifier struct {
	client  redis.UniversalClient
	channel string
}

// New returns a Notifier on client; channel "" means DefaultChannel.
func New(client redis.UniversalClient, channel string) *Notifier {
	if channel == "" {
		channel = DefaultChannel
	}
	return &Notifier{client: client, channel: channel}
}

// Notify publishes a notification to every subscribed instance.
func (n *Notifier) Notify(ctx context.Context, note server.Notification) error {
	payload, err := json.Marshal(note)
	if err != nil {
		return fmt.Errorf("redisnotify: %w", err)
	}
	if err := n.client.Publish(ctx, n.channel, payload).Err(); err != nil {
		return fmt.Errorf("redisnotify: publish: %w", err)
	}
	return nil
}

// Listen calls wake for every notification until ctx ends. Once subscribed
// it calls wake with an empty Run, so followers read the store once (what
// was published before the subscription is not delivered).
func (n *Notifier) Listen(ctx context.Context, wake func(server.Notification)) error {
	ps := n.client.Subscribe(ctx, n.channel)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil && ctx.Err() == nil {
		// go-redis resubscribes by itself once the server is back.
		_ = err
	}
	wake(server.Notification{})
	msgs := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-msgs:
			if !ok {
				return ctx.Err()
			}
			var note server.Notification
			if json.Unmarshal([]byte(m.Payload), &note) == nil && note.Run != "" {
				wake(note)
			}
		}
	}
}
