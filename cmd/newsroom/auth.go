package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/model/provider"
)

// errNoCredential is returned by `auth check` when no credential of the
// chain could get a token: exit code 1.
var errNoCredential = errors.New("auth: no Azure credential could get a token")

// authCredential is one link of DefaultAzureCredential's chain, built on its own.
type authCredential struct {
	name string
	make func() (azcore.TokenCredential, error)
}

// authChain lists the credentials newsroom's DefaultAzureCredential tries, in order.
func authChain() []authCredential {
	return []authCredential{
		{"environment (service principal)", func() (azcore.TokenCredential, error) { return azidentity.NewEnvironmentCredential(nil) }},
		{"workload identity", func() (azcore.TokenCredential, error) {
			if os.Getenv("AZURE_FEDERATED_TOKEN_FILE") == "" {
				return nil, errors.New("AZURE_FEDERATED_TOKEN_FILE is not set (set by AKS workload identity with AZURE_TENANT_ID and AZURE_CLIENT_ID)")
			}
			return azidentity.NewWorkloadIdentityCredential(nil)
		}},
		{"managed identity", func() (azcore.TokenCredential, error) { return azidentity.NewManagedIdentityCredential(nil) }},
		{"Azure CLI", func() (azcore.TokenCredential, error) { return azidentity.NewAzureCLICredential(nil) }},
	}
}

// authResult is the outcome of one credential.
type authResult struct {
	name    string
	typ     string
	expires time.Time
	err     error
}

func newAuthCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth COMMAND [flags]",
		Short: "Check how newsroom authenticates to the model",
		RunE:  groupRunE,
	}
	var timeout time.Duration
	check := &cobra.Command{
		Use:   "check [flags]",
		Short: "Say which credential newsroom will use, or why none works",
		Long: `Say how newsroom will authenticate to the model: an API key (and where it
comes from), or for Entra ID which credential of DefaultAzureCredential's
chain gets a token for Azure OpenAI, or why each one fails. Keys and tokens
are never printed.`,
		Example: `  newsroom auth check
  newsroom auth check --env-file prod.env --timeout 30s`,
		Args: noArgs,
	}
	check.Flags().DurationVar(&timeout, "timeout", 15*time.Second, "how long each credential may take to get a token")
	mf := addModelFlags(check.Flags())
	check.RunE = func(cmd *cobra.Command, _ []string) error {
		return runAuthCheck(cmd.Context(), mf, timeout, cmd.OutOrStdout())
	}
	cmd.AddCommand(check)
	return cmd
}

// runAuthCheck implements `newsroom auth check`: it says how newsroom will
// authenticate to the model, and for Entra ID which credential of the chain
// gets a token for the Cognitive Services scope, or why each one fails.
// Keys and tokens are never printed.
func runAuthCheck(ctx context.Context, mf *modelFlags, timeout time.Duration, stdout io.Writer) error {
	if timeout <= 0 {
		return usageErrorf("--timeout must be positive")
	}
	cfg, err := loadConfig(ctx, mf)
	if err != nil {
		return err
	}

	m := cfg.Model
	switch m.Kind {
	case config.KindEmulator:
		fmt.Fprintln(stdout, "model: none configured; newsroom run uses the built-in offline emulator (set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_DEPLOYMENT to use Azure OpenAI)")
		fmt.Fprintln(stdout, "Entra ID credentials, in case you configure Azure OpenAI without an API key:")
	case config.KindOpenAI:
		base := m.BaseURL
		if base == "" {
			base = provider.DefaultBaseURL
		}
		fmt.Fprintf(stdout, "model: OpenAI-compatible endpoint %s, model %s (from %s)\n", base, m.Model, cfg.Source(config.ModelName))
		if m.APIKey.IsSet() {
			fmt.Fprintf(stdout, "auth: api key (from %s)\n", cfg.Source(config.APIKey))
		} else {
			fmt.Fprintln(stdout, "auth: none (no API key configured; fine for a local server without authentication)")
		}
		return nil
	case config.KindAzure:
		fmt.Fprintf(stdout, "model: Azure OpenAI %s, deployment %s, api-version %s\n", m.Endpoint, m.Deployment, m.APIVersion)
		if m.APIKey.IsSet() {
			fmt.Fprintf(stdout, "auth: api key (from %s)\n", cfg.Source(config.APIKey))
			return nil
		}
		fmt.Fprintf(stdout, "auth: Entra ID (no API key configured), scope %s\n", provider.Scope)
	}

	results := checkCredentials(ctx, authChain(), timeout)
	var chosen string
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(stdout, "  FAIL %-32s %s\n", r.name, firstLine(r.err))
			continue
		}
		fmt.Fprintf(stdout, "  OK   %-32s %s, token expires %s (in %s)\n", r.name, r.typ,
			r.expires.UTC().Format(time.RFC3339), time.Until(r.expires).Round(time.Minute))
		if chosen == "" {
			chosen = r.name
		}
	}
	if chosen == "" {
		fmt.Fprintln(stdout, "No credential worked. Sign in with `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or run where a managed identity is assigned; or configure AZURE_OPENAI_API_KEY.")
		return errNoCredential
	}
	fmt.Fprintf(stdout, "newsroom will use: %s (the first that works, in DefaultAzureCredential's order)\n", chosen)
	return nil
}

// checkCredentials asks every credential for a token at once, each bounded
// by timeout (a managed identity probe on a machine without one can take
// that long), and returns the results in chain order.
func checkCredentials(ctx context.Context, chain []authCredential, timeout time.Duration) []authResult {
	results := make([]authResult, len(chain))
	var wg sync.WaitGroup
	for i, c := range chain {
		wg.Go(func() {
			results[i] = checkCredential(ctx, c, timeout)
		})
	}
	wg.Wait()
	return results
}

func checkCredential(ctx context.Context, c authCredential, timeout time.Duration) authResult {
	r := authResult{name: c.name}
	cred, err := c.make()
	if err != nil {
		r.err = fmt.Errorf("not configured: %w", err)
		return r
	}
	r.typ = fmt.Sprintf("%T", cred)
	r.typ = strings.TrimPrefix(r.typ, "*azidentity.")
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{provider.Scope}})
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no token within %s: %w", timeout, err)
		}
		r.err = err
		return r
	}
	r.expires = tok.ExpiresOn
	return r
}

// firstLine keeps the first meaningful line of an azidentity error, which
// often continues with troubleshooting links.
func firstLine(err error) string {
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "---") {
			if len(line) > 240 {
				line = line[:240] + "..."
			}
			return line
		}
	}
	return "failed"
}
