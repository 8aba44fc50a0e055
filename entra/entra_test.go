package entra_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/auth"

	"github.com/newsroom-dev/newsroom/entra"
	"github.com/newsroom-dev/newsroom/entra/entratest"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

func TestParseMode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]entra.Mode{"": entra.ModeAuto, "auto": entra.ModeAuto, "Entra": entra.ModeEntra, "password": entra.ModePassword} {
		if got, err := entra.ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := entra.ParseMode("kerberos"); err == nil {
		t.Error("ParseMode(kerberos) accepted an unknown mode")
	}
}

func TestPostgresConfig_auto(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url   string
		entra bool
	}{
		{"postgres://newsroom-id@nr-pg.postgres.database.azure.com/newsroom?sslmode=require", true},
		{"postgres://admin:secret@nr-pg.postgres.database.azure.com/newsroom?sslmode=require", false},
		{"postgres://newsroom@127.0.0.1:5432/newsroom", false},
	} {
		// A credential that is never asked: auto mode must not fetch a token to decide.
		cfg, err := entra.PostgresConfig(c.url, entra.ModeAuto, entra.Static(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.BeforeConnect != nil; got != c.entra {
			t.Errorf("%s: signs in with Entra ID %v, want %v", c.url, got, c.entra)
		}
	}
	if _, err := entra.PostgresConfig("postgres://u:hunter2@[bad", entra.ModeAuto, nil); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad URL: %v (must fail without echoing it)", err)
	}
}

func TestPostgresConfig_tokenSignsIn(t *testing.T) {
	id := entratest.Start(t, time.Hour)
	dsn := testsvc.Postgres(t)
	// The role's password is the token the identity endpoint serves first
	// for PostgreSQL's resource: only that token signs in.
	url := testsvc.PostgresPasswordRole(t, dsn, id.Token(entratest.PostgresResource, 1))
	ctx := t.Context()

	t.Run("without the token the server refuses", func(t *testing.T) {
		pool := openPool(t, url, entra.ModePassword, 0)
		if err := pool.Ping(ctx); err == nil {
			t.Fatal("signed in without a password: the test server does not check passwords")
		}
	})
	t.Run("the managed identity's token is the password", func(t *testing.T) {
		pool := openPool(t, url, entra.ModeEntra, 4)
		// Several connections, each signing in: the credential caches the token.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				conn, err := pool.Acquire(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Release()
				var user string
				if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || !strings.HasPrefix(user, "r_") {
					t.Errorf("current_user = %q, %v", user, err)
				}
			})
		}
		wg.Wait()
		for _, r := range id.Asked() {
			if r != "https://ossrdbms-aad.database.windows.net" {
				t.Errorf("asked for a token of %q, want PostgreSQL's resource", r)
			}
		}
		if n := len(id.Asked()); n != 1 {
			t.Errorf("%d token requests for 4 connections, want 1 (cached)", n)
		}
	})
	t.Run("a refused token is not in the error", func(t *testing.T) {
		other := testsvc.PostgresPasswordRole(t, dsn, "not-the-token")
		err := openPool(t, other, entra.ModeEntra, 0).Ping(ctx)
		if err == nil {
			t.Fatal("a wrong token signed in")
		}
		if tok := id.Token(entratest.PostgresResource, 1); strings.Contains(err.Error(), tok) {
			t.Errorf("the error shows the token: %v", err)
		}
	})
}

// openPool opens a pool on url signing in as mode says (maxConns 0: pgx's
// default), closed when the test ends.
func openPool(t *testing.T, url string, mode entra.Mode, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := entra.PostgresConfig(url, mode, nil)
	if err != nil {
		t.Fatal(err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// aclUser makes, on the Redis at addr, an ACL user named by the identity's
// object id whose passwords are the first tokens the identity endpoint serves
// for Redis's resource; the user is deleted when the test ends.
func aclUser(t *testing.T, addr string, id *entratest.Identity, tokens int) {
	t.Helper()
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() {
		admin.Do(context.Background(), "ACL", "DELUSER", id.OID)
		admin.Close()
	})
	args := []any{"ACL", "SETUSER", id.OID, "on", "~*", "&*", "+@all"}
	for n := 1; n <= tokens; n++ {
		args = append(args, ">"+id.Token(entratest.RedisResource, n))
	}
	if err := admin.Do(t.Context(), args...).Err(); err != nil {
		t.Fatal(err)
	}
}

// oneConnClient is a client of the Redis at addr that signs in with Entra
// ID over a single connection (no pipeline pool), closed when the test ends.
func oneConnClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	opt, err := entra.RedisOptions("redis://"+addr, entra.ModeEntra, nil)
	if err != nil {
		t.Fatal(err)
	}
	opt.PoolSize, opt.PipelinePoolSize = 1, -1
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestRedisOptions_tokenSignsIn(t *testing.T) {
	id := entratest.Start(t, time.Hour)
	addr := testsvc.Redis(t)
	ctx := t.Context()
	aclUser(t, addr, id, 1)

	opt, err := entra.RedisOptions("redis://"+addr+"/0", entra.ModeEntra, nil)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	who, err := rdb.Do(ctx, "ACL", "WHOAMI").Text()
	if err != nil || who != id.OID {
		t.Fatalf("ACL WHOAMI = %q, %v; want the identity's object id %q", who, err, id.OID)
	}
	if err := rdb.Set(ctx, "entra-test", "ok", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if got := id.Asked(); len(got) != 1 || got[0] != "https://redis.azure.com" {
		t.Errorf("token requests %v, want one for https://redis.azure.com", got)
	}

	t.Run("auto mode keeps a local Redis on its password", func(t *testing.T) {
		opt, err := entra.RedisOptions("redis://"+addr, entra.ModeAuto, nil)
		if err != nil || opt.StreamingCredentialsProvider != nil {
			t.Errorf("auto on a loopback URL: Entra %v, %v", opt != nil && opt.StreamingCredentialsProvider != nil, err)
		}
		opt, err = entra.RedisOptions("rediss://nr-cache.redis.cache.windows.net:6380", entra.ModeAuto, entra.Static(nil))
		if err != nil || opt.StreamingCredentialsProvider == nil {
			t.Errorf("auto on Azure Cache for Redis: Entra %v, %v", opt != nil && opt.StreamingCredentialsProvider != nil, err)
		}
	})
}

// listener records the credentials a provider sends.
type listener struct {
	mu   sync.Mutex
	next []auth.Credentials
}

func (l *listener) OnNext(c auth.Credentials) { l.mu.Lock(); l.next = append(l.next, c); l.mu.Unlock() }
func (l *listener) OnError(error)             {}

func (l *listener) received() []auth.Credentials {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]auth.Credentials(nil), l.next...)
}

func TestRedisCredentials_renewsBeforeExpiry(t *testing.T) {
	// Tokens that live 3 s: the provider must hand out the next one before
	// the first expires.
	id := entratest.Start(t, 3*time.Second)
	cred, err := entra.DefaultCredential()()
	if err != nil {
		t.Fatal(err)
	}
	p := entra.NewRedisCredentials(entra.RedisConfig{Credential: cred})
	defer p.Close()
	l := &listener{}
	first, unsubscribe, err := p.Subscribe(l)
	if err != nil {
		t.Fatal(err)
	}
	user, secret := first.BasicAuth()
	// A token this short is never reused from the cache: which one came
	// first depends on how often the credential asked.
	if user != id.OID || !id.Served(secret, entratest.RedisResource) {
		t.Fatalf("first credentials: user %q, a token served for Redis %v", user, id.Served(secret, entratest.RedisResource))
	}
	if s := fmt.Sprintf("%v %+v %#v", first, first, first); strings.Contains(s, secret) {
		t.Errorf("printing the credentials shows the token: %s", s)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(l.received()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := l.received()
	if len(got) == 0 {
		t.Fatal("no new token within 15 s of a 3 s token")
	}
	if u, s := got[0].BasicAuth(); u != id.OID || s == secret || !id.Served(s, entratest.RedisResource) {
		t.Errorf("renewed credentials: user %q, same token %v", u, s == secret)
	}
	if err := unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := unsubscribe(); err != nil {
		t.Errorf("a second unsubscribe: %v", err)
	}
}

func TestObjectID(t *testing.T) {
	t.Parallel()
	id := &entratest.Identity{OID: "abc"}
	if oid, err := entra.ObjectID(id.Token("r", 1)); err != nil || oid != "abc" {
		t.Errorf("ObjectID = %q, %v", oid, err)
	}
	for _, bad := range []string{"opaque-token-secret", "a.e30.c"} {
		if _, err := entra.ObjectID(bad); err == nil || strings.Contains(err.Error(), bad) {
			t.Errorf("ObjectID(%q): %v", bad, err)
		}
	}
}

// TestRedisOptions_reauthenticatesOpenConnections: with tokens that live
// 3 s, an open connection receives each renewed token: go-redis sends AUTH
// on it (MONITOR shows the command, its arguments redacted, from that
// connection's address) and the connection goes on working as the
// identity.
func TestRedisOptions_reauthenticatesOpenConnections(t *testing.T) {
	id := entratest.Start(t, 3*time.Second)
	addr := testsvc.Redis(t)
	ctx := t.Context()
	// Tokens this short are fetched anew on every request: allow the first
	// ones the endpoint will serve.
	aclUser(t, addr, id, 200)
	rdb := oneConnClient(t, addr)
	info, err := rdb.ClientInfo(ctx).Result()
	if err != nil || info.User != id.OID {
		t.Fatalf("CLIENT INFO user %q, %v; want the identity", info.User, err)
	}
	mon := monitor(t, addr)
	// go-redis re-authenticates an idle connection in the background once
	// the provider hands it a new token: keep using the client meanwhile.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if line, ok := mon.next(); ok && strings.Contains(line, "["+fmt.Sprint(info.DB)+" "+info.Addr+"]") &&
			strings.Contains(strings.ToLower(line), `"auth"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no AUTH on the open connection within 15 s of a 3 s token")
		}
		if err := rdb.Ping(ctx).Err(); err != nil {
			t.Fatalf("ping: %v", err)
		}
	}
	after, err := rdb.ClientInfo(ctx).Result()
	if err != nil || after.ID != info.ID || after.User != id.OID {
		t.Errorf("after the renewal: connection %d (was %d) as %q, %v; want the same connection as the identity", after.ID, info.ID, after.User, err)
	}
}

// monitorConn reads a Redis MONITOR stream (go-redis's Monitor shares a
// pooled connection; this one is raw).
type monitorConn struct {
	conn  net.Conn
	lines chan string
}

func monitor(t *testing.T, addr string) *monitorConn {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	m := &monitorConn{conn: conn, lines: make(chan string, 1024)}
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("MONITOR: %q, %v", line, err)
	}
	go func() {
		defer close(m.lines)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			select {
			case m.lines <- line:
			default: // a slow test drops lines rather than block Redis
			}
		}
	}()
	return m
}

// next returns a line, waiting at most 100 ms.
func (m *monitorConn) next() (string, bool) {
	select {
	case l, ok := <-m.lines:
		return l, ok
	case <-time.After(100 * time.Millisecond):
		return "", false
	}
}
