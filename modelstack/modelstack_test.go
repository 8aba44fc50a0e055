package modelstack_test

import (
	"context"
	"errors"
	"testing"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/modelstack"
)

func request() *model.Request {
	return &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "Write one line about otters."}}}
}

func mustBuild(t *testing.T, opts modelstack.Options) *modelstack.Stack {
	t.Helper()
	s, err := modelstack.Build(context.Background(), opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// startEmulator serves an Azure-compatible emulator with a key and a quota.
func startEmulator(t *testing.T, cfg emulator.Config) *emulator.Running {
	t.Helper()
	em, err := emulator.Start(cfg, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	return em
}

func azure(em *emulator.Running, key string) *config.Config {
	return &config.Config{RPM: 600, TPM: 600_000, Model: config.Model{Kind: config.KindAzure, Endpoint: em.URL,
		Deployment: "gpt-4o", APIKey: config.Secret(key)}}
}

func TestBuild_OfflineEmulator(t *testing.T) {
	t.Parallel()
	s := mustBuild(t, modelstack.Options{Config: &config.Config{Model: config.Model{Kind: config.KindEmulator}}})
	if !s.Info.Emulated || s.Emulator == nil || s.Info.Deployment == "" {
		t.Fatalf("info = %+v", s.Info)
	}
	c, err := s.Client("")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Complete(context.Background(), request())
	if err != nil || resp.Content == "" {
		t.Fatalf("Complete = %+v, %v", resp, err)
	}
	if resp.Usage.CostUSD <= 0 {
		t.Errorf("the answer is not priced: %+v", resp.Usage)
	}
	if _, err := s.Client(s.Info.Deployment); err != nil {
		t.Errorf("Client(%q) = %v", s.Info.Deployment, err)
	}
	if _, err := s.Client("gpt-35-elsewhere"); !errors.Is(err, modelstack.ErrUnknownDeployment) {
		t.Errorf("Client of an unknown deployment = %v, want ErrUnknownDeployment", err)
	}
	if err := s.Ready(context.Background()); err != nil {
		t.Errorf("Ready = %v", err)
	}
}

func TestBuild_LimiterLearnsTheServiceHeaders(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Config{APIKey: "right", Quota: emulator.Quota{RequestsPerMinute: 1000, TokensPerMinute: 1_000_000}})
	// The configuration says far more than the service allows: the
	// service's remaining-quota headers must reach the limiter.
	cfg := azure(em, "right")
	cfg.RPM, cfg.TPM = 100_000, 100_000_000
	s := mustBuild(t, modelstack.Options{Config: cfg})
	before := s.Limiter.Stats("gpt-4o").RequestsAvailable
	if _, err := s.Root().Complete(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	after := s.Limiter.Stats("gpt-4o").RequestsAvailable
	if after >= 1000 || after >= before {
		t.Errorf("requests available %d before, %d after one call; want at most the service's 1000 after", before, after)
	}
}

func TestStack_ReadyFollowsTheLatestCall(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Config{APIKey: "right"})
	wrong := mustBuild(t, modelstack.Options{Config: azure(em, "wrong"), RetryOff: true})
	if err := wrong.Ready(context.Background()); err != nil {
		t.Fatalf("Ready before any call = %v", err)
	}
	if _, err := wrong.Root().Complete(context.Background(), request()); err == nil {
		t.Fatal("a call with a wrong key succeeded")
	}
	if err := wrong.Ready(context.Background()); !errors.Is(err, modelstack.ErrCredential) {
		t.Errorf("Ready after a refused call = %v, want ErrCredential", err)
	}
	right := mustBuild(t, modelstack.Options{Config: azure(em, "right")})
	if _, err := right.Root().Complete(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	if err := right.Ready(context.Background()); err != nil {
		t.Errorf("Ready after a good call = %v", err)
	}
}

func TestStack_RunClientCarriesTheBudget(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, emulator.Config{APIKey: "right"})
	s := mustBuild(t, modelstack.Options{Config: azure(em, "right")})
	_, err := s.RunClient(0.000001, 0).Complete(context.Background(), request())
	if _, stop := model.AsStop(err); !stop {
		t.Errorf("a call over the run budget = %v, want a budget stop", err)
	}
	if _, err := s.RunClient(0, 0).Complete(context.Background(), request()); err != nil {
		t.Errorf("a call without budget = %v", err)
	}
}

func TestBuild_ConfigErrors(t *testing.T) {
	t.Parallel()
	if _, err := modelstack.Build(context.Background(), modelstack.Options{}); !errors.Is(err, modelstack.ErrConfig) {
		t.Errorf("no config = %v", err)
	}
	cfg := &config.Config{Cache: "floppy", Model: config.Model{Kind: config.KindEmulator}}
	if _, err := modelstack.Build(context.Background(), modelstack.Options{Config: cfg}); !errors.Is(err, modelstack.ErrConfig) {
		t.Errorf("unknown cache = %v, want ErrConfig", err)
	}
}
