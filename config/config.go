// Package config loads newsroom's settings from command-line flags, the
// environment and a .env file, in that order of precedence, and checks them
// before any request is made.
//
// Both the original project's .env names (model-name, api-version,
// azure_endpoint, api_key) and the standard Azure OpenAI / OpenAI names
// (AZURE_OPENAI_ENDPOINT, OPENAI_API_KEY, ...) are accepted. The .env file is
// read into a map; the process environment is never modified.
//
// A value may be a Key Vault reference (keyvault://VAULT/SECRET or App
// Service's @Microsoft.KeyVault(SecretUri=...)); it is resolved through the
// Resolver given in Sources.
//
// With no model configured at all the model kind is KindEmulator: the CLI
// then runs the in-process emulator and says so.
package config

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/entra"
	"github.com/newsroom-dev/newsroom/model/profile"
	"github.com/newsroom-dev/newsroom/model/provider"
)

// Model kinds.
const (
	KindAzure    = provider.KindAzure
	KindOpenAI   = provider.KindOpenAI
	KindEmulator = "emulator"
)

// Cache modes accepted by NEWSROOM_CACHE.
const (
	CacheOff    = "off"
	CacheMemory = "memory"
	CacheSQLite = "sqlite"
	CacheRedis  = "redis"
	// CachePostgres keeps the cache in the PostgreSQL database of
	// NEWSROOM_DATABASE_URL, for instances sharing it without Redis.
	CachePostgres = "postgres"
)

// Defaults of settings that have one.
const (
	DefaultCache = CacheSQLite
	DefaultRPM   = 180
	DefaultTPM   = 30000
)

// ErrInvalid is wrapped by the error Validate returns.
var ErrInvalid = errors.New("config: invalid configuration")

// Setting names: the flag names, also accepted by Config.Source. The CLI
// defines its flags with these names and passes the ones the user set in
// Sources.Flags.
const (
	Provider   = "provider"
	Endpoint   = "endpoint"
	Deployment = "deployment"
	// DeploymentModel is the model behind the Azure deployment
	// (gpt-5-mini), which decides the parameters its requests carry.
	DeploymentModel = "deployment-model"
	APIVersion      = "api-version"
	APIKey          = "api-key"
	BaseURL         = "base-url"
	ModelName       = "model"
	Cache           = "cache"
	CachePath       = "cache-path"
	RedisURL        = "redis-url"
	RPM             = "rpm"
	TPM             = "tpm"
	ContextWindow   = "context-window"
	BudgetUSD       = "budget-usd"
	DailyBudgetUSD  = "daily-budget-usd"
	PricesFile      = "prices-file"
	// DeploymentsFile lists a pool of deployments (package model/pool).
	DeploymentsFile = "deployments-file"
	// CacheSimilarity and EmbeddingsDeployment turn on the similarity cache.
	CacheSimilarity      = "cache-similarity"
	EmbeddingsDeployment = "embeddings-deployment"
	DatabaseURL          = "database-url"
	DB                   = "db"
	// FetchAllow lists destinations the fetch tools may reach although
	// they are internal (see package tool/web). It has no model flag: the
	// commands with tools define --fetch-allow themselves.
	FetchAllow = "fetch-allow"
	// DatabaseAuth and RedisAuth choose how PostgreSQL and Redis
	// connections sign in (package entra): password, entra or auto.
	DatabaseAuth = "database-auth"
	RedisAuth    = "redis-auth"

	AlertMaxLatency      = "alert-max-latency"
	AlertMinSuccessRate  = "alert-min-success-rate"
	AlertMaxQuotaUsed    = "alert-max-quota-used"
	AlertMaxOverBudget   = "alert-max-over-budget"
	AlertMaxAuthFailures = "alert-max-auth-failures"
)

// Setting describes one setting: its flag, the variable names looked up in
// the environment and the .env file (in order), and what it is for.
type Setting struct {
	Name        string
	Vars        []string
	Secret      bool
	Default     string
	Description string
}

// azureKeyVars and openAIKeyVars are the names of the API key for each
// kind: an OPENAI_API_KEY in the environment is never sent to Azure.
var (
	azureKeyVars  = []string{"AZURE_OPENAI_API_KEY", "api_key"}
	openAIKeyVars = []string{"OPENAI_API_KEY", "api_key"}
)

// Settings lists every setting, for help text and documentation.
func Settings() []Setting {
	return []Setting{
		{Provider, []string{"NEWSROOM_PROVIDER"}, false, "", "model kind: azure, openai or emulator (default: inferred from the other settings)"},
		{Endpoint, []string{"AZURE_OPENAI_ENDPOINT", "azure_endpoint"}, false, "", "Azure OpenAI resource URL, https://NAME.openai.azure.com"},
		{Deployment, []string{"AZURE_OPENAI_DEPLOYMENT", "model-name"}, false, "", "Azure OpenAI deployment name"},
		{DeploymentModel, []string{"AZURE_OPENAI_MODEL"}, false, "", "the model behind the Azure OpenAI deployment, e.g. gpt-5-mini (default: the deployment's name, then the model its first answer names); a reasoning model gets max_completion_tokens and reasoning_effort, never temperature"},
		{APIVersion, []string{"OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION", "api-version"}, false, provider.DefaultAPIVersion, "Azure OpenAI API: v1 (https://RESOURCE.openai.azure.com/openai/v1/), or a dated api-version such as 2024-10-21"},
		{APIKey, []string{"AZURE_OPENAI_API_KEY", "OPENAI_API_KEY", "api_key"}, true, "", "API key (Azure: AZURE_OPENAI_API_KEY or api_key; OpenAI: OPENAI_API_KEY or api_key); without one Azure uses Entra ID"},
		{BaseURL, []string{"OPENAI_BASE_URL"}, false, "", "OpenAI-compatible base URL (OpenAI, Ollama, vLLM); default https://api.openai.com/v1"},
		{ModelName, []string{"OPENAI_MODEL", "model-name"}, false, "", "model name for OpenAI-compatible endpoints"},
		{Cache, []string{"NEWSROOM_CACHE"}, false, DefaultCache, "response cache: off, memory, sqlite, redis or postgres (NEWSROOM_DATABASE_URL)"},
		{CachePath, []string{"NEWSROOM_CACHE_PATH"}, false, "", "SQLite cache file (default chosen by the cache)"},
		{RedisURL, []string{"NEWSROOM_REDIS_URL"}, true, "", "Redis URL for the shared cache"},
		{RPM, []string{"NEWSROOM_RPM"}, false, strconv.Itoa(DefaultRPM), "deployment quota, requests per minute"},
		{TPM, []string{"NEWSROOM_TPM"}, false, strconv.Itoa(DefaultTPM), "deployment quota, tokens per minute"},
		{ContextWindow, []string{"NEWSROOM_CONTEXT_WINDOW"}, false, "", "the model's context window in tokens, for refusing a task that can never fit (default: the model family's known window)"},
		{BudgetUSD, []string{"NEWSROOM_BUDGET_USD"}, false, "", "budget per run in USD (0: none)"},
		{DailyBudgetUSD, []string{"NEWSROOM_DAILY_BUDGET_USD"}, false, "", "process-wide daily budget in USD (0: none)"},
		{PricesFile, []string{"NEWSROOM_PRICES_FILE"}, false, "", "price table overriding the built-in prices"},
		{DeploymentsFile, []string{"NEWSROOM_DEPLOYMENTS_FILE"}, false, "", "YAML file listing a pool of deployments (priorities, quotas) to fail over between"},
		{CacheSimilarity, []string{"NEWSROOM_CACHE_SIMILARITY"}, false, "", "answer from the cache when a request is this similar (0-1, e.g. 0.97) and its facts are identical (0: off)"},
		{EmbeddingsDeployment, []string{"NEWSROOM_EMBEDDINGS_DEPLOYMENT"}, false, "", "embeddings deployment for the similarity cache (e.g. text-embedding-3-small)"},
		{DatabaseURL, []string{"NEWSROOM_DATABASE_URL"}, true, "", "PostgreSQL URL for the run store"},
		{DB, []string{"NEWSROOM_DB"}, false, "", "run store (SQLite file or store kind)"},
		{FetchAllow, []string{"NEWSROOM_FETCH_ALLOW"}, false, "", "comma-separated host or host:port destinations the fetch tools may reach although internal (intranets, tests)"},
		{DatabaseAuth, []string{"NEWSROOM_DATABASE_AUTH"}, false, "", "PostgreSQL sign-in: password, entra (a Microsoft Entra ID token of the managed identity) or auto (entra for an Azure host and a URL without password)"},
		{RedisAuth, []string{"NEWSROOM_REDIS_AUTH"}, false, "", "Redis sign-in: password, entra (a Microsoft Entra ID token, user name the identity's object id) or auto (entra for an Azure host and a URL without password)"},
		{AlertMaxLatency, []string{"NEWSROOM_ALERT_MAX_LATENCY"}, false, "5s", "alert when a model call takes longer"},
		{AlertMinSuccessRate, []string{"NEWSROOM_ALERT_MIN_SUCCESS_RATE"}, false, "0.995", "alert when the share of successful model calls falls below"},
		{AlertMaxQuotaUsed, []string{"NEWSROOM_ALERT_MAX_QUOTA_USED"}, false, "0.8", "alert when this fraction of the token quota is in use"},
		{AlertMaxOverBudget, []string{"NEWSROOM_ALERT_MAX_OVER_BUDGET"}, false, "0.2", "alert when the day's cost exceeds the daily budget by more than this fraction"},
		{AlertMaxAuthFailures, []string{"NEWSROOM_ALERT_MAX_AUTH_FAILURES"}, false, "5", "alert on more authentication failures than this in a minute"},
	}
}

func settingByName(name string) (Setting, bool) {
	for _, s := range Settings() {
		if s.Name == name {
			return s, true
		}
	}
	return Setting{}, false
}

// Model is the model endpoint section.
type Model struct {
	// Kind is KindAzure, KindOpenAI or KindEmulator.
	Kind       string `json:"kind"`
	Endpoint   string `json:"endpoint,omitempty"`
	Deployment string `json:"deployment,omitempty"`
	// DeploymentModel is the model behind Deployment (AZURE_OPENAI_MODEL).
	DeploymentModel string `json:"deployment_model,omitempty"`
	APIVersion      string `json:"api_version,omitempty"`
	APIKey          Secret `json:"api_key,omitempty"`
	BaseURL         string `json:"base_url,omitempty"`
	Model           string `json:"model,omitempty"`
}

// Config is the loaded configuration. Printing it (fmt, JSON, slog) never
// shows a secret.
type Config struct {
	Model Model `json:"model"`

	Cache     string `json:"cache"`
	CachePath string `json:"cache_path,omitempty"`
	RedisURL  Secret `json:"redis_url,omitempty"`
	RPM       int    `json:"rpm"`
	TPM       int    `json:"tpm"`
	// ContextWindow overrides the model family's known context window (0: the known one).
	ContextWindow  int     `json:"context_window,omitempty"`
	BudgetUSD      float64 `json:"budget_usd,omitempty"`
	DailyBudgetUSD float64 `json:"daily_budget_usd,omitempty"`
	PricesFile     string  `json:"prices_file,omitempty"`
	// DeploymentsFile is the pool's deployments file; empty means one deployment.
	DeploymentsFile string `json:"deployments_file,omitempty"`
	// CacheSimilarity is the similarity cache's threshold; 0 means off.
	CacheSimilarity      float64 `json:"cache_similarity,omitempty"`
	EmbeddingsDeployment string  `json:"embeddings_deployment,omitempty"`
	DatabaseURL          Secret  `json:"database_url,omitempty"`
	DB                   string  `json:"db,omitempty"`
	// FetchAllow is the fetch tools' allow list as written (web.ParseAllow reads it).
	FetchAllow string `json:"fetch_allow,omitempty"`
	// DatabaseAuth and RedisAuth are how PostgreSQL and Redis connections
	// sign in (entra.ModeAuto when empty).
	DatabaseAuth entra.Mode `json:"database_auth,omitempty"`
	RedisAuth    entra.Mode `json:"redis_auth,omitempty"`

	// Alerts are the alert thresholds; zero values mean the alerts package's defaults.
	Alerts Alerts `json:"alerts"`

	sources map[string]Source
}

// Alerts are the thresholds of the operational alerts.
type Alerts struct {
	MaxLatency      time.Duration `json:"max_latency"`
	MinSuccessRate  float64       `json:"min_success_rate"`
	MaxQuotaUsed    float64       `json:"max_quota_used"`
	MaxOverBudget   float64       `json:"max_over_budget"`
	MaxAuthFailures int           `json:"max_auth_failures"`
}

// Source tells where the value of the named setting (a flag name such as
// "endpoint" or "api-key") came from.
func (c *Config) Source(name string) Source {
	if s, ok := c.sources[name]; ok {
		return s
	}
	return Source{Layer: LayerUnset}
}

// ProviderConfig turns the model section into a provider.Config. The caller
// adds what configuration cannot hold: the shared HTTP client, a token
// credential when APIKey is empty (provider.DefaultCredential), hooks. For
// KindEmulator the caller points BaseURL at the emulator it started.
func (c *Config) ProviderConfig() provider.Config {
	m := c.Model
	kind := m.Kind
	if kind == KindEmulator {
		kind = KindOpenAI
	}
	return provider.Config{
		Kind:            kind,
		Endpoint:        m.Endpoint,
		Deployment:      m.Deployment,
		DeploymentModel: m.DeploymentModel,
		APIVersion:      m.APIVersion,
		APIKey:          m.APIKey.Value(),
		BaseURL:         m.BaseURL,
		Model:           m.Model,
	}
}

// ReasoningAPIVersionProblem says what is wrong with calling a deployment
// (whose model is modelName, or its name's) with a dated api-version older
// than the first that takes max_completion_tokens, when the deployment is a
// reasoning model; "" when nothing is.
func ReasoningAPIVersionProblem(apiVersion, deployment, modelName string) string {
	if strings.EqualFold(apiVersion, provider.APIVersionV1) || apiVersion >= provider.MinReasoningAPIVersion {
		return ""
	}
	name := cmp.Or(modelName, deployment)
	p, ok := profile.Default().Lookup(name)
	if !ok || !p.Reasoning {
		return ""
	}
	return fmt.Sprintf("api-version %s is older than %s, the first that takes max_completion_tokens, which deployment %q (%s, a reasoning model) needs: set OPENAI_API_VERSION=v1 (or %s or later)",
		apiVersion, provider.MinReasoningAPIVersion, deployment, name, provider.MinReasoningAPIVersion)
}

// Validate reports every missing or inconsistent setting in one error that
// names each problem and how to fix it. It makes no request.
func (c *Config) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	m := c.Model
	switch m.Kind {
	case KindAzure:
		why := c.configuredBecause(Endpoint, Deployment, APIKey)
		if m.Endpoint == "" {
			add("the Azure OpenAI endpoint is missing%s: set AZURE_OPENAI_ENDPOINT (or azure_endpoint in .env, or --endpoint)", why)
		} else if _, err := provider.CheckEndpoint(m.Endpoint); err != nil {
			add("%s (from %s): %v", Endpoint, c.Source(Endpoint), trimPrefix(err))
		} else if err := plainEndpoint(m.Endpoint); err != nil {
			add("%s (from %s): %v", Endpoint, c.Source(Endpoint), err)
		}
		if m.Deployment == "" {
			add("the Azure OpenAI deployment is missing%s: set AZURE_OPENAI_DEPLOYMENT (or model-name in .env, or --deployment)", why)
		}
		if m.APIVersion == "" {
			add("the API version is empty: set OPENAI_API_VERSION or leave it unset for %s", provider.DefaultAPIVersion)
		} else if msg := ReasoningAPIVersionProblem(m.APIVersion, m.Deployment, m.DeploymentModel); msg != "" {
			add("%s (from %s): %s", APIVersion, c.Source(APIVersion), msg)
		}
	case KindOpenAI:
		why := c.configuredBecause(BaseURL, ModelName, APIKey)
		if m.BaseURL != "" {
			if _, err := provider.CheckEndpoint(m.BaseURL); err != nil {
				add("%s (from %s): %v", BaseURL, c.Source(BaseURL), trimPrefix(err))
			}
		} else if !m.APIKey.IsSet() {
			add("the OpenAI API key is missing%s: api.openai.com needs OPENAI_API_KEY (or set OPENAI_BASE_URL for a local server)", why)
		}
		if m.Model == "" {
			add("the model name is missing%s: set OPENAI_MODEL (or --model)", why)
		}
	case KindEmulator:
	default:
		add("%s (from %s) is %q: want %s, %s or %s", Provider, c.Source(Provider), m.Kind, KindAzure, KindOpenAI, KindEmulator)
	}
	switch c.Cache {
	case CacheOff, CacheMemory, CacheSQLite:
	case CacheRedis:
		if !c.RedisURL.IsSet() {
			add("NEWSROOM_CACHE is redis but the Redis URL is missing: set NEWSROOM_REDIS_URL (or --redis-url)")
		}
	case CachePostgres:
		if !c.DatabaseURL.IsSet() {
			add("NEWSROOM_CACHE is postgres but the database URL is missing: set NEWSROOM_DATABASE_URL")
		}
	default:
		add("%s (from %s) is %q: want off, memory, sqlite, redis or postgres", Cache, c.Source(Cache), c.Cache)
	}
	problems = append(problems, c.storeProblems()...)
	if c.RPM <= 0 {
		add("%s (from %s) must be positive", RPM, c.Source(RPM))
	}
	if c.TPM <= 0 {
		add("%s (from %s) must be positive", TPM, c.Source(TPM))
	}
	if c.ContextWindow < 0 {
		add("%s (from %s) must not be negative", ContextWindow, c.Source(ContextWindow))
	}
	if c.BudgetUSD < 0 {
		add("%s (from %s) must not be negative", BudgetUSD, c.Source(BudgetUSD))
	}
	if c.CacheSimilarity < 0 || c.CacheSimilarity > 1 {
		add("%s (from %s) must be between 0 and 1, e.g. 0.97", CacheSimilarity, c.Source(CacheSimilarity))
	} else if c.CacheSimilarity > 0 && c.EmbeddingsDeployment == "" {
		add("%s needs an embeddings deployment: set NEWSROOM_EMBEDDINGS_DEPLOYMENT or --%s (e.g. text-embedding-3-small)", CacheSimilarity, EmbeddingsDeployment)
	}
	if c.DailyBudgetUSD < 0 {
		add("%s (from %s) must not be negative", DailyBudgetUSD, c.Source(DailyBudgetUSD))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  - %s", ErrInvalid, strings.Join(problems, "\n  - "))
}

// ValidateStore reports what is wrong with the connection settings alone
// (those LoadStore reads), in the form Validate reports it.
func (c *Config) ValidateStore() error {
	if problems := c.storeProblems(); len(problems) > 0 {
		return fmt.Errorf("%w:\n  - %s", ErrInvalid, strings.Join(problems, "\n  - "))
	}
	return nil
}

func (c *Config) storeProblems() []string {
	var problems []string
	if c.Source(DB).Layer == LayerFlag && c.Source(DatabaseURL).Layer == LayerFlag {
		problems = append(problems, fmt.Sprintf("give --%s or --%s, not both", DB, DatabaseURL))
	}
	if c.RedisURL.IsSet() {
		if u, err := url.Parse(c.RedisURL.Value()); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			problems = append(problems, fmt.Sprintf("%s (from %s) is not a redis://, rediss:// or unix:// URL", RedisURL, c.Source(RedisURL)))
		}
	}
	return problems
}

// UsesPostgres reports whether the run store is the PostgreSQL database of
// DatabaseURL rather than the SQLite file DB. When both are set, the one
// given with the higher precedence wins (a --db flag over
// NEWSROOM_DATABASE_URL in the environment or .env); at the same level,
// PostgreSQL.
func (c *Config) UsesPostgres() bool {
	if !c.DatabaseURL.IsSet() {
		return false
	}
	if c.DB == "" {
		return true
	}
	return c.Source(DatabaseURL).Layer <= c.Source(DB).Layer
}

// configuredBecause explains which present settings made the kind what it is,
// e.g. " (the deployment is set by environment variable AZURE_OPENAI_DEPLOYMENT)".
func (c *Config) configuredBecause(names ...string) string {
	var parts []string
	for _, n := range names {
		if s := c.Source(n); s.Layer != LayerUnset && s.Layer != LayerDefault {
			parts = append(parts, n+" from "+s.String())
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (configured: " + strings.Join(parts, ", ") + ")"
}

// plainEndpoint rejects an Azure endpoint that carries a request path or
// query, a common mistake of pasting the full chat completions URL.
func plainEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if strings.Contains(u.Path, "/deployments/") || u.RawQuery != "" {
		return errors.New("give the resource URL only (https://NAME.openai.azure.com), not a request URL with a path or query")
	}
	return nil
}

func trimPrefix(err error) string {
	s := err.Error()
	for _, p := range []string{"provider: invalid configuration: ", "provider: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// Resolver resolves a Key Vault reference to the secret's value.
type Resolver interface {
	Resolve(ctx context.Context, ref string) (string, error)
}

// IsKeyVaultRef reports whether v is written as a Key Vault reference:
// keyvault://VAULT/SECRET[/VERSION] or App Service's @Microsoft.KeyVault(...)
// (case-insensitive; a malformed reference is still one, and the Resolver
// says what is wrong with it).
func IsKeyVaultRef(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return strings.HasPrefix(v, "keyvault://") || strings.HasPrefix(v, "@microsoft.keyvault(")
}
