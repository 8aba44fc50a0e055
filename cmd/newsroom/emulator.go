package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/emulator"
)

// runEmulator serves the Azure OpenAI emulator until ctx is done.
func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: newsroom emulator [flags]\n\n"+
			"Serves Azure OpenAI's chat completions protocol with the newsroom's offline personas.\n\n")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:8090", "listen address (loopback only unless --allow-remote)")
	allowRemote := fs.Bool("allow-remote", false, "allow listening on a non-loopback address")
	apiKey := fs.String("api-key", "", "key clients must send as api-key or bearer token (default $NEWSROOM_EMULATOR_API_KEY; empty accepts any request)")
	useTLS := fs.Bool("tls", false, "serve HTTPS with a fresh self-signed certificate for 127.0.0.1 and localhost")
	certOut := fs.String("cert-out", "", "with --tls, write the certificate (PEM) to this file, for SSL_CERT_FILE")
	rpm := fs.Int("rpm", 0, "requests per minute per deployment (0: unlimited)")
	tpm := fs.Int("tpm", 0, "tokens per minute per deployment (0: unlimited)")
	ttft := fs.Duration("ttft", 0, "time to first token")
	tps := fs.Float64("tps", 0, "tokens per second while streaming (0: no pacing)")
	faultRate := fs.String("fault-rate", "", "random faults, e.g. 429=0.05,500=0.01,503=0.01,cut=0.01,stall=0.01,malformed=0.01,content_filter=0.01")
	stall := fs.Duration("stall", 2*time.Second, "how long a stall fault pauses")
	seed := fs.Uint64("seed", 1, "seed for the random faults")
	modelName := fs.String("model-name", emulator.DefaultModelName, "model name the responses report (also picks the tokenizer)")
	contextWindow := fs.Int("context-window", emulator.DefaultContextWindow, "context length; longer prompts get context_length_exceeded")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: emulator takes no arguments, got %q", errUsage, strings.Join(fs.Args(), " "))
	}
	if !*allowRemote && !isLoopback(*addr) {
		return fmt.Errorf("%w: --addr %s is not a loopback address; pass --allow-remote to expose the emulator", errUsage, *addr)
	}
	switch {
	case *rpm < 0 || *tpm < 0:
		return fmt.Errorf("%w: --rpm and --tpm must not be negative", errUsage)
	case *ttft < 0 || *tps < 0 || *stall < 0:
		return fmt.Errorf("%w: --ttft, --tps and --stall must not be negative", errUsage)
	case *contextWindow <= 0:
		return fmt.Errorf("%w: --context-window must be positive", errUsage)
	case *certOut != "" && !*useTLS:
		return fmt.Errorf("%w: --cert-out needs --tls", errUsage)
	}
	rates, err := emulator.ParseFaultRates(*faultRate)
	if err != nil {
		return fmt.Errorf("%w: --fault-rate: %w", errUsage, err)
	}
	key := *apiKey
	if key == "" {
		key = os.Getenv("NEWSROOM_EMULATOR_API_KEY")
	}

	srv, err := emulator.Start(emulator.Config{
		APIKey:        key,
		ModelName:     *modelName,
		ContextWindow: *contextWindow,
		Quota:         emulator.Quota{RequestsPerMinute: *rpm, TokensPerMinute: *tpm},
		Latency:       emulator.Latency{TimeToFirstToken: *ttft, TokensPerSecond: *tps},
		Faults:        emulator.Faults{Rates: rates, Stall: *stall},
		Seed:          *seed,
		MaxRecorded:   -1, // a long-running server keeps no request log
	}, emulator.Options{Addr: *addr, TLS: *useTLS})
	if err != nil {
		return err
	}
	if *certOut != "" {
		if err := os.WriteFile(*certOut, srv.CertPEM(), 0o644); err != nil {
			_ = srv.Close()
			return fmt.Errorf("emulator: writing certificate: %w", err)
		}
	}

	fmt.Fprintf(stdout, "newsroom emulator: serving Azure OpenAI chat completions on %s\n", srv.URL)
	fmt.Fprintf(stdout, "  Azure:  AZURE_OPENAI_ENDPOINT=%s AZURE_OPENAI_DEPLOYMENT=<any name> OPENAI_API_VERSION=2024-10-21\n", srv.URL)
	fmt.Fprintf(stdout, "  OpenAI: OPENAI_BASE_URL=%s/v1\n", srv.URL)
	if key == "" {
		fmt.Fprintln(stdout, "  No API key required.")
	} else {
		fmt.Fprintln(stdout, "  An API key is required (api-key header or bearer token).")
	}
	if *certOut != "" {
		fmt.Fprintf(stdout, "  Certificate written to %s (set SSL_CERT_FILE to it).\n", *certOut)
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
