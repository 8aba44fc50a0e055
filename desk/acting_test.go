package desk_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/internal/mcptest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool/mcp"
)

// cmsServer is an MCP server with a tool that reads and one that publishes
// (its annotations say it is not read-only); published counts its calls.
func cmsServer(t *testing.T, published *atomic.Int64) string {
	t.Helper()
	no := false
	return mcptest.HTTP(t, func() *sdk.Server {
		s := sdk.NewServer(&sdk.Implementation{Name: "cms", Version: "1"}, nil)
		sdk.AddTool(s, &sdk.Tool{Name: "lookup", Description: "Look a story up.", Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true}},
			func(_ context.Context, _ *sdk.CallToolRequest, in struct {
				Slug string `json:"slug"`
			}) (*sdk.CallToolResult, any, error) {
				return mcptest.Text("story " + in.Slug + ": the harbour plan"), nil, nil
			})
		sdk.AddTool(s, &sdk.Tool{Name: "publish", Description: "Publish a story.", Annotations: &sdk.ToolAnnotations{DestructiveHint: &no}},
			func(_ context.Context, _ *sdk.CallToolRequest, in struct {
				Text  string `json:"text"`
				Token string `json:"token"`
			}) (*sdk.CallToolResult, any, error) {
				published.Add(1)
				return mcptest.Text("published"), nil, nil
			})
		return s
	}).URL
}

func cmsDesk(t *testing.T, url, extra string) *desk.Spec {
	t.Helper()
	src := `name: cms-desk
kind: roundrobin
agents:
  - name: Writer
    description: Writes and publishes.
    prompt: You are Writer.
    mcp:
      - {name: cms, url: "` + url + `"` + extra + `}
  - name: Editor
    description: Approves.
    prompt: You are Editor.
termination:
  any:
    - verdict: {agent: Editor, word: APPROVE}
    - max_messages: 2
`
	s, err := desk.Parse("cms.yaml", []byte(src), desk.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDesk_ACallToAnActingToolWaitsForAPersonAcrossARestart(t *testing.T) {
	var published atomic.Int64
	s := cmsDesk(t, cmsServer(t, &published), "")
	m, err := desk.ConnectMCP(context.Background(), s, mcp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	calls := map[string][]model.ToolCall{"Writer": {
		{ID: "r1", Name: "cms_lookup", Arguments: `{"slug":"harbour"}`},
		{ID: "p1", Name: "cms_publish", Arguments: `{"text":"The harbour plan passed.","token":"s3cret-token"}`},
	}}
	const task = "Facts: the harbour plan passed."
	leg := func(cp *team.Checkpoint) (*team.Result, []team.Event) {
		t.Helper()
		// A new team for each leg, as a service builds one when it resumes a run.
		tm, err := desk.New(desk.Config{Spec: s, Client: &toolScript{tools: map[string][]string{}, calls: calls}, MCP: m})
		if err != nil {
			t.Fatal(err)
		}
		var opts []team.RunOption
		from := team.Checkpoint{}
		if cp != nil {
			opts, from = append(opts, team.WithCheckpoint(*cp)), *cp
		}
		var evs []team.Event
		res, err := team.Collect(task, from, tm.Stream(context.Background(), task, append(opts, team.WithGrounding(nil))...), func(e team.Event) {
			evs = append(evs, e)
			if cp != nil {
				cp.Apply(e)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return res, evs
	}
	for _, tc := range []struct {
		decision string
		want     int64 // publish calls
	}{{team.ToolDeny, 0}, {team.ToolAllow, 1}} {
		t.Run(tc.decision, func(t *testing.T) {
			published.Store(0)
			cp := &team.Checkpoint{}
			res, evs := leg(cp)
			if res.StopReason != team.StopAwaitingToolApproval || cp.AwaitingTool == nil {
				t.Fatalf("stop %q, awaiting %+v; want the run paused", res.StopReason, cp.AwaitingTool)
			}
			a := cp.AwaitingTool
			if a.Tool != "cms_publish" || a.Speaker != "Writer" || strings.Contains(a.Arguments, "s3cret") || !strings.Contains(a.Arguments, "The harbour plan passed.") {
				t.Fatalf("approval %+v; want the call, its secret redacted", a)
			}
			if published.Load() != 0 {
				t.Fatal("the acting tool ran before a person allowed it")
			}
			if len(cp.ToolResults) != 1 || cp.ToolResults[0].Name != "cms_lookup" {
				t.Fatalf("stored results %+v; want the read-only call's only", cp.ToolResults)
			}
			if evs[len(evs)-2].Type != team.EventToolApprovalRequested {
				t.Fatalf("events end %v", evs[len(evs)-2].Type)
			}
			d, err := team.DecideTool(*cp, tc.decision, "eic@example", "", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			cp.Apply(d)
			res, _ = leg(cp)
			if published.Load() != tc.want {
				t.Fatalf("publish ran %d times, want %d", published.Load(), tc.want)
			}
			if res.StopReason == team.StopAwaitingToolApproval {
				t.Fatalf("the decided run paused again")
			}
			var ex *string
			for _, msg := range res.Messages {
				for _, x := range msg.ToolCalls {
					if x.Name == "cms_publish" {
						ex = &x.Result
						if (tc.decision == team.ToolDeny) != (x.IsError && strings.Contains(x.Result, "denied") && !strings.Contains(x.Result, "<<<DATA")) {
							t.Errorf("publish result %+v", x)
						}
					}
				}
			}
			if ex == nil {
				t.Fatalf("no publish exchange in %+v", res.Messages)
			}
		})
	}
}

func TestDesk_TheFileSaysWhichToolsAct(t *testing.T) {
	var published atomic.Int64
	url := cmsServer(t, &published)
	for _, tc := range []struct {
		extra string
		pause bool
	}{
		{`, approval: none`, false},
		{`, effect: read`, false},
		{`, effect: write`, true},
	} {
		s := cmsDesk(t, url, tc.extra)
		m, err := desk.ConnectMCP(context.Background(), s, mcp.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string][]model.ToolCall{"Writer": {{ID: "r1", Name: "cms_lookup", Arguments: `{"slug":"harbour"}`}}}
		tm, err := desk.New(desk.Config{Spec: s, Client: &toolScript{tools: map[string][]string{}, calls: calls}, MCP: m})
		if err != nil {
			t.Fatal(err)
		}
		res, err := team.Run(context.Background(), tm, "Facts: x.", team.WithGrounding(nil))
		_ = m.Close()
		if err != nil {
			t.Fatal(err)
		}
		if paused := res.StopReason == team.StopAwaitingToolApproval; paused != tc.pause {
			t.Errorf("%s: stop %q, want paused %v", tc.extra, res.StopReason, tc.pause)
		}
	}
}
