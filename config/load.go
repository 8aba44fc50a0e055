package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/newsroom-dev/newsroom/entra"
)

// Sources are where Load looks for settings, highest precedence first.
type Sources struct {
	// Flags holds only the flags the user set, by setting name ("endpoint").
	Flags map[string]string
	// Env looks up an environment variable; nil means no environment
	// (the CLI passes os.LookupEnv).
	Env func(string) (string, bool)
	// DotEnvPath is the .env file; empty means none. A missing file is not
	// an error. The file is read into a map, never into the process
	// environment.
	DotEnvPath string
	// Resolver resolves Key Vault references; nil means a reference is an error.
	Resolver Resolver
}

// Layer is where a value came from.
type Layer int

// Layers, highest precedence first.
const (
	LayerUnset Layer = iota
	LayerFlag
	LayerEnv
	LayerDotEnv
	LayerDefault
)

// Source describes where a setting's value came from.
type Source struct {
	Layer Layer
	// Name is the flag or variable name the value was found under.
	Name string
	// File is the .env file for LayerDotEnv.
	File string
	// KeyVault is the reference the value was resolved from, if any (a
	// reference names a secret; it is not one).
	KeyVault string
}

// String describes the source for messages, e.g. "environment variable
// AZURE_OPENAI_API_KEY" or ".env file .env (api_key)".
func (s Source) String() string {
	var out string
	switch s.Layer {
	case LayerFlag:
		out = "flag --" + s.Name
	case LayerEnv:
		out = "environment variable " + s.Name
	case LayerDotEnv:
		out = fmt.Sprintf(".env file %s (%s)", s.File, s.Name)
	case LayerDefault:
		out = "default"
	default:
		return "not set"
	}
	if s.KeyVault != "" {
		out += " via Key Vault reference " + s.KeyVault
	}
	return out
}

// LoadContext reads the configuration. It does not validate it: call
// Validate before making requests. ctx bounds resolving Key Vault references.
func LoadContext(ctx context.Context, src Sources) (*Config, error) {
	dot, err := readDotEnv(src.DotEnvPath)
	if err != nil {
		return nil, err
	}
	l := &loader{ctx: ctx, src: src, dot: dot, cfg: &Config{sources: map[string]Source{}}}
	if err := l.load(); err != nil {
		return nil, err
	}
	return l.cfg, nil
}

// LoadStore reads only the connection settings (DatabaseURL, DB,
// RedisURL, DatabaseAuth, RedisAuth) from the same sources as LoadContext,
// for commands that use the run store but no model (keys): a model setting,
// even a broken one or a Key Vault reference, is not looked at. Call
// ValidateStore before opening anything.
func LoadStore(ctx context.Context, src Sources) (*Config, error) {
	dot, err := readDotEnv(src.DotEnvPath)
	if err != nil {
		return nil, err
	}
	l := &loader{ctx: ctx, src: src, dot: dot, cfg: &Config{sources: map[string]Source{}}}
	l.loadStore()
	if err := errors.Join(l.errs...); err != nil {
		return nil, err
	}
	return l.cfg, nil
}

type loader struct {
	ctx  context.Context
	src  Sources
	dot  map[string]string
	cfg  *Config
	errs []error
}

// lookup finds a setting under its flag name, then each of vars in the
// environment, then each of vars in the .env file. Empty values count as unset.
func (l *loader) lookup(name string, vars []string) (string, Source, bool) {
	if v, ok := l.src.Flags[name]; ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), Source{Layer: LayerFlag, Name: name}, true
	}
	if l.src.Env != nil {
		for _, k := range vars {
			if v, ok := l.src.Env(k); ok && strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v), Source{Layer: LayerEnv, Name: k}, true
			}
		}
	}
	for _, k := range vars {
		if v, ok := l.dot[k]; ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v), Source{Layer: LayerDotEnv, Name: k, File: l.src.DotEnvPath}, true
		}
	}
	return "", Source{}, false
}

// get looks a setting up, resolves a Key Vault reference and records the source.
func (l *loader) get(name string, vars []string) (string, bool) {
	s, _ := settingByName(name)
	v, source, ok := l.lookup(name, vars)
	if !ok {
		if s.Default != "" {
			l.cfg.sources[name] = Source{Layer: LayerDefault}
			return s.Default, true
		}
		return "", false
	}
	if IsKeyVaultRef(v) {
		ref := v
		if l.src.Resolver == nil {
			l.errs = append(l.errs, fmt.Errorf("config: %s (from %s) is the Key Vault reference %s, but no Key Vault resolver is configured", name, source, ref))
			return "", false
		}
		resolved, err := l.src.Resolver.Resolve(l.ctx, ref)
		if err != nil {
			l.errs = append(l.errs, fmt.Errorf("config: %s (from %s): resolving Key Vault reference %s: %w", name, source, ref, err))
			return "", false
		}
		v = strings.TrimSpace(resolved)
		source.KeyVault = ref
	}
	l.cfg.sources[name] = source
	return v, true
}

func (l *loader) vars(name string) []string {
	s, _ := settingByName(name)
	return s.Vars
}

func (l *loader) load() error {
	c := l.cfg
	m := &c.Model

	// Find what is configured before deciding the kind, so that one stray
	// name cannot silently pick the wrong service.
	kind, _ := l.get(Provider, l.vars(Provider))
	kind = strings.ToLower(kind)
	_, _, hasEndpoint := l.lookup(Endpoint, l.vars(Endpoint))
	_, _, hasBaseURL := l.lookup(BaseURL, l.vars(BaseURL))
	_, _, hasOpenAIModel := l.lookup(ModelName, []string{"OPENAI_MODEL"})
	_, _, hasDeployment := l.lookup(Deployment, l.vars(Deployment))
	_, _, hasAzureKey := l.lookup(APIKey, azureKeyVars)
	_, _, hasOpenAIKey := l.lookup(APIKey, []string{"OPENAI_API_KEY"})
	if kind == "" {
		switch {
		case hasEndpoint:
			kind = KindAzure
		case hasBaseURL, hasOpenAIModel:
			kind = KindOpenAI
		case hasDeployment, hasAzureKey:
			kind = KindAzure
		case hasOpenAIKey:
			kind = KindOpenAI
		default:
			kind = KindEmulator
		}
	}
	m.Kind = kind
	switch kind {
	case KindAzure:
		m.Endpoint, _ = l.get(Endpoint, l.vars(Endpoint))
		m.Deployment, _ = l.get(Deployment, l.vars(Deployment))
		m.DeploymentModel, _ = l.get(DeploymentModel, l.vars(DeploymentModel))
		m.APIVersion, _ = l.get(APIVersion, l.vars(APIVersion))
		key, _ := l.get(APIKey, azureKeyVars)
		m.APIKey = Secret(key)
	case KindOpenAI:
		m.BaseURL, _ = l.get(BaseURL, l.vars(BaseURL))
		m.Model, _ = l.get(ModelName, l.vars(ModelName))
		key, _ := l.get(APIKey, openAIKeyVars)
		m.APIKey = Secret(key)
	}

	c.Cache, _ = l.get(Cache, l.vars(Cache))
	c.Cache = strings.ToLower(c.Cache)
	c.CachePath, _ = l.get(CachePath, l.vars(CachePath))
	c.RPM = l.getInt(RPM)
	c.TPM = l.getInt(TPM)
	c.ContextWindow = l.getInt(ContextWindow)
	c.BudgetUSD = l.getFloat(BudgetUSD)
	c.DailyBudgetUSD = l.getFloat(DailyBudgetUSD)
	c.PricesFile, _ = l.get(PricesFile, l.vars(PricesFile))
	c.DeploymentsFile, _ = l.get(DeploymentsFile, l.vars(DeploymentsFile))
	c.CacheSimilarity = l.getFloat(CacheSimilarity)
	c.EmbeddingsDeployment, _ = l.get(EmbeddingsDeployment, l.vars(EmbeddingsDeployment))
	c.FetchAllow, _ = l.get(FetchAllow, l.vars(FetchAllow))
	l.loadStore()
	c.Alerts = Alerts{
		MaxLatency:      l.getDuration(AlertMaxLatency),
		MinSuccessRate:  l.getFloat(AlertMinSuccessRate),
		MaxQuotaUsed:    l.getFloat(AlertMaxQuotaUsed),
		MaxOverBudget:   l.getFloat(AlertMaxOverBudget),
		MaxAuthFailures: l.getInt(AlertMaxAuthFailures),
	}
	return errors.Join(l.errs...)
}

// loadStore reads the connection settings: the run store (PostgreSQL or
// SQLite), Redis, and how PostgreSQL and Redis connections sign in.
func (l *loader) loadStore() {
	c := l.cfg
	db, _ := l.get(DatabaseURL, l.vars(DatabaseURL))
	c.DatabaseURL = Secret(db)
	c.DB, _ = l.get(DB, l.vars(DB))
	redis, _ := l.get(RedisURL, l.vars(RedisURL))
	c.RedisURL = Secret(redis)
	for _, a := range []struct {
		name string
		mode *entra.Mode
	}{{DatabaseAuth, &c.DatabaseAuth}, {RedisAuth, &c.RedisAuth}} {
		v, _ := l.get(a.name, l.vars(a.name))
		m, err := entra.ParseMode(v)
		if err != nil {
			l.errs = append(l.errs, fmt.Errorf("config: %s (from %s) is %q: want password, entra or auto", a.name, c.Source(a.name), v))
		}
		*a.mode = m
	}
}

func (l *loader) getInt(name string) int {
	v, ok := l.get(name, l.vars(name))
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("config: %s (from %s) is %q, not a whole number", name, l.cfg.Source(name), v))
	}
	return n
}

func (l *loader) getDuration(name string) time.Duration {
	v, ok := l.get(name, l.vars(name))
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		l.errs = append(l.errs, fmt.Errorf("config: %s (from %s) is %q, not a duration such as 5s", name, l.cfg.Source(name), v))
	}
	return d
}

func (l *loader) getFloat(name string) float64 {
	v, ok := l.get(name, l.vars(name))
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(strings.TrimPrefix(v, "$"), 64)
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("config: %s (from %s) is %q, not a number", name, l.cfg.Source(name), v))
	}
	return f
}

// dashedKey matches a .env line whose key contains a dash, such as the
// original project's model-name and api-version.
var dashedKey = regexp.MustCompile(`(?m)^(\s*(?:export\s+)?)([A-Za-z0-9_.]*-[A-Za-z0-9_.-]*)(\s*[=:])`)

// dashMark stands for "-" in keys while godotenv parses the file: godotenv
// only accepts [A-Za-z0-9_.] in names, but the original project's .env
// uses model-name and api-version.
const dashMark = "__newsroom_dash__"

// readDotEnv reads a .env file into a map. Parse errors are reported without
// godotenv's detail, which quotes the file's content (and so its secrets).
func readDotEnv(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	data = dashedKey.ReplaceAllFunc(data, func(line []byte) []byte {
		sub := dashedKey.FindSubmatch(line)
		key := bytes.ReplaceAll(sub[2], []byte("-"), []byte(dashMark))
		return append(append(append([]byte{}, sub[1]...), key...), sub[3]...)
	})
	raw, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, fmt.Errorf("config: %s is not a valid .env file (check quoting and names; details are withheld because the file may hold secrets)", path)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		out[strings.ReplaceAll(k, dashMark, "-")] = v
	}
	return out, nil
}
