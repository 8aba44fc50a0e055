package server

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
)

// TestServer_ReadyzProvesAWrite serves from PostgreSQL as a role that may
// read everything and write API keys only: /readyz must answer 503 naming the
// store, and a new run 503 store_unavailable with Retry-After (not 500), as
// for a deleted SQLite file. (The SQLite states, a read-only file and a full
// database, are store/sqlite's TestStore_CheckWritableProvesAWrite.)
func TestServer_ReadyzProvesAWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testsvc.Postgres(t)
	owner, err := postgres.Open(ctx, dsn) // migrates
	if err != nil {
		t.Fatal(err)
	}
	owner.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	role := "ro_" + strings.ToLower(rand.Text())
	for _, q := range []string{"CREATE ROLE " + role + " LOGIN", "GRANT USAGE, CREATE ON SCHEMA public TO " + role,
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + role, "GRANT INSERT ON api_keys TO " + role} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP OWNED BY "+role)
		_, _ = conn.Exec(context.Background(), "DROP ROLE "+role)
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	e := newEnv(t, envOpts{noStart: true, openStore: func(t testing.TB) store.Store {
		st, err := postgres.Open(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}})
	resp, b := e.do("GET", "/readyz", "", "")
	var r Readiness
	mustJSON(t, b, &r)
	if resp.StatusCode != 503 || r.Ready || r.Checks["store"] == "ok" {
		t.Errorf("/readyz with a store that takes no writes = %d %s, want 503 naming the store", resp.StatusCode, b)
	}
	resp, b = e.do("POST", "/v1/runs", e.user, task)
	if resp.StatusCode != 503 || errCode(t, b) != "store_unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("POST /v1/runs with a store that takes no writes = %d %s, want 503 store_unavailable with Retry-After", resp.StatusCode, b)
	}
}
