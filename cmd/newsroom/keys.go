package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
	"github.com/newsroom-dev/newsroom/store/sqlite"
)

// defaultDB is the SQLite run store of `serve` and `keys` when nothing is configured.
const defaultDB = "newsroom.db"

// storeFlags choose the run store: --database-url (PostgreSQL) or --db (SQLite).
type storeFlags struct {
	db, databaseURL *string
}

func addStoreFlags(fs *flag.FlagSet) *storeFlags {
	return &storeFlags{
		db: fs.String("db", "", "SQLite file of the run store (env NEWSROOM_DB; default "+defaultDB+")"),
		databaseURL: fs.String("database-url", "", "PostgreSQL URL of the run store, instead of SQLite "+
			"(env NEWSROOM_DATABASE_URL, preferred: a password on the command line is visible to other users)"),
	}
}

// open opens the configured store and describes it without credentials.
// Flags win over the environment (NEWSROOM_DATABASE_URL, NEWSROOM_DB).
func (f *storeFlags) open(ctx context.Context) (store.Store, string, error) {
	url := firstNonEmpty(*f.databaseURL, os.Getenv("NEWSROOM_DATABASE_URL"))
	db := firstNonEmpty(*f.db, os.Getenv("NEWSROOM_DB"))
	if *f.databaseURL != "" && *f.db != "" {
		return nil, "", fmt.Errorf("%w: give --db or --database-url, not both", errUsage)
	}
	if url != "" && *f.db == "" {
		st, err := postgres.Open(ctx, url)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %w", errConfig, err)
		}
		return st, "postgresql", nil
	}
	if db == "" {
		db = defaultDB
	}
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", errConfig, err)
	}
	return st, "sqlite " + db, nil
}

// runKeys manages the service's API keys: create prints a key once (only its
// hash is stored), list shows them, revoke disables one.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const keysUsage = "keys create --name NAME [--admin] | keys list | keys revoke ID"
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, keysUsage)
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addStoreFlags(fs)
	var name *string
	var admin *bool
	if args[0] == "create" {
		name = fs.String("name", "", "who the key is for (required)")
		admin = fs.Bool("admin", false, "the key sees every run and may list keys")
	}
	switch args[0] {
	case "create", "list", "revoke":
	default:
		return fmt.Errorf("%w: unknown keys command %q: %s", errUsage, args[0], keysUsage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	switch {
	case args[0] == "create" && *name == "":
		return fmt.Errorf("%w: keys create needs --name NAME", errUsage)
	case args[0] == "revoke" && fs.NArg() != 1:
		return fmt.Errorf("%w: keys revoke needs one key ID (see keys list)", errUsage)
	case args[0] != "revoke" && fs.NArg() != 0:
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	st, _, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	switch args[0] {
	case "create":
		secret, k, err := server.IssueKey(ctx, st, *name, *admin, time.Now())
		if err != nil {
			return fmt.Errorf("keys create: %w", err)
		}
		kind := "key"
		if k.Admin {
			kind = "admin key"
		}
		fmt.Fprintf(stderr, "Created %s %s for %q. It is shown once and cannot be recovered; store it now.\n", kind, k.ID, k.Name)
		fmt.Fprintln(stdout, secret)
	case "list":
		keys, err := st.ListKeys(ctx)
		if err != nil {
			return fmt.Errorf("keys list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tADMIN\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if !k.RevokedAt.IsZero() {
				revoked = k.RevokedAt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\n", k.ID, k.Name, k.Admin, k.CreatedAt.Local().Format(time.DateTime), revoked)
		}
		return tw.Flush()
	case "revoke":
		id := fs.Arg(0)
		if err := st.RevokeKey(ctx, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: no key %q (see keys list)", errUsage, id)
			}
			return fmt.Errorf("keys revoke: %w", err)
		}
		fmt.Fprintf(stdout, "Revoked %s.\n", id)
	}
	return nil
}
