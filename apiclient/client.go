// Package apiclient is a small client of newsroom's REST API (POST /v1/runs,
// GET /v1/runs/{id}, its event stream, decisions, desks, articles).
//
// It speaks HTTP to a service URL, or calls a service's http.Handler in the
// same process (Handler). The protocol adapters (MCP, A2A, AG-UI) are built on
// it: every call they make is an ordinary API request carrying the caller's
// own credentials, so roles, limits, validation, error codes and audit are
// the API's, not a second copy of them.
package apiclient

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one newsroom service. The zero value is not usable: build it
// with New or Handler.
type Client struct {
	base string
	do   func(*http.Request) (*http.Response, error)
	// Authorization is the header value sent with every request
	// ("Bearer nr_..."), empty for none.
	Authorization string
}

// New is a client of the service at base (e.g. "http://127.0.0.1:8080")
// through hc (http.DefaultClient when nil).
func New(base string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(base, "/"), do: hc.Do}
}

// Handler is a client that calls h in this process, as if over HTTP from
// loopback.
func Handler(h http.Handler) *Client {
	return &Client{base: "http://newsroom.internal", do: func(r *http.Request) (*http.Response, error) {
		return serveInProcess(h, r)
	}}
}

// WithAuthorization is a copy of c that sends auth as its Authorization header.
func (c *Client) WithAuthorization(auth string) *Client {
	cp := *c
	cp.Authorization = auth
	return &cp
}

// Error is the API's JSON error, with the HTTP status it came with.
type Error struct {
	Status     int    `json:"-"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	Field      string `json:"field,omitempty"`
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("newsroom API: %d %s: %s", e.Status, e.Code, e.Message)
}

// StatusOf is err's HTTP status when it is an *Error, else 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Call sends method path with body (JSON-encoded unless nil) and decodes a
// 2xx answer into out (when non-nil). A non-2xx answer is an *Error.
func (c *Client) Call(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(out); err != nil {
		return fmt.Errorf("apiclient: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, body any, header http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("apiclient: encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", cmp.Or(req.Header.Get("Accept"), "application/json"))
	if c.Authorization != "" {
		req.Header.Set("Authorization", c.Authorization)
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var eb struct {
		Error Error `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(raw, &eb) != nil || eb.Error.Code == "" {
		eb.Error = Error{Code: "http_" + strconv.Itoa(resp.StatusCode), Message: http.StatusText(resp.StatusCode)}
	}
	eb.Error.Status = resp.StatusCode
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		eb.Error.RetryAfter = time.Duration(s) * time.Second
	}
	return nil, &eb.Error
}

// Event is one event of a run's stream: its sequence number, type and the
// raw JSON of the event (the team.Event the API documents).
type Event struct {
	ID   int64
	Type string
	Data json.RawMessage
}

// Events follows run id's event stream from after (0: from the start) until
// the stream ends (the run finished or paused) or ctx is done.
func (c *Client) Events(ctx context.Context, id string, after int64) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		path := "/v1/runs/" + url.PathEscape(id) + "/events"
		if after > 0 {
			path += "?after=" + strconv.FormatInt(after, 10)
		}
		resp, err := c.send(ctx, http.MethodGet, path, nil, http.Header{"Accept": {"text/event-stream"}})
		if err != nil {
			yield(Event{}, err)
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		var ev Event
		var data []byte
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Type != "" || len(data) > 0 {
					ev.Data = json.RawMessage(data)
					if !yield(ev, nil) {
						return
					}
				}
				ev, data = Event{}, nil
			case strings.HasPrefix(line, "id:"):
				ev.ID, _ = strconv.ParseInt(strings.TrimSpace(line[3:]), 10, 64)
			case strings.HasPrefix(line, "event:"):
				ev.Type = strings.TrimSpace(line[6:])
			case strings.HasPrefix(line, "data:"):
				data = append(data, strings.TrimPrefix(line[5:], " ")...)
			}
		}
		if err := sc.Err(); err != nil && ctx.Err() == nil {
			yield(Event{}, fmt.Errorf("apiclient: event stream of %s: %w", id, err))
		}
	}
}

// serveInProcess runs h for r and returns its answer; a streamed answer
// (the event stream) is handed over while h still writes it.
func serveInProcess(h http.Handler, r *http.Request) (*http.Response, error) {
	r.RemoteAddr = "127.0.0.1:0"
	if r.Body == nil {
		r.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			w.start(http.StatusOK)
			pw.Close()
		}()
		h.ServeHTTP(w, r)
	}()
	select {
	case <-w.ready:
	case <-r.Context().Done():
		pw.CloseWithError(r.Context().Err())
		return nil, r.Context().Err()
	}
	return &http.Response{
		Status: strconv.Itoa(w.status) + " " + http.StatusText(w.status), StatusCode: w.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, Body: pr, Request: r, ContentLength: -1,
	}, nil
}

var _ http.Flusher = (*pipeWriter)(nil)

// pipeWriter is an http.ResponseWriter whose body is read from a pipe; its
// status and header are handed over at the first write or flush.
type pipeWriter struct {
	header http.Header
	sent   http.Header
	status int
	pw     *io.PipeWriter
	ready  chan struct{}
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) start(code int) {
	if w.sent != nil {
		return
	}
	w.status, w.sent = code, w.header.Clone()
	close(w.ready)
}

func (w *pipeWriter) WriteHeader(code int) { w.start(code) }

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.start(http.StatusOK)
	return w.pw.Write(b)
}

func (w *pipeWriter) Flush() { w.start(http.StatusOK) }

// SetWriteDeadline lets handlers that extend their write deadline (the
// event stream) run in process, where there is no connection to time out.
func (w *pipeWriter) SetWriteDeadline(time.Time) error { return nil }
