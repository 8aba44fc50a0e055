package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/newsroom-dev/newsroom/intake"
	"github.com/newsroom-dev/newsroom/intake/azurequeue"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// queueIntake is an intake configuration of the fixture's feed and a queue
// on Azurite, polled by the server's own loops.
func queueIntake(t *testing.T, feed *pressFeed, conn, queue string) *IntakeConfig {
	t.Helper()
	yaml := fmt.Sprintf(`sources:
  - name: harbour-press
    feed: %s/press.xml
    every: 10s
    start: all
    desk: roundrobin
    link_as_source: false
    max_runs_per_hour: 100
  - name: assignments
    queue: {connection_string: "env:QUEUE", name: %s}
    every: 10s
    desk: roundrobin
    max_runs_per_hour: 100
`, feed.srv.URL, queue)
	f, err := intake.Parse("intake.yaml", []byte(yaml), intake.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetch := web.New(web.Config{Allow: []string{strings.TrimPrefix(feed.srv.URL, "http://")}, Logger: slog.New(slog.DiscardHandler)})
	return &IntakeConfig{File: f, HTTPClient: fetch.Client(), DeferredSweep: -1,
		Secret: func(context.Context, string) (string, error) { return conn, nil },
		Queues: func(_ context.Context, src *intake.Source) (intake.QueueClient, error) {
			return azurequeue.New(azurequeue.Config{ConnectionString: conn, Queue: src.Queue.Name})
		}}
}

// newAzuriteQueue creates a queue of its own on the shared Azurite and
// returns the connection string and the SDK's client of it.
func newAzuriteQueue(t *testing.T) (string, string, *azqueue.QueueClient) {
	t.Helper()
	conn := testsvc.AzuriteQueues(t)
	name := fmt.Sprintf("intake-%d", time.Now().UnixNano()%1e9)
	svc, err := azqueue.NewServiceClientFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateQueue(context.Background(), name, nil); err != nil {
		t.Fatal(err)
	}
	return conn, name, svc.NewQueueClient(name)
}

func queueLen(t *testing.T, q *azqueue.QueueClient) int {
	t.Helper()
	p, err := q.GetProperties(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return int(*p.ApproximateMessagesCount)
}

// waitRuns polls (bounded) until the store holds want runs of intake.
func waitRuns(t *testing.T, st store.Store, want int, q *azqueue.QueueClient) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := len(intakeRuns(t, st, "harbour-press")) + len(intakeRuns(t, st, "assignments"))
		if n == want && queueLen(t, q) == 0 {
			return
		}
		if n > want || time.Now().After(deadline) {
			t.Fatalf("%d intake runs, %d messages queued; want %d runs and an empty queue", n, queueLen(t, q), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestIntake_QueueMessagesStartOneRunEach(t *testing.T) {
	conn, name, q := newAzuriteQueue(t)
	feed := newPressFeed(t)
	ctx := context.Background()
	for _, text := range []string{`{"task":"Cover the harbour board meeting","title":"Board"}`, "Write up the ferry timetable change"} {
		if _, err := q.EnqueueMessage(ctx, text, nil); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t, envOpts{cfg: Config{Intake: queueIntake(t, feed, conn, name)}, teamNames: []string{"roundrobin"}})
	waitRuns(t, e.st, 2, q)
	runs := intakeRuns(t, e.st, "assignments")
	var tasks []string
	for _, r := range runs {
		tasks = append(tasks, r.Task)
		if r.Approval == nil || !r.Approval.Required || r.Options.Intake == nil || r.Options.Intake.Source != "assignments" {
			t.Errorf("run %s: approval %+v intake %+v", r.ID, r.Approval, r.Options.Intake)
		}
	}
	if got := strings.Join(tasks, "|"); !strings.Contains(got, "Cover the harbour board meeting") || !strings.Contains(got, "Write up the ferry timetable change") {
		t.Errorf("tasks %q", got)
	}
}

// TestCluster_TwoInstancesPollTheSameFeedAndQueueOnce: two instances on one
// PostgreSQL database poll the same feed and the same queue at once; every
// item starts exactly one run.
func TestCluster_TwoInstancesPollTheSameFeedAndQueueOnce(t *testing.T) {
	dsn := testsvc.Postgres(t)
	conn, name, q := newAzuriteQueue(t)
	feed := newPressFeed(t)
	ctx := context.Background()
	const items = 6
	for i := range items {
		feed.add(fmt.Sprintf("pr-%d", i), fmt.Sprintf("Release %d", i), time.Now().Add(-time.Duration(i)*time.Minute))
		if _, err := q.EnqueueMessage(ctx, fmt.Sprintf("Assignment %d: cover the quay works", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	a := newEnv(t, envOpts{openStore: openPostgres(dsn), noStart: true, teamNames: []string{"roundrobin"},
		cfg: Config{InstanceID: "A", Intake: queueIntake(t, feed, conn, name)}})
	b := newEnv(t, envOpts{openStore: openPostgres(dsn), noStart: true, emulator: a.emu, teamNames: []string{"roundrobin"},
		cfg: Config{InstanceID: "B", Intake: queueIntake(t, feed, conn, name)}})
	var wg sync.WaitGroup
	for _, e := range []*env{a, b} {
		wg.Go(func() {
			if err := e.srv.Start(ctx); err != nil {
				t.Errorf("Start: %v", err)
			}
		})
	}
	wg.Wait()
	waitRuns(t, a.st, 2*items, q)
	// More polls of the feed by both at once find every item in the inbox.
	for range 3 {
		wg.Go(func() { _ = a.srv.PollFeeds(ctx) })
		wg.Go(func() { _ = b.srv.PollFeeds(ctx) })
		wg.Wait()
	}
	seen := map[string]int{}
	for _, src := range []string{"harbour-press", "assignments"} {
		for _, r := range intakeRuns(t, b.st, src) {
			seen[src+"/"+r.Options.Intake.Item]++
		}
	}
	if len(seen) != 2*items {
		t.Errorf("%d items have runs, want %d", len(seen), 2*items)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s started %d runs", k, n)
		}
	}
}
