package server

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServer_EventsOutliveServerTimeouts serves through HTTPServer with short
// read and write timeouts: an event stream must stay open past them
// (heartbeats keep flowing) and still deliver the run's end.
func TestServer_EventsOutliveServerTimeouts(t *testing.T) {
	e := newEnv(t, envOpts{noStart: true, cfg: Config{Heartbeat: 20 * time.Millisecond}})
	v := e.create(e.user, task)

	hs := e.srv.HTTPServer("")
	hs.ReadTimeout, hs.WriteTimeout = 100*time.Millisecond, 100*time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ln.Addr().String()+"/v1/runs/"+v.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("events = %d %s", resp.StatusCode, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	// Count heartbeats until the stream has been open for several write
	// timeouts: the stream is measured by what arrives, not by sleeping.
	opened := time.Now()
	beats := 0
	for sc.Scan() {
		if sc.Text() == ": heartbeat" {
			beats++
			if beats >= 3 && time.Since(opened) > 4*hs.WriteTimeout {
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("stream broke after %d heartbeats: %v", beats, err)
	}
	if err := e.srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var finished bool
	for sc.Scan() {
		if sc.Text() == "event: run_finished" {
			finished = true
		}
	}
	if !finished {
		t.Errorf("the stream ended without run_finished (err %v)", sc.Err())
	}
}

// TestServer_EventsOfARunFinishedWithoutItsEvent covers a process that died
// between saving a run's final state and storing its run_finished event: the
// stream still ends, with a run_finished made from the run.
func TestServer_EventsOfARunFinishedWithoutItsEvent(t *testing.T) {
	e := newEnv(t, envOpts{noStart: true})
	v := e.create(e.user, task)
	ctx := context.Background()
	run, err := e.st.GetRun(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	run.Status, run.StopReason = "succeeded", "verdict APPROVE from News_Editor"
	if err := e.st.UpdateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	evs := e.events(ctx, e.user, v.ID, "")
	if len(evs) != 1 || evs[0].Type != "run_finished" || evs[0].ID != "" || evs[0].Event.StopReason != run.StopReason {
		t.Errorf("events = %+v, want one id-less run_finished with the stop reason", evs)
	}
}
