package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/newsroom-dev/newsroom/internal/syncbuf"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
)

// TestServe_TwoProcessesOnOnePostgresPollOneFeedAndQueueOnce starts two
// `newsroom serve` processes on one PostgreSQL database with the same intake
// file: both poll the same feed and the same Azure Storage queue (Azurite),
// and each item starts exactly one run.
func TestServe_TwoProcessesOnOnePostgresPollOneFeedAndQueueOnce(t *testing.T) {
	dsn := testsvc.Postgres(t)
	conn := testsvc.AzuriteQueues(t)
	queue := fmt.Sprintf("serve-%d", time.Now().UnixNano()%1e9)
	svc, err := azqueue.NewServiceClientFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateQueue(context.Background(), queue, nil); err != nil {
		t.Fatal(err)
	}
	const items = 5
	var polls atomic.Int32
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		polls.Add(1)
		var b strings.Builder
		for i := range items {
			fmt.Fprintf(&b, "<item><guid>pr-%d</guid><title>Release %d</title><description>The harbour closes at noon.</description></item>", i, i)
		}
		fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>%s</channel></rss>`, b.String())
	}))
	defer feed.Close()
	for i := range items {
		if _, err := svc.NewQueueClient(queue).EnqueueMessage(context.Background(), fmt.Sprintf("Assignment %d: the quay works", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	env, dir := cleanEnv(t, "NEWSROOM_DATABASE_URL="+dsn, "NEWSROOM_FETCH_ALLOW="+strings.TrimPrefix(feed.URL, "http://"), "INTAKE_QUEUE="+conn)
	intakeFile := filepath.Join(dir, "intake.yaml")
	write(t, intakeFile, fmt.Sprintf(`sources:
  - {name: press, feed: "%s/press.xml", every: 10s, start: all, desk: roundrobin, link_as_source: false, max_runs_per_hour: 100}
  - {name: assignments, queue: {connection_string: "env:INTAKE_QUEUE", name: %s}, every: 10s, desk: roundrobin, max_runs_per_hour: 100}
`, feed.URL, queue))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	urlRE := regexp.MustCompile(`serving on (http://127\.0\.0\.1:\d+)`)
	for i := range 2 {
		cmd := exec.CommandContext(ctx, buildBinary(t), "serve", "--addr", "127.0.0.1:0", "--intake", intakeFile, "--no-cache",
			"--env-file", filepath.Join(dir, "none.env"), "--grace", "1s", "--drain-delay", "0s")
		cmd.Env, cmd.Dir = env, dir
		var stdout, stderr syncbuf.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); _ = cmd.Wait() })
		for urlRE.FindString(stdout.String()) == "" {
			select {
			case <-ctx.Done():
				t.Fatalf("serve %d did not start:\n%s", i, stderr.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Both processes poll at start; wait (bounded) until both polled and
	// the inbox holds every item.
	for {
		stats, err := st.InboxStats(ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if polls.Load() >= 2 && len(stats) == 2 && stats[0].Runs == items && stats[1].Runs == items {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("inbox %+v after %d polls; want %d runs", stats, polls.Load(), items)
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, source := range []string{"press", "assignments"} {
		runs, _, err := st.ListRuns(ctx, store.ListOptions{Owner: "intake:" + source, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, r := range runs {
			seen[r.Options.Intake.Item]++
		}
		if len(runs) != items || len(seen) != items {
			t.Errorf("%s: %d runs for %d items (%v), want one each", source, len(runs), len(seen), seen)
		}
	}
}
