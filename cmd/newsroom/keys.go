package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/store"
)

// newKeysCmd manages the service's API keys: create prints a key once (only
// its hash is stored), list shows them, revoke disables one.
func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys COMMAND [flags]",
		Short: "Create, list and revoke the service's API keys",
		Long: `Create, list and revoke the API keys of the service. A key is printed once,
when it is created; the store keeps only its hash.`,
		Example: `  newsroom keys create --name alice
  newsroom keys list
  newsroom keys revoke key_abc123`,
		RunE: groupRunE,
	}
	cmd.AddCommand(newKeysCreateCmd(), newKeysListCmd(), newKeysRevokeCmd())
	return cmd
}

// groupRunE is the RunE of a command that only groups subcommands: it is
// reached with no subcommand or an unknown one.
func groupRunE(cmd *cobra.Command, args []string) error {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	want := strings.Join(names, ", ")
	if len(args) == 0 {
		return usageErrorf("%s needs a command: %s", cmd.CommandPath(), want)
	}
	return usageErrorf("unknown command %q for %s: want %s", args[0], cmd.CommandPath(), want)
}

func newKeysCreateCmd() *cobra.Command {
	var name string
	var admin bool
	var roleName string
	cmd := &cobra.Command{
		Use:   "create --name NAME [flags]",
		Short: "Create a key and print it once",
		Long: `Create an API key and print it once. The key has a role, each including the
ones before it: reader (sees its runs), reporter (also submits and cancels its
own runs), editor-in-chief (also sees every run and decides on runs awaiting
approval), admin (also lists keys and cancels any run).`,
		Example: "  newsroom keys create --name alice\n  newsroom keys create --name chief --role editor-in-chief\n  newsroom keys create --name ops --role admin",
		Args:    noArgs,
	}
	sf := addStoreFlags(cmd.Flags(), true)
	cmd.Flags().StringVar(&name, "name", "", "who the key is for (required)")
	cmd.Flags().StringVar(&roleName, "role", "reporter", "what the key may do: reader, reporter, editor-in-chief or admin")
	cmd.Flags().BoolVar(&admin, "admin", false, "same as --role admin")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if name == "" {
			return usageErrorf("keys create needs --name NAME")
		}
		role, err := identity.ParseRole(roleName)
		if err != nil {
			return usageErrorf("--role must be reader, reporter, editor-in-chief or admin, not %q", roleName)
		}
		if admin {
			if cmd.Flags().Changed("role") && role != identity.RoleAdmin {
				return usageErrorf("--admin and --role %s contradict each other", role)
			}
			role = identity.RoleAdmin
		}
		st, _, err := sf.open(cmd.Context())
		if err != nil {
			return err
		}
		defer st.Close()
		secret, k, err := server.IssueRoleKey(cmd.Context(), st, name, role, time.Now())
		if err != nil {
			return fmt.Errorf("keys create: %w", err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "Created %s key %s for %q. It is shown once and cannot be recovered; store it now.\n", role, k.ID, k.Name)
		fmt.Fprintln(cmd.OutOrStdout(), secret)
		return nil
	}
	return cmd
}

func newKeysListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Short:   "List the keys (never the secrets)",
		Example: `  newsroom keys list --db newsroom.db`,
		Args:    noArgs,
	}
	sf := addStoreFlags(cmd.Flags(), true)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		st, _, err := sf.open(cmd.Context())
		if err != nil {
			return err
		}
		defer st.Close()
		keys, err := st.ListKeys(cmd.Context())
		if err != nil {
			return fmt.Errorf("keys list: %w", err)
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if !k.RevokedAt.IsZero() {
				revoked = k.RevokedAt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, server.RoleOf(k), k.CreatedAt.Local().Format(time.DateTime), revoked)
		}
		return tw.Flush()
	}
	return cmd
}

func newKeysRevokeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "revoke [flags] ID",
		Short:   "Revoke a key: requests with it are refused from now on",
		Example: `  newsroom keys revoke key_abc123`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("keys revoke needs one key ID (see keys list)")
			}
			return nil
		},
	}
	sf := addStoreFlags(cmd.Flags(), true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		st, _, err := sf.open(cmd.Context())
		if err != nil {
			return err
		}
		defer st.Close()
		id := args[0]
		if err := st.RevokeKey(cmd.Context(), id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return usageErrorf("no key %q (see keys list)", id)
			}
			return fmt.Errorf("keys revoke: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Revoked %s.\n", id)
		return nil
	}
	return cmd
}
