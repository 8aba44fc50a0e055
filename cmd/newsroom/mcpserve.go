package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/apiclient"
	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/protocols/mcpserver"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/store"
)

// newMCPCmd is `newsroom mcp`: newsroom as an MCP server over stdio, for a
// desktop assistant that launches it. It runs the service in process (the
// same flags as serve, listening on loopback only) and serves its tools to
// the client on standard input and output as the local user.
func newMCPCmd() *cobra.Command {
	o := &serveOptions{}
	cmd := serveCmd(o)
	cmd.Use = "mcp [flags]"
	cmd.Short = "Serve newsroom's tools to an MCP client over stdio"
	cmd.Long = `Serve newsroom as a Model Context Protocol server on standard input and
output, for an assistant (Claude Desktop, an IDE) that launches it. Its tools:
write_article (a desk writes an article; approval "none" by default, since you
run it yourself), get_run, list_desks, list_articles, get_article; published
articles are resources newsroom://articles/{id}.

It runs the newsroom service in this process with the run store and model of
serve (the same flags and environment), listening on 127.0.0.1 with a free
port, and acts as the local user (an admin key issued for the session and
revoked when it ends). Logs go to standard error.`
	cmd.Example = `  # in an MCP client's configuration: {"command": "newsroom", "args": ["mcp"]}
  newsroom mcp --teams-dir ./desks`
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if !cmd.Flags().Changed("addr") {
			o.addr = "127.0.0.1:0"
		}
		stdin, stdout := cmd.InOrStdin(), cmd.OutOrStdout()
		// Standard output belongs to the protocol: the service's own lines go
		// to standard error.
		cmd.SetOut(cmd.ErrOrStderr())
		o.onServing = func(ctx context.Context, srv *server.Server, st store.Store) error {
			return serveMCPStdio(ctx, srv, st, stdin, stdout)
		}
		return serveAPI(cmd, o)
	}
	return cmd
}

func serveMCPStdio(ctx context.Context, srv *server.Server, st store.Store, stdin io.Reader, stdout io.Writer) error {
	secret, k, err := server.IssueRoleKey(ctx, st, "newsroom mcp (local user)", identity.RoleAdmin, time.Now())
	if err != nil {
		return fmt.Errorf("newsroom mcp: a key for the local user: %w", err)
	}
	defer func() { _ = st.RevokeKey(context.WithoutCancel(ctx), k.ID) }()
	api := apiclient.Handler(srv.Handler()).WithAuthorization("Bearer " + secret)
	s := mcpserver.New(mcpserver.Config{API: api, Version: buildVersion(), DefaultApproval: "none"})
	t := &mcp.IOTransport{Reader: io.NopCloser(stdin), Writer: nopWriteCloser{stdout}}
	if err := s.Run(ctx, t); err != nil && ctx.Err() == nil {
		return fmt.Errorf("newsroom mcp: %w", err)
	}
	return nil
}

// nopWriteCloser leaves standard output open when the session ends.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
