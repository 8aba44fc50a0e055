// Package mcptest gives tests a real MCP server: the test binary run again
// as a stdio server process, or a server on loopback over streamable HTTP.
package mcptest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// ServeIfChild makes the test binary a stdio MCP server when the
// environment variable env is "1": it serves newServer's server on stdin and
// stdout and exits. Otherwise it returns at once. Call it first in TestMain;
// a test sets env (t.Setenv) before it starts the binary again, so only the
// child sees it.
func ServeIfChild(env string, newServer func() *sdk.Server) {
	if os.Getenv(env) != "1" {
		return
	}
	if err := newServer().Run(context.Background(), &sdk.StdioTransport{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// EchoArgs are the arguments of the "echo" tool.
type EchoArgs struct {
	Text string `json:"text" jsonschema:"text to echo"`
}

// NoArgs are the arguments of a tool that takes none.
type NoArgs struct{}

// Text is a tool result of one text content.
func Text(s string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: s}}}
}

// NewServer returns a server named name with three tools: "echo" answers
// "echo: " and its text, "pid" the server's process id (to tell processes
// apart), and "exit" ends the server's process (status 3) to stand for a
// server that dies. Callers may add more tools.
func NewServer(name string) *sdk.Server {
	s := sdk.NewServer(&sdk.Implementation{Name: name, Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "echo", Description: "Echo the text."}, func(_ context.Context, _ *sdk.CallToolRequest, in EchoArgs) (*sdk.CallToolResult, any, error) {
		return Text("echo: " + in.Text), nil, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "pid", Description: "The server's process id."}, func(context.Context, *sdk.CallToolRequest, NoArgs) (*sdk.CallToolResult, any, error) {
		return Text(strconv.Itoa(os.Getpid())), nil, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "exit", Description: "Ends the server process."}, func(context.Context, *sdk.CallToolRequest, NoArgs) (*sdk.CallToolResult, any, error) {
		os.Exit(3)
		return nil, nil, nil
	})
	return s
}

// HTTP serves newServer's servers over streamable HTTP on loopback and
// returns the server; it is closed when the test ends (closing it sooner is
// fine).
func HTTP(t testing.TB, newServer func() *sdk.Server) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return newServer() }, nil))
	t.Cleanup(srv.Close)
	return srv
}
