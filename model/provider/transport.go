package provider

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
)

// Requests go through azcore's pipeline, the same one azidentity and every
// Azure SDK client use, instead of the OpenAI SDK's request plumbing: newsroom
// encodes its own bodies and decodes its own answers, and the OpenAI SDK,
// pulled in only to send them, was a third of the product's build time. The
// pipeline brings the pieces worth reusing: the bearer token policy (token
// cache, refresh, continuous access evaluation challenges) and the rule that
// credentials only travel over TLS.

// Routes, relative to the base URL (OpenAI) or to the deployment (Azure).
const (
	chatRoute       = "chat/completions"
	embeddingsRoute = "embeddings"
)

// Pipeline module name and version, used by azcore's telemetry policy (which
// is switched off) and its log lines.
const (
	pipelineModule  = "newsroom/model/provider"
	pipelineVersion = "v1.0.0"
)

// newPipeline builds the pipeline of one client: a single attempt (the
// retry middleware above the client is the process's one retry policy),
// the given authentication policy (nil: none), and hc as the transport so
// the process's pooled connections are reused.
func newPipeline(hc *http.Client, auth policy.Policy) runtime.Pipeline {
	opts := &policy.ClientOptions{
		Transport: hc,
		Retry:     policy.RetryOptions{MaxRetries: -1},
		Telemetry: policy.TelemetryOptions{Disabled: true},
	}
	if auth != nil {
		opts.PerRetryPolicies = []policy.Policy{auth}
	}
	return runtime.NewPipeline(pipelineModule, pipelineVersion, runtime.PipelineOptions{}, opts)
}

// azureAuth is the authentication policy of an Azure client: the api-key
// header for a key, else Entra ID bearer tokens for Scope. Over plain http
// (loopback only: CheckEndpoint refused the rest) both are allowed
// explicitly, as azcore refuses credentials without TLS by default.
func azureAuth(apiKey string, cred azcore.TokenCredential, plainHTTP bool) policy.Policy {
	if apiKey != "" {
		return runtime.NewKeyCredentialPolicy(azcore.NewKeyCredential(apiKey), "api-key",
			&runtime.KeyCredentialPolicyOptions{InsecureAllowCredentialWithHTTP: plainHTTP})
	}
	return runtime.NewBearerTokenPolicy(cred, []string{Scope},
		&policy.BearerTokenOptions{InsecureAllowCredentialWithHTTP: plainHTTP})
}

// openAIAuth is the authentication policy of an OpenAI-compatible client:
// the key as a bearer token, or none without a key.
func openAIAuth(apiKey string, plainHTTP bool) policy.Policy {
	if apiKey == "" {
		return nil
	}
	return runtime.NewKeyCredentialPolicy(azcore.NewKeyCredential(apiKey), "Authorization",
		&runtime.KeyCredentialPolicyOptions{Prefix: "Bearer ", InsecureAllowCredentialWithHTTP: plainHTTP})
}

// baseOf is the endpoint's scheme, host and path without a trailing slash;
// its query and fragment are dropped, as a relative route would drop them.
func baseOf(u *url.URL) string {
	b := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return strings.TrimSuffix(b.String(), "/")
}

// routeURL is the URL of route for deployment (Azure:
// {endpoint}/openai/deployments/{deployment}/{route}?api-version=..., or
// {endpoint}/openai/v1/{route} for the v1 API, the deployment in the body) or of
// route under the base URL (OpenAI, where the model is named in the body).
func (c *Client) routeURL(route, deployment string) string {
	if route == responsesRoute {
		return c.responsesURL()
	}
	if c.kind == KindAzure && c.v1 {
		return c.base + "/openai/v1/" + route
	}
	if c.kind == KindAzure {
		return c.base + "/openai/deployments/" + url.PathEscape(deployment) + "/" + route + "?api-version=" + c.apiVersion
	}
	return c.base + "/" + route
}

// send posts body to route (for deployment) and returns the response with
// its body unread; the caller closes it. A response with an error status
// is read, closed and returned as a *model.Error, as is a transport failure.
// The rate-limit headers of every response go to the hook. With a request
// timeout, the timeout covers reading the body too, until it is closed.
func (c *Client) send(ctx context.Context, route, deployment string, body []byte, accept string) (*http.Response, error) {
	callCtx, cancel := ctx, context.CancelFunc(nil)
	if c.timeout > 0 {
		callCtx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	resp, err := c.do(callCtx, route, deployment, body, accept)
	c.observe(deployment, resp)
	if err == nil && resp.StatusCode >= http.StatusMultipleChoices {
		err = c.statusError(resp)
	}
	if err != nil {
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if cancel != nil {
			cancel()
		}
		return nil, c.mapError(ctx, err, resp)
	}
	if cancel != nil {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, route, deployment string, body []byte, accept string) (*http.Response, error) {
	req, err := runtime.NewRequest(ctx, http.MethodPost, c.routeURL(route, deployment))
	if err != nil {
		return nil, fmt.Errorf("provider: building the request: %w", err)
	}
	// The answer is read here, streamed or not, rather than buffered whole
	// by the pipeline first.
	runtime.SkipBodyDownload(req)
	req.Raw().Header.Set("Accept", accept)
	if err := req.SetBody(streaming.NopCloser(bytes.NewReader(body)), "application/json"); err != nil {
		return nil, fmt.Errorf("provider: setting the request body: %w", err)
	}
	return c.pl.Do(req)
}

// cancelOnClose ends a call's timeout when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
