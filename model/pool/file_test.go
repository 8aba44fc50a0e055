package pool_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/model/pool"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestParse(t *testing.T) {
	t.Parallel()
	good := `deployments:
  - name: primary
    endpoint: https://contoso-eastus.openai.azure.com
    deployment: gpt-4o
    api_version: 2024-10-21
    api_key_env: PRIMARY_OPENAI_KEY   # omit for Entra ID
    priority: 1
    rpm: 180
    tpm: 30000
  - name: secondary
    endpoint: https://contoso-swedencentral.openai.azure.com
    deployment: gpt-4o
    priority: 2
`
	f, err := pool.Parse("pool.yaml", []byte(good), env(map[string]string{"PRIMARY_OPENAI_KEY": "k-123"}))
	if err != nil {
		t.Fatalf("the issue's example: %v", err)
	}
	if len(f.Deployments) != 2 {
		t.Fatalf("%d deployments, want 2", len(f.Deployments))
	}
	p, s := f.Deployments[0], f.Deployments[1]
	if p.Name != "primary" || p.APIKey != "k-123" || p.RPM != 180 || p.TPM != 30000 || p.Priority != 1 || p.APIVersion != "2024-10-21" {
		t.Errorf("primary = %+v", p)
	}
	if s.APIKey != "" || s.Priority != 2 || s.Weight != 1 || s.APIVersion == "" || s.Line != 10 {
		t.Errorf("secondary = %+v (want Entra ID, priority 2, weight 1, a default api version, line 10)", s)
	}

	bad := []struct {
		name, yaml, want string
	}{
		{"an empty file", "", "bad.yaml:1: deployments: the file is empty"},
		{"no deployment", "deployments: []\n", "bad.yaml:1: deployments: no deployment listed"},
		{"a null list", "deployments:\n", "bad.yaml:1: deployments: no deployment listed"},
		{"duplicate names", "deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n  - name: a\n    endpoint: https://b.openai.azure.com\n    deployment: d\n",
			`bad.yaml:5: deployments[1].name: "a" is already the name of the deployment at line 2`},
		{"a missing endpoint", "deployments:\n  - name: a\n    deployment: d\n", "bad.yaml:2: deployments[0].endpoint: missing"},
		{"an unset key variable", "deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n    api_key_env: NOPE_KEY\n",
			"bad.yaml:5: deployments[0].api_key_env: the environment variable NOPE_KEY is not set"},
		{"plain http to a remote host", "deployments:\n  - name: a\n    endpoint: http://a.openai.azure.com\n    deployment: d\n",
			"bad.yaml:3: deployments[0].endpoint: plain http is allowed only for loopback hosts"},
		{"an unknown field", "deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n    region: x\n",
			"bad.yaml:5: deployments[0].region: unknown field"},
		{"a bad priority", "deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n    priority: first\n",
			`bad.yaml:5: deployments[0].priority: must be a whole number of at least 1, not "first"`},
		{"broken YAML", "deployments:\n  - name: [a\n", "bad.yaml:"},
		{"a pool named like a deployment", "deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n  - name: b\n    endpoint: https://b.openai.azure.com\n    deployment: d\n    pool: a\n",
			`bad.yaml:8: deployments[1].pool: pool "a" has the name of the deployment at line 2`},
		{"a deployment named like the default pool", "deployments:\n  - name: default\n    endpoint: https://a.openai.azure.com\n    deployment: d\n",
			`bad.yaml:2: deployments[0]: pool "default" has the name of the deployment at line 2`},
		{"an empty pool", "deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n    pool: \"\"\n",
			`bad.yaml:5: deployments[0].pool: must name a pool`},
		{"an unknown api", "deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n    api: assistants\n",
			`bad.yaml:5: deployments[0].api: is "assistants": want chat`},
		{"an api-version too old for its GPT-5 model", "deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n    model: gpt-5-mini\n    api_version: 2024-06-01\n",
			`bad.yaml:6: deployments[0].api_version: 2024-06-01 is older than 2024-09-01-preview`},
	}
	for _, tc := range bad {
		t.Run(tc.name+" is refused with file, line and field", func(t *testing.T) {
			_, err := pool.Parse("bad.yaml", []byte(tc.yaml), env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, pool.ErrFile) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start with %q (and match ErrFile)", err, tc.want)
			}
		})
	}

	t.Run("entries may name a pool; the others are in the default pool", func(t *testing.T) {
		f, err := pool.Parse("p.yaml", []byte("deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n  - name: b\n    endpoint: https://b.openai.azure.com\n    deployment: d\n    pool: fast\n"), env(nil))
		if err != nil || f.Deployments[0].Pool != "" || f.Deployments[1].Pool != "fast" {
			t.Fatalf("file %+v, error %v", f, err)
		}
	})
	t.Run("the api and the model pass through; chat and v1 are the defaults", func(t *testing.T) {
		f, err := pool.Parse("p.yaml", []byte("deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n    model: gpt-5\n    api: responses\n  - name: b\n    endpoint: https://b.openai.azure.com\n    deployment: e\n"), env(nil))
		if err != nil || f.Deployments[0].API != pool.APIResponses || f.Deployments[0].Model != "gpt-5" ||
			f.Deployments[1].API != pool.APIChat || f.Deployments[1].APIVersion != "v1" {
			t.Fatalf("file %+v, error %v", f, err)
		}
	})
	t.Run("loopback http is allowed", func(t *testing.T) {
		if _, err := pool.Parse("p.yaml", []byte("deployments:\n  - name: a\n    endpoint: http://127.0.0.1:8090\n    deployment: d\n"), env(nil)); err != nil {
			t.Error(err)
		}
	})
	t.Run("the key never appears in an error", func(t *testing.T) {
		_, err := pool.Parse("p.yaml", []byte("deployments:\n  - name: a\n    endpoint: http://x.example\n    deployment: d\n    api_key_env: K\n"),
			env(map[string]string{"K": "secret-value-9"}))
		if err == nil || strings.Contains(err.Error(), "secret-value-9") {
			t.Errorf("error %v", err)
		}
	})
}

func TestLoadFile_fromTheEnvironment(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"POOL_YAML": "deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: d\n  - name: b\n    endpoint: https://b.openai.azure.com\n    deployment: d\n    priority: 2\n"}
	f, err := pool.LoadFile("env:POOL_YAML", env(vars))
	if err != nil || len(f.Deployments) != 2 || f.Deployments[1].Priority != 2 {
		t.Fatalf("file %+v, error %v", f, err)
	}
	if _, err := pool.LoadFile("env:NOT_SET", env(vars)); err == nil || !strings.Contains(err.Error(), "NOT_SET") {
		t.Errorf("an unset variable: %v", err)
	}
	vars["BAD"] = "deployments: []\n"
	if _, err := pool.LoadFile("env:BAD", env(vars)); err == nil || !strings.HasPrefix(err.Error(), "env:BAD:1: deployments") {
		t.Errorf("a bad pool in the environment: %v", err)
	}
}
