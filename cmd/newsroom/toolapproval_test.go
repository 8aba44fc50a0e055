package main

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/internal/mcptest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool/mcp"
)

// publishFirst asks for the acting tool once per conversation, then lets the emulator answer.
type publishFirst struct{ next model.Client }

func (p publishFirst) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
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
		return &model.Response{FinishReason: "tool_calls", ToolCalls: []model.ToolCall{{ID: "p1", Name: "cms_publish",
			Arguments: `{"text":"The library opened.","api_key":"k-123"}`}}}, nil
	}
	return p.next.Complete(ctx, req)
}

func TestRunWithApproval_ATerminalAllowsOrDeniesAnActingTool(t *testing.T) {
	var published atomic.Int64
	srv := mcptest.HTTP(t, func() *sdk.Server {
		s := sdk.NewServer(&sdk.Implementation{Name: "cms", Version: "1"}, nil)
		sdk.AddTool(s, &sdk.Tool{Name: "publish", Description: "Publish a story.", Annotations: &sdk.ToolAnnotations{ReadOnlyHint: false}},
			func(_ context.Context, _ *sdk.CallToolRequest, in struct {
				Text   string `json:"text"`
				APIKey string `json:"api_key"`
			}) (*sdk.CallToolResult, any, error) {
				published.Add(1)
				return mcptest.Text("published"), nil, nil
			})
		return s
	})
	srvConn, err := mcp.Connect(context.Background(), mcp.Spec{Name: "cms", URL: srv.URL}, mcp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srvConn.Close() })
	_, client := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
	const task = "Facts: A library opened on Monday."
	for _, tc := range []struct {
		name  string
		input string // nil decider: denyTools
		want  int64
	}{{"allowed at the terminal", "maybe\na\n", 1}, {"denied at the terminal", "d\n", 0}, {"without --approve", "", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			published.Store(0)
			tm, err := desk.New(desk.Config{Client: publishFirst{next: client}, Model: "gpt-4o", ExtraTools: srvConn.Tools()})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			decideTool := denyTools(time.Now)
			if tc.input != "" {
				decideTool = terminalToolDecider(strings.NewReader(tc.input), &out, "local:eic", time.Now)
			}
			var asked int
			res, err := runWithApproval(streamOf(tm, task), task, []team.RunOption{team.WithGrounding(nil)}, func(e team.Event) {
				if e.Type == team.EventToolApprovalRequested {
					asked++
				}
			}, nil, decideTool)
			if err != nil {
				t.Fatal(err)
			}
			if asked != 1 || published.Load() != tc.want || res.StopReason == team.StopAwaitingToolApproval {
				t.Fatalf("asked %d times, published %d (want %d), stop %q", asked, published.Load(), tc.want, res.StopReason)
			}
			reasked := strings.Contains(out.String(), "Please answer") // the allowing input starts with a wrong answer
			if tc.input != "" && (!strings.Contains(out.String(), "cms_publish") || strings.Contains(out.String(), "k-123") || reasked != (tc.want == 1)) {
				t.Errorf("the terminal showed:\n%s", out.String())
			}
		})
	}
}
