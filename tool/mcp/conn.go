package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// conn is one connection to a server: a session and, for a command, the
// process behind it. A conn that died is never used again: the Server
// makes a new one.
type conn struct {
	gen     int // 1 for the first connection, one more for each restart
	session *sdk.ClientSession
	proc    *process // nil for a URL
	// schemas are the tools it offers: the server's name for each, and the
	// key of its parameters (see schemaKey).
	schemas map[string]string

	brokeOnce sync.Once
	broke     chan struct{} // closed when the connection failed
	brokeErr  error

	closeOnce sync.Once
	closeErr  error
}

// connect makes connection number gen: it starts the command or reaches
// the URL, initializes the session and lists the tools, within ctx and
// ConnectTimeout. It returns the tools as listed.
func (s *Server) connect(ctx context.Context, gen int) (*conn, []*sdk.Tool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ConnectTimeout)
	defer cancel()
	c := &conn{gen: gen, broke: make(chan struct{}), schemas: map[string]string{}}
	var t sdk.Transport
	if s.spec.URL != "" {
		t = &sdk.StreamableClientTransport{Endpoint: s.spec.URL, HTTPClient: s.opts.HTTPClient, MaxRetries: -1, DisableStandaloneSSE: true}
	} else {
		p, err := startProcess(s.spec, s.red, s.log)
		if err != nil {
			return nil, nil, s.red.err(fmt.Errorf("mcp: connecting to %s: %w", s.spec.Name, err))
		}
		c.proc = p
		t = &trackingTransport{inner: &sdk.IOTransport{Reader: p.stdout, Writer: p.stdin}, c: c}
	}
	fail := func(what string, err error) (*conn, []*sdk.Tool, error) {
		msg := fmt.Sprintf("mcp: %s %s: %v", what, s.spec.Name, err)
		if c.proc != nil {
			if c.session == nil {
				_ = c.proc.stdin.Close()
				_ = c.proc.stdout.Close()
			}
			msg += "; " + c.why(ctx)
		}
		_ = c.close()
		return nil, nil, s.red.err(&textError{msg: msg, err: err})
	}
	client := sdk.NewClient(&sdk.Implementation{Name: "newsroom", Version: "1"}, nil)
	session, err := client.Connect(ctx, t, nil)
	if err != nil {
		return fail("connecting to", err)
	}
	c.session = session
	var listed []*sdk.Tool
	for td, err := range session.Tools(ctx, nil) {
		if err != nil {
			return fail("listing the tools of", err)
		}
		c.schemas[td.Name] = schemaKey(td.InputSchema)
		listed = append(listed, td)
	}
	return c, listed, nil
}

// dead reports whether the connection is known to be gone.
func (c *conn) dead() bool {
	select {
	case <-c.broke:
		return true
	default:
		return c.proc != nil && c.proc.dead()
	}
}

// markBroken records that the connection failed with err (the first
// failure is kept).
func (c *conn) markBroken(err error) {
	c.brokeOnce.Do(func() {
		c.brokeErr = err
		close(c.broke)
	})
}

// reason says how the connection ended, as far as is known now: how the
// process ended and its last stderr lines, or how the connection broke.
func (c *conn) reason() string {
	if c.proc != nil && c.proc.dead() {
		return "its process " + c.proc.how() + c.proc.stderr.quote()
	}
	select {
	case <-c.broke:
		s := "its connection broke: " + c.brokeErr.Error()
		if c.proc != nil {
			s += c.proc.stderr.quote()
		}
		return s
	default:
		return "it stopped answering"
	}
}

// why is reason, after a wait (bounded, and by ctx) for the process to be
// seen ending: its output usually closes a moment before its exit status
// and last stderr lines are known.
func (c *conn) why(ctx context.Context) string {
	if c.proc != nil {
		t := time.NewTimer(drainGrace + time.Second)
		defer t.Stop()
		select {
		case <-c.proc.exited:
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return c.reason()
}

// close ends the session and stops the process; it returns once the
// process is gone.
func (c *conn) close() error {
	c.closeOnce.Do(func() {
		done := make(chan error, 1)
		go func() {
			if c.session != nil {
				done <- c.session.Close()
				return
			}
			done <- nil
		}()
		if c.proc != nil {
			c.proc.stop()
		}
		c.closeErr = <-done
		c.markBroken(ErrClosed)
	})
	return c.closeErr
}

// offers checks that c still offers the tool name with the parameters
// want (a schemaKey) the agents were given: a restarted server may have
// changed.
func (c *conn) offers(name, want string) error {
	if c.gen == 1 {
		return nil // the agents were given what this connection listed
	}
	have, ok := c.schemas[name]
	switch {
	case !ok:
		return errors.New("the restarted server no longer offers this tool")
	case have != want:
		return errors.New("the restarted server changed the tool's parameters; not called with arguments written for the old ones")
	}
	return nil
}

// classify says whether a call's error err means the connection is lost,
// and if so, whether the call did not reach the server (unsent), so that
// sending it again cannot run it twice.
//
// A command's calls are tracked (attempt): unsent means the call was
// never written, or its write to the pipe failed. A URL's calls are known
// unsent when the server does not know the session (HTTP 404: it
// restarted), when the connection was already closed, or when no TCP
// connection could be made; a request that failed on its way otherwise
// (reset, EOF) may have arrived. An answer (a JSON-RPC error, an HTTP
// status) means the server is there.
func (c *conn) classify(err error, a *attempt) (lost, unsent bool) {
	closed := errors.Is(err, sdk.ErrConnectionClosed)
	if c.proc != nil {
		lost = closed || c.dead() || a.writeErr() != nil
		return lost, lost && (!a.handed.Load() || a.writeErr() != nil)
	}
	var op *net.OpError
	var ue *url.Error
	switch {
	case closed || errors.Is(err, sdk.ErrSessionMissing) || errors.As(err, &op) && op.Op == "dial":
		return true, true
	case errors.As(err, &ue):
		return true, false
	default:
		return c.dead(), false
	}
}

// attempt follows one call through the connection of a command.
type attempt struct {
	handed atomic.Bool // the call was given to the pipe
	mu     sync.Mutex
	err    error // and writing it failed
}

func (a *attempt) writeErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

type attemptKey struct{}

// trackingTransport wraps a command's transport to learn when its
// connection breaks, and whether a call was written to the server.
type trackingTransport struct {
	inner sdk.Transport
	c     *conn
}

func (t *trackingTransport) Connect(ctx context.Context) (sdk.Connection, error) {
	inner, err := t.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &trackedConn{Connection: inner, c: t.c}, nil
}

type trackedConn struct {
	sdk.Connection
	c *conn
}

func (t *trackedConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	msg, err := t.Connection.Read(ctx)
	if err != nil && ctx.Err() == nil {
		t.c.markBroken(err)
	}
	return msg, err
}

func (t *trackedConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	if req, ok := msg.(*jsonrpc.Request); !ok || !req.IsCall() || req.Method != "tools/call" {
		a = nil // a cancellation notice sent for the call, say
	}
	if a != nil {
		a.handed.Store(true)
	}
	err := t.Connection.Write(ctx, msg)
	if err != nil && ctx.Err() == nil {
		t.c.markBroken(err)
		if a != nil {
			a.mu.Lock()
			a.err = err
			a.mu.Unlock()
		}
	}
	return err
}

// schemaKey is the JSON of a tool's parameter schema without its
// descriptions and titles: two keys differ when the arguments a model
// writes for one may not fit the other.
func schemaKey(schema any) string {
	raw, err := json.Marshal(schema)
	if err != nil {
		return ""
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	var strip func(any)
	strip = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			delete(v, "description")
			delete(v, "title")
			for k, x := range v {
				switch k {
				case "properties", "patternProperties", "$defs", "definitions", "dependentSchemas":
					// names of arguments and definitions, each a schema
					if m, ok := x.(map[string]any); ok {
						for _, sub := range m {
							strip(sub)
						}
					}
				case "enum", "const", "default", "examples":
					// values, kept as they are
				default:
					strip(x)
				}
			}
		case []any:
			for _, x := range v {
				strip(x)
			}
		}
	}
	strip(v)
	out, _ := json.Marshal(v)
	return string(out)
}
