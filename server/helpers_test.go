package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/cost"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/sqlite"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// env is a server under test: a real SQLite store, the emulator as the model
// behind the provider client, and three keys.
type env struct {
	t        testing.TB
	srv      *Server
	ts       *httptest.Server
	st       store.Store
	emu      *emulator.Running
	client   *gate // the model client the teams use
	user     string
	other    string
	admin    string
	dbPath   string
	building atomic.Int64
}

type envOpts struct {
	cfg      Config
	noStart  bool
	dbPath   string
	wrap     func(model.Client) model.Client
	emulator *emulator.Running
	// teamNames are the teams offered; nil means the built-in desks.
	teamNames []string
	// openStore opens the store; nil means SQLite at dbPath.
	openStore func(t testing.TB) store.Store
	// fetch, when set, gives the desks its tools (fetch_url, read_feed)
	// and fetches runs' sources.
	fetch *web.Fetcher
	// extra are tools every agent with tools gets (as MCP servers' tools are).
	extra []tool.Tool
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, dbPath: o.dbPath}
	if e.dbPath == "" {
		e.dbPath = filepath.Join(t.TempDir(), "newsroom.db")
	}
	var st store.Store
	var err error
	if o.openStore != nil {
		st = o.openStore(t)
	} else if st, err = sqlite.Open(ctx, e.dbPath); err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	e.st = st
	t.Cleanup(func() { st.Close() })
	e.emu = o.emulator
	if e.emu == nil {
		e.emu, err = emulator.Start(emulator.Config{}, emulator.Options{})
		if err != nil {
			t.Fatalf("emulator.Start: %v", err)
		}
		t.Cleanup(func() { e.emu.Close() })
	}
	pc, err := provider.New(provider.Config{Kind: provider.KindAzure, Endpoint: e.emu.URL, Deployment: "gpt-4o", DeploymentModel: emulator.DefaultModelName, APIKey: "test-key"})
	if err != nil {
		t.Fatalf("provider.New: %v", err)
	}
	var c model.Client = cost.Wrap(pc, cost.Config{}) // priced like production, so the page shows a cost
	if o.wrap != nil {
		c = o.wrap(c)
	}
	e.client = &gate{next: c}
	cfg := o.cfg
	cfg.Store = st
	dt := &deskTeams{client: e.client, built: &e.building, names: o.teamNames, extra: o.extra}
	if o.fetch != nil {
		dt.tools = o.fetch.Tools()
		cfg.FetchSources = o.fetch.Sources
	}
	cfg.Teams = dt
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.Emulator = true
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.ts = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.ts.Close)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		e.srv.Shutdown(sctx)
	})
	now := time.Now()
	if e.user, _, err = IssueKey(ctx, st, "user-"+randomHex(3), false, now); err != nil {
		t.Fatal(err)
	}
	if e.other, _, err = IssueKey(ctx, st, "other-"+randomHex(3), false, now); err != nil {
		t.Fatal(err)
	}
	if e.admin, _, err = IssueKey(ctx, st, "admin-"+randomHex(3), true, now); err != nil {
		t.Fatal(err)
	}
	if !o.noStart {
		if err := e.srv.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
	}
	return e
}

// do sends a request with key (none when empty) and returns the response and its body.
func (e *env) do(method, path, key string, body string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json") // hdr may say otherwise
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, b
}

func (e *env) create(key, body string, hdr ...string) RunView {
	e.t.Helper()
	resp, b := e.do("POST", "/v1/runs", key, body, hdr...)
	if resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("POST /v1/runs = %d %s, want 202", resp.StatusCode, b)
	}
	var v RunView
	mustJSON(e.t, b, &v)
	return v
}

func (e *env) get(key, id string) RunView {
	e.t.Helper()
	resp, b := e.do("GET", "/v1/runs/"+id, key, "")
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET run = %d %s", resp.StatusCode, b)
	}
	var v RunView
	mustJSON(e.t, b, &v)
	return v
}

// sseEvent is one parsed SSE event.
type sseEvent struct {
	ID    string
	Type  string
	Event store.Event
}

// events reads a run's SSE stream until it closes (or ctx ends).
func (e *env) events(ctx context.Context, key, id, lastEventID string) []sseEvent {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/v1/runs/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("events: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("events = %d", resp.StatusCode)
	}
	return readSSE(e.t, resp.Body)
}

func readSSE(t testing.TB, r io.Reader) []sseEvent {
	var out []sseEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var cur sseEvent
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data.Len() > 0 {
				if err := json.Unmarshal([]byte(data.String()), &cur.Event); err != nil {
					t.Errorf("bad SSE data %q: %v", data.String(), err)
				}
				out = append(out, cur)
			}
			cur, data = sseEvent{}, strings.Builder{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			cur.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.Type = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data.WriteString(strings.TrimPrefix(line, "data: "))
		}
	}
	return out
}

// waitFinished follows the run's events until it finishes and returns the run.
func (e *env) waitFinished(key, id string) RunView {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	evs := e.events(ctx, key, id, "")
	if len(evs) == 0 || evs[len(evs)-1].Type != string(team.EventRunFinished) {
		e.t.Fatalf("stream of %s ended without run_finished (%d events)", id, len(evs))
	}
	return e.get(key, id)
}

// deskTeams are the built-in desks on the test's model client, counting the
// teams built.
type deskTeams struct {
	client model.Client
	built  *atomic.Int64
	names  []string // nil: desk.Teams
	tools  []tool.Tool
	extra  []tool.Tool
}

var _ Teams = (*deskTeams)(nil)

func (d *deskTeams) Names() []string {
	if d.names != nil {
		return d.names
	}
	return desk.Teams
}

func (d *deskTeams) Team(name string, o TeamOptions) (team.Team, error) {
	d.built.Add(1)
	// As serve builds it: the run's budget for the whole run (a budget
	// middleware below, when the test wraps one in).
	c := budget.ForRun(d.client, budget.Run{MaxUSD: o.BudgetUSD}, o.Spent)
	return desk.New(desk.Config{Team: name, Client: c, MaxMessages: o.MaxMessages, Extra: o.Stop,
		Tools: d.tools, ExtraTools: d.extra, NoTools: o.NoTools, NoGrounding: o.NoGrounding})
}

func (d *deskTeams) MaxMessages(name string) int {
	if name == desk.Selector {
		return desk.DefaultSelectorMaxMessages
	}
	return desk.DefaultRoundRobinMaxMessages
}

func (d *deskTeams) Article(_ string, msgs []agent.Message) string {
	if art := desk.ArticleOf(msgs); art.Body != "" {
		return art.Markdown()
	}
	return ""
}

func (d *deskTeams) Summary(_ string, msgs []agent.Message) string {
	return desk.ArticleOf(msgs).Summary
}

// seize takes the run's claim for the test, which then writes as the run's
// executor would.
func seize(t testing.TB, st store.Store, id string) store.Claim {
	t.Helper()
	c, ok, err := st.SeizeRun(context.Background(), id, "test-writer", time.Hour)
	if err != nil || !ok {
		t.Fatalf("SeizeRun(%s) = %v, %v", id, ok, err)
	}
	return c
}

// storeFinishedRun stores, as the run's executor would, a run of task that
// gave events (each stamped at) and then succeeded with article; its stop
// reason is the last event's. It returns the run's id.
func storeFinishedRun(t *testing.T, e *env, at time.Time, article string, events []team.Event) string {
	t.Helper()
	return storeRunWith(t, e, task, at, events, func(run *store.Run) {
		run.Status, run.StopReason, run.Article, run.FinishedAt = store.StatusSucceeded, events[len(events)-1].StopReason, article, at
	})
}

// storeRunWith creates a run of the request body body, stores events for it
// (each stamped at) under a claim of its own, then saves the run as set
// leaves it. It returns the run's id.
func storeRunWith(t *testing.T, e *env, body string, at time.Time, events []team.Event, set func(*store.Run)) string {
	t.Helper()
	ctx := context.Background()
	v := e.create(e.user, body)
	c := seize(t, e.st, v.ID)
	for _, ev := range events {
		ev.Time = at
		if _, err := e.st.AppendEvent(ctx, c, ev); err != nil {
			t.Fatal(err)
		}
	}
	run, err := e.st.GetRun(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	set(run)
	if err := e.st.UpdateRun(ctx, c, run); err != nil {
		t.Fatal(err)
	}
	return v.ID
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}

// gate is a model client the test can hold: while closed, calls wait (they
// have not reached the model yet) until it opens or their context ends.
type gate struct {
	next    model.Client
	mu      sync.Mutex
	holdAt  int           // the call number (1-based) from which calls wait; 0 = never
	open    chan struct{} // closed to let waiting calls through
	waiting chan struct{} // receives once per call that starts waiting
	calls   atomic.Int64
}

func (g *gate) holdFrom(n int) {
	g.mu.Lock()
	g.holdAt, g.open, g.waiting = n, make(chan struct{}), make(chan struct{}, 16)
	g.mu.Unlock()
}

func (g *gate) release() {
	g.mu.Lock()
	close(g.open)
	g.holdAt = 0
	g.mu.Unlock()
}

func (g *gate) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	n := int(g.calls.Add(1))
	g.mu.Lock()
	hold, open, waiting := g.holdAt > 0 && n >= g.holdAt, g.open, g.waiting
	g.mu.Unlock()
	if hold {
		waiting <- struct{}{}
		select {
		case <-open:
		case <-ctx.Done():
			return nil, &model.Error{Err: ctx.Err()}
		}
	}
	return g.next.Complete(ctx, req)
}

var _ model.Client = (*gate)(nil)
