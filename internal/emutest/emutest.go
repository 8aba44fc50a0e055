// Package emutest starts the Azure OpenAI emulator for a test and returns a
// provider client already pointed at it, the set-up every integration test
// of the model middleware shares.
package emutest

import (
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model/provider"
)

// Key is the API key the emulator requires and the client sends.
const Key = "emulator-test-key"

// Start serves an emulator with cfg (its APIKey set to Key) until the test
// ends and returns it with an Azure client for deployment. mod, when set,
// changes the provider configuration first (e.g. to add a rate-limit hook).
func Start(t testing.TB, cfg emulator.Config, deployment string, mod func(*provider.Config)) (*emulator.Running, *provider.Client) {
	t.Helper()
	cfg.APIKey = Key
	run, err := emulator.Start(cfg, emulator.Options{})
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { _ = run.Close() })
	// The client knows the model behind the deployment, as a configuration
	// naming it (AZURE_OPENAI_MODEL) does: GPT-5 unless cfg says otherwise.
	pc := provider.Config{Kind: provider.KindAzure, Endpoint: run.URL, Deployment: deployment, APIKey: Key, HTTPClient: run.Client(),
		DeploymentModel: ModelOf(cfg, deployment)}
	if mod != nil {
		mod(&pc)
	}
	p, err := provider.New(pc)
	if err != nil {
		t.Fatalf("provider: %v", err)
	}
	return run, p
}

// ModelOf is the model the emulator with cfg serves deployment with.
func ModelOf(cfg emulator.Config, deployment string) string {
	if m := cfg.Deployments[deployment]; m != "" {
		return m
	}
	if cfg.ModelName != "" {
		return cfg.ModelName
	}
	return emulator.DefaultModelName
}
