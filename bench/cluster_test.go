package bench_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/bench"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/model"
)

// These tests run real `newsroom serve` processes on one PostgreSQL. SQLite
// is a single-process store (one file, one writer): several instances on it
// is not a supported shape, so there is no SQLite variant; the in-process
// restart and claim tests of package server cover it.

var (
	newsroomOnce sync.Once
	newsroomBin  string
	newsroomDir  string
	newsroomErr  error
)

// newsroomBinary builds cmd/newsroom once for the tests of this package.
func newsroomBinary(t *testing.T) string {
	t.Helper()
	newsroomOnce.Do(func() {
		newsroomDir, newsroomErr = os.MkdirTemp("", "newsroom-bench-test-")
		if newsroomErr != nil {
			return
		}
		newsroomBin = filepath.Join(newsroomDir, "newsroom")
		out, err := exec.Command("go", "build", "-o", newsroomBin, "github.com/newsroom-dev/newsroom/cmd/newsroom").CombinedOutput()
		if err != nil {
			newsroomErr = &buildError{err, string(out)}
		}
	})
	if newsroomErr != nil {
		t.Fatalf("go build ./cmd/newsroom: %v", newsroomErr)
	}
	return newsroomBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func removeNewsroomBinary() {
	if newsroomDir != "" {
		_ = os.RemoveAll(newsroomDir)
	}
}

// startCluster starts instances serve processes on a fresh PostgreSQL
// database; their logs are shown when the test fails.
func startCluster(t *testing.T, instances int, emu emulator.Config) *bench.Cluster {
	t.Helper()
	dsn := testsvc.Postgres(t)
	bin := newsroomBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emu.Latency = emulator.Latency{TimeToFirstToken: 50 * time.Millisecond, TokensPerSecond: 400}
	c, err := bench.StartCluster(ctx, bench.ClusterOptions{Command: []string{bin}, Instances: instances,
		DatabaseURL: dsn, Emulator: emu, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			for _, in := range c.Instances {
				data, _ := os.ReadFile(in.LogPath)
				t.Logf("log of %s:\n%s", in.Name, tailLines(string(data), 40))
			}
		}
	})
	return c
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// checkAnswersAreStored guards the repeated-call count: it tells a stored
// call from one lost in flight by finding the emulator's answer among the
// stored messages, so every stored message must be found among the
// emulator's completed answers.
func checkAnswersAreStored(t *testing.T, c *bench.Cluster, evs []bench.StoredEvent) {
	t.Helper()
	answers := map[string]bool{}
	for _, q := range c.Emulator.Requests() {
		if q.Completed {
			answers[strings.TrimSpace(q.Answer)] = true
		}
	}
	n := 0
	for _, e := range evs {
		if e.Type == "message" {
			n++
			if !answers[strings.TrimSpace(e.Content)] {
				t.Errorf("stored message %d of run %s is no completed answer of the emulator: %.80q", e.Index, e.RunID, e.Content)
			}
		}
	}
	if n == 0 {
		t.Error("no message stored")
	}
}

func TestCluster_TwoServeProcessesOnOnePostgres(t *testing.T) {
	t.Parallel() // mostly waiting: on the model, on a lease to lapse
	c := startCluster(t, 2, emulator.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	t.Run("a run followed on another instance than the executing one ends with run_finished", func(t *testing.T) {
		r, err := bench.MeasureFollow(ctx, c, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r.Succeeded != 1 || r.RunFinishedReceived != 1 {
			t.Fatalf("succeeded %d, run_finished received on the other instance %d, want 1 and 1", r.Succeeded, r.RunFinishedReceived)
		}
		if r.StoreToClientMS.N == 0 {
			t.Fatalf("no event was delivered live on the other instance: %+v", r)
		}
		t.Logf("store to client on another instance: %+v; on the executing one: %+v", r.StoreToClientMS, r.SameInstanceMS)
		evs, err := c.Events(ctx, r.RunIDs)
		if err != nil {
			t.Fatal(err)
		}
		checkAnswersAreStored(t, c, evs)
	})

	t.Run("kill -9 of the executing instance: another resumes the run, no stored call repeated, no message twice", func(t *testing.T) {
		r, err := bench.MeasureTakeover(ctx, c, 1, 2, 100)
		if err != nil {
			t.Fatal(err)
		}
		tr := r.Trials[0]
		if tr.Status != "succeeded" || !tr.RunFinishedReceived {
			t.Fatalf("after the takeover: status %s, run_finished received %t", tr.Status, tr.RunFinishedReceived)
		}
		if tr.MessagesBeforeKill < 2 || tr.FirstEventS <= 0 {
			t.Fatalf("the kill did not land mid-run: %+v", tr)
		}
		if tr.Repeats.Stored != 0 || tr.DuplicateMessages != 0 {
			t.Fatalf("%d stored calls repeated, %d duplicate messages, want 0 and 0 (%+v)", tr.Repeats.Stored, tr.DuplicateMessages, tr)
		}
		t.Logf("resumed %.2fs after the kill; %d repeats of an answer lost in flight", tr.ResumeS, tr.Repeats.LostInFlight)
		evs, err := c.Events(ctx, []string{tr.RunID})
		if err != nil {
			t.Fatal(err)
		}
		checkAnswersAreStored(t, c, evs)
	})
}

func TestCountRepeats_TellsAStoredCallDoneAgainFromOneLostInFlight(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	path := "/openai/deployments/gpt-4o/chat/completions"
	call := func(task string, start, end int, completed bool, answer string) emulator.RecordedRequest {
		return emulator.RecordedRequest{Method: "POST", Path: path, Deployment: "gpt-4o",
			Messages: []model.Message{{Role: model.RoleUser, Content: task}}, Start: at(start), End: at(end),
			Completed: completed, Answer: answer, Status: 200}
	}
	reqs := []emulator.RecordedRequest{
		call("a", 0, 1, true, "answer a"),   // stored at 2, sent again at 10: a stored call repeated
		call("b", 3, 4, true, "answer b"),   // never stored, sent again at 11: lost in flight
		call("c", 5, 6, false, ""),          // cut: sending it again is a retry, not a repeat
		call("a", 10, 11, true, "answer a"), // the repeat of a
		call("b", 11, 12, true, "answer b"),
		call("c", 12, 13, true, "answer c"),
		call("d", 20, 21, true, "answer d"), // after since, but never repeated
	}
	events := []bench.StoredEvent{{RunID: "r", Seq: 1, Type: "message", Content: "answer a", Stored: at(2)},
		{RunID: "r", Seq: 2, Type: "message", Index: 1, Content: "answer b", Stored: at(13)}}
	got := bench.CountRepeats(reqs, events, at(9))
	if want := (bench.Repeats{Calls: 2, Stored: 1, LostInFlight: 1}); got != want {
		t.Errorf("CountRepeats = %+v, want %+v", got, want)
	}
	if got := bench.CountRepeats(reqs, events, at(15)); got != (bench.Repeats{}) {
		t.Errorf("CountRepeats after every repeat = %+v, want none", got)
	}
}

func TestDuplicateMessages_CountsAPositionStoredTwice(t *testing.T) {
	evs := []bench.StoredEvent{{RunID: "r", Type: "message", Index: 0}, {RunID: "r", Type: "message", Index: 1},
		{RunID: "r", Type: "message", Index: 1}, {RunID: "s", Type: "message", Index: 1}, {RunID: "r", Type: "run_started"}}
	if got := bench.DuplicateMessages(evs); got != 1 {
		t.Errorf("DuplicateMessages = %d, want 1", got)
	}
}

func TestCluster_FaultRunWithAKill(t *testing.T) {
	t.Parallel()
	rates, err := emulator.ParseFaultRates("429=0.3,500=0.05,cut=0.05")
	if err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, 3, emulator.Config{Faults: emulator.Faults{Rates: rates}, Seed: 7})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	r, err := bench.MeasureFaults(ctx, c, 6, 2*time.Second, 3*time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Succeeded != 6 || r.Failed != 0 {
		t.Errorf("%d of 6 runs succeeded: %v", r.Succeeded, r.Errors)
	}
	if r.Faults["429"] == 0 || r.Faults["500"]+r.Faults["cut"] == 0 {
		t.Errorf("the emulator injected no faults: %v", r.Faults)
	}
	if r.RepeatedAfterKill.Stored != 0 || r.DuplicateMessages != 0 || len(r.Panics) != 0 {
		t.Errorf("after the kill of %s: %d stored calls repeated, %d duplicate messages, panics %q; want none",
			r.KilledInstance, r.RepeatedAfterKill.Stored, r.DuplicateMessages, r.Panics)
	}
}
