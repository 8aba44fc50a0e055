package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/desk"
)

// deploymentsEnv lists deployments (or models) besides the configured one
// that team files may name, comma-separated.
const deploymentsEnv = "NEWSROOM_DEPLOYMENTS"

func newTeamsCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "teams",
		Short: "List, show, check and describe desks (team files)",
		Long: `A desk is a YAML team file: its agents with their prompts and deployments,
how the next speaker is chosen (roundrobin, selector or graph), and when the
run stops. newsroom ships three desks; more come from --team-file on run, or
--teams-dir on teams and serve.`,
		Example: `  newsroom teams list
  newsroom teams show selector > mydesk.yaml
  newsroom teams validate mydesk.yaml
  newsroom teams schema > team-file.schema.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			writeHelp(cmd.ErrOrStderr(), cmd)
			return errUsage
		},
	}
	cmd.PersistentFlags().StringVar(&dir, "teams-dir", "", "also load every *.yaml team file of this directory")
	registry := func() (*desk.Registry, error) { return loadRegistry(dir) }
	list := &cobra.Command{
		Use:   "list",
		Short: "List the desks: name, kind, agents, where they come from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := registry()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tAGENTS\tSOURCE\tDESCRIPTION")
			for _, d := range r.List() {
				var names []string
				for _, a := range d.Spec.Agents {
					names = append(names, a.Name)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Spec.Name, d.Spec.Kind, strings.Join(names, ","), d.Source, d.Spec.Description)
			}
			return tw.Flush()
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Print a desk's team file (start a new desk from a shipped one)",
		Args:  exactArgs(1, "show needs the desk's NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := registry()
			if err != nil {
				return err
			}
			d, ok := r.Get(args[0])
			if !ok {
				return usageErrorf("no desk is named %q; the desks are %s", args[0], strings.Join(r.Names(), ", "))
			}
			_, err = cmd.OutOrStdout().Write(d.YAML)
			return err
		},
	}
	validate := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check team files; print every problem as file:line:column",
		Args:  minArgs(1, "validate needs at least one FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := false
			for _, f := range args {
				d, err := desk.LoadFile(f, desk.LoadOptions{Deployments: deploymentsFromEnv()})
				if err != nil {
					bad = true
					fmt.Fprintln(cmd.ErrOrStderr(), strings.TrimPrefix(err.Error(), "desk: "))
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: desk %s (%s, %d agents)\n", f, d.Spec.Name, d.Spec.Kind, len(d.Spec.Agents))
			}
			if bad {
				return fmt.Errorf("%w: invalid team file", errConfig)
			}
			return nil
		},
	}
	schema := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of team files (for editor completion)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := cmd.OutOrStdout().Write(desk.Schema())
			return err
		},
	}
	cmd.AddCommand(list, show, validate, schema, newTeamsPinCmd())
	return cmd
}

func exactArgs(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s", msg)
		}
		return nil
	}
}

func minArgs(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf("%s", msg)
		}
		return nil
	}
}

// loadRegistry returns the shipped desks plus those of dir (if set); a bad
// file is a configuration error naming file:line:column.
func loadRegistry(dir string) (*desk.Registry, error) {
	r := desk.NewRegistry()
	if dir == "" {
		return r, nil
	}
	if err := r.LoadDir(dir, desk.LoadOptions{}); err != nil {
		return nil, teamFileError(err)
	}
	return r, nil
}

func teamFileError(err error) error {
	var fe *desk.FileError
	if errors.As(err, &fe) {
		return fmt.Errorf("%w: invalid team file:\n%w", errConfig, err)
	}
	return fmt.Errorf("%w: %w", errConfig, err)
}

// deploymentsFromEnv lists NEWSROOM_DEPLOYMENTS; nil when it is not set
// (then validate does not check deployment names).
func deploymentsFromEnv() []string {
	v, ok := os.LookupEnv(deploymentsEnv)
	if !ok {
		return nil
	}
	out := []string{}
	for d := range strings.SplitSeq(v, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// knownDeployments are the deployments a team file may name on this stack:
// any on the emulator (it serves every deployment); with a deployments file,
// its pools and deployments only (the pool routes nothing else, so
// NEWSROOM_DEPLOYMENTS does not apply); otherwise the stack's own and those
// listed in NEWSROOM_DEPLOYMENTS.
func knownDeployments(s *modelStack) []string {
	if s.Info.Emulated {
		return nil
	}
	if s.Pool != nil {
		return slices.Clone(s.Info.Deployments)
	}
	known := []string{}
	for _, d := range append(slices.Clone(s.Info.Deployments), s.Config.Model.Deployment, s.Config.Model.Model) {
		if d != "" && !slices.Contains(known, d) {
			known = append(known, d)
		}
	}
	return append(known, deploymentsFromEnv()...)
}
