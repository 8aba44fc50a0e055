// Package clustertest checks a server.Notifier with two real service
// instances on one PostgreSQL database: a run executed on one and followed
// on the other reaches its follower, every event and run_finished.
package clustertest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
	"github.com/newsroom-dev/newsroom/team"
)

// teams are the built-in desks on one model client.
type teams struct{ client model.Client }

func (d teams) Names() []string { return desk.Teams }

func (d teams) Team(name string, o server.TeamOptions) (team.Team, error) {
	return desk.New(desk.Config{Team: name, Client: d.client, MaxMessages: o.MaxMessages, Extra: o.Stop})
}

func (d teams) MaxMessages(string) int { return desk.DefaultRoundRobinMaxMessages }

func (d teams) Article(_ string, msgs []agent.Message) string { return desk.ArticleOf(msgs).Markdown() }

// instance is one service instance with its HTTP server.
type instance struct {
	srv *server.Server
	url string
	st  store.Store
}

func start(t *testing.T, dsn, id string, n server.Notifier, client model.Client, workers int) *instance {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := server.New(server.Config{Store: st, Teams: teams{client}, InstanceID: id, Notifier: n, Workers: workers,
		ScanInterval: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	return &instance{srv: srv, url: ts.URL, st: st}
}

// FollowAcross starts instance A (executes) and B (no workers: it only
// serves), both with their notifier, submits a run to A and follows it on
// B: B's stream must deliver every stored event in order and end with
// run_finished. Without a notifier B would never hear of A's events. It
// returns how long after each event was stored B's client had it.
func FollowAcross(t *testing.T, dsn string, na, nb server.Notifier) []time.Duration {
	t.Helper()
	// Each model call takes 300 ms, so the run is still going when B's
	// client connects: its events can reach B only through the notifier.
	emu, err := emulator.Start(emulator.Config{Latency: emulator.Latency{TimeToFirstToken: 300 * time.Millisecond}}, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	pc, err := provider.New(provider.Config{Kind: provider.KindAzure, Endpoint: emu.URL, Deployment: "gpt-4o", DeploymentModel: emulator.DefaultModelName, APIKey: "test-key"})
	if err != nil {
		t.Fatal(err)
	}
	b := start(t, dsn, "B", nb, pc, 0)
	a := start(t, dsn, "A", na, pc, 1)
	key, _, err := server.IssueKey(context.Background(), a.st, "follower", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", a.url+"/v1/runs", strings.NewReader(`{"task":"City council approves new cycle lanes on Main Street. Work starts in March."}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var run struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || run.ID == "" {
		t.Fatalf("POST /v1/runs on A = %d", resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, "GET", b.url+"/v1/runs/"+run.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET events on B = %d", resp.StatusCode)
	}
	type got struct {
		id   string
		typ  string
		seen time.Time
	}
	var evs []got
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var cur got
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			cur.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.typ = strings.TrimPrefix(line, "event: ")
		case line == "" && cur.typ != "":
			cur.seen = time.Now()
			evs = append(evs, cur)
			cur = got{}
		}
	}
	if len(evs) == 0 || evs[len(evs)-1].typ != string(team.EventRunFinished) {
		t.Fatalf("B's stream ended without run_finished after %d events (ctx: %v)", len(evs), ctx.Err())
	}
	stored, err := b.st.Events(context.Background(), run.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var durable []got
	for _, e := range evs {
		if e.id != "" {
			durable = append(durable, e)
		}
	}
	if len(durable) != len(stored) {
		t.Fatalf("B's follower had %d durable events, the store %d", len(durable), len(stored))
	}
	var lags []time.Duration
	for i, e := range durable {
		if want := stored[i]; e.id != jsonInt(want.Seq) || e.typ != string(want.Type) {
			t.Errorf("event %d = %s %s, want %d %s", i, e.id, e.typ, want.Seq, want.Type)
		}
		lags = append(lags, e.seen.Sub(stored[i].Time))
	}
	return lags
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
