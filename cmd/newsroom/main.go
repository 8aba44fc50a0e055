// Command newsroom runs a team of AI agents that turns a topic or a set of
// facts into an edited news article, through Azure OpenAI, an
// OpenAI-compatible endpoint, or the built-in offline emulator.
//
//	newsroom run [flags] TASK      write an article in the terminal
//	newsroom serve [flags]         the web service and page
//	newsroom emulator [flags]      the Azure OpenAI emulator on loopback
//	newsroom auth check            which Azure credential works
//	newsroom keys create|list|revoke
//	newsroom bench quota|overhead|concurrency|cache
//	newsroom healthcheck --url URL
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// errUsage marks errors in how the command was called: exit code 2.
var errUsage = errors.New("usage error")

// errConfig marks configuration errors: exit code 2.
var errConfig = errors.New("configuration error")

// errRunFailed marks a run that ended with an error: exit code 1 (the error
// has already been reported).
var errRunFailed = errors.New("run failed")

const usage = `newsroom: a multi-agent news desk

Usage:
  newsroom run [--team roundrobin|selector] [--format text|json|markdown] [--max-messages N] TASK
  newsroom serve [--addr 127.0.0.1:8080] [--db newsroom.db | --database-url postgres://...] [--workers N]
  newsroom emulator [--addr 127.0.0.1:8090] [--api-key KEY]
  newsroom auth check
  newsroom keys create --name NAME | keys list | keys revoke ID
  newsroom bench quota|overhead|concurrency|cache [flags]
  newsroom healthcheck [--url http://127.0.0.1:8080/healthz]

Run "newsroom COMMAND -h" for a command's flags.
With no model configured, newsroom runs on its built-in offline emulator.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command and maps its error to an exit code: 0 done, 1 run
// failed, 2 usage or configuration error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var cmd func(context.Context, []string, io.Writer, io.Writer) error
	switch args[0] {
	case "run":
		cmd = runRun
	case "serve":
		cmd = runServe
	case "emulator":
		cmd = runEmulator
	case "auth":
		cmd = runAuth
	case "keys":
		cmd = runKeys
	case "bench":
		cmd = runBench
	case "healthcheck":
		cmd = runHealthcheck
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "newsroom: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := cmd(ctx, args[1:], stdout, stderr)
	return exitCode(err, stderr)
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errRunFailed):
		return 1
	case errors.Is(err, errUsage), errors.Is(err, errConfig):
		if msg := err.Error(); msg != errUsage.Error() { // flag.ErrHelp and friends print their own text
			fmt.Fprintf(stderr, "newsroom: %v\n", err)
		}
		return 2
	default:
		fmt.Fprintf(stderr, "newsroom: %v\n", err)
		return 1
	}
}
