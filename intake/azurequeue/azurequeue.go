// Package azurequeue is an intake.QueueClient over an Azure Storage queue
// (github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue), signed in with a
// Microsoft Entra ID credential or a connection string. Messages that cannot
// start a run go to the queue NAME-poison, wrapped with the reason.
package azurequeue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/newsroom-dev/newsroom/intake"
)

var _ intake.QueueClient = (*Client)(nil)

// PoisonSuffix names the poison queue of a queue: NAME-poison, as Azure
// Functions' queue trigger names it.
const PoisonSuffix = "-poison"

// Config says which queue and how to sign in. Exactly one of Credential
// (with Account) and ConnectionString.
type Config struct {
	// Account is the queue service URL, https://ACCOUNT.queue.core.windows.net.
	Account string
	// Credential signs in with Entra ID (DefaultAzureCredential, a managed
	// identity); the identity needs Storage Queue Data Message Processor
	// and Sender on the account.
	Credential azcore.TokenCredential
	// ConnectionString is the account's connection string (Azurite's in tests).
	ConnectionString string
	// Queue is the queue's name.
	Queue string
	// Options are the SDK's client options (transport, retries); nil is the default.
	Options *azqueue.ClientOptions
}

// Client is one queue and its poison queue.
type Client struct {
	q, poison *azqueue.QueueClient
}

// New returns the client of cfg's queue.
func New(cfg Config) (*Client, error) {
	var svc *azqueue.ServiceClient
	var err error
	switch {
	case cfg.ConnectionString != "" && cfg.Credential != nil:
		return nil, errors.New("azurequeue: a connection string or a credential, not both")
	case cfg.ConnectionString != "":
		svc, err = azqueue.NewServiceClientFromConnectionString(cfg.ConnectionString, cfg.Options)
		if err != nil {
			// The SDK's error may quote the string; say only what is wrong.
			return nil, errors.New("azurequeue: the connection string is not valid")
		}
	case cfg.Credential != nil && cfg.Account != "":
		svc, err = azqueue.NewServiceClient(strings.TrimSuffix(cfg.Account, "/")+"/", cfg.Credential, cfg.Options)
		if err != nil {
			return nil, fmt.Errorf("azurequeue: %w", err)
		}
	default:
		return nil, errors.New("azurequeue: want an account URL with a credential, or a connection string")
	}
	return &Client{q: svc.NewQueueClient(cfg.Queue), poison: svc.NewQueueClient(cfg.Queue + PoisonSuffix)}, nil
}

func seconds(d time.Duration) *int32 {
	s := int32(max(1, (d+time.Second-1)/time.Second))
	return &s
}

// Receive dequeues up to n messages (at most 32), hidden for visibility.
func (c *Client) Receive(ctx context.Context, n int, visibility time.Duration) ([]intake.Message, error) {
	num := int32(min(max(n, 1), 32))
	resp, err := c.q.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{NumberOfMessages: &num, VisibilityTimeout: seconds(visibility)})
	if err != nil {
		return nil, fmt.Errorf("azurequeue: receive: %w", err)
	}
	out := make([]intake.Message, 0, len(resp.Messages))
	for _, m := range resp.Messages {
		if m == nil || m.MessageID == nil || m.PopReceipt == nil {
			continue
		}
		msg := intake.Message{ID: *m.MessageID, PopReceipt: *m.PopReceipt}
		if m.MessageText != nil {
			msg.Text = *m.MessageText
		}
		if m.DequeueCount != nil {
			msg.DequeueCount = *m.DequeueCount
		}
		out = append(out, msg)
	}
	return out, nil
}

// Renew hides m for visibility from now; its text is kept.
func (c *Client) Renew(ctx context.Context, m *intake.Message, visibility time.Duration) error {
	resp, err := c.q.UpdateMessage(ctx, m.ID, m.PopReceipt, m.Text, &azqueue.UpdateMessageOptions{VisibilityTimeout: seconds(visibility)})
	if err != nil {
		return fmt.Errorf("azurequeue: renew %s: %w", m.ID, err)
	}
	if resp.PopReceipt != nil {
		m.PopReceipt = *resp.PopReceipt
	}
	return nil
}

// Delete removes m; a message already gone is not an error.
func (c *Client) Delete(ctx context.Context, m intake.Message) error {
	_, err := c.q.DeleteMessage(ctx, m.ID, m.PopReceipt, nil)
	if err != nil && !queueerror.HasCode(err, queueerror.MessageNotFound) {
		return fmt.Errorf("azurequeue: delete %s: %w", m.ID, err)
	}
	return nil
}

// Poisoned is a message as the poison queue keeps it.
type Poisoned struct {
	MessageID    string `json:"message_id"`
	DequeueCount int64  `json:"dequeue_count"`
	Reason       string `json:"reason"`
	Text         string `json:"text"`
}

// Poison moves m to NAME-poison (created when missing) with the reason,
// then deletes it: it is enqueued first, so a failure in between leaves a
// copy in both queues, never in neither.
func (c *Client) Poison(ctx context.Context, m intake.Message, reason string) error {
	if _, err := c.poison.Create(ctx, nil); err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
		return fmt.Errorf("azurequeue: create the poison queue: %w", err)
	}
	body, err := json.Marshal(Poisoned{MessageID: m.ID, DequeueCount: m.DequeueCount, Reason: reason, Text: m.Text})
	if err != nil {
		return fmt.Errorf("azurequeue: poison %s: %w", m.ID, err)
	}
	ttl := int32(-1)
	if _, err := c.poison.EnqueueMessage(ctx, string(body), &azqueue.EnqueueMessageOptions{TimeToLive: &ttl}); err != nil {
		return fmt.Errorf("azurequeue: poison %s: %w", m.ID, err)
	}
	return c.Delete(ctx, m)
}
