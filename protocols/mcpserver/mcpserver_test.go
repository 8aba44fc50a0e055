package mcpserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/newsroom-dev/newsroom/apiclient"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/protocols/internal/svctest"
	"github.com/newsroom-dev/newsroom/protocols/mcpserver"
	"github.com/newsroom-dev/newsroom/server"
)

// startHTTP is a service with /mcp mounted as serve mounts it.
func startHTTP(t *testing.T, o svctest.Options) *svctest.Service {
	t.Helper()
	o.Mount = func(s *svctest.Service) map[string]http.Handler {
		api := apiclient.Handler(s.Srv.Handler())
		srv := mcpserver.New(mcpserver.Config{API: api, Version: "test", PerRequestAuth: true})
		return map[string]http.Handler{"/mcp": mcpserver.HTTPHandler(srv, api, func(r *http.Request) string {
			return "http://" + r.Host + "/.well-known/oauth-protected-resource/mcp"
		})}
	}
	return svctest.Start(t, o)
}

func connect(t *testing.T, s *svctest.Service, auth string, progress func(string)) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			if progress != nil {
				progress(r.Params.Message)
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.HTTP.URL + "/mcp",
		HTTPClient: svctest.HTTPClient(auth), DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args, Meta: mcp.Meta{"progressToken": "p1"}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out map[string]any
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		_ = json.Unmarshal(b, &out)
	}
	return res, out
}

func TestMCP_WriteArticleOverHTTPReturnsTheArticleWithProgress(t *testing.T) {
	t.Parallel()
	s := startHTTP(t, svctest.Options{})
	var mu sync.Mutex
	var notes []string
	cs := connect(t, s, s.Keys["reporter"], func(m string) { mu.Lock(); notes = append(notes, m); mu.Unlock() })
	if v := cs.InitializeResult().ProtocolVersion; v == "" {
		t.Fatal("no protocol version negotiated")
	} else {
		t.Logf("protocol version %q", v)
	}
	res, out := call(t, cs, "write_article", map[string]any{"task": "Facts: The harbour bridge reopened on Monday after repairs costing 3 million euros.", "approval": "none"})
	if res.IsError {
		t.Fatalf("write_article failed: %+v", res.Content)
	}
	if out["status"] != "succeeded" || !strings.Contains(out["article"].(string), "bridge") {
		t.Fatalf("structured content = %v, want a succeeded run with the article", out)
	}
	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(notes, "\n")
	if !strings.Contains(joined, "News_Reporter wrote message 1") || !strings.Contains(joined, "is working") {
		t.Errorf("progress notifications = %q, want who is working and the messages", joined)
	}
}

func TestMCP_ToolsCarryOutputSchemasAndTruthfulAnnotations(t *testing.T) {
	t.Parallel()
	s := startHTTP(t, svctest.Options{})
	cs := connect(t, s, s.Keys["reader"], nil)
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"write_article": false, "get_run": true, "list_desks": true, "list_articles": true, "get_article": true}
	for _, tl := range res.Tools {
		ro, ok := want[tl.Name]
		if !ok {
			continue
		}
		delete(want, tl.Name)
		if tl.OutputSchema == nil {
			t.Errorf("%s has no output schema", tl.Name)
		}
		if tl.Annotations == nil || tl.Annotations.ReadOnlyHint != ro {
			t.Errorf("%s annotations %+v, want readOnlyHint %v", tl.Name, tl.Annotations, ro)
		}
		if !ro && (tl.Annotations.DestructiveHint == nil || *tl.Annotations.DestructiveHint) {
			t.Errorf("%s: destructiveHint must be false (it only adds a run)", tl.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("tools missing: %v", want)
	}
}

func TestMCP_RolesAndLimitsAreTheAPIs(t *testing.T) {
	t.Parallel()
	s := startHTTP(t, svctest.Options{})
	// A reader may look but not commission.
	cs := connect(t, s, s.Keys["reader"], nil)
	res, _ := call(t, cs, "write_article", map[string]any{"task": "Facts: x."})
	if !res.IsError || !strings.Contains(text(res), "forbidden") {
		t.Errorf("a reader's write_article = %q, want the API's forbidden error", text(res))
	}
	res, out := call(t, cs, "list_desks", nil)
	if res.IsError || len(out["desks"].([]any)) == 0 {
		t.Errorf("list_desks = %v", out)
	}
	// Bad input is the API's 400 code.
	cs2 := connect(t, s, s.Keys["reporter"], nil)
	res, _ = call(t, cs2, "write_article", map[string]any{"task": "Facts: x.", "desk": "nope"})
	if !res.IsError || !strings.Contains(text(res), "unknown_team") {
		t.Errorf("unknown desk = %q, want unknown_team", text(res))
	}
}

func TestMCP_WithoutCredentialsIs401WithResourceMetadata(t *testing.T) {
	t.Parallel()
	s := startHTTP(t, svctest.Options{})
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, s.HTTP.URL+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "resource_metadata=") {
		t.Fatalf("status %d, WWW-Authenticate %q; want 401 naming the resource metadata", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestMCP_ARunThatNeedsApprovalReturnsItsStateAndAPersonDecides(t *testing.T) {
	t.Parallel()
	s := startHTTP(t, svctest.Options{RequireApproval: true})
	cs := connect(t, s, s.Keys["reporter"], nil)
	res, out := call(t, cs, "write_article", map[string]any{"task": "Facts: The library opens on Saturday."})
	if res.IsError || out["status"] != "awaiting_approval" || out["waiting_for"] == "" {
		t.Fatalf("write_article = %v, want the run waiting for approval", out)
	}
	id := out["run_id"].(string)
	// The reporter cannot approve through newsroom; an editor-in-chief can.
	if _, err := apiclient.New(s.HTTP.URL, nil).WithAuthorization(s.Keys["reporter"]).Decide(context.Background(), id, decision("approve")); apiclient.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("reporter's approve: %v, want 403", err)
	}
	if _, err := apiclient.New(s.HTTP.URL, nil).WithAuthorization(s.Keys["editor-in-chief"]).Decide(context.Background(), id, decision("approve")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, got := call(t, cs, "get_run", map[string]any{"run_id": id})
		if got["status"] == "approved" || got["status"] == "succeeded" {
			if got["article"] == "" {
				t.Fatalf("approved run without an article: %v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run still %v after approval", got["status"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func text(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func decision(d string) server.DecisionRequest { return server.DecisionRequest{Decision: d} }

func TestMCP_CancellingTheCallCancelsTheRun(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 16)
	s := startHTTP(t, svctest.Options{Wrap: func(next model.Client) model.Client {
		return model.ClientFunc(func(ctx context.Context, req *model.Request) (*model.Response, error) {
			started <- struct{}{}
			<-ctx.Done() // every model call hangs until the run is cancelled
			return nil, ctx.Err()
		})
	}})
	cs := connect(t, s, s.Keys["reporter"], nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "write_article", Arguments: map[string]any{"task": "Facts: The ferry runs again.", "approval": "none"}})
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(time.Minute):
		t.Fatal("the run's first model call never came")
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a cancelled call returned no error")
	}
	api := apiclient.New(s.HTTP.URL, nil).WithAuthorization(s.Keys["reporter"])
	deadline := time.Now().Add(time.Minute)
	for {
		var list struct {
			Runs []server.RunView `json:"runs"`
		}
		if err := api.Call(context.Background(), http.MethodGet, "/v1/runs", nil, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Runs) == 1 && list.Runs[0].Status == "cancelled" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs after the cancelled call: %+v, want one cancelled", list.Runs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
