package server

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/sqlite"
	"github.com/newsroom-dev/newsroom/team"
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

// TestServer_EventsOfARunFinishedWithoutItsEvent covers a process of an
// older version (which saved a run's final state and stored its
// run_finished event in two writes) that died between the two: the stream
// still ends at once, with a run_finished made from the run.
func TestServer_EventsOfARunFinishedWithoutItsEvent(t *testing.T) {
	e := newEnv(t, envOpts{noStart: true})
	v := e.create(e.user, task)
	ctx := context.Background()
	run, err := e.st.GetRun(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	run.Status, run.StopReason = "succeeded", "verdict APPROVE from News_Editor"
	if err := e.st.UpdateRun(ctx, seize(t, e.st, v.ID), run); err != nil {
		t.Fatal(err)
	}
	evs := e.events(ctx, e.user, v.ID, "")
	if len(evs) != 1 || evs[0].Type != "run_finished" || evs[0].ID != "" || evs[0].Event.StopReason != run.StopReason {
		t.Errorf("events = %+v, want one id-less run_finished with the stop reason", evs)
	}
}

// storeFinishingOnRead stores the run's run_finished event right after the
// SSE handler's n-th read of the event log, as a worker of an older version
// finishing the run at that moment would (it saved the final state before
// it stored run_finished).
type storeFinishingOnRead struct {
	store.Store
	n     int
	reads int
	claim store.Claim
}

func (s *storeFinishingOnRead) Events(ctx context.Context, runID string, after int64) ([]store.Event, error) {
	evs, err := s.Store.Events(ctx, runID, after)
	if runID == s.claim.RunID {
		if s.reads++; s.reads == s.n {
			_, _ = s.Store.AppendEvent(ctx, s.claim, team.Event{Type: team.EventRunFinished, StopReason: "cancelled by user"})
		}
	}
	return evs, err
}

// TestServer_EventsRunFinishedStoredDuringTheReplay covers a run whose
// run_finished is stored between the handler's replay and its check of the
// log: the stream must still deliver it, with its id.
func TestServer_EventsRunFinishedStoredDuringTheReplay(t *testing.T) {
	var wrapped *storeFinishingOnRead
	e := newEnv(t, envOpts{noStart: true, openStore: func(t testing.TB) store.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "n.db"))
		if err != nil {
			t.Fatal(err)
		}
		wrapped = &storeFinishingOnRead{Store: st, n: 2}
		return wrapped
	}})
	v := e.create(e.user, task)
	ctx := context.Background()
	c := seize(t, e.st, v.ID)
	if _, err := e.st.AppendEvent(ctx, c, team.Event{Type: team.EventRunStarted, Task: task}); err != nil {
		t.Fatal(err)
	}
	run, err := e.st.GetRun(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	run.Status, run.StopReason = store.StatusCancelled, "cancelled by user"
	if err := e.st.UpdateRun(ctx, c, run); err != nil {
		t.Fatal(err)
	}
	wrapped.claim = c // reads 1 (replay) and 2 (replay after seeing it finished) see no run_finished
	evs := e.events(ctx, e.user, v.ID, "")
	if len(evs) != 2 || evs[1].Type != "run_finished" || evs[1].ID != "2" {
		t.Fatalf("events = %+v, want run_started then run_finished with id 2", evs)
	}
}
