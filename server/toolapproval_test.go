package server

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
)

// publishTool acts: it says so (tool.Acting), as an MCP tool's annotations would.
type publishTool struct {
	tool.Tool
	calls *atomic.Int64
}

func (p publishTool) Acts() bool { return true }

func newPublishTool(calls *atomic.Int64) publishTool {
	return publishTool{calls: calls, Tool: tool.MustFunc("cms_publish", "Publish a story.", func(_ context.Context, a struct {
		Text  string `json:"text"`
		Token string `json:"token"`
	}) (tool.Result, error) {
		calls.Add(1)
		return tool.Result{Content: "published"}, nil
	})}
}

// publishing asks for cms_publish when it is offered and the conversation
// has no call of it yet; otherwise the emulator answers.
type publishing struct{ next model.Client }

func (p publishing) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	offered := false
	for _, t := range req.Tools {
		offered = offered || t.Name == "cms_publish"
	}
	for _, m := range req.Messages {
		for _, c := range m.ToolCalls {
			offered = offered && c.Name != "cms_publish"
		}
	}
	if offered {
		return &model.Response{FinishReason: "tool_calls", Usage: model.Usage{PromptTokens: 10, CompletionTokens: 5, Requests: 1},
			ToolCalls: []model.ToolCall{{ID: "call_pub", Name: "cms_publish", Arguments: `{"text":"The council met.","token":"s3cret-token"}`}}}, nil
	}
	return p.next.Complete(ctx, req)
}

func TestServer_ACallToAnActingToolWaitsForTheEditorInChiefThroughTheAPI(t *testing.T) {
	var calls atomic.Int64
	e := newEnv(t, envOpts{extra: []tool.Tool{newPublishTool(&calls)},
		wrap: func(c model.Client) model.Client { return publishing{next: c} }})
	for _, tc := range []struct {
		decision string
		calls    int64
	}{{team.ToolDeny, 0}, {team.ToolAllow, 1}} {
		t.Run(tc.decision, func(t *testing.T) {
			calls.Store(0)
			v := e.create(e.user, `{"task":"Facts: The council met on Monday.","approval":"none"}`)
			got := e.waitStatus(e.user, v.ID, StatusAwaitingToolApproval)
			if got.ToolApproval == nil || got.ToolApproval.Tool != "cms_publish" {
				t.Fatalf("run %s, tool approval %+v; want it waiting for cms_publish", got.Status, got.ToolApproval)
			}
			if strings.Contains(got.ToolApproval.Arguments, "s3cret") || !strings.Contains(got.ToolApproval.Arguments, "The council met.") {
				t.Errorf("arguments shown %q; want them with the token redacted", got.ToolApproval.Arguments)
			}
			if calls.Load() != 0 {
				t.Fatal("the acting tool ran before anyone allowed it")
			}
			// A reporter may not decide; the article's decision route does not apply.
			if resp, _ := e.do("POST", "/v1/runs/"+v.ID+"/tool-decision", e.user, `{"decision":"allow"}`); resp.StatusCode != http.StatusForbidden {
				t.Errorf("a reporter's decision = %d, want 403", resp.StatusCode)
			}
			if resp, _ := e.do("POST", "/v1/runs/"+v.ID+"/decision", e.admin, `{"decision":"approve"}`); resp.StatusCode != http.StatusConflict {
				t.Errorf("an article decision on a tool wait = %d, want 409", resp.StatusCode)
			}
			if resp, body := e.do("POST", "/v1/runs/"+v.ID+"/tool-decision", e.admin, `{"decision":"`+tc.decision+`","note":"not yet"}`); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("decision = %d %s", resp.StatusCode, body)
			}
			if resp, _ := e.do("POST", "/v1/runs/"+v.ID+"/tool-decision", e.admin, `{"decision":"allow"}`); resp.StatusCode != http.StatusConflict {
				t.Errorf("a second decision = %d, want 409", resp.StatusCode)
			}
			done := e.waitFinished(e.user, v.ID)
			if done.Status != store.StatusSucceeded {
				t.Fatalf("the decided run is %s (%s %s)", done.Status, done.StopReason, done.Error)
			}
			if calls.Load() != tc.calls {
				t.Fatalf("cms_publish ran %d times, want %d", calls.Load(), tc.calls)
			}
			found := false
			for _, m := range done.Messages {
				for _, ex := range m.ToolCalls {
					if ex.Name == "cms_publish" {
						found = true
						if denied := ex.IsError && strings.Contains(ex.Result, "denied") && strings.Contains(ex.Result, "not yet"); denied != (tc.decision == team.ToolDeny) {
							t.Errorf("the model saw %q", ex.Result)
						}
					}
				}
			}
			if !found {
				t.Errorf("no cms_publish exchange in the run's messages")
			}
		})
	}
}

func TestE2E_TheEditorInChiefAllowsAToolCallOnThePage(t *testing.T) {
	ctx := browser(t)
	var calls atomic.Int64
	e := newEnv(t, envOpts{extra: []tool.Tool{newPublishTool(&calls)},
		wrap: func(c model.Client) model.Client { return publishing{next: c} }})
	v := e.create(e.user, `{"task":"Facts: The council met on Monday.","approval":"none"}`)
	e.waitStatus(e.user, v.ID, StatusAwaitingToolApproval)
	must(t, "open the waiting run", chromedp.Do(ctx,
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem('newsroom.apiKey', '`+e.admin+`')`),
		chromedp.Navigate(e.ts.URL+"/#run="+v.ID),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#tool-decision")),
	))
	args := text(t, ctx, "#tool-call-args")
	if !strings.Contains(text(t, ctx, "#tool-call-name"), "cms_publish") || strings.Contains(args, "s3cret") || !strings.Contains(args, "The council met.") {
		t.Fatalf("the page shows %q %q", text(t, ctx, "#tool-call-name"), args)
	}
	if calls.Load() != 0 {
		t.Fatal("the tool ran before the click")
	}
	must(t, "allow", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tool-allow"))))
	if got := e.waitFinished(e.user, v.ID); got.Status != store.StatusSucceeded || calls.Load() != 1 {
		t.Fatalf("run %s, cms_publish ran %d times; want it allowed once", got.Status, calls.Load())
	}
}

func TestServer_AToolApprovalWaitSurvivesARestart(t *testing.T) {
	var calls atomic.Int64
	opts := func(db string) envOpts {
		return envOpts{dbPath: db, extra: []tool.Tool{newPublishTool(&calls)},
			wrap: func(c model.Client) model.Client { return publishing{next: c} }}
	}
	e := newEnv(t, opts(""))
	v := e.create(e.user, `{"task":"Facts: The council met on Monday.","approval":"none"}`)
	e.waitStatus(e.user, v.ID, StatusAwaitingToolApproval)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.srv.Shutdown(ctx)
	e.ts.Close()

	// Another instance on the same database decides.
	e2 := newEnv(t, opts(e.dbPath))
	if got := e2.get(e2.admin, v.ID); got.Status != StatusAwaitingToolApproval || got.ToolApproval == nil {
		t.Fatalf("after the restart the run is %s (%+v)", got.Status, got.ToolApproval)
	}
	if resp, body := e2.do("POST", "/v1/runs/"+v.ID+"/tool-decision", e2.admin, `{"decision":"allow"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("decision = %d %s", resp.StatusCode, body)
	}
	if got := e2.waitFinished(e2.admin, v.ID); got.Status != store.StatusSucceeded || calls.Load() != 1 {
		t.Fatalf("run %s, cms_publish ran %d times", got.Status, calls.Load())
	}
}

// TestServer_AToolApprovalDecidedOnAnotherInstanceRunsTheToolOnce: two
// instances share one PostgreSQL; the run waits on A, an editor-in-chief
// allows the call on B, and the tool runs exactly once, wherever the run
// resumes.
func TestServer_AToolApprovalDecidedOnAnotherInstanceRunsTheToolOnce(t *testing.T) {
	dsn := testsvc.Postgres(t)
	var calls atomic.Int64
	opts := func(id string, emu *emulator.Running) envOpts {
		return envOpts{openStore: openPostgres(dsn), emulator: emu, cfg: clusterConfig(id, 1, 3*time.Second),
			extra: []tool.Tool{newPublishTool(&calls)}, wrap: func(c model.Client) model.Client { return publishing{next: c} }}
	}
	a := newEnv(t, opts("A", nil))
	b := newEnv(t, opts("B", a.emu))
	v := a.create(a.user, `{"task":"Facts: The council met on Monday.","approval":"none"}`)
	a.waitStatus(a.user, v.ID, StatusAwaitingToolApproval)
	if got := b.get(b.admin, v.ID); got.Status != StatusAwaitingToolApproval || got.ToolApproval == nil {
		t.Fatalf("on B the run is %s (%+v)", got.Status, got.ToolApproval)
	}
	if calls.Load() != 0 {
		t.Fatalf("the acting tool ran %d times before anyone allowed it", calls.Load())
	}
	if resp, body := b.do("POST", "/v1/runs/"+v.ID+"/tool-decision", b.admin, `{"decision":"allow"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("decision on B = %d %s", resp.StatusCode, body)
	}
	if got := b.waitFinished(b.admin, v.ID); got.Status != store.StatusSucceeded || calls.Load() != 1 {
		t.Fatalf("run %s, cms_publish ran %d times; want succeeded and once", got.Status, calls.Load())
	}
}
