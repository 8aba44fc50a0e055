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
//
// The command line is built with cobra: one file per command (run.go,
// serve.go, ...), flag groups in flags.go, help layout in help.go and the
// mapping from errors to exit codes in exit.go.
package main

import (
	"context"
	"os"
)

func main() {
	ctx, stop := notifyInterrupt(context.Background())
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
