package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/tool/mcp"
)

// newTeamsPinCmd is `newsroom teams pin FILE`: it starts the team file's MCP
// servers and writes the hash of each of their tools into the file, so that
// a server whose tools or descriptions change later is refused.
func newTeamsPinCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pin FILE",
		Short: "Record a hash of each MCP server's tools in a team file; a server that changes is then refused",
		Long: `Start the MCP servers a team file names, and write the SHA-256 of each of
their tools (name, description, parameters) into the entry that defines the
server, as pins. A run of the desk then refuses a server whose tools differ
from their pins, naming the tool. Run it again after checking a change.`,
		Args: exactArgs(1, "pin needs the team FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			data, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("%w: %w", errConfig, err)
			}
			pinned, err := desk.Pin(cmd.Context(), file, data, mcp.Options{}, nil)
			if err != nil {
				return fmt.Errorf("%w: %w", errConfig, err)
			}
			info, err := os.Stat(file)
			if err != nil {
				return fmt.Errorf("%w: %w", errConfig, err)
			}
			if err := os.WriteFile(file, pinned, info.Mode().Perm()); err != nil {
				return fmt.Errorf("%w: %w", errConfig, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: pinned the tools of its MCP servers\n", file)
			return nil
		},
	}
}
