// Package mcp gives agents the tools of Model Context Protocol servers,
// through the official Go SDK (github.com/modelcontextprotocol/go-sdk): a
// server started as a command (stdio) or reached at a URL (streamable
// HTTP). Each server's tools become tool.Tool values named
// "<server>_<tool>", so two servers' tools never collide and a model sees
// where a tool comes from.
//
// A server that fails a call or answers with an error turns into an error
// result the model sees; the run goes on. A server that dies (its process
// ends, its connection breaks) is started again by the next call, a bounded
// number of times, and that call is sent again only when it cannot have
// reached the server: a call the server may have run is never repeated.
// A command's standard error goes to the DEBUG log and its last lines,
// redacted, into the error that says it died.
package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
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
	// Env are KEY=VALUE entries added to the environment a command
	// inherits. Their values are taken for secrets: never shown in logs or
	// errors.
	Env []string
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

// ErrServerDown is wrapped by the error of a call whose server died during
// it, or is down and not restarted (yet): its restarts failed, or were too
// many.
var ErrServerDown = errors.New("mcp: server down")

// ErrClosed is returned by a call to a server that was closed.
var ErrClosed = errors.New("mcp: server closed")

// Options tune a connection. The zero value is usable.
type Options struct {
	// HTTPClient reaches HTTP servers; nil means a client with a 60 s timeout.
	HTTPClient *http.Client
	// ConnectTimeout bounds a start-up (connect, initialize, list tools),
	// the first one and each restart; 0 means 30 s.
	ConnectTimeout time.Duration
	// MaxRestarts bounds the restarts of a server that died within
	// RestartWindow; 0 means 5, a negative value means never restart.
	MaxRestarts int
	// RestartWindow is the span MaxRestarts counts in; 0 means a minute.
	RestartWindow time.Duration
	// RestartBackoff is how long a restart that failed holds back the next
	// one, doubled for each failure in a row (at most RestartWindow); 0
	// means a second.
	RestartBackoff time.Duration
	// Logger receives restarts (WARN, INFO) and each line a command writes
	// to its standard error (DEBUG); nil means slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 30 * time.Second
	}
	if o.MaxRestarts == 0 {
		o.MaxRestarts = 5
	}
	if o.RestartWindow <= 0 {
		o.RestartWindow = time.Minute
	}
	if o.RestartBackoff <= 0 {
		o.RestartBackoff = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Server is a connected MCP server. It is safe for concurrent use.
type Server struct {
	spec  Spec
	opts  Options
	log   *slog.Logger
	red   *redactor
	tools []tool.Tool
	// want are the parameters of each tool as the first connection listed
	// them (what the agents were given), by the server's name for the
	// tool: a restarted server must still offer them.
	want map[string]string

	ctx    context.Context // ends at Close, and with it a restart under way
	cancel context.CancelFunc
	wg     sync.WaitGroup // the restart under way

	mu       sync.Mutex
	cur      *conn
	pending  *restart    // the restart under way; nil when none
	restarts []time.Time // restarts begun within the window, oldest first
	failures int         // restarts that failed in a row
	lastFail time.Time   // when the last one failed
	lastErr  error       // and why
	starts   int         // connections made
	closed   bool
}

// restart is one restart under way; the calls that find the server dead
// while it runs wait for it instead of starting their own.
type restart struct {
	done chan struct{}
	c    *conn // the new connection, or nil and err
	err  error
}

// Connect starts or reaches the server, and lists its tools. ctx bounds
// the start-up only: a server started as a command lives until Close, so
// that a service shutting down (its context cancelled) keeps its servers
// while the runs in flight are handed over, and no tool call of those runs
// fails, and is stored as failed, because its server was killed first.
func Connect(ctx context.Context, spec Spec, opts Options) (*Server, error) {
	if spec.URL == "" && spec.Command == "" {
		return nil, fmt.Errorf("%w: %s has neither a URL nor a command", ErrSpec, spec.Name)
	}
	opts = opts.withDefaults()
	s := &Server{spec: spec, opts: opts, log: opts.Logger, red: newRedactor(spec, os.Environ()), want: map[string]string{}}
	c, listed, err := s.connect(ctx, 1)
	if err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.cur, s.starts = c, 1
	for _, td := range listed {
		params, err := json.Marshal(td.InputSchema)
		if err != nil || string(params) == "null" {
			params = json.RawMessage(`{"type":"object"}`)
		}
		s.want[td.Name] = c.schemas[td.Name]
		s.tools = append(s.tools, &remoteTool{server: s, remote: td.Name, acts: acts(td.Annotations), def: model.Tool{
			Name: toolName(spec.Name, td.Name), Description: td.Description, Parameters: params}})
	}
	return s, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// toolName is "<server>_<tool>", cut to the 64 characters function names allow.
func toolName(server, name string) string {
	n := server + "_" + unsafeChars.ReplaceAllString(name, "_")
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// Name returns the server's name.
func (s *Server) Name() string { return s.spec.Name }

// Tools returns the server's tools, as its first connection listed them.
func (s *Server) Tools() []tool.Tool { return s.tools }

// Stats are what a Server has seen of its server.
type Stats struct {
	// Starts counts the connections made: the first one and each restart
	// that succeeded.
	Starts int
	// PID is the process serving a command now; 0 for a URL.
	PID int
	// Up says whether the current connection is alive, as far as is known:
	// a dead server is found out when its process ends or its connection
	// breaks, or at the latest by the next call.
	Up bool
}

// Stats returns what the Server has seen of its server so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Starts: s.starts, Up: !s.closed && !s.cur.dead()}
	if s.cur.proc != nil {
		st.PID = s.cur.proc.pid()
	}
	return st
}

// Close ends the session and stops a command (with what it started): it
// returns once the process is gone. A restart under way is abandoned.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait() // a restart under way sees closed and closes what it made
	c := s.cur  // stable now: only a restart replaces it
	alive := !c.dead()
	err := c.close()
	if !alive {
		return nil // a dead server's last words were said in the calls' errors
	}
	return err
}

// live returns the connection to call on: the current one if it is alive,
// else a new one, made by the restart under way or by one this call
// begins, within the bounds of Options. Concurrent calls that find the
// server dead share one restart.
func (s *Server) live(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrClosed, s.spec.Name)
	}
	c := s.cur
	if !c.dead() {
		s.mu.Unlock()
		return c, nil
	}
	r := s.pending
	if r == nil {
		if err := s.mayRestart(c, time.Now()); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		r = &restart{done: make(chan struct{})}
		s.pending = r
		s.restarts = append(s.restarts, time.Now())
		s.wg.Add(1)
		go s.restart(r, c)
	}
	s.mu.Unlock()
	select {
	case <-r.done:
		return r.c, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("mcp server %s: waiting for its restart: %w", s.spec.Name, ctx.Err())
	}
}

// mayRestart says, with s.mu held, why the dead connection c may not be
// replaced now, or nil.
func (s *Server) mayRestart(c *conn, now time.Time) error {
	window := s.opts.RestartWindow
	i := 0
	for i < len(s.restarts) && now.Sub(s.restarts[i]) >= window {
		i++
	}
	s.restarts = s.restarts[i:]
	var more string
	switch {
	case s.opts.MaxRestarts < 0:
		more = "it is not restarted (restarts are off)"
	case len(s.restarts) >= s.opts.MaxRestarts:
		more = fmt.Sprintf("it was restarted %d times in the last %s, the most allowed, so not again before %s",
			len(s.restarts), window, s.restarts[0].Add(window).UTC().Format(time.TimeOnly))
	case s.failures > 0:
		wait := min(s.opts.RestartBackoff<<min(s.failures-1, 20), window)
		next := s.lastFail.Add(wait)
		if !now.Before(next) {
			return nil
		}
		more = fmt.Sprintf("%d failed restarts in a row, next attempt after %s", s.failures, next.UTC().Format(time.TimeOnly))
	default:
		return nil
	}
	if s.failures > 0 {
		more += fmt.Sprintf("; the last attempt: %v", s.lastErr)
	}
	return s.down(c, "; "+more)
}

// down is the error of a call to a server that is down: how the dead
// connection c ended, then more, then the last lines of its stderr.
func (s *Server) down(c *conn, more string) error {
	return &downError{msg: s.red.text(fmt.Sprintf("mcp server %s is down: %s%s", s.spec.Name, c.reason(), more))}
}

type downError struct{ msg string }

func (e *downError) Error() string        { return e.msg }
func (e *downError) Is(target error) bool { return target == ErrServerDown }

// restart replaces the dead connection old, for r.
func (s *Server) restart(r *restart, old *conn) {
	defer s.wg.Done()
	why := old.why(s.ctx)
	s.log.Warn("mcp server down, restarting it", "server", s.spec.Name, "reason", s.red.text(why))
	_ = old.close()
	c, _, err := s.connect(s.ctx, old.gen+1)
	s.mu.Lock()
	if err == nil && s.closed {
		s.mu.Unlock()
		_ = c.close()
		s.mu.Lock()
		c, err = nil, fmt.Errorf("%w: %s", ErrClosed, s.spec.Name)
	}
	if err != nil {
		s.failures++
		s.lastFail, s.lastErr = time.Now(), err
		r.err = &downError{msg: s.red.text(fmt.Sprintf("mcp server %s is down: %s; restarting it failed: %v", s.spec.Name, old.reason(), err))}
		s.log.Warn("mcp server restart failed", "server", s.spec.Name, "failures", s.failures, "error", s.red.text(err.Error()))
	} else {
		s.failures = 0
		s.cur, s.starts, r.c = c, s.starts+1, c
		attrs := []any{"server", s.spec.Name, "starts", s.starts}
		if c.proc != nil {
			attrs = append(attrs, "pid", c.proc.pid())
		}
		s.log.Info("mcp server restarted", attrs...)
	}
	s.pending = nil
	s.mu.Unlock()
	close(r.done)
}

// call calls the server's tool name. A call that finds the server dead
// restarts it first; a call whose connection turns out dead before the
// call reached the server is sent once more on a new connection. A call
// that may have reached the server is never sent again.
func (s *Server) call(ctx context.Context, name string, args json.RawMessage) (*sdk.CallToolResult, error) {
	c, err := s.live(ctx)
	if err != nil {
		return nil, err
	}
	res, err, again := s.try(ctx, c, name, args)
	if !again {
		return res, err
	}
	s.log.Debug("mcp call did not reach a dead server; sending it again after a restart", "server", s.spec.Name, "tool", name)
	if c, err = s.live(ctx); err != nil {
		return nil, err
	}
	res, err, _ = s.try(ctx, c, name, args)
	return res, err
}

// try calls name on c. again says the connection was found dead before
// the call reached the server, so it may be sent again.
func (s *Server) try(ctx context.Context, c *conn, name string, args json.RawMessage) (_ *sdk.CallToolResult, _ error, again bool) {
	if err := c.offers(name, s.want[name]); err != nil {
		return nil, s.red.err(fmt.Errorf("mcp server %s, tool %s: %w", s.spec.Name, name, err)), false
	}
	a := &attempt{}
	res, err := c.session.CallTool(context.WithValue(ctx, attemptKey{}, a), &sdk.CallToolParams{Name: name, Arguments: args})
	if err == nil {
		return res, nil, false
	}
	wrap := func(err error) error {
		return s.red.err(fmt.Errorf("mcp server %s, tool %s: %w", s.spec.Name, name, err))
	}
	if ctx.Err() != nil {
		return nil, wrap(err), false
	}
	lost, unsent := c.classify(err, a)
	if !lost {
		return nil, wrap(err), false
	}
	c.markBroken(err)
	if unsent {
		return nil, wrap(err), true
	}
	return nil, &downError{msg: s.red.text(fmt.Sprintf("mcp server %s, tool %s: the server went away during the call (%s); the call is not sent again, as the server may have run it",
		s.spec.Name, name, c.why(ctx)))}, false
}

// remoteTool is one tool of a server.
type remoteTool struct {
	server *Server
	remote string
	def    model.Tool
	acts   bool
}

var _ tool.Acting = (*remoteTool)(nil)

func (t *remoteTool) Definition() model.Tool { return t.def }

// Acts reports whether the server says the tool is not read-only (its
// annotations: readOnlyHint false, or destructiveHint true). A tool without
// annotations says nothing and is taken as reading, as before annotations.
func (t *remoteTool) Acts() bool { return t.acts }

func acts(a *sdk.ToolAnnotations) bool {
	return a != nil && (!a.ReadOnlyHint || (a.DestructiveHint != nil && *a.DestructiveHint))
}

// Call calls the tool on its server. Text content is returned as it is;
// other content is named, not passed on; an error answer is an error.
func (t *remoteTool) Call(ctx context.Context, args json.RawMessage) (tool.Result, error) {
	if len(args) == 0 {
		args = json.RawMessage(`{}`)
	}
	res, err := t.server.call(ctx, t.remote, args)
	if err != nil {
		return tool.Result{}, err
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
