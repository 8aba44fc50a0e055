package pool

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/model/ratelimit"
)

// BuildOptions say how Build makes each deployment's client.
type BuildOptions struct {
	// HTTPClient is the process's shared client; nil means the provider's default.
	HTTPClient *http.Client
	// OnAdapt is told when a deployment refused a parameter its profile
	// expected (see provider.Config.OnAdapt), with the member's name.
	OnAdapt func(deployment, param, code string)
	// Credential authenticates the deployments without api_key_env (Entra
	// ID). Build fails when one needs it and it is nil.
	Credential azcore.TokenCredential
	// Quota is the limiter's default quota; a deployment's rpm and tpm
	// override it. Limiter, when set, is used instead (its buckets are the
	// deployments' names) and the file's quotas are not applied.
	Quota   ratelimit.LimiterConfig
	Limiter *ratelimit.Limiter
	// CompletionEstimate is the limiter's reservation for a request without
	// max_tokens; 0 means ratelimit.DefaultCompletionEstimate.
	CompletionEstimate int
	// Pool is the rest of the pool's configuration (timeouts, hooks); its
	// Members are replaced.
	Pool Config
}

// Built is a pool made from a deployments file.
type Built struct {
	*Pool
	// Limiter holds one bucket per deployment, named like it.
	Limiter *ratelimit.Limiter
	// ModelName is the model of the first deployment, for pricing.
	ModelName string
	// File is the deployments file the pool was built from.
	File *File
}

// Build makes a pool from a deployments file: each deployment is a quota
// limiter over an Azure OpenAI client. It makes no call.
func Build(f *File, opts BuildOptions) (*Built, error) {
	lim := opts.Limiter
	if lim == nil {
		q := opts.Quota
		q.Deployments = map[string]ratelimit.Quota{}
		for _, d := range f.Deployments {
			q.Deployments[d.Name] = ratelimit.Quota{RequestsPerMinute: d.RPM, TokensPerMinute: d.TPM}
		}
		lim = ratelimit.NewLimiter(q)
	}
	cfg := opts.Pool
	cfg.Members = nil
	for _, d := range f.Deployments {
		pc := provider.Config{Kind: provider.KindAzure, Endpoint: d.Endpoint, Deployment: d.Deployment, DeploymentModel: d.Model,
			APIVersion: d.APIVersion, API: d.API, APIKey: d.APIKey, HTTPClient: opts.HTTPClient}
		if opts.OnAdapt != nil {
			member := d.Name
			pc.OnAdapt = func(_, param, code string) { opts.OnAdapt(member, param, code) }
		}
		if d.APIKey == "" {
			if opts.Credential == nil {
				return nil, fmt.Errorf("pool: deployment %s has no api_key_env and no Entra ID credential is available", d.Name)
			}
			pc.Credential = opts.Credential
		}
		name := d.Name
		// The service's remaining-quota headers belong to this member's bucket.
		pc.OnRateLimitHeaders = func(_ string, r, t int) { lim.Observe(name, r, t) }
		prov, err := provider.New(pc)
		if err != nil {
			return nil, fmt.Errorf("pool: deployment %s: %w", d.Name, err)
		}
		var c model.Client = ratelimit.Wrap(prov, ratelimit.Config{Limiter: lim, Deployment: d.Name,
			DefaultCompletionEstimate: opts.CompletionEstimate})
		addr := ""
		if u, err := url.Parse(d.Endpoint); err == nil {
			addr = u.Host
		}
		cfg.Members = append(cfg.Members, Member{Name: d.Name, Client: c, Priority: d.Priority, Weight: d.Weight, Address: addr, Pool: d.Pool})
	}
	p, err := New(cfg)
	if err != nil {
		return nil, err
	}
	modelName := f.Deployments[0].Model
	if modelName == "" {
		modelName = f.Deployments[0].Deployment
	}
	return &Built{Pool: p, Limiter: lim, ModelName: modelName, File: f}, nil
}
