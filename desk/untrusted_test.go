package desk_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool/web"
	"github.com/newsroom-dev/newsroom/untrusted"
)

func TestDesk_ShippedDesksKeepProvenanceOn(t *testing.T) {
	t.Parallel()
	for _, name := range desk.Teams {
		d, ok := desk.NewRegistry().Get(name)
		if !ok {
			t.Fatalf("no desk %s", name)
		}
		if d.Spec.ProvenanceOff() || d.Spec.Fetch != nil {
			t.Errorf("desk %s relaxes fetching: %+v", name, d.Spec.Fetch)
		}
		for _, a := range d.Spec.Agents {
			if !strings.Contains(a.Prompt, "<<<DATA") {
				t.Errorf("desk %s: %s's prompt does not say how to treat spotlit text", name, a.Name)
			}
		}
	}
}

// fetchDesk is a one-writer desk whose writer may fetch; open is its file's fetch.open.
func fetchDesk(t *testing.T, open string) *desk.Spec {
	t.Helper()
	src := `name: fetch-desk
kind: roundrobin
agents:
  - name: Writer
    description: Writes from the web.
    prompt: You are Writer.
    tools: [fetch_url]
  - name: Editor
    description: Approves.
    prompt: You are Editor.
termination:
  any:
    - verdict: {agent: Editor, word: APPROVE}
    - max_messages: 2
`
	if open != "" {
		src += "fetch:\n  open: [" + open + "]\n"
	}
	s, err := desk.Parse("fetch.yaml", []byte(src), desk.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDesk_LinksOfSourcesAndOpenHostsHaveProvenanceOthersAreSecurityEvents(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<html><body><article><h1>Council papers</h1><p>The council published the minutes of its harbour vote on Monday.</p>
<p><a href="/minutes">The minutes</a></p></article></body></html>`)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	addr := l.Addr().String()
	f := web.New(web.Config{Allow: []string{addr, "127.0.0.3"}})
	docs, err := f.Sources(context.Background(), []string{"http://" + addr + "/papers"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, open string
		refused    []string // call ids refused
	}{
		{name: "strict", refused: []string{"made_up", "open_host"}},
		{name: "with an open host in the file", open: "127.0.0.3", refused: []string{"made_up"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := &toolScript{tools: map[string][]string{}, calls: map[string][]model.ToolCall{
				"Writer": {
					{ID: "link", Name: web.FetchURLName, Arguments: `{"url":"http://` + addr + `/minutes"}`},
					{ID: "made_up", Name: web.FetchURLName, Arguments: `{"url":"http://` + addr + `/collect?d=secret"}`},
					{ID: "open_host", Name: web.FetchURLName, Arguments: `{"url":"http://127.0.0.3:1/x"}`},
				},
			}}
			tm, err := desk.New(desk.Config{Spec: fetchDesk(t, tc.open), Client: script, Tools: f.Tools()})
			if err != nil {
				t.Fatal(err)
			}
			var sec []untrusted.Event
			res, err := team.Collect("Facts: the council met.", team.Checkpoint{}, tm.Stream(context.Background(), "Facts: the council met.",
				team.WithSources(docs), team.WithGrounding(nil)), func(e team.Event) {
				if e.Type == team.EventSecurity {
					sec = append(sec, *e.Security)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			errs := map[string]string{}
			for _, ex := range res.Messages[1].ToolCalls {
				if ex.IsError {
					errs[ex.ID] = ex.Result
				}
			}
			if _, ok := errs["link"]; ok {
				t.Errorf("the source's link was refused: %s", errs["link"])
			}
			for _, id := range tc.refused {
				if !strings.Contains(errs[id], "no provenance") {
					t.Errorf("call %s: %q, want a refusal saying the URL has no provenance", id, errs[id])
				}
			}
			if len(sec) != len(tc.refused) {
				t.Errorf("security events %+v, want %d", sec, len(tc.refused))
			}
			if !strings.Contains(res.Messages[0].Content, "<<<DATA ") {
				t.Errorf("the source document is not spotlit:\n%s", res.Messages[0].Content)
			}
		})
	}
}
