package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/newsroom-dev/newsroom/internal/nodeclient"
)

// TestMCP_StdioServesTheTypeScriptSDKAsTheLocalUser: an assistant launches
// `newsroom mcp` and commissions a story over stdio with the official
// TypeScript SDK; with nothing configured it runs on the emulator, the
// approval defaults to none (the local user runs it), and the protocol
// stream on standard output carries nothing but the protocol.
func TestMCP_StdioServesTheTypeScriptSDKAsTheLocalUser(t *testing.T) {
	t.Parallel()
	nodeclient.Dir(t)
	env, dir := cleanEnv(t)
	cmdline, _ := json.Marshal([]string{buildBinary(t), "mcp", "--db", filepath.Join(dir, "newsroom.db")})
	var got struct {
		IsError      bool           `json:"isError"`
		Text         string         `json:"text"`
		Result       map[string]any `json:"result"`
		GetRunStatus string         `json:"getRunStatus"`
		Progress     []string       `json:"progress"`
		Error        string         `json:"error"`
		Stderr       string         `json:"stderr"`
	}
	nodeclient.Run(t, "../../protocols/testdata/mcp-client.mjs", &got, env, "stdio", string(cmdline), "",
		"Facts: The city library opens a new branch on Saturday. It cost 4 million euros.", "")
	if got.Error != "" || got.IsError {
		t.Fatalf("client: %+v", got)
	}
	if got.Result["status"] != "succeeded" || got.Result["emulated"] != true || !strings.Contains(got.Text, "library") {
		t.Errorf("result %v text %q: want a succeeded emulated run with the article (approval none by default)", got.Result, got.Text)
	}
	if len(got.Progress) == 0 {
		t.Error("no progress notifications over stdio")
	}
	if !strings.Contains(got.Stderr, "serving on http://127.0.0.1:") {
		t.Errorf("the service's own lines belong on stderr; stderr = %q", got.Stderr)
	}
}

// TestRunServe_ServesTheProtocolsBesideTheAPI: serve mounts MCP at /mcp
// (with its protected resource metadata), AG-UI at /agui and A2A at /a2a
// with the agent card, each answering with the API's credentials.
func TestRunServe_ServesTheProtocolsBesideTheAPI(t *testing.T) {
	t.Parallel()
	s := startServe(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mc := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	cs, err := mc.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.base + "/mcp", DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: bearer{"Bearer " + s.key}}}, nil)
	if err != nil {
		t.Fatalf("MCP connect: %v", err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "list_desks"})
	if err != nil || res.IsError {
		t.Fatalf("list_desks: %v %+v", err, res)
	}
	for path, want := range map[string]string{
		"/.well-known/oauth-protected-resource/mcp": `"resource":"` + s.base + `/mcp"`,
		"/.well-known/agent-card.json":              `"url":"` + s.base + `/a2a"`,
	} {
		resp := s.do(t, "GET", path, "")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d %s, want %s", path, resp.StatusCode, b, want)
		}
	}
	resp := s.do(t, "POST", "/agui", `{`)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST /agui with bad JSON: %d, want 400", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", s.base+"/a2a", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"id":"x"}}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("A2A without a key: %v %v, want 401", resp.StatusCode, err)
	}
}

type bearer struct{ auth string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", b.auth)
	return http.DefaultTransport.RoundTrip(r)
}
