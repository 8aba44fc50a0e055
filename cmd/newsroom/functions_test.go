package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/intake"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/sqlite"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// The payloads are those the Functions host sends a custom handler: a
// queue trigger's (its message in Data under the binding's name, the
// trigger metadata beside) and a timer trigger's.
const queueInvocation = `{
  "Data": {"message": "{\"task\":\"Cover the harbour board meeting at 10:00\",\"desk\":\"roundrobin\"}"},
  "Metadata": {
    "DequeueCount": 1,
    "ExpirationTime": "2019-10-16T17:58:31+00:00",
    "Id": "800ae4b3-bdd2-4c08-badd-f08e5a34b865",
    "InsertionTime": "2019-10-09T17:58:31+00:00",
    "NextVisibleTime": "2019-10-09T18:08:32+00:00",
    "PopReceipt": "AgAAAAMAAAAAAAAAAgtnj8x+1QE=",
    "sys": {"MethodName": "assignment", "UtcNow": "2019-10-09T17:58:32.2205399Z", "RandGuid": "24ad4c06-24ad-4e5b-8294-3da9714877e9"}
  }
}`

const timerInvocation = `{
  "Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": {"Last": "2026-12-08T09:00:00Z", "Next": "2026-12-08T09:05:00Z", "LastUpdated": "2026-12-08T09:00:00Z"}, "IsPastDue": false}},
  "Metadata": {"sys": {"MethodName": "poll-feeds", "UtcNow": "2026-12-08T09:05:00.0012Z", "RandGuid": "0f3b7d3e-8f0e-4f5e-9a43-4f0c1e6f2b11"}}
}`

func TestFunctions_CustomHandlerCreatesOneRunPerMessageAndPollsFeeds(t *testing.T) {
	ctx := context.Background()
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><guid>pr-1</guid><title>Quay closes</title><pubDate>%s</pubDate></item></channel></rss>`,
			time.Now().Add(time.Hour).Format(time.RFC1123Z))
	}))
	defer feed.Close()
	f, err := intake.Parse("intake.yaml", []byte(fmt.Sprintf(`sources:
  - name: press
    feed: %s/press.xml
    desk: roundrobin
    link_as_source: false
  - name: assignments
    queue: {account: https://acct.queue.core.windows.net, name: assignments}
    desk: selector
`, feed.URL)), intake.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "n.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	fetcher := web.New(web.Config{Allow: []string{strings.TrimPrefix(feed.URL, "http://")}, Logger: log})
	srv, err := server.New(server.Config{Store: st, Teams: registryTeams{desk.NewRegistry()}, Logger: log,
		Intake: &server.IntakeConfig{File: f, HTTPClient: fetcher.Client(), NoPolling: true, AdmitOnly: true, DeferredSweep: -1}})
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(functionsHandler(srv, "assignments", log))
	defer h.Close()
	invoke := func(fn, body string) (int, invocationResult) {
		t.Helper()
		resp, err := http.Post(h.URL+"/"+fn, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var res invocationResult
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatalf("%s answered %s", fn, b)
		}
		return resp.StatusCode, res
	}
	code, res := invoke(assignmentFunction, queueInvocation)
	id, _ := res.ReturnValue.(string)
	if code != 200 || id == "" || len(res.Logs) == 0 || res.Outputs == nil {
		t.Fatalf("queue invocation = %d %+v", code, res)
	}
	run, err := st.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if run.Task != "Cover the harbour board meeting at 10:00" || run.Team != "roundrobin" || run.Status != store.StatusQueued ||
		run.Options.Intake == nil || run.Options.Intake.Item != "800ae4b3-bdd2-4c08-badd-f08e5a34b865" {
		t.Errorf("run = %+v", run)
	}
	// The host retries an invocation (a redelivered message): the same run.
	if code, res := invoke(assignmentFunction, strings.Replace(queueInvocation, `"DequeueCount": 1`, `"DequeueCount": 2`, 1)); code != 200 || res.ReturnValue != id {
		t.Errorf("retried invocation = %d %+v, want run %s again", code, res, id)
	}
	if code, _ := invoke(assignmentFunction, `{"Data": {}, "Metadata": {}}`); code != 400 {
		t.Errorf("an invocation without a message = %d, want 400", code)
	}
	code, res = invoke(pollFeedsFunction, timerInvocation)
	if code != 200 || len(res.Logs) != 1 {
		t.Fatalf("timer invocation = %d %+v", code, res)
	}
	runs, _, err := st.ListRuns(ctx, store.ListOptions{Limit: 10})
	if err != nil || len(runs) != 2 {
		t.Fatalf("%d runs, %v; want the message's and the feed item's", len(runs), err)
	}
	// Nothing executes here: the runs wait for the serve instances' scans.
	for _, r := range runs {
		if r.Status != store.StatusQueued {
			t.Errorf("run %s is %s", r.ID, r.Status)
		}
		if c, ok, err := st.ClaimRun(ctx, r.ID, "serve-1", time.Minute); err != nil || !ok || c.Token != 1 {
			t.Errorf("run %s is not free for a serve instance: %v %v %+v", r.ID, ok, err, c)
		}
	}
}
