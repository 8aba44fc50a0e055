package modelstack_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/modelstack"
	"github.com/newsroom-dev/newsroom/telemetry"
)

// firstThrottled makes the emulator answer the first request it carries
// with 429 and Retry-After (the emulator's fault header).
type firstThrottled struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (f *firstThrottled) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.n.Add(1) == 1 {
		r = r.Clone(r.Context())
		r.Header.Set(emulator.HeaderFault, string(emulator.Fault429))
	}
	return f.next.RoundTrip(r)
}

// TestBuild_PoolOnTheResponsesAPI: deployments that choose api: responses
// go through the whole stack as chat deployments do: a 429 is retried, the
// answer is priced with its reasoning tokens, a repeat comes from the
// cache, a failing primary fails over to the secondary, and telemetry
// counts the tokens.
func TestBuild_PoolOnTheResponsesAPI(t *testing.T) {
	primary := startEmulator(t, emulator.Config{APIKey: "right", ModelName: "gpt-5-mini"})
	secondary := startEmulator(t, emulator.Config{APIKey: "right", ModelName: "gpt-5-mini"})
	t.Setenv("POOL_TEST_KEY", "right")
	path := filepath.Join(t.TempDir(), "deployments.yaml")
	y := fmt.Sprintf("deployments:\n  - name: primary\n    endpoint: %s\n    deployment: gpt-5-mini\n    api: responses\n    api_key_env: POOL_TEST_KEY\n    priority: 1\n"+
		"  - name: secondary\n    endpoint: %s\n    deployment: gpt-5-mini\n    api: responses\n    api_key_env: POOL_TEST_KEY\n    priority: 2\n", primary.URL, secondary.URL)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Prometheus: true, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	hc := &http.Client{Transport: &firstThrottled{next: http.DefaultTransport}}
	cfg := &config.Config{RPM: 600, TPM: 600_000, Model: config.Model{Kind: config.KindAzure}, DeploymentsFile: path,
		Cache: config.CacheMemory}
	s := mustBuild(t, modelstack.Options{Config: cfg, HTTPClient: hc, Telemetry: tel})
	ctx := context.Background()

	resp, err := s.Root().Complete(ctx, request())
	if err != nil {
		t.Fatal(err)
	}
	output := resp.Usage.CompletionTokens
	if resp.Content == "" || resp.Usage.ReasoningTokens == 0 || resp.Usage.CostUSD <= 0 || resp.Usage.Requests != 1 || resp.Deployment == "" {
		t.Errorf("answer = %+v", resp)
	}
	var statuses []int
	for _, em := range []*emulator.Running{primary, secondary} {
		for _, r := range em.Requests() {
			if r.Path != emulator.ResponsesPath || r.Auth != emulator.AuthAPIKey {
				t.Errorf("recorded %+v", r)
			}
			statuses = append(statuses, r.Status)
		}
	}
	if fmt.Sprint(statuses) != "[429 200]" {
		t.Errorf("statuses %v, want the 429 then its retry", statuses)
	}

	again, err := s.Root().Complete(ctx, request())
	if err != nil || !again.Cached || again.Content != resp.Content || again.Usage.SavedTokens != resp.Usage.TotalTokens() {
		t.Errorf("repeat = %+v, %v; want the cached answer", again, err)
	}

	primary.Force(emulator.ForcedFault{Fault: emulator.Fault503})
	other := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "Write one line about herons."}}}
	resp, err = s.Root().Complete(ctx, other)
	if err != nil || resp.Deployment != "secondary" || resp.Usage.ReasoningTokens == 0 {
		t.Fatalf("answered by %+v, %v; want the secondary", resp, err)
	}

	output += resp.Usage.CompletionTokens

	// Telemetry counts the output tokens of the two calls made, reasoning included.
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	sum := 0.0
	for l := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(l, "gen_ai_client_token_usage_sum{") && strings.Contains(l, `gen_ai_token_type="output"`) {
			v, err := strconv.ParseFloat(strings.TrimSpace(l[strings.LastIndexByte(l, ' '):]), 64)
			if err != nil {
				t.Fatal(err)
			}
			sum += v
		}
	}
	if int(sum) != output {
		t.Errorf("telemetry counted %v output tokens, the answers %d", sum, output)
	}
}
