package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/server/pgnotify"
	"github.com/newsroom-dev/newsroom/server/redisnotify"
)

// clearStoreEnv unsets the store settings of the process environment (an
// empty value counts as unset), so only the .env file under test speaks.
func clearStoreEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"NEWSROOM_DB", "NEWSROOM_DATABASE_URL", "NEWSROOM_DATABASE_AUTH", "NEWSROOM_REDIS_URL", "NEWSROOM_REDIS_AUTH"} {
		t.Setenv(k, "")
	}
}

func writeEnvFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "store.env")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeys_RunStoreFromDotEnv(t *testing.T) {
	clearStoreEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "from-dotenv.db")
	envFile := writeEnvFile(t, "NEWSROOM_DB="+db+"\n")
	ctx := context.Background()
	var out bytes.Buffer
	if err := runKeys(ctx, []string{"create", "--name", "dotenv-user", "--env-file", envFile}, &out, io.Discard); err != nil {
		t.Fatalf("keys create: %v", err)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("the store named by NEWSROOM_DB in .env was not used: %v", err)
	}
	var list bytes.Buffer
	if err := runKeys(ctx, []string{"list", "--env-file", envFile}, &list, io.Discard); err != nil {
		t.Fatalf("keys list: %v", err)
	}
	if !strings.Contains(list.String(), "dotenv-user") {
		t.Fatalf("keys list from the .env store lacks the key:\n%s", list.String())
	}
	// A --db flag wins over .env.
	other := filepath.Join(dir, "flag.db")
	list.Reset()
	if err := runKeys(ctx, []string{"list", "--env-file", envFile, "--db", other}, &list, io.Discard); err != nil {
		t.Fatalf("keys list --db: %v", err)
	}
	if strings.Contains(list.String(), "dotenv-user") {
		t.Fatalf("--db %s must win over NEWSROOM_DB in .env:\n%s", other, list.String())
	}
}

func TestKeys_BadDatabaseAuthInDotEnvIsAConfigError(t *testing.T) {
	clearStoreEnv(t)
	envFile := writeEnvFile(t, "NEWSROOM_DATABASE_URL=postgres://newsroom:hunter2@127.0.0.1:1/newsroom\nNEWSROOM_DATABASE_AUTH=kerberos\n")
	err := runKeys(context.Background(), []string{"list", "--env-file", envFile}, io.Discard, io.Discard)
	if !errors.Is(err, errConfig) {
		t.Fatalf("want a configuration error (exit 2), got %v", err)
	}
	for _, want := range []string{"database-auth", envFile, "kerberos"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the database password: %v", err)
	}
	err = runKeys(context.Background(), []string{"list", "--env-file", filepath.Join(t.TempDir(), "none.env"), "--db", "a.db", "--database-url", "postgres://127.0.0.1:1/x"}, io.Discard, io.Discard)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("--db with --database-url: want a usage error saying not both, got %v", err)
	}
}

// TestServeStore_PostgresAndNotifierFromDotEnv: the run store and the
// instances' notifier both come from NEWSROOM_DATABASE_URL and
// NEWSROOM_DATABASE_AUTH in .env, on a real PostgreSQL.
func TestServeStore_PostgresAndNotifierFromDotEnv(t *testing.T) {
	clearStoreEnv(t)
	dsn := testsvc.Postgres(t)
	envFile := writeEnvFile(t, "NEWSROOM_DATABASE_URL="+dsn+"\nNEWSROOM_DATABASE_AUTH=password\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runKeys(ctx, []string{"create", "--name", "pg-user", "--env-file", envFile}, io.Discard, io.Discard); err != nil {
		t.Fatalf("keys create: %v", err)
	}
	cfg, err := loadConfig(ctx, modelFlagsFor(t, "--env-file", envFile))
	if err != nil {
		t.Fatal(err)
	}
	st, desc, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if desc != "postgresql" {
		t.Fatalf("store %q, want postgresql from .env", desc)
	}
	keys, err := st.ListKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].Name != "pg-user" {
		t.Fatalf("keys in the .env database: %v, %v", keys, err)
	}
	n, closeN, err := runNotifier(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer closeN()
	if _, ok := n.(*pgnotify.Notifier); !ok {
		t.Fatalf("notifier %T, want pgnotify on the .env database", n)
	}
	checkNotifies(ctx, t, n, server.Notification{Run: "run_1", Seq: 3}, "the .env database")
}

// checkNotifies listens on n and sends want through it until it arrives
// (Redis pub/sub drops what is sent before the subscription is in place),
// passing over the empty wake-ups a listener gets when it (re)connects.
func checkNotifies(ctx context.Context, t *testing.T, n server.Notifier, want server.Notification, through string) {
	t.Helper()
	got := make(chan server.Notification, 4)
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = n.Listen(lctx, func(note server.Notification) { got <- note }) }()
	for {
		if err := n.Notify(ctx, want); err != nil {
			t.Fatal(err)
		}
		select {
		case note := <-got:
			if note.Run == "" {
				continue // the listener's (re)connection wake-up
			}
			if note.Run != want.Run || note.Seq != want.Seq {
				t.Fatalf("notification %+v through %s, want %+v", note, through, want)
			}
			return
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("no notification through %s", through)
		}
	}
}

// modelFlagsFor parses args with serve's model and store flags.
func modelFlagsFor(t *testing.T, args ...string) *modelFlags {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addStoreFlags(fs, false)
	mf := addModelFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return mf
}

// TestServeNotifier_RedisFromDotEnv: with NEWSROOM_REDIS_URL and
// NEWSROOM_REDIS_AUTH in .env the instances' notifier is Redis pub/sub,
// and a notification goes through the real Redis.
func TestServeNotifier_RedisFromDotEnv(t *testing.T) {
	clearStoreEnv(t)
	addr := testsvc.Redis(t)
	envFile := writeEnvFile(t, "NEWSROOM_REDIS_URL=redis://"+addr+"/0\nNEWSROOM_REDIS_AUTH=password\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := loadConfig(ctx, modelFlagsFor(t, "--env-file", envFile, "--no-cache"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RedisAuth != "password" || cfg.Source(config.RedisURL).Layer != config.LayerDotEnv {
		t.Fatalf("redis settings from .env: auth %q, url from %v", cfg.RedisAuth, cfg.Source(config.RedisURL))
	}
	n, closeN, err := runNotifier(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer closeN()
	if _, ok := n.(*redisnotify.Notifier); !ok {
		t.Fatalf("notifier %T, want Redis pub/sub from .env", n)
	}
	checkNotifies(ctx, t, n, server.Notification{Run: "run_2", Seq: 5}, "the .env Redis")
}
