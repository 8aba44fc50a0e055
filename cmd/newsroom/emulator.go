package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/emulator"
)

// emulatorOptions are the flags of `newsroom emulator`.
type emulatorOptions struct {
	addr          string
	allowRemote   bool
	apiKey        string
	useTLS        bool
	certOut       string
	rpm, tpm      int
	ttft          time.Duration
	tps           float64
	faultRate     string
	stall         time.Duration
	seed          uint64
	modelName     string
	contextWindow int
}

func newEmulatorCmd() *cobra.Command {
	o := &emulatorOptions{}
	cmd := &cobra.Command{
		Use:   "emulator [flags]",
		Short: "Serve the Azure OpenAI emulator on loopback",
		Long: `Serve Azure OpenAI's chat completions protocol with the newsroom's offline
personas, for tests, demos and benchmarks. Its answers are not written by a
language model.`,
		Example: `  newsroom emulator --addr 127.0.0.1:8090
  newsroom emulator --rpm 60 --tpm 10000 --ttft 200ms --tps 80
  newsroom emulator --fault-rate 429=0.05,500=0.01 --seed 7`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serveEmulator(cmd, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8090", "listen address (loopback only unless --allow-remote)")
	fs.StringVar(&o.apiKey, "api-key", "", "key clients must send as api-key or bearer token (default $NEWSROOM_EMULATOR_API_KEY; empty accepts any request)")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow listening on a non-loopback address")
	fs.BoolVar(&o.useTLS, "tls", false, "serve HTTPS with a fresh self-signed certificate for 127.0.0.1 and localhost")
	fs.StringVar(&o.certOut, "cert-out", "", "with --tls, write the certificate (PEM) to this file, for SSL_CERT_FILE")
	fs.StringVar(&o.modelName, "model", emulator.DefaultModelName, "model behind every deployment: a GPT-5 (reasoning) model by default, or e.g. gpt-4o; it decides which parameters requests may carry, and the responses report it")
	fs.StringVar(&o.modelName, "model-name", emulator.DefaultModelName, "the same as --model")
	fs.IntVar(&o.contextWindow, "context-window", 0, "context length in tokens; longer prompts get context_length_exceeded (0: the model's)")
	fs.IntVar(&o.rpm, "rpm", 0, "requests per minute per deployment (0: unlimited)")
	fs.IntVar(&o.tpm, "tpm", 0, "tokens per minute per deployment (0: unlimited)")
	fs.DurationVar(&o.ttft, "ttft", 0, "time to first token")
	fs.Float64Var(&o.tps, "tps", 0, "tokens per second while streaming (0: no pacing)")
	fs.StringVar(&o.faultRate, "fault-rate", "", "random faults, e.g. 429=0.05,500=0.01,503=0.01,cut=0.01,stall=0.01,malformed=0.01,content_filter=0.01")
	fs.DurationVar(&o.stall, "stall", 2*time.Second, "how long a stall fault pauses")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for the random faults")
	setGroup(fs, groupQuota, "rpm", "tpm", "ttft", "tps")
	setGroup(fs, groupOther, "fault-rate", "stall", "seed")
	return cmd
}

// serveEmulator serves the Azure OpenAI emulator until ctx is done.
func serveEmulator(cmd *cobra.Command, o *emulatorOptions) error {
	ctx, stdout := cmd.Context(), cmd.OutOrStdout()
	if !o.allowRemote && !isLoopback(o.addr) {
		return usageErrorf("--addr %s is not a loopback address; pass --allow-remote to expose the emulator", o.addr)
	}
	switch {
	case o.rpm < 0 || o.tpm < 0:
		return usageErrorf("--rpm and --tpm must not be negative")
	case o.ttft < 0 || o.tps < 0 || o.stall < 0:
		return usageErrorf("--ttft, --tps and --stall must not be negative")
	case o.contextWindow < 0:
		return usageErrorf("--context-window must not be negative")
	case o.certOut != "" && !o.useTLS:
		return usageErrorf("--cert-out needs --tls")
	}
	rates, err := emulator.ParseFaultRates(o.faultRate)
	if err != nil {
		return usageErrorf("--fault-rate: %v", err)
	}
	key := o.apiKey
	if key == "" {
		key = os.Getenv("NEWSROOM_EMULATOR_API_KEY")
	}

	srv, err := emulator.Start(emulator.Config{
		APIKey:        key,
		ModelName:     o.modelName,
		ContextWindow: o.contextWindow,
		Quota:         emulator.Quota{RequestsPerMinute: o.rpm, TokensPerMinute: o.tpm},
		Latency:       emulator.Latency{TimeToFirstToken: o.ttft, TokensPerSecond: o.tps},
		Faults:        emulator.Faults{Rates: rates, Stall: o.stall},
		Seed:          o.seed,
		MaxRecorded:   -1, // a long-running server keeps no request log
	}, emulator.Options{Addr: o.addr, TLS: o.useTLS})
	if err != nil {
		return err
	}
	if o.certOut != "" {
		if err := os.WriteFile(o.certOut, srv.CertPEM(), 0o644); err != nil {
			_ = srv.Close()
			return fmt.Errorf("emulator: writing certificate: %w", err)
		}
	}

	fmt.Fprintf(stdout, "newsroom emulator: serving Azure OpenAI chat completions on %s\n", srv.URL)
	fmt.Fprintf(stdout, "  Model:  %s\n", o.modelName)
	fmt.Fprintf(stdout, "  Azure:  AZURE_OPENAI_ENDPOINT=%s AZURE_OPENAI_DEPLOYMENT=<any name> OPENAI_API_VERSION=v1\n", srv.URL)
	fmt.Fprintf(stdout, "  OpenAI: OPENAI_BASE_URL=%s/v1\n", srv.URL)
	if key == "" {
		fmt.Fprintln(stdout, "  No API key required.")
	} else {
		fmt.Fprintln(stdout, "  An API key is required (api-key header or bearer token).")
	}
	if o.certOut != "" {
		fmt.Fprintf(stdout, "  Certificate written to %s (set SSL_CERT_FILE to it).\n", o.certOut)
	}
	fmt.Fprintln(stdout, "  The answers come from fixed newsroom personas, not from a language model. Ctrl-C stops.")

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("emulator: shutting down: %w", err)
	}
	return nil
}

// isLoopback reports whether a listen address only accepts local
// connections. An empty host listens on every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
