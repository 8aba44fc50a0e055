package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/server"
)

// TestRunServe_RunsWithSourcesToolsAndGrounding: `newsroom serve` reads a
// run's sources under its allow list (--fetch-allow), refuses one the guard
// refuses, turns tools and grounding off per run, and gives a capped run the
// grounding check of its desk's writer, as `newsroom run` does.
func TestRunServe_RunsWithSourcesToolsAndGrounding(t *testing.T) {
	dir := isolate(t)
	addr := pressServer(t)
	url := "http://" + addr + "/press"
	srv := startServe(t, dir, "--drain-delay", "0s", "--fetch-allow", addr, "--rate-limit", "1000")
	call := func(method, path, body string, v any) int {
		t.Helper()
		resp := srv.do(t, method, path, body)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("%s %s: %v\n%s", method, path, err, b)
			}
		}
		return resp.StatusCode
	}
	finished := func(body string) server.RunView {
		t.Helper()
		var v server.RunView
		if code := call("POST", "/v1/runs", body, &v); code != http.StatusAccepted {
			t.Fatalf("POST %s = %d", body, code)
		}
		srv.follow(t, v.ID)
		var got server.RunView
		if code := call("GET", "/v1/runs/"+v.ID, "", &got); code != http.StatusOK || !got.Status.Finished() {
			t.Fatalf("GET run = %d, %s", code, got.Status)
		}
		return got
	}

	sourced := finished(`{"task":"Write about the museum.","sources":["` + url + `"]}`)
	if len(sourced.Sources) != 1 || sourced.Sources[0].Title != "Museum reopens" || !strings.Contains(sourced.Article, "[1]") {
		t.Errorf("sourced run: sources %+v, article:\n%s", sourced.Sources, sourced.Article)
	}
	if g := sourced.Grounding; g == nil || g.Checked == 0 || g.Unsupported == nil || len(g.Unsupported) != 0 {
		t.Errorf("sourced run's grounding %+v", sourced.Grounding)
	}

	var refused struct {
		Error struct{ Code, Field string } `json:"error"`
	}
	other := "http://127.0.0.3:" + strings.Split(addr, ":")[1] + "/press"
	if code := call("POST", "/v1/runs", `{"task":"t","sources":["`+other+`"]}`, &refused); code != http.StatusUnprocessableEntity ||
		refused.Error.Code != "source_refused" || refused.Error.Field != "sources[0]" {
		t.Errorf("a source the allow list does not name = %d %+v", code, refused.Error)
	}

	capped := finished(`{"task":"` + facts + `","max_messages":1}`)
	if g := capped.Grounding; capped.StopReason != "max messages reached (1)" || g == nil || g.Checked == 0 || g.Author != "News_Reporter" {
		t.Errorf("capped run: stop %q, grounding %+v", capped.StopReason, capped.Grounding)
	}

	off := finished(`{"task":"Write about ` + url + `","tools":false,"grounding":false}`)
	if off.Grounding != nil || len(off.Sources) != 0 || off.Options == nil || off.Options.Tools == nil || *off.Options.Tools {
		t.Errorf("run with tools and grounding off: grounding %+v, sources %+v, options %+v", off.Grounding, off.Sources, off.Options)
	}
	on := finished(`{"task":"Write about ` + url + `"}`)
	if len(on.Sources) != 1 || on.Grounding == nil {
		t.Errorf("run with the defaults: sources %+v, grounding %+v; want the page fetched and checked", on.Sources, on.Grounding)
	}
}
