package modelstack_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model/pool"
	"github.com/newsroom-dev/newsroom/modelstack"
	"github.com/newsroom-dev/newsroom/telemetry"
)

// TestBuild_PoolFailoverMetrics: a stack over a deployments file counts the
// calls that left the primary, by deployment and reason, in its Prometheus
// metrics.
func TestBuild_PoolFailoverMetrics(t *testing.T) {
	primary := startEmulator(t, emulator.Config{APIKey: "right"})
	secondary := startEmulator(t, emulator.Config{APIKey: "right"})
	t.Setenv("POOL_TEST_KEY", "right")
	path := filepath.Join(t.TempDir(), "deployments.yaml")
	y := fmt.Sprintf("deployments:\n  - name: primary\n    endpoint: %s\n    deployment: gpt-4o\n    api_key_env: POOL_TEST_KEY\n    priority: 1\n"+
		"  - name: secondary\n    endpoint: %s\n    deployment: gpt-4o\n    api_key_env: POOL_TEST_KEY\n    priority: 2\n", primary.URL, secondary.URL)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Prometheus: true, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	cfg := &config.Config{RPM: 600, TPM: 600_000, Model: config.Model{Kind: config.KindAzure}, DeploymentsFile: path}
	s := mustBuild(t, modelstack.Options{Config: cfg, Telemetry: tel, RetryOff: true})
	primary.Force(emulator.ForcedFault{Fault: emulator.Fault503})
	resp, err := s.Root().Complete(context.Background(), request())
	if err != nil || resp.Deployment != "secondary" {
		t.Fatalf("answered by %v, %v; want the secondary", resp, err)
	}
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	var lines []string
	for l := range strings.Lines(string(body)) {
		if strings.HasPrefix(l, "newsroom_pool_failovers_total{") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], `newsroom_deployment="primary"`) ||
		!strings.Contains(lines[0], `newsroom_pool_reason="server_error"`) || !strings.HasSuffix(lines[0], " 1") {
		t.Errorf("failover series %q, want one: primary, server_error, 1", lines)
	}
}

// TestBuild_PoolOptions: a stack over deployments given in Options (a
// benchmark's emulators, no file) builds the same pool, with the given
// stall timeout and failover hook.
func TestBuild_PoolOptions(t *testing.T) {
	primary := startEmulator(t, emulator.Config{APIKey: "right"})
	secondary := startEmulator(t, emulator.Config{APIKey: "right"})
	f := &pool.File{Path: "test", Deployments: []pool.Deployment{
		{Name: "primary", Endpoint: primary.URL, Deployment: "gpt-4o", APIKey: "right", Priority: 1, Weight: 1},
		{Name: "secondary", Endpoint: secondary.URL, Deployment: "gpt-4o", APIKey: "right", Priority: 2, Weight: 1}}}
	var left []string
	cfg := &config.Config{RPM: 600, TPM: 600_000, Model: config.Model{Kind: config.KindAzure}}
	s := mustBuild(t, modelstack.Options{Config: cfg, RetryOff: true,
		Pool: modelstack.PoolOptions{Deployments: f, OnFailover: func(from string, _ error) { left = append(left, from) }}})
	if s.Pool == nil || fmt.Sprint(s.Pool.Names()) != "[primary secondary]" {
		t.Fatalf("stack pool = %v, want the pool of primary and secondary", s.Pool)
	}
	primary.Force(emulator.ForcedFault{Fault: emulator.Fault503})
	resp, err := s.Root().Complete(context.Background(), request())
	if err != nil || resp.Deployment != "secondary" {
		t.Fatalf("answered by %v, %v; want the secondary", resp, err)
	}
	if fmt.Sprint(left) != "[primary]" {
		t.Errorf("OnFailover told %v, want [primary]", left)
	}
}
