package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
)

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd, err := execute(ctx, args, stdin, stdout, stderr)
	return exitCode(ctx, cmd, err, stderr)
}

// execute runs one command line. It returns the command that was found and
// its error; an error raised before the command's own code started (an
// unknown command or flag, a bad flag value, wrong arguments) is a usage
// error.
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (*cobra.Command, error) {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	started := false
	markStart(root, &started)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && !started && !errors.Is(err, errUsage) && !errors.Is(err, errConfig) {
		err = fmt.Errorf("%w: %w", errUsage, err)
	}
	return cmd, err
}

// newRootCmd builds the whole command tree. A new command is one file with
// a newXxxCmd function, added here.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "newsroom",
		Short: "newsroom: a multi-agent news desk",
		Long: `newsroom: a multi-agent news desk.

A team of AI agents (a reporter, an editor, and with the selector team a
planner and a fact checker) turns a topic or a set of facts into an edited
news article. With no model configured, newsroom runs on its built-in offline
emulator.`,
		Example: `  newsroom run "Facts: the council approved a bike lane on Main Street."
  newsroom run --team selector --format markdown --task-file brief.txt
  newsroom serve --addr 127.0.0.1:8080`,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// newsroom alone: the overview on stderr, and a usage error.
			writeHelp(cmd.ErrOrStderr(), cmd)
			return errUsage
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetHelpFunc(func(c *cobra.Command, _ []string) { writeHelp(c.OutOrStdout(), c) })
	root.SetUsageFunc(func(c *cobra.Command) error { writeHelp(c.OutOrStderr(), c); return nil })
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w: %s", errUsage, cleanFlagError(err))
	})
	root.CompletionOptions.HiddenDefaultCmd = true
	root.AddCommand(
		newRunCmd(),
		newServeCmd(),
		newMCPCmd(),
		newEmulatorCmd(),
		newAuthCmd(),
		newKeysCmd(),
		newArticlesCmd(),
		newBenchCmd(),
		newHealthcheckCmd(),
		newTeamsCmd(),
		newEvalCmd(),
		newIntakeCmd(),
		newFunctionsCmd(),
	)
	return root
}

// markStart wraps every command's RunE so that *started is set when a
// command's own code begins: errors before that are usage errors.
func markStart(c *cobra.Command, started *bool) {
	if f := c.RunE; f != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			*started = true
			return f(cmd, args)
		}
	}
	c.Flags().SortFlags = false
	for _, sub := range c.Commands() {
		markStart(sub, started)
	}
}

// parseNumErr matches the strconv details pflag appends to a bad value.
var parseNumErr = regexp.MustCompile(`: (strconv\.\w+|time: invalid duration)[^\n]*$`)

// cleanFlagError turns pflag's message for a bad value into one line
// without strconv's internals.
func cleanFlagError(err error) string {
	msg := err.Error()
	if m := parseNumErr.FindStringSubmatch(msg); m != nil {
		msg = strings.TrimSuffix(msg, m[0])
		switch {
		case strings.Contains(m[1], "ParseInt"), strings.Contains(m[1], "ParseUint"):
			msg += ": want a whole number"
		case strings.Contains(m[1], "ParseFloat"):
			msg += ": want a number"
		case strings.Contains(m[1], "ParseBool"):
			msg += ": want true or false"
		default:
			msg += ": want a duration such as 30s or 5m"
		}
	}
	return msg
}

// noArgs rejects arguments, naming them.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}
