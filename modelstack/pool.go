package modelstack

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/model/pool"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
	"github.com/newsroom-dev/newsroom/telemetry"
)

// Pool timeouts: a streamed answer silent for longer than PoolStallTimeout,
// or a whole answer slower than PoolAttemptTimeout, moves to the next
// deployment.
const (
	PoolStallTimeout   = 20 * time.Second
	PoolAttemptTimeout = 2 * time.Minute
)

// PoolOptions adjust a deployments pool for a benchmark; the zero value is
// the production pool.
type PoolOptions struct {
	// Deployments, when set, are the pool's deployments in place of the
	// configuration's DeploymentsFile (a benchmark's emulators).
	Deployments *pool.File
	// StallTimeout bounds a silent stream; 0 means PoolStallTimeout.
	StallTimeout time.Duration
	// CoolDown is how long an open breaker waits before its probe; 0 means
	// pool.DefaultCoolDown.
	CoolDown time.Duration
	// OnFailover, when set, is told of every failover besides the log.
	OnFailover func(from string, err error)
}

// buildPool loads the deployments file (or takes po.Deployments) and
// builds the pool. A bad file is ErrConfig naming the file, line and field;
// nothing is called.
func buildPool(cfg *config.Config, po PoolOptions, hc *http.Client, log *slog.Logger, tel *telemetry.Provider) (*pool.Built, error) {
	f := po.Deployments
	if f == nil {
		var err error
		if f, err = pool.LoadFile(cfg.DeploymentsFile, os.LookupEnv); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	var cred azcore.TokenCredential
	for _, d := range f.Deployments {
		if d.APIKey == "" {
			var err error
			if cred, err = provider.DefaultCredential(nil); err != nil {
				return nil, fmt.Errorf("%w: deployment %s has no api_key_env and there is no Entra ID credential: %w", ErrConfig, d.Name, err)
			}
			break
		}
	}
	stall := po.StallTimeout
	if stall <= 0 {
		stall = PoolStallTimeout
	}
	b, err := pool.Build(f, pool.BuildOptions{HTTPClient: hc, Credential: cred,
		OnAdapt: func(deployment, param, code string) {
			log.Warn("the deployment refused a parameter its model profile expected: adapted and sent again; set its model: in the deployments file to skip this",
				"deployment", deployment, "parameter", param, "code", code)
		},
		Quota: ratelimit.LimiterConfig{RequestsPerMinute: cfg.RPM, TokensPerMinute: cfg.TPM},
		Pool: pool.Config{StallTimeout: stall, AttemptTimeout: PoolAttemptTimeout, CoolDown: po.CoolDown,
			OnFailover: func(from string, err error) {
				log.Warn("deployment failed; the call moves to the next one", "deployment", from, "error", err)
				if po.OnFailover != nil {
					po.OnFailover(from, err)
				}
			},
			// Failovers and spill-overs by deployment and reason, in the
			// metrics and on the call's span.
			OnLeave: tel.RecordFailover,
			OnStateChange: func(name, from, to string) {
				log.Warn("deployment circuit breaker", "deployment", name, "from", from, "to", to)
			}}})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return b, nil
}

func poolInfo(b *pool.Built) Info {
	return Info{Model: "pool " + strings.Join(b.Names(), ", ") + " (Azure OpenAI deployments)", Kind: config.KindAzure}
}
