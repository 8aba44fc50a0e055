package azurequeue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/newsroom-dev/newsroom/intake"
	"github.com/newsroom-dev/newsroom/intake/azurequeue"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/sqlite"
)

// TestMain stops the Azurite server testsvc starts.
func TestMain(m *testing.M) { testsvc.Main(m) }

var queueSeq atomic.Int32

// newQueue creates a queue of its own on Azurite and returns its client and
// the SDK's client of the same queue (to send and peek).
func newQueue(t *testing.T) (*azurequeue.Client, *azqueue.ServiceClient, string) {
	t.Helper()
	conn := testsvc.AzuriteQueues(t)
	name := fmt.Sprintf("assignments-%d-%d", time.Now().UnixNano()%1e6, queueSeq.Add(1))
	svc, err := azqueue.NewServiceClientFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateQueue(context.Background(), name, nil); err != nil {
		t.Fatal(err)
	}
	c, err := azurequeue.New(azurequeue.Config{ConnectionString: conn, Queue: name})
	if err != nil {
		t.Fatal(err)
	}
	return c, svc, name
}

func send(t *testing.T, svc *azqueue.ServiceClient, queue, text string) {
	t.Helper()
	if _, err := svc.NewQueueClient(queue).EnqueueMessage(context.Background(), text, nil); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, svc *azqueue.ServiceClient, queue string) int {
	t.Helper()
	resp, err := svc.NewQueueClient(queue).PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: ptr(int32(32))})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.Messages)
}

func ptr[T any](v T) *T { return &v }

func receiveOne(t *testing.T, c *azurequeue.Client, visibility time.Duration) intake.Message {
	t.Helper()
	msgs, err := c.Receive(context.Background(), 1, visibility)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Receive = %d messages, %v; want 1", len(msgs), err)
	}
	return msgs[0]
}

// receiveAgain waits (bounded polling) for a message whose visibility
// timeout ran out to be delivered again.
func receiveAgain(t *testing.T, c *azurequeue.Client, visibility time.Duration) intake.Message {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		msgs, err := c.Receive(context.Background(), 1, visibility)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 1 {
			return msgs[0]
		}
	}
	t.Fatal("the message did not come back")
	return intake.Message{}
}

func TestClient_ReceiveRenewDelete(t *testing.T) {
	c, svc, name := newQueue(t)
	send(t, svc, name, `{"task":"Cover the harbour board"}`)
	m := receiveOne(t, c, 30*time.Second)
	if m.Text != `{"task":"Cover the harbour board"}` || m.DequeueCount != 1 || m.ID == "" {
		t.Errorf("message = %+v", m)
	}
	old := m.PopReceipt
	if err := c.Renew(context.Background(), &m, time.Minute); err != nil {
		t.Fatal(err)
	}
	if m.PopReceipt == old {
		t.Error("Renew kept the pop receipt")
	}
	stale := m
	stale.PopReceipt = old
	if err := c.Delete(context.Background(), stale); err == nil {
		t.Error("Delete with the pop receipt before the renewal succeeded")
	}
	if err := c.Delete(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if n := count(t, svc, name); n != 0 {
		t.Errorf("%d messages left", n)
	}
	if err := c.Delete(context.Background(), m); err != nil {
		t.Errorf("deleting a deleted message: %v", err)
	}
}

// inbox admits items into a real SQLite store, as the server does.
type inbox struct {
	st   store.Store
	runs atomic.Int32
}

func newInbox(t *testing.T) *inbox {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "newsroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &inbox{st: st}
}

func (b *inbox) admit(ctx context.Context, it intake.Item) error {
	run := &store.Run{Task: it.Body + it.Task, Team: "roundrobin", Options: store.RunOptions{Intake: &store.IntakeRef{Source: "assignments", Item: it.ID}}}
	_, created, err := b.st.AdmitItem(ctx, store.InboxItem{Source: "assignments", Item: it.ID}, run)
	if created {
		b.runs.Add(1)
	}
	return err
}

var source = &intake.Source{Name: "assignments", Desk: "roundrobin", Queue: &intake.Queue{Name: "assignments", MaxDequeues: 2}}

func TestProcess_AKillBetweenTheRunAndTheDeleteGivesNoSecondRun(t *testing.T) {
	c, svc, name := newQueue(t)
	b := newInbox(t)
	send(t, svc, name, "Cover the harbour board meeting at 10:00")
	// The first receiver creates the run and dies before deleting the
	// message: it comes back when its visibility timeout ends.
	m := receiveOne(t, c, time.Second)
	item, err := intake.ParseMessage(m.ID, []byte(m.Text))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.admit(context.Background(), item); err != nil {
		t.Fatal(err)
	}
	again := receiveAgain(t, c, 30*time.Second)
	if again.ID != m.ID || again.DequeueCount != 2 {
		t.Fatalf("redelivered %+v, want the same message, dequeued twice", again)
	}
	if err := intake.Process(context.Background(), c, source, again, 30*time.Second, b.admit); err != nil {
		t.Fatal(err)
	}
	if b.runs.Load() != 1 || count(t, svc, name) != 0 {
		t.Errorf("%d runs, %d messages left; want 1 run and the message deleted", b.runs.Load(), count(t, svc, name))
	}
	stats, err := b.st.InboxStats(context.Background(), time.Time{})
	if err != nil || len(stats) != 1 || stats[0].Runs != 1 {
		t.Errorf("inbox %+v, %v", stats, err)
	}
}

func poisoned(t *testing.T, svc *azqueue.ServiceClient, name string) []azurequeue.Poisoned {
	t.Helper()
	resp, err := svc.NewQueueClient(name+azurequeue.PoisonSuffix).PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: ptr(int32(32))})
	if err != nil {
		t.Fatal(err)
	}
	var out []azurequeue.Poisoned
	for _, m := range resp.Messages {
		var p azurequeue.Poisoned
		if err := json.Unmarshal([]byte(*m.MessageText), &p); err != nil {
			t.Fatalf("poison message %q: %v", *m.MessageText, err)
		}
		out = append(out, p)
	}
	return out
}

func TestProcess_PoisonsABadAssignmentAndAMessageThatKeepsFailing(t *testing.T) {
	c, svc, name := newQueue(t)
	b := newInbox(t)
	send(t, svc, name, `{"tsak":"a typo"}`)
	m := receiveOne(t, c, 30*time.Second)
	if err := intake.Process(context.Background(), c, source, m, 30*time.Second, b.admit); !errors.Is(err, intake.ErrPoisoned) {
		t.Fatalf("a bad assignment: %v, want ErrPoisoned", err)
	}
	// A message whose run cannot be created (the store is down) stays on
	// the queue, and past max_dequeues (2) goes to the poison queue.
	send(t, svc, name, "Cover the ferry strike")
	failing := func(context.Context, intake.Item) error { return errors.New("store unavailable") }
	m = receiveOne(t, c, time.Second)
	if err := intake.Process(context.Background(), c, source, m, time.Second, failing); err == nil || errors.Is(err, intake.ErrPoisoned) {
		t.Fatalf("first failure: %v", err)
	}
	m = receiveAgain(t, c, time.Second)
	if err := intake.Process(context.Background(), c, source, m, time.Second, failing); err == nil || errors.Is(err, intake.ErrPoisoned) {
		t.Fatalf("second failure: %v", err)
	}
	m = receiveAgain(t, c, time.Second)
	if err := intake.Process(context.Background(), c, source, m, time.Second, b.admit); !errors.Is(err, intake.ErrPoisoned) {
		t.Fatalf("third dequeue: %v, want ErrPoisoned", err)
	}
	got := poisoned(t, svc, name)
	if len(got) != 2 || !strings.Contains(got[0].Reason, "not a valid assignment") || got[0].Text != `{"tsak":"a typo"}` ||
		!strings.Contains(got[1].Reason, "dequeued 3 times") || got[1].Text != "Cover the ferry strike" || got[1].DequeueCount != 3 {
		t.Errorf("poison queue = %+v", got)
	}
	if n := count(t, svc, name); n != 0 || b.runs.Load() != 0 {
		t.Errorf("%d messages left, %d runs; want none", n, b.runs.Load())
	}
}

func TestNew_RefusesAmbiguousOrMissingSignIn(t *testing.T) {
	if _, err := azurequeue.New(azurequeue.Config{Queue: "q"}); err == nil {
		t.Error("no sign-in accepted")
	}
	if _, err := azurequeue.New(azurequeue.Config{ConnectionString: "AccountKey=secretvalue;garbage", Queue: "q"}); err == nil ||
		strings.Contains(err.Error(), "secretvalue") {
		t.Errorf("a bad connection string: %v (must not echo it)", err)
	}
}
