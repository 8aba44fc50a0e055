package desk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/tool/mcp"
)

// MCP servers of a desk. An agent's file entry lists the Model Context
// Protocol servers whose tools it may call; a server is one process (or one
// HTTP session) shared by every agent that lists it, so it is connected once
// (ConnectMCP) and closed when the run, or the service, ends.

// MCPServers lists the servers the desk's agents name, each once, in the
// order they first appear, with the definition its file gives.
func (s *Spec) MCPServers() []mcp.Spec {
	var out []mcp.Spec
	for _, a := range s.Agents {
		for _, m := range a.MCP {
			if m.Command == "" && m.URL == "" {
				continue // a reference to a server another entry defines
			}
			if slices.ContainsFunc(out, func(have mcp.Spec) bool { return have.Name == m.Name }) {
				continue
			}
			out = append(out, mcp.Spec{Name: m.Name, Command: m.Command, Args: slices.Clone(m.Args), URL: m.URL})
		}
	}
	return out
}

// MCP holds a desk's connected MCP servers. The zero value and nil hold
// none.
type MCP struct {
	servers []*mcp.Server
}

// ConnectMCP starts or reaches every server the desk's agents list. ctx
// bounds the start-up; the servers live until Close (see mcp.Connect), and
// one that dies is restarted by the next call to it. On an
// error the servers already connected are closed. Call Close when the run,
// or the service, ends.
func ConnectMCP(ctx context.Context, s *Spec, opts mcp.Options, log *slog.Logger) (*MCP, error) {
	if log == nil {
		log = slog.Default()
	}
	if opts.Logger == nil {
		opts.Logger = log // restarts, and the servers' stderr at DEBUG
	}
	m := &MCP{}
	for _, sp := range s.MCPServers() {
		srv, err := mcp.Connect(ctx, sp, opts)
		if err != nil {
			_ = m.Close()
			return nil, fmt.Errorf("desk %s: %w", s.Name, err)
		}
		m.servers = append(m.servers, srv)
		if err := checkPins(sp.Name, s.pinsOf(sp.Name), srv.Tools()); err != nil {
			_ = m.Close()
			return nil, fmt.Errorf("desk %s: %w", s.Name, err)
		}
		log.Info("mcp server connected", "desk", s.Name, "server", sp.Name, "tools", len(srv.Tools()))
	}
	return m, nil
}

// Close ends every server's session (and stops the commands).
func (m *MCP) Close() error {
	if m == nil {
		return nil
	}
	var errs []error
	for _, s := range m.servers {
		errs = append(errs, s.Close())
	}
	m.servers = nil
	return errors.Join(errs...)
}

// tools returns the tools of the named server.
func (m *MCP) tools(name string) ([]tool.Tool, bool) {
	if m == nil {
		return nil, false
	}
	for _, s := range m.servers {
		if s.Name() == name {
			return s.Tools(), true
		}
	}
	return nil, false
}
