package agui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/apiclient"
	"github.com/newsroom-dev/newsroom/internal/nodeclient"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/protocols/agui"
	"github.com/newsroom-dev/newsroom/protocols/internal/svctest"
	"github.com/newsroom-dev/newsroom/server"
)

type aguiRun struct {
	Types    []string          `json:"types"`
	Text     map[string]string `json:"text"`
	State    map[string]any    `json:"state"`
	Finished *struct {
		Outcome map[string]any `json:"outcome"`
		Result  map[string]any `json:"result"`
	} `json:"finished"`
	Error  *struct{ Message, Code string } `json:"error"`
	Thrown string                          `json:"thrown"`
}

func start(t *testing.T, o svctest.Options) *svctest.Service {
	t.Helper()
	o.Mount = func(s *svctest.Service) map[string]http.Handler {
		return map[string]http.Handler{"/agui": agui.Handler(apiclient.Handler(s.Srv.Handler()))}
	}
	return svctest.Start(t, o)
}

func TestAGUI_TheClientReadsARunFromStartToArticle(t *testing.T) {
	t.Parallel()
	nodeclient.Dir(t)
	s := start(t, svctest.Options{})
	var got struct{ Runs []aguiRun }
	nodeclient.Run(t, "../testdata/agui-client.mjs", &got, nil, s.HTTP.URL+"/agui", s.Keys["reporter"],
		"Facts: The harbour bridge reopened on Monday after repairs costing 3 million euros.", "none")
	if len(got.Runs) != 1 {
		t.Fatalf("runs = %+v", got.Runs)
	}
	r := got.Runs[0]
	if r.Thrown != "" || r.Error != nil {
		t.Fatalf("the client failed: %+v", r)
	}
	if r.Types[0] != "RUN_STARTED" || r.Types[len(r.Types)-1] != "RUN_FINISHED" {
		t.Errorf("events %v: want RUN_STARTED first and RUN_FINISHED last", r.Types)
	}
	for _, want := range []string{"TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "STATE_SNAPSHOT"} {
		if !slices.Contains(r.Types, want) {
			t.Errorf("no %s in %v", want, r.Types)
		}
	}
	if len(r.Text) < 2 {
		t.Errorf("text messages %v: want one per agent turn", r.Text)
	}
	if r.Finished.Outcome["type"] != "success" || !strings.Contains(r.Finished.Result["article"].(string), "bridge") {
		t.Errorf("finish %+v: want success with the article", r.Finished)
	}
	if r.State["status"] != "succeeded" || r.State["cost_usd"].(float64) <= 0 {
		t.Errorf("last state %v: want the finished status and its cost", r.State)
	}
}

func TestAGUI_ApprovalIsAnInterruptThatOnlyAnEditorInChiefResumes(t *testing.T) {
	t.Parallel()
	nodeclient.Dir(t)
	s := start(t, svctest.Options{RequireApproval: true})
	// The reporter's own resume is refused by newsroom's roles.
	var mine struct{ Runs []aguiRun }
	nodeclient.Run(t, "../testdata/agui-client.mjs", &mine, nil, s.HTTP.URL+"/agui", s.Keys["reporter"],
		"Facts: The library opens on Saturday.", "", s.Keys["reporter"])
	if len(mine.Runs) != 2 || mine.Runs[0].Finished.Outcome["type"] != "interrupt" {
		t.Fatalf("runs %+v: want an interrupt, then the resume", mine.Runs)
	}
	if !strings.Contains(mine.Runs[1].Thrown, "403") && !strings.Contains(mine.Runs[1].Thrown, "forbidden") {
		t.Errorf("a reporter's resume: %+v, want newsroom's 403", mine.Runs[1])
	}
	var got struct{ Runs []aguiRun }
	nodeclient.Run(t, "../testdata/agui-client.mjs", &got, nil, s.HTTP.URL+"/agui", s.Keys["reporter"],
		"Facts: The library opens on Saturday.", "", s.Keys["editor-in-chief"])
	if len(got.Runs) != 2 {
		t.Fatalf("runs = %+v", got.Runs)
	}
	if r := got.Runs[1]; r.Thrown != "" || r.Finished == nil || r.Finished.Outcome["type"] != "success" || r.Finished.Result["article"] == "" {
		t.Errorf("the editor-in-chief's resume: %+v, want success with the article", r)
	}
}

func TestAGUI_BadInputIsTheAPIsError(t *testing.T) {
	t.Parallel()
	s := start(t, svctest.Options{})
	for _, tc := range []struct {
		name, body, auth string
		status           int
		code             string
	}{
		{"not JSON", "{", s.Keys["reporter"], 400, "bad_json"},
		{"no user message", `{"threadId":"t","runId":"r","messages":[],"tools":[],"context":[]}`, s.Keys["reporter"], 400, "empty_task"},
		{"no key", `{"threadId":"t","runId":"r","messages":[{"id":"1","role":"user","content":"Facts: x."}],"tools":[],"context":[]}`, "", 401, "unauthorized"},
		{"reader", `{"threadId":"t","runId":"r","messages":[{"id":"1","role":"user","content":"Facts: x."}],"tools":[],"context":[]}`, s.Keys["reader"], 403, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.HTTP.URL+"/agui", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error struct{ Code string } }
			_ = jsonDecode(resp, &body)
			if resp.StatusCode != tc.status || body.Error.Code != tc.code {
				t.Errorf("status %d code %q, want %d %q", resp.StatusCode, body.Error.Code, tc.status, tc.code)
			}
		})
	}
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

func TestAGUI_AbortingTheRunCancelsIt(t *testing.T) {
	t.Parallel()
	nodeclient.Dir(t)
	held := make(chan struct{}, 16)
	s := start(t, svctest.Options{Wrap: func(model.Client) model.Client {
		return model.ClientFunc(func(ctx context.Context, _ *model.Request) (*model.Response, error) {
			held <- struct{}{}
			<-ctx.Done() // every model call hangs until the run is cancelled
			return nil, ctx.Err()
		})
	}})
	var got struct{ Runs []aguiRun }
	nodeclient.Run(t, "../testdata/agui-client.mjs", &got, []string{"AGUI_ABORT=1"}, s.HTTP.URL+"/agui", s.Keys["reporter"],
		"Facts: The ferry runs again.", "none")
	api := apiclient.New(s.HTTP.URL, nil).WithAuthorization(s.Keys["reporter"])
	deadline := time.Now().Add(time.Minute)
	for {
		var list struct{ Runs []server.RunView }
		if err := api.Call(context.Background(), http.MethodGet, "/v1/runs", nil, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Runs) == 1 && list.Runs[0].Status == "cancelled" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs after the client aborted: %+v, want one cancelled", list.Runs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
