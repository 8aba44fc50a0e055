// Package svctest starts a real newsroom service for the protocol adapters'
// tests: SQLite, the shipped desks on the built-in emulator, and API keys of
// each role.
package svctest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/budget"
	"github.com/newsroom-dev/newsroom/model/cost"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/sqlite"
	"github.com/newsroom-dev/newsroom/team"
)

// Service is a running newsroom service.
type Service struct {
	Srv   *server.Server
	Store store.Store
	HTTP  *httptest.Server
	Emu   *emulator.Running
	// Keys are "Bearer ..." Authorization values by role name (reader,
	// reporter, editor-in-chief, admin).
	Keys map[string]string
}

// Options change the service.
type Options struct {
	// RequireApproval is the service's default approval.
	RequireApproval bool
	// Wrap, when set, wraps the model client (e.g. to hold calls).
	Wrap func(model.Client) model.Client
	// Mount adds handlers beside the API (path prefix → handler) given the
	// service; the service's own handler serves the rest.
	Mount func(s *Service) map[string]http.Handler
}

// Start starts a service for t; everything stops when t ends.
func Start(t testing.TB, o Options) *Service {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "newsroom.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	emu, err := emulator.Start(emulator.Config{}, emulator.Options{})
	if err != nil {
		t.Fatalf("emulator.Start: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	pc, err := provider.New(provider.Config{Kind: provider.KindAzure, Endpoint: emu.URL, Deployment: "gpt-5-mini", APIKey: "test-key"})
	if err != nil {
		t.Fatalf("provider.New: %v", err)
	}
	var c model.Client = cost.Wrap(pc, cost.Config{})
	if o.Wrap != nil {
		c = o.Wrap(c)
	}
	srv, err := server.New(server.Config{Store: st, Teams: teams{client: c, desks: desk.NewRegistry()},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Emulator: true, RequireApproval: o.RequireApproval})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	s := &Service{Srv: srv, Store: st, Emu: emu, Keys: map[string]string{}}
	mux := http.NewServeMux()
	if o.Mount != nil {
		for p, h := range o.Mount(s) {
			mux.Handle(p, h)
		}
	}
	mux.Handle("/", srv.Handler())
	s.HTTP = httptest.NewServer(mux)
	t.Cleanup(s.HTTP.Close)
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	for _, r := range []identity.Role{identity.RoleReader, identity.RoleReporter, identity.RoleEditorInChief, identity.RoleAdmin} {
		secret, _, err := server.IssueRoleKey(ctx, st, "test-"+r.String(), r, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		s.Keys[r.String()] = "Bearer " + secret
	}
	return s
}

// teams are the shipped desks on one model client.
type teams struct {
	client model.Client
	desks  *desk.Registry
}

var _ server.Teams = teams{}

func (d teams) Names() []string { return d.desks.Names() }

func (d teams) Team(name string, o server.TeamOptions) (team.Team, error) {
	dk, ok := d.desks.Get(name)
	if !ok {
		return nil, fmt.Errorf("%w %q", desk.ErrUnknownTeam, name)
	}
	return desk.New(desk.Config{Spec: dk.Spec, Client: budget.ForRun(d.client, budget.Run{MaxUSD: o.BudgetUSD}, o.Spent),
		MaxMessages: o.MaxMessages, Extra: o.Stop, NoTools: o.NoTools, NoGrounding: o.NoGrounding})
}

func (d teams) MaxMessages(name string) int {
	if dk, ok := d.desks.Get(name); ok {
		return dk.Spec.MaxMessages()
	}
	return 0
}

func (d teams) Article(name string, msgs []agent.Message) string {
	if dk, ok := d.desks.Get(name); ok {
		if art := dk.Spec.ArticleOf(msgs); art.Body != "" {
			return art.Markdown()
		}
	}
	return ""
}

// HTTPClient is a client that sends auth as the Authorization header of
// every request (none when empty), as a protocol client configured with a
// key would.
func HTTPClient(auth string) *http.Client { return &http.Client{Transport: authTransport{auth}} }

type authTransport struct{ auth string }

func (a authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if a.auth != "" {
		r.Header.Set("Authorization", a.auth)
	}
	return http.DefaultTransport.RoundTrip(r)
}
