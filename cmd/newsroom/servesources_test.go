package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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
	db := filepath.Join(dir, "serve.db")
	var keyOut syncBuffer
	if err := runKeys(context.Background(), []string{"create", "--name", "t", "--db", db}, &keyOut, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(keyOut.String())
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--addr", "127.0.0.1:0", "--db", db, "--no-cache", "--env-file", filepath.Join(dir, "none.env"),
			"--drain-delay", "0s", "--fetch-allow", addr, "--rate-limit", "1000"}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	urlRE := regexp.MustCompile(`serving on (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == ""; {
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", stderr.String())
		}
	}
	call := func(method, path, body string, v any) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
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
		req, _ := http.NewRequest("GET", base+"/v1/runs/"+v.ID+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body) // the stream closes after run_finished
		resp.Body.Close()
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
