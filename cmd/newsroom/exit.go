package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes of every newsroom command. exitCode is the one place that maps
// errors to them.
const (
	exitOK          = 0
	exitRunFailed   = 1
	exitUsage       = 2 // a usage or configuration error
	exitInterrupted = 130
)

// errUsage marks errors in how the command was called: exit code 2, and a
// pointer to the command's help.
var errUsage = errors.New("usage error")

// errConfig marks configuration errors: exit code 2.
var errConfig = errors.New("configuration error")

// errRunFailed marks a run that ended with an error: exit code 1 (the error
// has already been reported).
var errRunFailed = errors.New("run failed")

// usageErrorf returns a usage error with a message.
func usageErrorf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

// errInterrupt is the cause of the context notifyInterrupt cancels.
type errInterrupt struct{ sig os.Signal }

func (e errInterrupt) Error() string { return "interrupted by " + e.sig.String() }

// notifyInterrupt returns a context cancelled, with an errInterrupt cause,
// by the first SIGINT or SIGTERM. After that first signal the default
// handling is restored, so a second Ctrl-C ends the process at once.
func notifyInterrupt(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(errInterrupt{sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// interrupted reports whether ctx was cancelled by a signal.
func interrupted(ctx context.Context) bool {
	var ei errInterrupt
	return errors.As(context.Cause(ctx), &ei)
}

// exitCode reports err on stderr and returns the process's exit code: 0
// done, 1 run failed, 2 usage or configuration error, 130 interrupted. cmd is
// the command that ran (for the pointer to its help); it may be nil.
func exitCode(ctx context.Context, cmd *cobra.Command, err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return exitOK
	case interrupted(ctx):
		// What was written so far stays; the run's own error (context
		// canceled) says nothing more than this.
		fmt.Fprintln(stderr, "newsroom: interrupted")
		return exitInterrupted
	case errors.Is(err, errRunFailed):
		return exitRunFailed
	case errors.Is(err, errUsage):
		msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
		if msg != errUsage.Error() {
			fmt.Fprintf(stderr, "newsroom: %s\n", msg)
		}
		path := "newsroom"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "see '%s --help'\n", path)
		return exitUsage
	case errors.Is(err, errConfig):
		fmt.Fprintf(stderr, "newsroom: %s\n", strings.TrimPrefix(err.Error(), errConfig.Error()+": "))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "newsroom: %v\n", err)
		return exitRunFailed
	}
}
