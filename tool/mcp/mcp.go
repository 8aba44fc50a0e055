// Package mcp gives agents the tools of Model Context Protocol servers,
// through the official Go SDK (github.com/modelcontextprotocol/go-sdk): a
// server started as a command (stdio) or reached at a URL (streamable
// HTTP). Each server's tools become tool.Tool values named
// "<server>_<tool>", so two servers' tools never collide and a model sees
// where a tool comes from.
//
// A server that fails a call, answers with an error, or dies turns into an
// error result the model sees; the run goes on.
package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tool"
)

// ErrSpec is wrapped by errors about a server specification.
var ErrSpec = errors.New("mcp: bad server specification (want NAME=COMMAND ARGS... or NAME=http(s)://URL)")

var nameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,31}$`)

// Spec is one server to connect to.
type Spec struct {
	// Name prefixes the server's tool names.
	Name string
	// URL is a streamable HTTP endpoint; Command (with Args) a program
	// speaking MCP over its standard input and output. One of them is set.
	URL     string
	Command string
	Args    []string
}

// ValidName reports whether name can name a server: a letter, then at most
// 31 letters, digits, '_' or '-'.
func ValidName(name string) bool { return nameRe.MatchString(name) }

// ParseSpec parses "NAME=COMMAND ARGS..." or "NAME=URL".
func ParseSpec(s string) (Spec, error) {
	name, target, ok := strings.Cut(s, "=")
	name, target = strings.TrimSpace(name), strings.TrimSpace(target)
	if !ok || target == "" {
		return Spec{}, fmt.Errorf("%w: %q", ErrSpec, s)
	}
	if !nameRe.MatchString(name) {
		return Spec{}, fmt.Errorf("%w: name %q must be letters, digits, '_' or '-' (at most 32, starting with a letter)", ErrSpec, name)
	}
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		return Spec{Name: name, URL: target}, nil
	}
	f := strings.Fields(target)
	return Spec{Name: name, Command: f[0], Args: f[1:]}, nil
}

// Options tune a connection. The zero value is usable.
type Options struct {
	// HTTPClient reaches HTTP servers; nil means a client with a 60 s timeout.
	HTTPClient *http.Client
	// ConnectTimeout bounds the start-up (connect, initialize, list tools); 0 means 30 s.
	ConnectTimeout time.Duration
}

// Server is a connected MCP server.
type Server struct {
	spec    Spec
	session *sdk.ClientSession
	tools   []tool.Tool
	stop    context.CancelFunc
}

// Connect starts or reaches the server, and lists its tools. ctx bounds
// the start-up only: a server started as a command lives until Close, so
// that a service shutting down (its context cancelled) keeps its servers
// while the runs in flight are handed over, and no tool call of those runs
// fails, and is stored as failed, because its server was killed first.
func Connect(ctx context.Context, spec Spec, opts Options) (*Server, error) {
	var t sdk.Transport
	// stop kills a command's process: on a failed start-up, or at Close
	// after the session's own ending (stdin closed, then a grace period).
	procCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	ok := false
	defer func() {
		if !ok {
			stop()
		}
	}()
	switch {
	case spec.URL != "":
		hc := opts.HTTPClient
		if hc == nil {
			hc = &http.Client{Timeout: 60 * time.Second}
		}
		t = &sdk.StreamableClientTransport{Endpoint: spec.URL, HTTPClient: hc, MaxRetries: -1, DisableStandaloneSSE: true}
	case spec.Command != "":
		t = &sdk.CommandTransport{Command: exec.CommandContext(procCtx, spec.Command, spec.Args...), TerminateDuration: 2 * time.Second}
	default:
		return nil, fmt.Errorf("%w: %s has neither a URL nor a command", ErrSpec, spec.Name)
	}
	timeout := opts.ConnectTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := sdk.NewClient(&sdk.Implementation{Name: "newsroom", Version: "1"}, nil)
	session, err := client.Connect(cctx, t, nil)
	if err != nil {
		return nil, redact(spec, fmt.Errorf("mcp: connecting to %s: %w", spec.Name, err))
	}
	s := &Server{spec: spec, session: session, stop: stop}
	for td, err := range session.Tools(cctx, nil) {
		if err != nil {
			_ = session.Close()
			return nil, redact(spec, fmt.Errorf("mcp: listing the tools of %s: %w", spec.Name, err))
		}
		params, err := json.Marshal(td.InputSchema)
		if err != nil || string(params) == "null" {
			params = json.RawMessage(`{"type":"object"}`)
		}
		s.tools = append(s.tools, &remoteTool{server: s, remote: td.Name, def: model.Tool{
			Name: toolName(spec.Name, td.Name), Description: td.Description, Parameters: params}})
	}
	ok = true
	return s, nil
}

// toolName is "<server>_<tool>", cut to the 64 characters function names allow.
func toolName(server, name string) string {
	n := server + "_" + regexp.MustCompile(`[^A-Za-z0-9_-]`).ReplaceAllString(name, "_")
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// Name returns the server's name.
func (s *Server) Name() string { return s.spec.Name }

// Tools returns the server's tools.
func (s *Server) Tools() []tool.Tool { return s.tools }

// Close ends the session (and stops a command).
func (s *Server) Close() error {
	err := s.session.Close()
	s.stop()
	return err
}

// remoteTool is one tool of a server.
type remoteTool struct {
	server *Server
	remote string
	def    model.Tool
}

func (t *remoteTool) Definition() model.Tool { return t.def }

// Call calls the tool on its server. Text content is returned as it is;
// other content is named, not passed on; an error answer is an error.
func (t *remoteTool) Call(ctx context.Context, args json.RawMessage) (tool.Result, error) {
	if len(args) == 0 {
		args = json.RawMessage(`{}`)
	}
	res, err := t.server.session.CallTool(ctx, &sdk.CallToolParams{Name: t.remote, Arguments: args})
	if err != nil {
		return tool.Result{}, redact(t.server.spec, fmt.Errorf("mcp server %s, tool %s: %w", t.server.spec.Name, t.remote, err))
	}
	var b strings.Builder
	for _, c := range res.Content {
		switch c := c.(type) {
		case *sdk.TextContent:
			b.WriteString(c.Text)
		default:
			fmt.Fprintf(&b, "[%T content omitted]", c)
		}
	}
	if b.Len() == 0 && res.StructuredContent != nil {
		raw, _ := json.Marshal(res.StructuredContent)
		b.Write(raw)
	}
	if res.IsError {
		return tool.Result{}, fmt.Errorf("mcp server %s, tool %s: %s", t.server.spec.Name, t.remote, b.String())
	}
	return tool.Result{Content: b.String()}, nil
}

var _ tool.Tool = (*remoteTool)(nil)

// redactedError is an error whose text had secrets taken out; it still
// unwraps to the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact takes the credentials a server URL may carry (user information,
// the query string, where hosted servers often take an API key) out of an
// error's text: errors reach logs and the model.
func redact(spec Spec, err error) error {
	if err == nil || spec.URL == "" {
		return err
	}
	u, perr := url.Parse(spec.URL)
	if perr != nil {
		return err
	}
	msg := err.Error()
	clean := msg
	if u.RawQuery != "" {
		clean = strings.ReplaceAll(clean, "?"+u.RawQuery, "?REDACTED")
	}
	if u.User != nil {
		clean = strings.ReplaceAll(clean, u.User.String()+"@", "REDACTED@")
		if p, ok := u.User.Password(); ok && p != "" {
			clean = strings.ReplaceAll(clean, p, "REDACTED")
		}
	}
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}
