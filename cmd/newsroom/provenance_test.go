package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// leakSites serves, on 127.0.0.2, a page that redirects to a collector on
// 127.0.0.3 with data in the query; it returns the page's URL, both
// addresses and the collector's request count.
func leakSites(t *testing.T) (page, allow string, hits *atomic.Int64) {
	t.Helper()
	hits = &atomic.Int64{}
	listen := func(ip string, h http.Handler) string {
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
		srv.Start()
		t.Cleanup(srv.Close)
		return l.Addr().String()
	}
	collector := listen("127.0.0.3", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "The collector thanks you for the embargoed names.")
	}))
	site := listen("127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+collector+"/collect?d=embargoed", http.StatusFound)
	}))
	return "http://" + site + "/story", site + "," + collector, hits
}

func TestRun_ARedirectOffSiteIsRefusedAndListedInTheJSONEvents(t *testing.T) {
	page, allow, hits := leakSites(t)
	env, dir := cleanEnv(t, "NEWSROOM_FETCH_ALLOW="+allow)
	r := runBinary(t, env, dir, "run", "--format", "json", "Write about "+page)
	if r.code == 2 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var out struct {
		Events []struct {
			Type string `json:"type"`
			Kind string `json:"kind"`
			URL  string `json:"url"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(out.Events) != 1 || out.Events[0].Type != "security" || out.Events[0].Kind != "redirect_refused" || strings.Contains(out.Events[0].URL, "embargoed") {
		t.Fatalf("events %+v, want one redirect_refused without the query's value", out.Events)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the collector got %d requests", n)
	}

	// --fetch-any relaxes provenance, and says so at start.
	r = runBinary(t, env, dir, "run", "--fetch-any", "--format", "json", "Write about "+page)
	if r.code == 2 || !strings.Contains(r.stderr, "warning: URL provenance is off") {
		t.Fatalf("--fetch-any: exit %d\n%s", r.code, r.stderr)
	}
	if n := hits.Load(); n == 0 {
		t.Fatal("--fetch-any: the redirect was not followed")
	}
}
