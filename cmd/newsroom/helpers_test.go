package main

import (
	"context"
	"io"
	"strings"
)

// runIn runs one command line in this process, as main would, and returns
// the classified error (errUsage, errConfig, errRunFailed or another).
func runIn(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_, err := execute(ctx, args, strings.NewReader(""), stdout, stderr)
	return err
}

// The commands under test, called in this process with their arguments.
func runAuth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runIn(ctx, append([]string{"auth"}, args...), stdout, stderr)
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runIn(ctx, append([]string{"keys"}, args...), stdout, stderr)
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runIn(ctx, append([]string{"bench"}, args...), stdout, stderr)
}

func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runIn(ctx, append([]string{"emulator"}, args...), stdout, stderr)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runIn(ctx, append([]string{"serve"}, args...), stdout, stderr)
}
