package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeDotEnv(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad_OriginalDotEnvNames(t *testing.T) {
	p := writeDotEnv(t, `# the original project's .env
model-name=gpt-4o
api-version=2024-08-01-preview
azure_endpoint="https://contoso.openai.azure.com/"
api_key=original-key-123
`)
	cfg, err := LoadContext(context.Background(), Sources{DotEnvPath: p})
	if err != nil {
		t.Fatal(err)
	}
	want := Model{Kind: KindAzure, Endpoint: "https://contoso.openai.azure.com/", Deployment: "gpt-4o",
		APIVersion: "2024-08-01-preview", APIKey: "original-key-123"}
	if diff := cmp.Diff(want, cfg.Model); diff != "" {
		t.Errorf("model (-want +got):\n%s", diff)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if got := cfg.Source(APIKey).String(); got != ".env file "+p+" (api_key)" {
		t.Errorf("Source(api-key) = %q", got)
	}
	if _, ok := os.LookupEnv("api_key"); ok {
		t.Error(".env must not be copied into the process environment")
	}
}

func TestLoad_Precedence(t *testing.T) {
	p := writeDotEnv(t, "AZURE_OPENAI_ENDPOINT=https://dotenv.openai.azure.com\nAZURE_OPENAI_DEPLOYMENT=dot-dep\nazure_endpoint=https://orig.openai.azure.com\nOPENAI_API_VERSION=2024-06-01\n")
	tests := []struct {
		name       string
		flags      map[string]string
		env        map[string]string
		wantEP     string
		wantSource string
		wantDep    string
	}{
		{"dotenv only", nil, nil, "https://dotenv.openai.azure.com", ".env file " + p + " (AZURE_OPENAI_ENDPOINT)", "dot-dep"},
		{"environment beats .env", nil, map[string]string{"azure_endpoint": "https://env.openai.azure.com"}, "https://env.openai.azure.com", "environment variable azure_endpoint", "dot-dep"},
		{"flag beats environment", map[string]string{Endpoint: "https://flag.openai.azure.com", Deployment: "flag-dep"},
			map[string]string{"AZURE_OPENAI_ENDPOINT": "https://env.openai.azure.com"}, "https://flag.openai.azure.com", "flag --endpoint", "flag-dep"},
		{"empty environment value does not hide .env", nil, map[string]string{"AZURE_OPENAI_ENDPOINT": ""}, "https://dotenv.openai.azure.com", ".env file " + p + " (AZURE_OPENAI_ENDPOINT)", "dot-dep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadContext(context.Background(), Sources{Flags: tc.flags, Env: env(tc.env), DotEnvPath: p})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Model.Endpoint != tc.wantEP || cfg.Source(Endpoint).String() != tc.wantSource {
				t.Errorf("endpoint = %q from %q, want %q from %q", cfg.Model.Endpoint, cfg.Source(Endpoint), tc.wantEP, tc.wantSource)
			}
			if cfg.Model.Deployment != tc.wantDep {
				t.Errorf("deployment = %q, want %q", cfg.Model.Deployment, tc.wantDep)
			}
			if cfg.Model.APIVersion != "2024-06-01" {
				t.Errorf("api version = %q", cfg.Model.APIVersion)
			}
		})
	}
}

func TestLoad_Kinds(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Model
	}{
		{"nothing configured runs the emulator", nil, Model{Kind: KindEmulator}},
		{"azure standard names", map[string]string{"AZURE_OPENAI_ENDPOINT": "https://a.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT": "d", "AZURE_OPENAI_API_KEY": "k", "OPENAI_API_KEY": "openai-key"},
			Model{Kind: KindAzure, Endpoint: "https://a.openai.azure.com", Deployment: "d", APIVersion: "v1", APIKey: "k"}},
		{"azure without key uses Entra ID, never the OpenAI key", map[string]string{"AZURE_OPENAI_ENDPOINT": "https://a.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT": "d", "OPENAI_API_KEY": "openai-key"},
			Model{Kind: KindAzure, Endpoint: "https://a.openai.azure.com", Deployment: "d", APIVersion: "v1"}},
		{"openai compatible", map[string]string{"OPENAI_BASE_URL": "http://localhost:11434/v1", "OPENAI_MODEL": "llama3"},
			Model{Kind: KindOpenAI, BaseURL: "http://localhost:11434/v1", Model: "llama3"}},
		{"openai", map[string]string{"OPENAI_API_KEY": "sk", "OPENAI_MODEL": "gpt-4o"},
			Model{Kind: KindOpenAI, Model: "gpt-4o", APIKey: "sk"}},
		{"explicit emulator wins", map[string]string{"NEWSROOM_PROVIDER": "emulator", "AZURE_OPENAI_ENDPOINT": "https://a.openai.azure.com"},
			Model{Kind: KindEmulator}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadContext(context.Background(), Sources{Env: env(tc.env)})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, cfg.Model); diff != "" {
				t.Errorf("model (-want +got):\n%s", diff)
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestConfig_Validate_NamesWhatIsMissing(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		flags map[string]string
		want  []string
	}{
		{"endpoint without deployment", map[string]string{"AZURE_OPENAI_ENDPOINT": "https://a.openai.azure.com"}, nil,
			[]string{"deployment is missing", "AZURE_OPENAI_DEPLOYMENT", "model-name", "endpoint from environment variable AZURE_OPENAI_ENDPOINT"}},
		{"deployment without endpoint", map[string]string{"AZURE_OPENAI_DEPLOYMENT": "d"}, nil,
			[]string{"endpoint is missing", "AZURE_OPENAI_ENDPOINT", "azure_endpoint"}},
		{"original model-name without endpoint", map[string]string{"model-name": "gpt-4o"}, nil,
			[]string{"endpoint is missing"}},
		{"azure key alone", map[string]string{"AZURE_OPENAI_API_KEY": "k"}, nil,
			[]string{"endpoint is missing", "deployment is missing"}},
		{"openai key without model", map[string]string{"OPENAI_API_KEY": "k"}, nil,
			[]string{"model name is missing", "OPENAI_MODEL"}},
		{"api.openai.com without key", map[string]string{"OPENAI_MODEL": "gpt-4o"}, nil,
			[]string{"OPENAI_API_KEY"}},
		{"bad URL", map[string]string{"AZURE_OPENAI_ENDPOINT": "contoso.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT": "d"}, nil,
			[]string{"endpoint (from environment variable AZURE_OPENAI_ENDPOINT)", "absolute http(s) URL"}},
		{"plain http to a remote host", nil, map[string]string{Endpoint: "http://contoso.openai.azure.com", Deployment: "d"},
			[]string{"endpoint (from flag --endpoint)", "https"}},
		{"request URL instead of the resource", map[string]string{"AZURE_OPENAI_ENDPOINT": "https://a.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21", "AZURE_OPENAI_DEPLOYMENT": "d"}, nil,
			[]string{"resource URL only"}},
		{"redis cache without URL", map[string]string{"NEWSROOM_CACHE": "redis"}, nil, []string{"NEWSROOM_REDIS_URL"}},
		{"unknown cache", map[string]string{"NEWSROOM_CACHE": "disk"}, nil, []string{`"disk"`, "off, memory, sqlite, redis or postgres"}},
		{"zero quota", map[string]string{"NEWSROOM_TPM": "0"}, nil, []string{"tpm (from environment variable NEWSROOM_TPM) must be positive"}},
		{"unknown provider", map[string]string{"NEWSROOM_PROVIDER": "bedrock"}, nil, []string{`"bedrock"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadContext(context.Background(), Sources{Env: env(tc.env), Flags: tc.flags})
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoad_NewsroomSettings(t *testing.T) {
	cfg, err := LoadContext(context.Background(), Sources{Env: env(map[string]string{
		"NEWSROOM_CACHE": "Redis", "NEWSROOM_CACHE_PATH": "/tmp/c.db", "NEWSROOM_REDIS_URL": "redis://:pw@127.0.0.1:6379/0",
		"NEWSROOM_RPM": "60", "NEWSROOM_TPM": "10_000", "NEWSROOM_BUDGET_USD": "0.50", "NEWSROOM_DAILY_BUDGET_USD": "$20",
		"NEWSROOM_PRICES_FILE": "prices.json", "NEWSROOM_DATABASE_URL": "postgres://u:pw@db/newsroom", "NEWSROOM_DB": "runs.db",
	})})
	if err != nil {
		t.Fatal(err)
	}
	got := []any{cfg.Cache, cfg.CachePath, cfg.RedisURL.Value(), cfg.RPM, cfg.TPM, cfg.BudgetUSD, cfg.DailyBudgetUSD, cfg.PricesFile, cfg.DatabaseURL.Value(), cfg.DB}
	want := []any{"redis", "/tmp/c.db", "redis://:pw@127.0.0.1:6379/0", 60, 10000, 0.5, 20.0, "prices.json", "postgres://u:pw@db/newsroom", "runs.db"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}

	def, err := LoadContext(context.Background(), Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if def.Cache != DefaultCache || def.RPM != DefaultRPM || def.TPM != DefaultTPM || def.Source(RPM).Layer != LayerDefault {
		t.Errorf("defaults: cache %q rpm %d tpm %d source %v", def.Cache, def.RPM, def.TPM, def.Source(RPM))
	}
}

func TestLoad_BadNumberNamesTheSetting(t *testing.T) {
	_, err := LoadContext(context.Background(), Sources{Env: env(map[string]string{"NEWSROOM_RPM": "lots"})})
	if err == nil || !strings.Contains(err.Error(), "rpm (from environment variable NEWSROOM_RPM)") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecret_NeverPrinted(t *testing.T) {
	const key = "very-secret-key-42"
	cfg, err := LoadContext(context.Background(), Sources{Env: env(map[string]string{"AZURE_OPENAI_ENDPOINT": "https://a.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT": "d",
		"AZURE_OPENAI_API_KEY": key, "NEWSROOM_DATABASE_URL": "postgres://u:" + key + "@db/x"})})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(cfg)
	var logBuf strings.Builder
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("config", "cfg", cfg, "key", cfg.Model.APIKey)
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg),
		"%s key": fmt.Sprintf("%s", cfg.Model.APIKey), "%q key": fmt.Sprintf("%q", cfg.Model.APIKey),
		"%x key": fmt.Sprintf("%x", cfg.Model.APIKey), "%d key": fmt.Sprintf("%d", cfg.Model.APIKey),
		"json": string(js), "slog": logBuf.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, key) {
			t.Errorf("%s prints the secret: %s", name, out)
		}
	}
	if !strings.Contains(string(js), `"api_key":"[redacted]"`) {
		t.Errorf("json = %s", js)
	}
	if cfg.Model.APIKey.Value() != key {
		t.Error("Value must return the secret")
	}
}

func TestReadDotEnv_ParseErrorHidesContent(t *testing.T) {
	p := writeDotEnv(t, "api_key=\"unterminated-secret-value\n")
	_, err := LoadContext(context.Background(), Sources{DotEnvPath: p})
	if err == nil {
		t.Fatal("want a parse error")
	}
	if strings.Contains(err.Error(), "unterminated-secret-value") {
		t.Fatalf("error quotes the file: %v", err)
	}
}

func TestLoad_MissingDotEnvIsFine(t *testing.T) {
	if _, err := LoadContext(context.Background(), Sources{DotEnvPath: filepath.Join(t.TempDir(), ".env")}); err != nil {
		t.Fatal(err)
	}
}

type fakeResolver struct {
	values map[string]string
	refs   []string
}

func (f *fakeResolver) Resolve(_ context.Context, ref string) (string, error) {
	f.refs = append(f.refs, ref)
	v, ok := f.values[ref]
	if !ok {
		return "", errors.New("secret not found")
	}
	return v, nil
}

func TestLoad_KeyVaultReferences(t *testing.T) {
	const appServiceRef = "@Microsoft.KeyVault(SecretUri=https://kv1.vault.azure.net/secrets/db-url/)"
	r := &fakeResolver{values: map[string]string{
		"keyvault://kv1/aoai-key": "resolved-key",
		appServiceRef:             "postgres://u:pw@db/x",
	}}
	e := env(map[string]string{"AZURE_OPENAI_ENDPOINT": "https://a.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT": "d",
		"AZURE_OPENAI_API_KEY": "keyvault://kv1/aoai-key", "NEWSROOM_DATABASE_URL": appServiceRef})
	cfg, err := LoadContext(context.Background(), Sources{Env: e, Resolver: r})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Model.APIKey.Value() != "resolved-key" || cfg.DatabaseURL.Value() != "postgres://u:pw@db/x" {
		t.Errorf("not resolved: %q %q", cfg.Model.APIKey.Value(), cfg.DatabaseURL.Value())
	}
	if got := cfg.Source(APIKey).String(); got != "environment variable AZURE_OPENAI_API_KEY via Key Vault reference keyvault://kv1/aoai-key" {
		t.Errorf("source = %q", got)
	}

	t.Run("failure names the setting and the reference", func(t *testing.T) {
		_, err := LoadContext(context.Background(), Sources{Env: env(map[string]string{"NEWSROOM_REDIS_URL": "keyvault://kv1/missing"}), Resolver: r})
		if err == nil || !strings.Contains(err.Error(), "redis-url (from environment variable NEWSROOM_REDIS_URL)") ||
			!strings.Contains(err.Error(), "keyvault://kv1/missing") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no resolver", func(t *testing.T) {
		_, err := LoadContext(context.Background(), Sources{Env: e})
		if err == nil || !strings.Contains(err.Error(), "no Key Vault resolver") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestConfig_ProviderConfig(t *testing.T) {
	cfg, err := LoadContext(context.Background(), Sources{Flags: map[string]string{Endpoint: "https://a.openai.azure.com", Deployment: "d", APIKey: "k"}})
	if err != nil {
		t.Fatal(err)
	}
	pc := cfg.ProviderConfig()
	if pc.Kind != KindAzure || pc.Endpoint != "https://a.openai.azure.com" || pc.Deployment != "d" || pc.APIKey != "k" || pc.APIVersion != "v1" {
		t.Errorf("ProviderConfig = %+v", pc)
	}
}

func TestIsKeyVaultRef(t *testing.T) {
	for v, want := range map[string]bool{
		"keyvault://vault/secret":    true,
		"KeyVault://vault/secret/v1": true,
		"@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/s/)": true,
		"@Microsoft.KeyVault(VaultName=v;SecretName=s)":                       true,
		"https://v.vault.azure.net/secrets/s":                                 false,
		"plain-value":                                                         false,
	} {
		if got := IsKeyVaultRef(v); got != want {
			t.Errorf("IsKeyVaultRef(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestReadDotEnv_Variants(t *testing.T) {
	tests := []struct {
		name, content string
	}{
		{"windows line endings", "model-name=gpt-4o\r\nazure_endpoint=https://a.openai.azure.com\r\n"},
		{"export and spaces", "export model-name = gpt-4o\n  azure_endpoint: https://a.openai.azure.com # comment\n"},
		{"quoted with blank lines", "\n\nmodel-name='gpt-4o'\n\nazure_endpoint=\"https://a.openai.azure.com\"\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadContext(context.Background(), Sources{DotEnvPath: writeDotEnv(t, tc.content)})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Model.Deployment != "gpt-4o" || cfg.Model.Endpoint != "https://a.openai.azure.com" {
				t.Errorf("model = %+v", cfg.Model)
			}
		})
	}
}

func TestLoad_AlertThresholds(t *testing.T) {
	env := map[string]string{"NEWSROOM_ALERT_MAX_LATENCY": "2s", "NEWSROOM_ALERT_MIN_SUCCESS_RATE": "0.99",
		"NEWSROOM_ALERT_MAX_AUTH_FAILURES": "9"}
	cfg, err := LoadContext(context.Background(), Sources{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Alerts
	if a.MaxLatency != 2*time.Second || a.MinSuccessRate != 0.99 || a.MaxAuthFailures != 9 || a.MaxQuotaUsed != 0.8 {
		t.Fatalf("alerts %+v", a)
	}
	env["NEWSROOM_ALERT_MAX_LATENCY"] = "soon"
	if _, err := LoadContext(context.Background(), Sources{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}); err == nil ||
		!strings.Contains(err.Error(), "alert-max-latency") {
		t.Fatalf("a bad duration must be refused by name: %v", err)
	}
}

func TestLoad_FetchAllowFromDotEnvAndEnvironment(t *testing.T) {
	p := writeDotEnv(t, "NEWSROOM_FETCH_ALLOW=intranet.example:8080,127.0.0.2\n")
	cfg, err := LoadContext(context.Background(), Sources{DotEnvPath: p})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FetchAllow != "intranet.example:8080,127.0.0.2" || cfg.Source(FetchAllow).Layer != LayerDotEnv {
		t.Fatalf(".env: fetch allow %q from %v", cfg.FetchAllow, cfg.Source(FetchAllow))
	}
	cfg, err = LoadContext(context.Background(), Sources{DotEnvPath: p, Env: env(map[string]string{"NEWSROOM_FETCH_ALLOW": "docs.internal"})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FetchAllow != "docs.internal" || cfg.Source(FetchAllow).Layer != LayerEnv {
		t.Fatalf("environment over .env: fetch allow %q from %v", cfg.FetchAllow, cfg.Source(FetchAllow))
	}
}

func TestLoadStore_ConnectionSettingsFromDotEnv(t *testing.T) {
	p := writeDotEnv(t, "NEWSROOM_DATABASE_URL=postgres://app@db.example:5432/newsroom\nNEWSROOM_DATABASE_AUTH=entra\n"+
		"NEWSROOM_REDIS_URL=rediss://cache.example:6380/0\nNEWSROOM_REDIS_AUTH=entra\n"+
		"api_key=keyvault://vault/never-resolved\n")
	// The model's Key Vault reference is not looked at: no resolver is needed.
	cfg, err := LoadStore(context.Background(), Sources{DotEnvPath: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.ValidateStore(); err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL.Value() != "postgres://app@db.example:5432/newsroom" || cfg.DatabaseAuth != "entra" ||
		cfg.RedisURL.Value() != "rediss://cache.example:6380/0" || cfg.RedisAuth != "entra" {
		t.Fatalf("store settings from .env: %q %q %q %q", cfg.DatabaseURL.Value(), cfg.DatabaseAuth, cfg.RedisURL.Value(), cfg.RedisAuth)
	}
	if s := cfg.Source(DatabaseAuth); s.Layer != LayerDotEnv || s.Name != "NEWSROOM_DATABASE_AUTH" {
		t.Fatalf("database-auth source %v", s)
	}
	if !cfg.UsesPostgres() {
		t.Fatal("a database URL alone chooses PostgreSQL")
	}
	// The full load reads them the same way.
	full, err := LoadContext(context.Background(), Sources{DotEnvPath: p, Resolver: resolverFunc(func(string) (string, error) { return "k", nil })})
	if err != nil {
		t.Fatal(err)
	}
	if full.DatabaseAuth != cfg.DatabaseAuth || full.RedisAuth != cfg.RedisAuth || full.DatabaseURL != cfg.DatabaseURL {
		t.Fatalf("LoadContext and LoadStore disagree: %+v vs %+v", full, cfg)
	}

	bad := writeDotEnv(t, "NEWSROOM_REDIS_AUTH=kerberos\n")
	if _, err := LoadStore(context.Background(), Sources{DotEnvPath: bad}); err == nil || !strings.Contains(err.Error(), "redis-auth") ||
		!strings.Contains(err.Error(), bad) {
		t.Fatalf("a bad sign-in mode in .env must be refused naming the setting and the file: %v", err)
	}
}

func TestConfig_UsesPostgres_HigherPrecedenceWins(t *testing.T) {
	p := writeDotEnv(t, "NEWSROOM_DATABASE_URL=postgres://db.example/newsroom\nNEWSROOM_DB=dotenv.db\n")
	tests := []struct {
		name  string
		flags map[string]string
		env   map[string]string
		want  bool
	}{
		{"both in .env: PostgreSQL", nil, nil, true},
		{"--db over a URL in .env: SQLite", map[string]string{DB: "flag.db"}, nil, false},
		{"NEWSROOM_DB in the environment over a URL in .env: SQLite", nil, map[string]string{"NEWSROOM_DB": "env.db"}, false},
		{"--database-url over NEWSROOM_DB: PostgreSQL", map[string]string{DatabaseURL: "postgres://flag/x"}, map[string]string{"NEWSROOM_DB": "env.db"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadStore(context.Background(), Sources{Flags: tt.flags, Env: env(tt.env), DotEnvPath: p})
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.UsesPostgres(); got != tt.want {
				t.Fatalf("UsesPostgres = %v, want %v", got, tt.want)
			}
		})
	}
	cfg, err := LoadStore(context.Background(), Sources{Flags: map[string]string{DB: "a.db", DatabaseURL: "postgres://x/y"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.ValidateStore(); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("--db and --database-url together: %v", err)
	}
}

type resolverFunc func(string) (string, error)

func (f resolverFunc) Resolve(_ context.Context, ref string) (string, error) { return f(ref) }

func TestValidate_OldAPIVersionWithAReasoningDeploymentIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		flags   map[string]string
		problem string // "" when valid
	}{
		{"gpt-5 by its model", map[string]string{Endpoint: "https://a.openai.azure.com", Deployment: "prod", DeploymentModel: "gpt-5-mini", APIKey: "k", APIVersion: "2024-06-01"},
			"api-version 2024-06-01 is older than 2024-09-01-preview"},
		{"o3 by its deployment name", map[string]string{Endpoint: "https://a.openai.azure.com", Deployment: "o3", APIKey: "k", APIVersion: "2024-08-01-preview"},
			"set OPENAI_API_VERSION=v1"},
		{"gpt-5 on the first version that takes it", map[string]string{Endpoint: "https://a.openai.azure.com", Deployment: "gpt-5", APIKey: "k", APIVersion: "2024-09-01-preview"}, ""},
		{"gpt-5 on v1", map[string]string{Endpoint: "https://a.openai.azure.com", Deployment: "gpt-5", APIKey: "k"}, ""},
		{"gpt-4o keeps its old version", map[string]string{Endpoint: "https://a.openai.azure.com", Deployment: "gpt-4o", APIKey: "k", APIVersion: "2024-06-01"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadContext(context.Background(), Sources{Flags: tc.flags})
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if tc.problem == "" && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem) || !strings.Contains(err.Error(), "2024-09-01-preview")) {
				t.Fatalf("Validate = %v, want it to name %q and the version to use", err, tc.problem)
			}
		})
	}
}
