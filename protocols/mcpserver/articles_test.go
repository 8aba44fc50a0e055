package mcpserver_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/newsroom-dev/newsroom/protocols/internal/svctest"
)

// TestMCP_PublishedArticlesAreToolsAndResources: a run without approval
// required publishes its article; list_articles lists it, get_article and
// the resource newsroom://articles/{id} read it, with its provenance.
func TestMCP_PublishedArticlesAreToolsAndResources(t *testing.T) {
	t.Parallel()
	s := startHTTP(t, svctest.Options{})
	cs := connect(t, s, s.Keys["reporter"], nil)
	res, out := call(t, cs, "write_article", map[string]any{"task": "Facts: The harbour bridge reopened on Monday after repairs costing 3 million euros.", "approval": "none"})
	if res.IsError || out["status"] != "succeeded" {
		t.Fatalf("write_article: %v", out)
	}
	var list map[string]any
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		res, list = call(t, cs, "list_articles", map[string]any{"limit": 5})
		if res.IsError {
			t.Fatalf("list_articles: %s", text(res))
		}
		if arts, _ := list["articles"].([]any); len(arts) > 0 || time.Now().After(deadline) {
			break
		}
	}
	arts, _ := list["articles"].([]any)
	if len(arts) != 1 {
		t.Fatalf("list_articles = %v, want the published article", list)
	}
	id, _ := arts[0].(map[string]any)["id"].(string)
	res, got := call(t, cs, "get_article", map[string]any{"id": id})
	a, _ := got["article"].(map[string]any)
	if res.IsError || a["id"] != id || !strings.Contains(text(res), "bridge") || a["provenance"] == nil {
		t.Fatalf("get_article(%s) = %v (%s)", id, got, text(res))
	}
	rr, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "newsroom://articles/" + id})
	if err != nil || len(rr.Contents) != 1 {
		t.Fatalf("read resource: %v %+v", err, rr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(rr.Contents[0].Text), &doc); err != nil || doc["id"] != id {
		t.Fatalf("resource content %q: %v", rr.Contents[0].Text, err)
	}
	if _, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "newsroom://articles/nope"}); err == nil {
		t.Error("an unknown article's resource was read")
	}
	res, _ = call(t, cs, "get_article", map[string]any{"id": "art_nope"})
	if !res.IsError || !strings.Contains(text(res), "not_found") {
		t.Errorf("an unknown article: %q, want the API's not_found", text(res))
	}
}
