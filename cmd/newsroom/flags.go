package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
	"github.com/newsroom-dev/newsroom/store/sqlite"
)

// Flag groups, in the order help lists them after the command's own flags.
// A command's own flags (no group) come first, in the order they are
// defined; put flags shared by several commands in a group with
// setGroup(fs, group, names...).
const (
	groupModel  = "Model"
	groupQuota  = "Cache, quota and budget"
	groupStore  = "Run store"
	groupAlerts = "Alerts"
	groupOther  = "Other"
)

// groupOrder is the order of the groups in help.
var groupOrder = []string{groupModel, groupQuota, groupStore, groupAlerts, groupOther}

// groupAnnotation is the flag annotation that holds a flag's group.
const groupAnnotation = "newsroom_group"

// setGroup puts the named flags of fs in a help group.
func setGroup(fs *pflag.FlagSet, group string, names ...string) {
	for _, n := range names {
		if err := fs.SetAnnotation(n, groupAnnotation, []string{group}); err != nil {
			panic(fmt.Sprintf("flag group %s: %v", group, err)) // a programming error, found by any help test
		}
	}
}

// flagGroup returns the help group of a flag ("" for the command's own flags).
func flagGroup(f *pflag.Flag) string {
	if g := f.Annotations[groupAnnotation]; len(g) > 0 {
		return g[0]
	}
	return ""
}

// modelFlags are the model and pipeline settings every model-using command
// accepts. Flags override the environment, which overrides .env.
type modelFlags struct {
	fs      *pflag.FlagSet
	noCache bool
	envFile string
}

// settingGroup is the help group of each config setting with a flag.
func settingGroup(name string) string {
	switch name {
	case config.Cache, config.CachePath, config.RPM, config.TPM, config.DailyBudgetUSD, config.PricesFile,
		config.CacheSimilarity, config.EmbeddingsDeployment:
		return groupQuota
	case config.AlertMaxLatency, config.AlertMinSuccessRate, config.AlertMaxQuotaUsed, config.AlertMaxOverBudget,
		config.AlertMaxAuthFailures:
		return groupAlerts
	}
	return groupModel
}

// addModelFlags defines the flags on fs, typed (numbers and durations are
// checked when parsed) with their built-in defaults. Only the flags a user
// sets reach the configuration, so the environment and .env still apply
// when a flag is not given. API keys have no flag: a key on a command line
// is visible to every user of the machine (ps).
func addModelFlags(fs *pflag.FlagSet) *modelFlags {
	mf := &modelFlags{fs: fs}
	for _, s := range config.Settings() {
		switch s.Name {
		case config.APIKey, config.RedisURL, config.DatabaseURL, config.DB, config.BudgetUSD, config.FetchAllow,
			config.DatabaseAuth, config.RedisAuth:
			continue // secrets have no flag; the store, sign-in, run budget and fetch settings belong to their commands and the environment
		}
		usage := s.Description + envHint(s)
		switch s.Name {
		case config.RPM, config.TPM, config.ContextWindow, config.AlertMaxAuthFailures:
			n, _ := strconv.Atoi(s.Default)
			fs.Int(s.Name, n, usage)
		case config.DailyBudgetUSD, config.CacheSimilarity, config.AlertMinSuccessRate, config.AlertMaxQuotaUsed, config.AlertMaxOverBudget:
			f, _ := strconv.ParseFloat(s.Default, 64)
			fs.Float64(s.Name, f, usage)
		case config.AlertMaxLatency:
			d, _ := time.ParseDuration(s.Default)
			fs.Duration(s.Name, d, usage)
		default:
			fs.String(s.Name, s.Default, usage)
		}
		setGroup(fs, settingGroup(s.Name), s.Name)
	}
	fs.BoolVar(&mf.noCache, "no-cache", false, "do not use the response cache")
	fs.StringVar(&mf.envFile, "env-file", ".env", "the .env file to read (missing is fine)")
	setGroup(fs, groupQuota, "no-cache")
	setGroup(fs, groupModel, "env-file")
	return mf
}

func envHint(s config.Setting) string {
	if len(s.Vars) == 0 {
		return ""
	}
	return " (env " + s.Vars[0] + ")"
}

// set returns the setting flags the user set, for config.Sources.Flags.
func (m *modelFlags) set() map[string]string {
	out := map[string]string{}
	m.fs.Visit(func(f *pflag.Flag) {
		if settingNames[f.Name] {
			out[f.Name] = f.Value.String()
		}
	})
	return out
}

var settingNames = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range config.Settings() {
		m[s.Name] = true
	}
	return m
}()

// defaultDB is the SQLite run store of `serve` and `keys` when nothing is configured.
const defaultDB = "newsroom.db"

// storeFlags choose the run store: --database-url (PostgreSQL) or --db
// (SQLite), and how PostgreSQL signs in (--database-auth). They are config
// settings: a flag wins over the environment, which wins over .env.
type storeFlags struct {
	fs *pflag.FlagSet
	// envFile is the .env file of a command without model flags (keys);
	// serve reads the model flags' --env-file.
	envFile string
}

// addStoreFlags defines the store flags on fs; ownEnvFile adds --env-file
// for a command that has no model flags.
func addStoreFlags(fs *pflag.FlagSet, ownEnvFile bool) *storeFlags {
	f := &storeFlags{fs: fs}
	fs.String(config.DB, "", "SQLite file of the run store (env NEWSROOM_DB; default "+defaultDB+")")
	fs.String(config.DatabaseURL, "", "PostgreSQL URL of the run store, instead of SQLite "+
		"(env NEWSROOM_DATABASE_URL, preferred: a password on the command line is visible to other users)")
	fs.String(config.DatabaseAuth, "", "PostgreSQL sign-in: password, entra (the managed identity's Microsoft Entra ID token) "+
		"or auto, the default (entra for an Azure host and a URL without password) (env NEWSROOM_DATABASE_AUTH)")
	setGroup(fs, groupStore, config.DB, config.DatabaseURL, config.DatabaseAuth)
	if ownEnvFile {
		fs.StringVar(&f.envFile, "env-file", ".env", "the .env file to read (missing is fine)")
		setGroup(fs, groupStore, "env-file")
	}
	return f
}

// conflict is the usage error of giving both --db and --database-url.
func (f *storeFlags) conflict() error {
	if f.fs.Changed(config.DB) && f.fs.Changed(config.DatabaseURL) {
		return usageErrorf("give --%s or --%s, not both", config.DB, config.DatabaseURL)
	}
	return nil
}

// load reads the store settings alone (flags, environment, .env), for a
// command without a model; errors are configuration errors (exit 2).
func (f *storeFlags) load(ctx context.Context) (*config.Config, error) {
	if err := f.conflict(); err != nil {
		return nil, err
	}
	flags := map[string]string{}
	f.fs.Visit(func(fl *pflag.Flag) {
		if settingNames[fl.Name] {
			flags[fl.Name] = fl.Value.String()
		}
	})
	cfg, err := config.LoadStore(ctx, config.Sources{Flags: flags, Env: os.LookupEnv, DotEnvPath: f.envFile, Resolver: &lazyResolver{}})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	if err := cfg.ValidateStore(); err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	return cfg, nil
}

// open loads the store settings and opens the store (see openStore).
func (f *storeFlags) open(ctx context.Context) (store.Store, string, error) {
	cfg, err := f.load(ctx)
	if err != nil {
		return nil, "", err
	}
	return openStore(ctx, cfg)
}

// openStore opens the run store cfg chooses (config.UsesPostgres) and
// describes it without credentials.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, string, error) {
	if cfg.UsesPostgres() {
		st, err := postgres.OpenWith(ctx, cfg.DatabaseURL.Value(), postgres.Options{Auth: cfg.DatabaseAuth})
		if err != nil {
			return nil, "", fmt.Errorf("%w: %w", errConfig, err)
		}
		return st, "postgresql", nil
	}
	db := cmp.Or(cfg.DB, defaultDB)
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", errConfig, err)
	}
	return st, "sqlite " + db, nil
}
