package intake

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Message is a queue message as received: its id and pop receipt (which
// changes with each visibility renewal), its text, and how many times it
// was dequeued, this time included.
type Message struct {
	ID           string
	PopReceipt   string
	Text         string
	DequeueCount int64
}

// QueueClient is a queue of assignments (intake/azurequeue: an Azure
// Storage queue).
type QueueClient interface {
	// Receive dequeues up to n messages, hidden for visibility.
	Receive(ctx context.Context, n int, visibility time.Duration) ([]Message, error)
	// Renew hides m for visibility from now and updates its pop receipt.
	Renew(ctx context.Context, m *Message, visibility time.Duration) error
	// Delete removes m.
	Delete(ctx context.Context, m Message) error
	// Poison moves m to the poison queue (NAME-poison) with the reason,
	// then deletes it.
	Poison(ctx context.Context, m Message, reason string) error
}

// DefaultVisibility is how long a received message stays hidden; it is
// renewed at half of it while its run is being created.
const DefaultVisibility = 30 * time.Second

// AdmitFunc creates the run of an item (or finds it created already); an
// error leaves the message on the queue for another try.
type AdmitFunc func(ctx context.Context, item Item) error

// ErrPoisoned is returned by Process for a message it moved to the poison
// queue.
var ErrPoisoned = errors.New("intake: message moved to the poison queue")

// Process turns one received message into one run: a message dequeued more
// than the source's max_dequeues times, or that is not a valid assignment,
// goes to the poison queue with the reason; otherwise admit runs while the
// message's visibility is renewed, and the message is deleted only once
// admit returned (the run exists). A process killed in between leaves the
// message to reappear; admitting it again finds the run and creates none.
func Process(ctx context.Context, q QueueClient, src *Source, m Message, visibility time.Duration, admit AdmitFunc) error {
	if m.DequeueCount > int64(src.Queue.MaxDequeueCount()) {
		reason := fmt.Sprintf("dequeued %d times without starting a run (max_dequeues %d)", m.DequeueCount, src.Queue.MaxDequeueCount())
		return poison(ctx, q, m, reason)
	}
	item, err := ParseMessage(m.ID, []byte(m.Text))
	if err != nil {
		return poison(ctx, q, m, err.Error())
	}
	if item.ID != m.ID {
		item.ID = m.ID // a queue message's identity is its id, not a field of its text
	}
	var mu sync.Mutex
	cur := m
	stop := make(chan struct{})
	renewed := make(chan error, 1)
	go func() {
		t := time.NewTicker(max(visibility/2, 100*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-stop:
				renewed <- nil
				return
			case <-t.C:
				mu.Lock()
				err := q.Renew(ctx, &cur, visibility)
				mu.Unlock()
				if err != nil {
					renewed <- err
					return
				}
			}
		}
	}()
	err = admit(ctx, item)
	close(stop)
	if rerr := <-renewed; rerr != nil && err == nil {
		// The message may be visible again already: another receiver may
		// hold it, so deleting it is theirs; the run exists either way.
		return fmt.Errorf("intake: queue %s: renewing message %s: %w", src.Name, m.ID, rerr)
	}
	if err != nil {
		return fmt.Errorf("intake: queue %s: message %s: %w", src.Name, m.ID, err)
	}
	if err := q.Delete(ctx, cur); err != nil {
		return fmt.Errorf("intake: queue %s: deleting message %s: %w", src.Name, m.ID, err)
	}
	return nil
}

func poison(ctx context.Context, q QueueClient, m Message, reason string) error {
	if err := q.Poison(ctx, m, reason); err != nil {
		return fmt.Errorf("intake: poisoning message %s: %w", m.ID, err)
	}
	return fmt.Errorf("%w: %s: %s", ErrPoisoned, m.ID, reason)
}
