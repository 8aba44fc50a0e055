package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/intake"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// pressFeed serves an RSS feed and its items' pages on loopback, with an
// ETag so unchanged polls are 304s.
type pressFeed struct {
	srv   *httptest.Server
	mu    sync.Mutex
	items []string
	gets  atomic.Int32
}

func newPressFeed(t testing.TB) *pressFeed {
	f := &pressFeed{}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *pressFeed) add(guid, title string, pub time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = append(f.items, fmt.Sprintf(`<item><guid>%s</guid><title>%s</title><link>%s/news/%s</link><description>About %s.</description><pubDate>%s</pubDate></item>`,
		guid, title, f.srv.URL, guid, title, pub.Format(time.RFC1123Z)))
}

func (f *pressFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/news/") {
		fmt.Fprintf(w, "<html><head><title>%s</title></head><body><article><p>The press release %s says the harbour closes at noon for dredging works.</p></article></body></html>",
			r.URL.Path, r.URL.Path)
		return
	}
	f.gets.Add(1)
	etag := fmt.Sprintf(`"%d"`, len(f.items))
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour press</title>%s</channel></rss>`, strings.Join(f.items, ""))
}

// intakeEnv is a server with an intake file of a feed (the fixture) and a
// webhook, its clock set by the test.
type intakeEnv struct {
	*env
	feed  *pressFeed
	clock *testClock
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const webhookSecret = "wire-secret-of-the-test"

func newIntakeEnv(t *testing.T, feed *pressFeed, clock *testClock, dbPath, extra string) *intakeEnv {
	t.Helper()
	yaml := fmt.Sprintf(`sources:
  - name: harbour-press
    feed: %s/press.xml
    desk: roundrobin
    task: "Facts: {{.Title}}\n{{.Summary}}"
    max_runs_per_hour: 2
  - name: wire
    webhook: {secret: "env:WIRE", event_grid: true}
    desk: roundrobin
    approval: none
    link_as_source: false
%s`, feed.srv.URL, extra)
	f, err := intake.Parse("intake.yaml", []byte(yaml), intake.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetch := web.New(web.Config{Allow: []string{strings.TrimPrefix(feed.srv.URL, "http://")}, Logger: slog.New(slog.DiscardHandler)})
	// The runs' sources are fetched, but the desks get no tools: an agent
	// must not reach for the non-loopback URLs in the events' data.
	cfg := Config{Now: clock.now, FetchSources: fetch.Sources, Intake: &IntakeConfig{File: f, HTTPClient: fetch.Client(), NoPolling: true, DeferredSweep: -1,
		Secret: func(_ context.Context, ref string) (string, error) {
			if ref != "env:WIRE" {
				return "", fmt.Errorf("unknown %s", ref)
			}
			return webhookSecret, nil
		}}}
	return &intakeEnv{env: newEnv(t, envOpts{cfg: cfg, dbPath: dbPath, teamNames: []string{"roundrobin"}}), feed: feed, clock: clock}
}

func (e *intakeEnv) intakeList() map[string]IntakeSourceView {
	e.t.Helper()
	resp, b := e.do("GET", "/v1/intake", e.user, "")
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET /v1/intake = %d %s", resp.StatusCode, b)
	}
	var l IntakeList
	mustJSON(e.t, b, &l)
	out := map[string]IntakeSourceView{}
	for _, s := range l.Sources {
		out[s.Name] = s
	}
	return out
}

func intakeRuns(t *testing.T, st store.Store, source string) []*store.Run {
	t.Helper()
	runs, _, err := st.ListRuns(context.Background(), store.ListOptions{Owner: intakeOwner(source), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func TestIntake_FeedItemsStartOneRunEachAcrossPollsAndRestarts(t *testing.T) {
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	feed := newPressFeed(t)
	feed.add("old-1", "Last year's dues", clock.now().Add(-24*time.Hour))
	feed.add("pr-1", "Harbour closes at noon", clock.now().Add(time.Minute))
	dbPath := t.TempDir() + "/newsroom.db"
	e := newIntakeEnv(t, feed, clock, dbPath, "")
	ctx := context.Background()
	if err := e.srv.PollFeeds(ctx); err != nil {
		t.Fatal(err)
	}
	runs := intakeRuns(t, e.st, "harbour-press")
	if len(runs) != 1 {
		t.Fatalf("%d runs after the first poll, want 1 (the backlog item is skipped)", len(runs))
	}
	v := e.get(e.admin, runs[0].ID)
	if v.Intake == nil || v.Intake.Source != "harbour-press" || v.Intake.Item != "pr-1" || v.Approval == nil || !v.Approval.Required ||
		!strings.HasPrefix(v.Task, "Facts: Harbour closes at noon\nAbout Harbour closes at noon.") {
		t.Errorf("run = intake %+v, approval %+v, task %q", v.Intake, v.Approval, v.Task)
	}
	if v.Options == nil || len(v.Options.Sources) != 1 || !strings.HasSuffix(v.Options.Sources[0], "/news/pr-1") {
		t.Errorf("the item's link is not the run's source: %+v", v.Options)
	}
	// Unchanged (a 304), then a new item: one more run.
	if err := e.srv.PollFeeds(ctx); err != nil {
		t.Fatal(err)
	}
	feed.add("pr-2", "Dredging starts", clock.now().Add(2*time.Minute))
	if err := e.srv.PollFeeds(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(intakeRuns(t, e.st, "harbour-press")); n != 2 {
		t.Fatalf("%d runs after the new item, want 2", n)
	}
	got := e.intakeList()["harbour-press"]
	if got.Kind != "feed" || got.RunsCreated != 2 || got.ItemsSeen != 2 || got.Deferred != 0 || got.Errors != 0 || got.LastPoll.IsZero() {
		t.Errorf("GET /v1/intake = %+v", got)
	}
	// A restart on the same store: the first poll's backlog is the whole
	// feed again by date, but pr-1 and pr-2 are in the inbox: no new run.
	e.srv.Shutdown(ctx)
	clock.add(-time.Hour) // start before the items, so the restarted feed takes them
	e2 := newIntakeEnv(t, feed, clock, dbPath, "")
	if err := e2.srv.PollFeeds(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(intakeRuns(t, e2.st, "harbour-press")); n != 2 {
		t.Errorf("%d runs after a restart, want still 2", n)
	}
}

func TestIntake_CapsDeferItemsAndTheSweepStartsThemLater(t *testing.T) {
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	feed := newPressFeed(t)
	for i := range 5 {
		feed.add(fmt.Sprintf("pr-%d", i), fmt.Sprintf("Release %d", i), clock.now().Add(time.Duration(i+1)*time.Minute))
	}
	e := newIntakeEnv(t, feed, clock, "", "")
	ctx := context.Background()
	if err := e.srv.PollFeeds(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(intakeRuns(t, e.st, "harbour-press")); n != 2 {
		t.Fatalf("%d runs, want 2 (max_runs_per_hour)", n)
	}
	got := e.intakeList()["harbour-press"]
	if got.Deferred != 3 || got.RunsCreated != 2 || got.RunsLastHour != 2 || got.ItemsSeen != 5 {
		t.Errorf("GET /v1/intake = %+v; want 3 deferred, 2 runs", got)
	}
	// Within the hour the sweep admits nothing; an hour later two more.
	if err := e.srv.intake.sweepDeferred(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(intakeRuns(t, e.st, "harbour-press")); n != 2 {
		t.Fatalf("%d runs after a sweep within the hour, want 2", n)
	}
	clock.add(61 * time.Minute)
	if err := e.srv.intake.sweepDeferred(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(intakeRuns(t, e.st, "harbour-press")); n != 4 {
		t.Fatalf("%d runs after a sweep an hour later, want 4", n)
	}
	if got := e.intakeList()["harbour-press"]; got.Deferred != 1 {
		t.Errorf("deferred %d, want 1 left", got.Deferred)
	}
}

func TestIntake_AFullRunQueueDefersInsteadOfDropping(t *testing.T) {
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	feed := newPressFeed(t)
	feed.add("pr-1", "Release", clock.now().Add(time.Minute))
	e := newIntakeEnv(t, feed, clock, "", "")
	for e.srv.queue.reserve() { // every slot taken, as by a flood of submissions
	}
	if err := e.srv.PollFeeds(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.intakeList()["harbour-press"]; got.Deferred != 1 || got.RunsCreated != 0 {
		t.Errorf("with the queue full: %+v, want the item deferred", got)
	}
}

func (e *intakeEnv) deliver(body string, hdr ...string) (*http.Response, []byte) {
	return e.do("POST", "/v1/intake/wire", "", body, hdr...)
}

func TestIntake_SignedWebhookDeliveriesStartOneRunEach(t *testing.T) {
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	e := newIntakeEnv(t, newPressFeed(t), clock, "", "")
	body := `{"task":"Write up the council's vote on the ferry fares","title":"Council vote"}`
	sig := intake.Sign([]byte(webhookSecret), clock.now(), []byte(body))
	resp, b := e.deliver(body, intake.SignatureHeader, sig, intake.DeliveryHeader, "d-1", "Content-Type", "application/json")
	var d IntakeDelivery
	if resp.StatusCode != 202 {
		t.Fatalf("signed delivery = %d %s", resp.StatusCode, b)
	}
	mustJSON(t, b, &d)
	if len(d.Items) != 1 || d.Items[0].Status != "created" || d.Items[0].RunID == "" {
		t.Fatalf("delivery = %+v", d)
	}
	run := e.get(e.admin, d.Items[0].RunID)
	if run.Task != "Write up the council's vote on the ferry fares" || run.Approval != nil || run.Intake.Item != "delivery:d-1" {
		t.Errorf("run = task %q approval %+v intake %+v", run.Task, run.Approval, run.Intake)
	}
	// The same delivery again (a retry) is a duplicate, inside the window.
	resp, b = e.deliver(body, intake.SignatureHeader, sig, intake.DeliveryHeader, "d-1")
	mustJSON(t, b, &d)
	if resp.StatusCode != 202 || d.Items[0].Status != "duplicate" || d.Items[0].RunID != run.ID {
		t.Errorf("redelivery = %d %+v", resp.StatusCode, d)
	}
	refused := map[string][]string{
		"tampered":    {intake.SignatureHeader, sig, intake.DeliveryHeader, "d-2"},
		"unsigned":    {intake.DeliveryHeader, "d-3"},
		"other key":   {intake.SignatureHeader, intake.Sign([]byte("guess"), clock.now(), []byte(body))},
		"out of date": {intake.SignatureHeader, intake.Sign([]byte(webhookSecret), clock.now().Add(-10*time.Minute), []byte(body))},
	}
	for name, hdr := range refused {
		b := body
		if name == "tampered" {
			b = strings.Replace(body, "ferry", "bus", 1)
		}
		if resp, out := e.deliver(b, hdr...); resp.StatusCode != 401 || !strings.Contains(string(out), "bad_signature") {
			t.Errorf("%s: %d %s, want 401 bad_signature", name, resp.StatusCode, out)
		}
	}
	if resp, _ := e.do("POST", "/v1/intake/harbour-press", "", body, intake.SignatureHeader, sig); resp.StatusCode != 404 {
		t.Errorf("a delivery to a feed source = %d, want 404", resp.StatusCode)
	}
	if n := len(intakeRuns(t, e.st, "wire")); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
}

func TestIntake_EventGridHandshakesAndEvents(t *testing.T) {
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	e := newIntakeEnv(t, newPressFeed(t), clock, "", "")
	validation := `[{"id":"2d1781af-3a4c-4d7c-bd0c-e34b19da4e66","topic":"/subscriptions/xx/resourceGroups/xx/providers/Microsoft.Storage/storageAccounts/xx",
"subject":"","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6","validationUrl":"https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/sub/validate?id=0&token=x"},
"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2022-10-28T04:23:35.1981776Z","metadataVersion":"1","dataVersion":"1"}]`
	// The Event Grid schema's handshake: the validation code echoed back.
	resp, b := e.do("POST", "/v1/intake/wire?key="+webhookSecret, "", validation, "aeg-event-type", "SubscriptionValidation", "Content-Type", "application/json")
	var vr map[string]string
	if resp.StatusCode != 200 || json.Unmarshal(b, &vr) != nil || vr["validationResponse"] != "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" {
		t.Errorf("validation = %d %s", resp.StatusCode, b)
	}
	if resp, _ := e.do("POST", "/v1/intake/wire?key=wrong", "", validation, "aeg-event-type", "SubscriptionValidation"); resp.StatusCode != 401 {
		t.Errorf("validation with a wrong key = %d, want 401", resp.StatusCode)
	}
	// CloudEvents 1.0: the OPTIONS handshake.
	resp, _ = e.do("OPTIONS", "/v1/intake/wire?key="+webhookSecret, "", "", "WebHook-Request-Origin", "eventgrid.azure.net")
	if resp.StatusCode != 200 || resp.Header.Get("WebHook-Allowed-Origin") != "eventgrid.azure.net" || resp.Header.Get("WebHook-Allowed-Rate") == "" {
		t.Errorf("OPTIONS handshake = %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := e.do("OPTIONS", "/v1/intake/wire?key=wrong", "", "", "WebHook-Request-Origin", "eventgrid.azure.net"); resp.StatusCode != 401 ||
		resp.Header.Get("WebHook-Allowed-Origin") != "" {
		t.Errorf("OPTIONS with a wrong key = %d %v", resp.StatusCode, resp.Header)
	}
	// Events of both schemas start a run each, once.
	blob := `[{"topic":"/subscriptions/xx/resourceGroups/Storage/providers/Microsoft.Storage/storageAccounts/acct","subject":"/blobServices/default/containers/press/blobs/release.txt",
"eventType":"Microsoft.Storage.BlobCreated","eventTime":"2017-06-26T18:41:00.9584103Z","id":"831e1650-001e-001b-66ab-eeb76e069631",
"data":{"api":"PutBlockList","contentType":"text/plain","url":"https://acct.blob.core.windows.net/press/release.txt"},"dataVersion":"","metadataVersion":"1"}]`
	cloud := `{"specversion":"1.0","type":"Microsoft.Storage.BlobCreated","source":"/subscriptions/xx/resourceGroups/Storage/providers/Microsoft.Storage/storageAccounts/acct",
"id":"9aeb0fdf-c01e-0131-0922-9eb54906e209","time":"2019-11-18T15:13:39.4589254Z","subject":"blobServices/default/containers/press/blobs/other.txt","data":{"api":"PutBlockList"}}`
	for range 2 {
		if resp, b := e.do("POST", "/v1/intake/wire?key="+webhookSecret, "", blob, "aeg-event-type", "Notification", "Content-Type", "application/json"); resp.StatusCode != 202 {
			t.Errorf("blob event = %d %s", resp.StatusCode, b)
		}
		if resp, b := e.do("POST", "/v1/intake/wire?key="+webhookSecret, "", cloud, "Content-Type", "application/cloudevents+json"); resp.StatusCode != 202 {
			t.Errorf("cloud event = %d %s", resp.StatusCode, b)
		}
	}
	runs := intakeRuns(t, e.st, "wire")
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2 (one per event)", len(runs))
	}
	var items []string
	for _, r := range runs {
		items = append(items, r.Options.Intake.Item)
	}
	if !strings.Contains(strings.Join(items, " "), "eventgrid:831e1650-001e-001b-66ab-eeb76e069631") {
		t.Errorf("items %v", items)
	}
}

func TestIntake_AFeedTheGuardRefusesIsAnErrorInTheList(t *testing.T) {
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	feed := newPressFeed(t)
	feed.add("pr-1", "Release", clock.now().Add(time.Minute))
	f, err := intake.Parse("intake.yaml", []byte(fmt.Sprintf("sources:\n  - {name: press, feed: \"%s/press.xml\", desk: roundrobin}\n", feed.srv.URL)), intake.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	guarded := web.New(web.Config{Logger: slog.New(slog.DiscardHandler)}) // no allow list: loopback is refused
	e := &intakeEnv{env: newEnv(t, envOpts{cfg: Config{Intake: &IntakeConfig{File: f, HTTPClient: guarded.Client(), NoPolling: true}},
		teamNames: []string{"roundrobin"}})}
	if err := e.srv.PollFeeds(context.Background()); err == nil {
		t.Fatal("a loopback feed was read through the guard")
	}
	got := e.intakeList()["press"]
	if got.Errors != 1 || !strings.Contains(got.LastError, "refused") || feed.gets.Load() != 0 {
		t.Errorf("GET /v1/intake = %+v, feed requests %d", got, feed.gets.Load())
	}
}
