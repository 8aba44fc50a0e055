package postgres_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store/postgres"
)

// TestStore_CheckWritableProvesAWrite opens the store as a role that may read
// but not write the tables, and on a database whose sessions are read-only:
// CheckWritable must fail in both, as a new run's insert does.
func TestStore_CheckWritableProvesAWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testsvc.Postgres(t)
	admin := open(t, dsn)
	if err := admin.CheckWritable(ctx); err != nil {
		t.Fatalf("the owner's store: %v", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	t.Run("a role that may only read", func(t *testing.T) {
		role := "ro_" + strings.ToLower(rand.Text())
		exec("CREATE ROLE " + role + " LOGIN")
		t.Cleanup(func() {
			_, _ = conn.Exec(ctx, "DROP OWNED BY "+role)
			_, _ = conn.Exec(ctx, "DROP ROLE "+role)
		})
		exec("GRANT USAGE, CREATE ON SCHEMA public TO " + role)
		exec("GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + role)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.User(role)
		ro := open(t, u.String())
		if _, err := ro.ListKeys(ctx); err != nil {
			t.Fatalf("the read-only role cannot read: %v", err)
		}
		if err := ro.CheckWritable(ctx); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("CheckWritable as a role without write rights = %v, want permission denied", err)
		}
	})

	t.Run("default_transaction_read_only", func(t *testing.T) {
		st := open(t, dsn)
		var db string
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
			t.Fatal(err)
		}
		exec("ALTER DATABASE " + db + " SET default_transaction_read_only = on")
		t.Cleanup(func() { _, _ = conn.Exec(ctx, "ALTER DATABASE "+db+" RESET default_transaction_read_only") })
		// The store's sessions started before; end them so its pool
		// reconnects with the database's new setting.
		exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
		var err error
		for range 3 { // the first use of a terminated connection fails
			if err = st.CheckWritable(ctx); errors.Is(err, postgres.ErrReadOnly) {
				break
			}
		}
		if !errors.Is(err, postgres.ErrReadOnly) {
			t.Errorf("CheckWritable on a read-only database = %v, want ErrReadOnly", err)
		}
	})
}
