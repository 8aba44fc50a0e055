package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

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
