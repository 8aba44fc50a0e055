package testsvc

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/newsroom-dev/newsroom/internal/proc"
)

// PostgresReadyTimeout bounds how long Postgres waits for a started server.
const PostgresReadyTimeout = proc.PostgresReadyTimeout

var (
	pgOnce    sync.Once
	pgAdmin   string // DSN of the server's "postgres" database
	pgVersion int    // server_version_num
	pgErr     error
)

// Postgres returns the DSN of a new, empty database on a PostgreSQL server
// started once per test binary (initdb into a temporary directory, listening
// on 127.0.0.1 on a free port, trust authentication, user postgres). The
// database is dropped when the test ends; the server is stopped by Main (call
// testsvc.Main from the package's TestMain) and, should the test binary die
// first, by the kernel (parent-death signal). The server is started by
// proc.StartPostgresWith (as root, it runs as the postgres OS user); members
// of PostgresPasswordGroup must sign in with a password.
//
// When the binaries are missing or the server does not start, the test is
// skipped (failed when CI=true).
func Postgres(t testing.TB) string {
	t.Helper()
	pgOnce.Do(func() { pgAdmin, pgVersion, pgErr = startPostgres() })
	if pgErr != nil {
		SkipOrFail(t, "postgres: %v", pgErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), PostgresReadyTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgAdmin)
	if err != nil {
		t.Fatalf("testsvc: connect to the test postgres: %v", err)
	}
	defer conn.Close(context.Background())
	name := "t_" + strings.ToLower(rand.Text())
	create := "CREATE DATABASE " + name
	if pgVersion >= 150000 {
		// With fsync off, copying template1's files beats WAL-logging every
		// block (the 15+ default) several times over.
		create += " STRATEGY FILE_COPY"
	}
	if _, err := conn.Exec(ctx, create); err != nil {
		t.Fatalf("testsvc: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// After the test's own cleanups (registered later, run earlier) closed
		// their pools; FORCE ends any connection still open.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, pgAdmin); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
	})
	return strings.Replace(pgAdmin, "/postgres?", "/"+name+"?", 1)
}

func startPostgres() (dsn string, version int, err error) {
	dir, err := os.MkdirTemp("", "testsvc-postgres-")
	if err != nil {
		return "", 0, err
	}
	track(nil, dir)
	// Members of PostgresPasswordGroup must give their password over TCP
	// (the first matching line wins); everyone else is trusted.
	pg, err := proc.StartPostgresWith(context.Background(), dir, proc.PostgresOptions{
		HBA: []string{"host all +" + PostgresPasswordGroup + " 127.0.0.1/32 scram-sha-256"},
	})
	if err != nil {
		return "", 0, err
	}
	mu.Lock()
	stops = append(stops, func() { pg.Stop(5 * time.Second) })
	mu.Unlock()
	if err := createPasswordGroup(pg.DSN); err != nil {
		return "", 0, fmt.Errorf("create role %s: %w", PostgresPasswordGroup, err)
	}
	return pg.DSN, pg.Version, nil
}

// PostgresPasswordGroup is the role whose members the test server asks for
// a password (SCRAM): tests of password or token sign-in create their login
// role in it with PostgresPasswordRole.
const PostgresPasswordGroup = "newsroom_password"

func createPasswordGroup(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), PostgresReadyTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE ROLE "+PostgresPasswordGroup+" NOLOGIN")
	return err
}

// PostgresPasswordRole creates a login role with password in
// PostgresPasswordGroup, so the server checks the password, and returns the
// DSN of dsn's database (a Postgres DSN) for that role without a password;
// the role may create tables there. The role is dropped when the test ends.
func PostgresPasswordRole(t testing.TB, dsn, password string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), PostgresReadyTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("testsvc: connect to the test postgres: %v", err)
	}
	defer conn.Close(context.Background())
	role := "r_" + strings.ToLower(rand.Text())
	// CREATE ROLE takes no parameters: quote the password as a literal.
	lit := "'" + strings.ReplaceAll(password, "'", "''") + "'"
	if _, err := conn.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD "+lit+" IN ROLE "+PostgresPasswordGroup); err != nil {
		t.Fatalf("testsvc: create role: %v", err)
	}
	if _, err := conn.Exec(ctx, "GRANT ALL ON SCHEMA public TO "+role); err != nil {
		t.Fatalf("testsvc: grant: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, dsn); err == nil {
			_, _ = conn.Exec(ctx, "DROP OWNED BY "+role)
			_, _ = conn.Exec(ctx, "DROP ROLE IF EXISTS "+role)
			conn.Close(ctx)
		}
	})
	return strings.Replace(dsn, "postgres://postgres@", "postgres://"+role+"@", 1)
}
