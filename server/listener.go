package server

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Listener wraps ln so that the errors net/http answers itself, before any
// handler runs (a malformed request line or header, headers too large, an
// unsupported transfer encoding), reach the client as the API's JSON error
// instead of plain text. Serve the service's http.Server on it.
func (s *Server) Listener(ln net.Listener) net.Listener { return jsonErrorListener{ln} }

type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c}, nil
}

// netHTTPErrorHeaders are the headers net/http writes with the error
// responses it sends straight to the connection (server.go, conn.serve); no
// response of a handler looks like that, since every one of them carries the
// security headers.
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

type jsonErrorConn struct{ net.Conn }

// Write passes everything through except net/http's own plain-text error
// responses, which it rewrites as JSON errors. net/http writes each of those
// in one call.
func (c *jsonErrorConn) Write(b []byte) (int, error) {
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 4")) && !bytes.HasPrefix(b, []byte("HTTP/1.1 5")) {
		return c.Conn.Write(b)
	}
	status, _, ok := bytes.Cut(b, []byte(netHTTPErrorHeaders))
	if !ok || bytes.Contains(status, []byte("\r\n")) {
		return c.Conn.Write(b)
	}
	// "HTTP/1.1 400 Bad Request: malformed Host header"
	line := strings.TrimPrefix(string(status), "HTTP/1.1 ")
	codeText, detail, _ := strings.Cut(line, " ")
	code, err := strconv.Atoi(codeText)
	if err != nil {
		return c.Conn.Write(b)
	}
	msg := http.StatusText(code)
	if _, d, ok := strings.Cut(detail, ": "); ok {
		msg += ": " + d
	}
	var body errorBody
	body.Error.Code, body.Error.Message = netHTTPErrorCode(code), msg
	js, _ := json.Marshal(body)
	resp := "HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n" +
		"Content-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\n" +
		"X-Content-Type-Options: nosniff\r\nContent-Security-Policy: " + contentSecurityPolicy + "\r\n" +
		"Connection: close\r\nContent-Length: " + strconv.Itoa(len(js)+1) + "\r\n\r\n" + string(js) + "\n"
	if _, err := c.Conn.Write([]byte(resp)); err != nil {
		return 0, err
	}
	return len(b), nil
}

func netHTTPErrorCode(code int) string {
	switch code {
	case http.StatusRequestHeaderFieldsTooLarge:
		return "headers_too_large"
	case http.StatusNotImplemented:
		return "not_implemented"
	}
	return "bad_request"
}
