package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// pressSite is a real HTTP server on 127.0.0.2, an address the fetch guard
// refuses unless the allow list names it, counting the pages it serves.
type pressSite struct {
	addr  string
	pages atomic.Int64
	// down makes /press answer 500 (still counted: a request was made).
	down atomic.Bool
}

const pressHTML = `<html><head><title>Museum reopens</title></head><body><article><h1>Museum reopens</h1>
<p>The city museum reopened on Sunday after 18 months of repairs that cost 6.3 million euros.</p>
<p>Director Jonas Berg said entry would stay free for residents of the city.</p>
<p>The museum expects about 40,000 visitors in its first year after the works.</p></article></body></html>`

func newPressSite(t testing.TB) *pressSite {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pressSite{addr: l.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("/press", func(w http.ResponseWriter, _ *http.Request) {
		p.pages.Add(1)
		if p.down.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, pressHTML)
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.Handle("/moved", http.RedirectHandler("/press", http.StatusMovedPermanently))
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

func (p *pressSite) url(path string) string { return "http://" + p.addr + path }

// fetcher reads the site (and only it among internal addresses).
func (p *pressSite) fetcher() *web.Fetcher {
	return web.New(web.Config{Allow: []string{p.addr}, Logger: slog.New(slog.DiscardHandler)})
}

// apiErr is a decoded error body.
type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func TestServer_RunOptionsAreValidated(t *testing.T) {
	site := newPressSite(t)
	e := newEnv(t, envOpts{noStart: true, fetch: site.fetcher(), cfg: Config{KeyRateLimit: -1}})
	ok := site.url("/press")
	refused := "http://127.0.0.3:" + strings.Split(site.addr, ":")[1] + "/press"
	six := `"` + strings.Repeat(ok+`","`, 5) + ok + `"`
	for _, c := range []struct {
		name, body         string
		status             int
		code, field, inMsg string
	}{
		{"sources not an array", `{"task":"t","sources":"` + ok + `"}`, 400, "bad_json", "sources", "an array"},
		{"a source not a string", `{"task":"t","sources":[1]}`, 400, "bad_json", "sources", "a string"},
		{"grounding not a boolean", `{"task":"t","grounding":"off"}`, 400, "bad_json", "grounding", "true or false"},
		{"tools not a boolean", `{"task":"t","tools":0}`, 400, "bad_json", "tools", "true or false"},
		{"a relative URL", `{"task":"t","sources":["` + ok + `","/press"]}`, 400, "bad_source_url", "sources[1]", "http or https"},
		{"a javascript: URL", `{"task":"t","sources":["javascript:alert(1)"]}`, 400, "bad_source_url", "sources[0]", "http or https"},
		{"credentials in the URL", `{"task":"t","sources":["http://me:secret@` + site.addr + `/press"]}`, 400, "bad_source_url", "sources[0]", "credentials"},
		{"a URL twice", `{"task":"t","sources":["` + ok + `","` + ok + `"]}`, 400, "bad_source_url", "sources[1]", "twice"},
		{"too many sources", `{"task":"t","sources":[` + six + `]}`, 400, "bad_sources", "sources", "at most 5"},
		{"a destination the guard refuses", `{"task":"t","sources":["` + ok + `","` + refused + `"]}`, 422, "source_refused", "sources[1]", "is not allowed: only ports 80 and 443"},
		{"a page that is missing", `{"task":"t","sources":["` + site.url("/missing") + `"]}`, 422, "source_unavailable", "sources[0]", "HTTP 404"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, b := e.do("POST", "/v1/runs", e.user, c.body)
			var got apiErr
			mustJSON(t, b, &got)
			if resp.StatusCode != c.status || got.Error.Code != c.code || got.Error.Field != c.field || !strings.Contains(got.Error.Message, c.inMsg) {
				t.Errorf("= %d %s, want %d %s naming %s and saying %q", resp.StatusCode, b, c.status, c.code, c.field, c.inMsg)
			}
			if strings.Contains(string(b), "secret") {
				t.Errorf("the error repeats the URL's credentials: %s", b)
			}
		})
	}
	_, b := e.do("GET", "/v1/runs", e.user, "")
	var list RunList
	mustJSON(t, b, &list)
	if len(list.Runs) != 0 {
		t.Errorf("refused requests queued %d runs", len(list.Runs))
	}

	// An Idempotency-Key replays the run for the same sources and switches,
	// and refuses other ones.
	first := e.create(e.user, `{"task":"t","sources":["`+ok+`"]}`, "Idempotency-Key", "k1")
	again := e.create(e.user, `{"task":"t","sources":["`+ok+`"]}`, "Idempotency-Key", "k1")
	if again.ID != first.ID {
		t.Errorf("replay made run %s, want %s", again.ID, first.ID)
	}
	for _, body := range []string{`{"task":"t"}`, `{"task":"t","sources":["` + ok + `"],"grounding":false}`} {
		if resp, b := e.do("POST", "/v1/runs", e.user, body, "Idempotency-Key", "k1"); resp.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(string(b), "idempotency_key_reused") {
			t.Errorf("%s with the same key = %d %s, want 422 idempotency_key_reused", body, resp.StatusCode, b)
		}
	}

	// A service that fetches nothing says so.
	plain := newEnv(t, envOpts{noStart: true, emulator: e.emu})
	resp, b := plain.do("POST", "/v1/runs", plain.user, `{"task":"t","sources":["`+ok+`"]}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "sources_unavailable") {
		t.Errorf("sources without a fetcher = %d %s, want 400 sources_unavailable", resp.StatusCode, b)
	}
}

// TestServer_IdempotentReplayFetchesNothing: a create retried under its
// Idempotency-Key is answered from the stored run before any source is
// read, so the replay costs no fetch and succeeds while the site is down,
// also for a source that redirected; another body under the key is
// refused on the URLs and switches asked for, without a fetch either.
func TestServer_IdempotentReplayFetchesNothing(t *testing.T) {
	onBothBackends(t, testIdempotentReplayFetchesNothing)
}

func testIdempotentReplayFetchesNothing(t *testing.T, open func(t testing.TB) store.Store) {
	site := newPressSite(t)
	e := newEnv(t, envOpts{noStart: true, openStore: open, fetch: site.fetcher(), cfg: Config{KeyRateLimit: -1}})
	press, moved := site.url("/press"), site.url("/moved")
	body := `{"task":"Write about the museum.","sources":["` + moved + `"],"tools":false}`
	first := e.create(e.user, body, "Idempotency-Key", "replay-1")
	if n := site.pages.Load(); n != 1 {
		t.Fatalf("the first create read the page %d times, want once", n)
	}
	if got := e.get(e.user, first.ID); got.Options == nil || len(got.Options.Sources) != 1 || got.Options.Sources[0] != press {
		t.Fatalf("the stored run's sources %+v, want the redirect's target %s", got.Options, press)
	}

	site.down.Store(true)
	resp, b := e.do("POST", "/v1/runs", e.user, body, "Idempotency-Key", "replay-1")
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay while the site is down = %d (Idempotent-Replayed %q) %s, want 202 replayed",
			resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), b)
	}
	var again RunView
	mustJSON(t, b, &again)
	if again.ID != first.ID || resp.Header.Get("Location") != first.Links["self"] {
		t.Errorf("replay answered run %s at %q, want %s at %q", again.ID, resp.Header.Get("Location"), first.ID, first.Links["self"])
	}
	for _, other := range []string{
		`{"task":"Write about the museum.","sources":["` + press + `"],"tools":false}`,
		`{"task":"Write about the museum.","sources":["` + moved + `"]}`,
	} {
		if resp, b := e.do("POST", "/v1/runs", e.user, other, "Idempotency-Key", "replay-1"); resp.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(string(b), "idempotency_key_reused") {
			t.Errorf("%s under the same key = %d %s, want 422 idempotency_key_reused", other, resp.StatusCode, b)
		}
	}
	if n := site.pages.Load(); n != 1 {
		t.Errorf("the page was requested %d times, want once (replays fetch nothing)", n)
	}
	// A new key still fetches, and the site being down refuses the run.
	if resp, b := e.do("POST", "/v1/runs", e.user, body, "Idempotency-Key", "replay-2"); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(string(b), "source_unavailable") {
		t.Errorf("a new key while the site is down = %d %s, want 422 source_unavailable", resp.StatusCode, b)
	}
	if n := site.pages.Load(); n != 2 {
		t.Errorf("the page was requested %d times after a new key, want 2", n)
	}
}

// TestServer_RunSourcesSurviveARestart: the documents a run asked for are
// read once, when it is created, and stored with it; the run stopped by a
// shutdown after its first turn resumes on another instance with them,
// without reading the web again, and ends with its sources and grounding
// check in GET /v1/runs/{id}.
func TestServer_RunSourcesSurviveARestart(t *testing.T) {
	onBothBackends(t, testRunSourcesSurviveARestart)
}

func testRunSourcesSurviveARestart(t *testing.T, open func(t testing.TB) store.Store) {
	site := newPressSite(t)
	url := site.url("/press")
	cfg := Config{KeyRateLimit: -1, ClaimLease: time.Hour}
	first := newEnv(t, envOpts{openStore: open, fetch: site.fetcher(), cfg: cfg})
	first.client.holdFrom(2) // the reporter's draft is stored; the editor's call waits
	v := first.create(first.user, `{"task":"Write about the museum.","sources":["`+url+`"],"tools":false}`)
	if v.Options == nil || len(v.Options.Sources) != 1 || v.Options.Sources[0] != url || v.Options.Tools == nil || *v.Options.Tools ||
		v.Options.Grounding != nil {
		t.Fatalf("created run's options %+v", v.Options)
	}
	<-first.client.waiting
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = first.srv.Shutdown(ctx)
	}()
	first.pollServer("the shutdown to begin", func() bool { return first.srv.draining.Load() })
	first.client.release()
	<-stopped
	if got := first.get(first.user, v.ID); got.Status.Finished() || len(got.Messages) < 2 {
		t.Fatalf("after the shutdown the run is %s with %d messages, want unfinished after its first turn", got.Status, len(got.Messages))
	}

	second := newEnv(t, envOpts{openStore: open, emulator: first.emu, fetch: site.fetcher(), cfg: cfg})
	got := second.waitFinished(first.user, v.ID) // the keys are in the store
	if got.Status != store.StatusSucceeded {
		t.Fatalf("resumed run %s (%s %s)", got.Status, got.StopReason, got.Error)
	}
	if n := site.pages.Load(); n != 1 {
		t.Errorf("the page was read %d times, want once (at creation)", n)
	}
	evs, err := second.st.Events(context.Background(), v.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var given, handed, toolCalls int
	for _, ev := range evs {
		switch {
		case ev.Type == team.EventSource:
			given++
		case ev.Type == team.EventMessage && ev.Message.Source == team.SourceDocuments:
			handed++
			if !strings.Contains(ev.Message.Content, "6.3 million euros") {
				t.Errorf("the documents message lacks the page's text:\n%s", ev.Message.Content)
			}
		case ev.Type == team.EventToolCall:
			toolCalls++
		}
	}
	if given != 1 || handed != 1 || toolCalls != 0 {
		t.Errorf("%d source events, %d documents messages, %d tool calls; want 1, 1, 0", given, handed, toolCalls)
	}
	if len(got.Sources) != 1 || got.Sources[0].ID != 1 || got.Sources[0].URL != url || got.Sources[0].Title != "Museum reopens" || got.Sources[0].Hash == "" {
		t.Errorf("sources %+v", got.Sources)
	}
	if !strings.Contains(got.Article, "[1]") {
		t.Errorf("the article does not cite its source:\n%s", got.Article)
	}
	if g := got.Grounding; g == nil || g.Checked == 0 || g.Unsupported == nil || len(g.Unsupported) != 0 || g.Author != desk.Reporter {
		t.Errorf("grounding %+v, want claims checked, none unsupported, by %s", got.Grounding, desk.Reporter)
	}
	if got.Options == nil || len(got.Options.Sources) != 1 || got.Options.Tools == nil || *got.Options.Tools {
		t.Errorf("finished run's options %+v", got.Options)
	}
}

// TestServer_ToolsAndGroundingOffPerRun: "tools": false keeps the reporter
// from fetching the URL in its task, "grounding": false leaves the check
// (and its object) out; a run that asks for neither has both.
func TestServer_ToolsAndGroundingOffPerRun(t *testing.T) {
	site := newPressSite(t)
	url := site.url("/press")
	e := newEnv(t, envOpts{fetch: site.fetcher(), cfg: Config{KeyRateLimit: -1}})
	body := func(extra string) string {
		return `{"task":"Write about ` + url + `"` + extra + `}`
	}
	on := e.create(e.user, body(""))
	off := e.create(e.user, body(`,"tools":false,"grounding":false`))
	if on.Options != nil {
		t.Errorf("a run with the defaults shows options %+v", on.Options)
	}
	if off.Options == nil || off.Options.Tools == nil || *off.Options.Tools || off.Options.Grounding == nil || *off.Options.Grounding {
		t.Errorf("options %+v, want tools and grounding false", off.Options)
	}
	calls := func(id string) (tools, checks int) {
		evs, err := e.st.Events(context.Background(), id, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			switch ev.Type {
			case team.EventToolCall:
				tools++
			case team.EventGrounding:
				checks++
			}
		}
		return tools, checks
	}

	gotOn := e.waitFinished(e.user, on.ID)
	if n, g := calls(on.ID); n != 1 || g == 0 || gotOn.Grounding == nil || gotOn.Grounding.Checked == 0 || len(gotOn.Sources) != 1 {
		t.Errorf("defaults: %d tool calls, %d checks, grounding %+v, sources %+v; want a fetch and a check", n, g, gotOn.Grounding, gotOn.Sources)
	}
	gotOff := e.waitFinished(e.user, off.ID)
	if n, g := calls(off.ID); n != 0 || g != 0 || gotOff.Grounding != nil || len(gotOff.Sources) != 0 {
		t.Errorf("off: %d tool calls, %d checks, grounding %+v, sources %+v; want none", n, g, gotOff.Grounding, gotOff.Sources)
	}
	_, raw := e.do("GET", "/v1/runs/"+off.ID, e.user, "")
	if strings.Contains(string(raw), `"grounding":{`) {
		t.Errorf("a run with grounding off has a grounding object: %s", raw)
	}
}

// inventingReporter makes the reporter add a figure no source has, in
// every draft.
func inventingReporter(next model.Client) model.Client {
	return model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
		resp, err := next.Complete(ctx, req)
		if err == nil && req.Meta.Agent == desk.Reporter && resp.Content != "" {
			c := *resp
			c.Content = strings.TrimRight(resp.Content, "\n") + "\n\nThe works cost 4.2 million dollars."
			return &c, nil
		}
		return resp, err
	})
}

// TestServer_CappedRunsCarryTheirGroundingCheck: a run capped before any
// check ran gets the check of its final article (as `newsroom run
// --format json` reports it); a run whose reporter keeps an invented
// figure runs into its cap with stop reason kind grounding and the claim
// listed. Both on SQLite and PostgreSQL.
func TestServer_CappedRunsCarryTheirGroundingCheck(t *testing.T) {
	onBothBackends(t, testCappedRunsCarryTheirGroundingCheck)
}

func testCappedRunsCarryTheirGroundingCheck(t *testing.T, open func(t testing.TB) store.Store) {
	const facts = "Facts: The city council approved a new bike lane on Main Street on Tuesday. Construction starts in March."
	e := newEnv(t, envOpts{openStore: open, cfg: Config{KeyRateLimit: -1}})
	capped := e.waitFinished(e.user, e.create(e.user, `{"task":"`+facts+`","max_messages":1}`).ID)
	if capped.StopReason != "max messages reached (1)" {
		t.Fatalf("stop %q", capped.StopReason)
	}
	// The check is an event of the run, streamed just before run_finished.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	evs := e.events(ctx, e.user, capped.ID, "")
	if n := len(evs); n < 2 || evs[n-2].Type != string(team.EventGrounding) || evs[n-2].Event.Grounding == nil || evs[n-2].ID == "" {
		t.Errorf("the stream does not end with a stored grounding event before run_finished: %+v", evs)
	}
	if g := capped.Grounding; g == nil || g.Checked == 0 || g.Unsupported == nil || len(g.Unsupported) != 0 || g.Author != desk.Reporter || g.Skipped != "" {
		t.Errorf("capped run's grounding %+v, want the draft's claims checked", capped.Grounding)
	}
	topic := e.waitFinished(e.user, e.create(e.user, `{"task":"Write about the harbour library.","max_messages":1}`).ID)
	if g := topic.Grounding; g == nil || g.Checked != 0 || g.Skipped != "no sources" {
		t.Errorf("topic run's grounding %+v, want skipped: no sources", topic.Grounding)
	}
	_, raw := e.do("GET", "/v1/runs/"+topic.ID, e.user, "")
	if !strings.Contains(string(raw), `"grounding":{"checked":0,"skipped":"no sources"}`) {
		t.Errorf("topic run's JSON: %s", raw)
	}

	inv := newEnv(t, envOpts{openStore: open, emulator: e.emu, wrap: inventingReporter, cfg: Config{KeyRateLimit: -1}})
	held := inv.waitFinished(inv.user, inv.create(inv.user, `{"task":"`+facts+`","max_messages":5}`).ID)
	if held.StopReasonKind != termination.KindGrounding {
		t.Fatalf("stop %q (kind %q), want kind grounding", held.StopReason, held.StopReasonKind)
	}
	if held.Status != store.StatusFailed || !strings.Contains(held.Error, "no source supports") {
		t.Errorf("held run: status %q, error %q; want failed, as the CLI exits 1", held.Status, held.Error)
	}
	if g := held.Grounding; g == nil || len(g.Unsupported) != 1 || g.Unsupported[0] != "4.2 million" {
		t.Errorf("held run's grounding %+v, want the invented figure", held.Grounding)
	}
	var feedback int
	for _, m := range held.Messages {
		if m.Source == team.GroundingCheck && strings.Contains(m.Content, "4.2 million") {
			feedback++
		}
	}
	if feedback == 0 {
		t.Errorf("no %s message sent the figure back", team.GroundingCheck)
	}
}

// TestOpenAPI_DescribesEveryFieldOfARunAndItsRequest: the document lists
// each JSON field of POST /v1/runs's body (and no other: the body allows
// none) and of a run.
func TestOpenAPI_DescribesEveryFieldOfARunAndItsRequest(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	for schema, v := range map[string]any{"CreateRunRequest": CreateRunRequest{}, "Run": RunView{}} {
		props := doc.Components.Schemas[schema].Properties
		fields := jsonFields(v)
		for _, f := range fields {
			if _, ok := props[f]; !ok {
				t.Errorf("%s: field %q missing from openapi.json", schema, f)
			}
		}
		if schema == "CreateRunRequest" && len(props) != len(fields) {
			t.Errorf("%s: openapi.json lists %d properties, the request has %d fields", schema, len(props), len(fields))
		}
	}
}
