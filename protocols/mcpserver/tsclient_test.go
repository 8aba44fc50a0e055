package mcpserver_test

import (
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/internal/nodeclient"
	"github.com/newsroom-dev/newsroom/protocols/internal/svctest"
)

// tsResult is what testdata/mcp-client.mjs prints.
type tsResult struct {
	ProtocolVersion string           `json:"protocolVersion"`
	Tools           []map[string]any `json:"tools"`
	IsError         bool             `json:"isError"`
	Text            string           `json:"text"`
	Result          map[string]any   `json:"result"`
	GetRunStatus    string           `json:"getRunStatus"`
	BadInput        string           `json:"badInput"`
	Progress        []string         `json:"progress"`
	Error           string           `json:"error"`
}

func TestMCP_TheTypeScriptSDKCommissionsAStoryOverHTTP(t *testing.T) {
	t.Parallel()
	nodeclient.Dir(t)
	s := startHTTP(t, svctest.Options{})
	var got tsResult
	nodeclient.Run(t, "../testdata/mcp-client.mjs", &got, nil, "http", s.HTTP.URL+"/mcp", s.Keys["reporter"],
		"Facts: The harbour bridge reopened on Monday after repairs costing 3 million euros.", "none")
	if got.Error != "" || got.IsError {
		t.Fatalf("client: %+v", got)
	}
	if got.Result["status"] != "succeeded" || !strings.Contains(got.Text, "bridge") || got.GetRunStatus != "succeeded" {
		t.Errorf("result %v, text %q, get_run %q", got.Result, got.Text, got.GetRunStatus)
	}
	if len(got.Progress) == 0 {
		t.Error("no progress notifications reached the TypeScript client")
	}
	if len(got.Tools) < 5 {
		t.Errorf("tools = %v", got.Tools)
	}
	if !strings.Contains(got.BadInput, "run_id") {
		t.Errorf("get_run without run_id = %q, want an error naming run_id", got.BadInput)
	}
}

func TestMCP_TheTypeScriptSDKWithAReaderKeyIsRefused(t *testing.T) {
	t.Parallel()
	nodeclient.Dir(t)
	s := startHTTP(t, svctest.Options{})
	var got tsResult
	nodeclient.Run(t, "../testdata/mcp-client.mjs", &got, nil, "http", s.HTTP.URL+"/mcp", s.Keys["reader"], "Facts: x.", "")
	if !got.IsError || !strings.Contains(got.Text, "forbidden") {
		t.Fatalf("a reader's write_article: %+v, want the API's forbidden", got)
	}
	var anon tsResult
	nodeclient.Run(t, "../testdata/mcp-client.mjs", &anon, nil, "http", s.HTTP.URL+"/mcp", "", "Facts: x.", "")
	if anon.Error == "" || !strings.Contains(anon.Error, "unauthorized") {
		t.Fatalf("no credentials: %+v, want the connection refused with the API's unauthorized", anon)
	}
}
