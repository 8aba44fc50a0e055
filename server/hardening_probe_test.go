package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/newsroom-dev/newsroom/internal/dnstest"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
	"github.com/newsroom-dev/newsroom/tool/web"
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

// TestServer_ValidKeysPassAFloodOfBadOnes floods the failure limit from one
// address (a shared proxy) with bad keys while valid keys arrive from the same
// address at the same time: every valid request succeeds, and the flood is
// refused.
func TestServer_ValidKeysPassAFloodOfBadOnes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noStart: true, cfg: Config{AuthFailureRate: 2, AuthFailureBurst: 4, ClientIPHeader: "X-Forwarded-For"}})
	proxy := []string{"X-Forwarded-For", "198.51.100.7"}
	var wg sync.WaitGroup
	var limited atomic.Int64
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if resp, _ := e.do("GET", "/v1/runs", "nr_"+strings.ToLower(rand.Text()), "", proxy...); resp.StatusCode == 429 {
					limited.Add(1)
				}
			}
		})
	}
	var valid sync.WaitGroup
	var refused atomic.Int64
	for i := range 40 {
		valid.Go(func() {
			key := e.user
			if i%2 == 1 {
				key = e.admin
			}
			if resp, b := e.do("GET", "/v1/runs", key, "", proxy...); resp.StatusCode != 200 {
				refused.Add(1)
				t.Errorf("a valid key during the flood = %d %s", resp.StatusCode, b)
			}
		})
	}
	valid.Wait()
	for limited.Load() == 0 { // the flood outlasts its burst
		runtime.Gosched()
	}
	close(stop)
	wg.Wait()
	if n := refused.Load(); n != 0 {
		t.Errorf("%d of 40 valid-key requests were refused while bad keys flooded from their address", n)
	}
}

// TestServer_ASourceWithoutTextIsRefused gives a run a source that is a gzip
// bomb of zeros declared as HTML: the run is refused 422 source_unavailable
// saying the document has no text, and nothing is queued.
func TestServer_ASourceWithoutTextIsRefused(t *testing.T) {
	t.Parallel()
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zeros := make([]byte, 1<<20)
	for range 32 {
		if _, err := zw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(bomb.Bytes())
	}))
	defer site.Close()
	e := newEnv(t, envOpts{noStart: true, fetch: web.New(web.Config{Allow: []string{strings.TrimPrefix(site.URL, "http://")}})})
	resp, b := e.do("POST", "/v1/runs", e.user, `{"task":"Facts: x.","sources":["`+site.URL+`/bomb"]}`)
	var eb errorBody
	mustJSON(t, b, &eb)
	if resp.StatusCode != 422 || eb.Error.Code != "source_unavailable" || eb.Error.Field != "sources[0]" || !strings.Contains(eb.Error.Message, "no text") {
		t.Errorf("a gzip bomb as a source = %d %s, want 422 source_unavailable saying no text", resp.StatusCode, b)
	}
	if resp, b := e.do("GET", "/v1/runs", e.user, ""); !strings.Contains(string(b), `"runs":[]`) {
		t.Errorf("runs after the refusal = %d %s, want none", resp.StatusCode, b)
	}
}

// TestServer_ASourceThatDoesNotResolveNamesNoResolver gives a run a source
// whose host name does not resolve: the 422 says the name did not resolve and
// names neither the resolver nor its port.
func TestServer_ASourceThatDoesNotResolveNamesNoResolver(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{noStart: true, fetch: web.New(web.Config{Resolver: dnstest.NXDomain(t)})})
	resp, b := e.do("POST", "/v1/runs", e.user, `{"task":"Facts: x.","sources":["http://0x7f000001.example/press"]}`)
	var eb errorBody
	mustJSON(t, b, &eb)
	if resp.StatusCode != 422 || eb.Error.Code != "source_unavailable" || !strings.Contains(eb.Error.Message, "did not resolve") {
		t.Errorf("a source that does not resolve = %d %s, want 422 source_unavailable saying the name did not resolve", resp.StatusCode, b)
	}
	for _, leak := range []string{":53", "lookup", "udp"} {
		if strings.Contains(eb.Error.Message, leak) {
			t.Errorf("the error %q names the resolver (%q)", eb.Error.Message, leak)
		}
	}
}
