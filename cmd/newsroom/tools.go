package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/tool/mcp"
	"github.com/newsroom-dev/newsroom/tool/web"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// toolFlags are the flags about tools, sources and grounding.
type toolFlags struct {
	noTools     bool
	noGrounding bool
	fetchAllow  string
	sources     []string
	mcp         []string
	fetchOpen   []string
	fetchAny    bool
	withSources bool // the command offers --source, --mcp and --no-grounding
	fs          *pflag.FlagSet
}

func addToolFlags(fs *pflag.FlagSet, run bool) *toolFlags {
	f := &toolFlags{withSources: run, fs: fs}
	fs.BoolVar(&f.noTools, "no-tools", false, "agents run without tools (no fetch_url, read_feed or MCP tools)")
	fs.StringVar(&f.fetchAllow, "fetch-allow", "", "comma-separated host or host:port destinations the fetch tools may reach although internal (default $"+web.EnvAllow+" from the environment or the .env file)")
	fs.StringArrayVar(&f.fetchOpen, "fetch-open", nil, "a host whose every URL the fetch tools may open, besides the URLs a run has seen (repeatable; also $"+untrusted.EnvOpen+", comma-separated)")
	fs.BoolVar(&f.fetchAny, "fetch-any", false, "turn URL provenance off: the fetch tools may open any URL the network guard allows, not only those the run has seen (a warning is printed)")
	if run {
		fs.StringArrayVar(&f.sources, "source", nil, "fetch this URL before the team starts and give it to the team as a source (repeatable)")
		fs.StringArrayVar(&f.mcp, "mcp", nil, "tools of an MCP server: NAME=COMMAND ARGS... (stdio) or NAME=URL (streamable HTTP) (repeatable)")
		fs.BoolVar(&f.noGrounding, "no-grounding", false, "do not check the article's figures, dates, quotes and names against the task and sources")
	}
	return f
}

// toolSetup is what the flags build for a run.
type toolSetup struct {
	// Tools are the built-in tools the desks may give agents; nil with --no-tools.
	Tools []tool.Tool
	// Extra are MCP servers' tools.
	Extra   []tool.Tool
	Sources []*tool.Source
	Options []team.RunOption
	// Fetcher reads the web under the guard and the allow list (the
	// service fetches its runs' sources with it).
	Fetcher *web.Fetcher
	servers []*mcp.Server
	// desks are the MCP servers of each desk's agents (team files), by desk name.
	desks map[string]*desk.MCP
	log   *slog.Logger
}

// Close stops the MCP servers.
func (s *toolSetup) Close() {
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	for _, m := range s.desks {
		_ = m.Close()
	}
}

// connectDesks starts the MCP servers the desks' agents list, once for each
// desk: a run's desk for the run, every desk of the service for its life.
// With --no-tools nothing starts. A server that cannot start is a
// configuration error.
func (s *toolSetup) connectDesks(ctx context.Context, f *toolFlags, specs ...*desk.Spec) error {
	if f.noTools {
		return nil
	}
	for _, spec := range specs {
		if len(spec.MCPServers()) == 0 {
			continue
		}
		m, err := desk.ConnectMCP(ctx, spec, mcp.Options{}, s.log)
		if err != nil {
			return fmt.Errorf("%w: %w", errConfig, err)
		}
		if s.desks == nil {
			s.desks = map[string]*desk.MCP{}
		}
		s.desks[spec.Name] = m
	}
	return nil
}

// build makes the tools, connects the MCP servers and fetches the sources.
// configured is the allow list of the configuration (the environment, then
// the .env file); --fetch-allow replaces it.
func (f *toolFlags) build(ctx context.Context, log *slog.Logger, configured string) (*toolSetup, error) {
	allow := configured
	if f.fs.Changed("fetch-allow") {
		allow = f.fetchAllow
	}
	fetcher := web.New(web.Config{Allow: web.ParseAllow(allow), Logger: log})
	s := &toolSetup{log: log, Fetcher: fetcher}
	if !f.noTools {
		s.Tools = fetcher.Tools()
		for _, spec := range f.mcp {
			sp, err := mcp.ParseSpec(spec)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("%w: --mcp: %w", errUsage, err)
			}
			srv, err := mcp.Connect(ctx, sp, mcp.Options{Logger: log})
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("%w: --mcp %s: %w", errConfig, sp.Name, err)
			}
			s.servers = append(s.servers, srv)
			s.Extra = append(s.Extra, srv.Tools()...)
			log.Info("mcp server connected", "server", sp.Name, "tools", len(srv.Tools()))
		}
	} else if len(f.mcp) > 0 {
		return nil, fmt.Errorf("%w: --mcp and --no-tools contradict each other", errUsage)
	}
	if len(f.sources) > 0 {
		docs, err := fetcher.Sources(ctx, f.sources)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%w: --source %w", errConfig, err) // names the URL
		}
		s.Sources = docs
	}
	if len(s.Sources) > 0 {
		s.Options = append(s.Options, team.WithSources(s.Sources))
	}
	if f.noGrounding {
		s.Options = append(s.Options, team.WithGrounding(nil))
	}
	return s, nil
}

// deskConfig adds the tools to a desk configuration.
func (s *toolSetup) deskConfig(c desk.Config, f *toolFlags) desk.Config {
	c.Tools, c.ExtraTools, c.NoTools, c.NoGrounding, c.Logger = s.Tools, s.Extra, f.noTools, f.noGrounding, s.log
	c.FetchOpen, c.FetchAny = f.open(), f.fetchAny
	if c.Spec != nil {
		c.MCP = s.desks[c.Spec.Name]
	}
	return c
}

// open returns the open hosts of --fetch-open and $NEWSROOM_FETCH_OPEN.
func (f *toolFlags) open() []string {
	return append(untrusted.ParseOpen(os.Getenv(untrusted.EnvOpen)), f.fetchOpen...)
}

// provenanceOff returns the warning for desks whose fetch tools may open
// any URL (--fetch-any, or a file's fetch: {provenance: off}), or "".
func (f *toolFlags) provenanceOff(specs ...*desk.Spec) string {
	if f.noTools {
		return ""
	}
	if f.fetchAny {
		return "URL provenance is off (--fetch-any): fetch_url and read_feed may open any URL the network guard allows, including URLs a page told the model to write"
	}
	var names []string
	for _, s := range specs {
		if s.ProvenanceOff() {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return "URL provenance is off for desk " + strings.Join(names, ", ") + " (fetch: {provenance: off}): its fetch tools may open any URL the network guard allows"
}

// jsonSource is a source in `run --format json`.
type jsonSource struct {
	ID        int       `json:"id"`
	URL       string    `json:"url"`
	Title     string    `json:"title"`
	FetchedAt time.Time `json:"fetched_at"`
	Hash      string    `json:"hash"`
}

func sourcesJSON(res *team.Result) []jsonSource {
	out := []jsonSource{}
	for _, s := range res.Sources {
		out = append(out, jsonSource{ID: s.ID, URL: s.URL, Title: s.Title, FetchedAt: s.FetchedAt, Hash: s.Hash})
	}
	return out
}

// errGrounding is the error of a run that reached its cap with unsupported claims.
var errGrounding = errors.New("the article still makes claims no source supports")

// groundingFailure returns errGrounding when the run stopped that way.
func groundingFailure(res *team.Result) error {
	if termination.KindOf(res.StopReason) != termination.KindGrounding {
		return nil
	}
	if res.Grounding != nil && len(res.Grounding.Unsupported) > 0 {
		return fmt.Errorf("%w: %s", errGrounding, strings.Join(res.Grounding.Unsupported, "; "))
	}
	return errGrounding
}
