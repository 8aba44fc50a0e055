package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/model/pool"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
)

// Pool timeouts of the CLI and the service: a streamed answer silent for
// longer than poolStallTimeout, or a whole answer slower than
// poolAttemptTimeout, moves to the next deployment.
const (
	poolStallTimeout   = 20 * time.Second
	poolAttemptTimeout = 2 * time.Minute
)

// buildPool loads the deployments file and builds the pool. A bad file is a
// configuration error (exit 2) naming the file, line and field; nothing is
// called.
func (s *modelStack) buildPool(cfg *config.Config, hc *http.Client) (*pool.Built, error) {
	f, err := pool.LoadFile(cfg.DeploymentsFile, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	var cred azcore.TokenCredential
	for _, d := range f.Deployments {
		if d.APIKey == "" {
			if cred, err = provider.DefaultCredential(nil); err != nil {
				return nil, fmt.Errorf("%w: deployment %s has no api_key_env and there is no Entra ID credential: %w", errConfig, d.Name, err)
			}
			break
		}
	}
	b, err := pool.Build(f, pool.BuildOptions{HTTPClient: hc, Credential: cred,
		Quota: ratelimit.LimiterConfig{RequestsPerMinute: cfg.RPM, TokensPerMinute: cfg.TPM},
		Pool: pool.Config{StallTimeout: poolStallTimeout, AttemptTimeout: poolAttemptTimeout,
			OnFailover: func(from string, err error) {
				s.Logger.Warn("deployment failed; the call moves to the next one", "deployment", from, "error", err)
			},
			OnStateChange: func(name, from, to string) {
				s.Logger.Warn("deployment circuit breaker", "deployment", name, "from", from, "to", to)
			}}})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	s.Info = modelInfo{Model: "pool " + strings.Join(b.Names(), ", ") + " (Azure OpenAI deployments)", Kind: config.KindAzure}
	return b, nil
}
