package eval

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// runnerFunc runs a case with a function: the scheduling tests need no desk.
type runnerFunc func(ctx context.Context, v Variant, c *Case) (Output, error)

func (f runnerFunc) Run(ctx context.Context, v Variant, c *Case) (Output, error) { return f(ctx, v, c) }

func TestEvaluate_BoundsConcurrencySkipsDoneAndRecordsFailedRuns(t *testing.T) {
	s := &Suite{Cases: []Case{{Name: "a", Task: "t"}, {Name: "b", Task: "t"}, {Name: "c", Task: "t"}}}
	variants := []Variant{{Desk: "roundrobin"}, {Desk: "selector"}}
	jobs := Jobs(s, variants, 2)
	if len(jobs) != 12 {
		t.Fatalf("%d jobs, want 12", len(jobs))
	}
	var inFlight, peak, calls atomic.Int32
	var mu sync.Mutex
	ran := map[string]int{}
	runner := runnerFunc(func(ctx context.Context, v Variant, c *Case) (Output, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		calls.Add(1)
		mu.Lock()
		ran[v.Name()+"/"+c.Name]++
		mu.Unlock()
		o := Output{Article: Article{Body: "The council met."}, StopReason: "verdict APPROVE from News_Editor"}
		if c.Name == "c" {
			o.Err = errors.New("model: 500")
		}
		return o, nil
	})
	done := []Result{{Case: "a", Variant: "roundrobin", Repeat: 1}, {Case: "a", Variant: "roundrobin", Repeat: 2}}
	var seen []int
	results, err := Evaluate(context.Background(), jobs, Config{Runner: runner, Concurrency: 2, Done: done,
		OnResult: func(r Result, n, total int) error { seen = append(seen, n); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 12 || calls.Load() != 10 || ran["roundrobin/a"] != 0 || ran["selector/a"] != 2 {
		t.Errorf("%d results, %d calls, ran %v", len(results), calls.Load(), ran)
	}
	if peak.Load() > 2 {
		t.Errorf("%d runs in flight at once, want at most 2", peak.Load())
	}
	if len(seen) != 10 || seen[len(seen)-1] != 12 {
		t.Errorf("progress counts %v", seen)
	}
	failed := 0
	for _, r := range results {
		if r.Error != "" {
			failed++
		}
	}
	if failed != 4 {
		t.Errorf("%d results with an error, want the 4 runs of case c", failed)
	}
}

func TestEvaluate_AnInterruptedRunIsNotRecorded(t *testing.T) {
	s := &Suite{Cases: []Case{{Name: "a", Task: "t"}}}
	stop := errors.New("interrupted")
	runner := runnerFunc(func(ctx context.Context, v Variant, c *Case) (Output, error) { return Output{}, stop })
	results, err := Evaluate(context.Background(), Jobs(s, []Variant{{Desk: "roundrobin"}}, 1), Config{Runner: runner})
	if !errors.Is(err, stop) || len(results) != 0 {
		t.Errorf("results %v, error %v", results, err)
	}
}

func TestJournal_AppendsAndReadsBackIgnoringACutLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"a", "b"} {
		if err := j.Append(Result{Case: c, Variant: "roundrobin", Repeat: 1, Metrics: map[string]float64{ClaimSupport: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := j.w.WriteString(`{"case":"c","vari`); err != nil { // a kill in the middle of a line
		t.Fatal(err)
	}
	_ = j.w.Flush()
	_ = j.Close()
	got, err := ReadJournal(path)
	if err != nil || len(got) != 2 || got[1].Case != "b" || got[0].Metrics[ClaimSupport] != 1 {
		t.Errorf("read back %+v, %v", got, err)
	}
	// Resuming after the cut line: the next result is on a line of its own.
	j, err = OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Result{Case: "c", Variant: "roundrobin", Repeat: 1}); err != nil {
		t.Fatal(err)
	}
	_ = j.Close()
	if got, err := ReadJournal(path); err != nil || len(got) != 3 || got[2].Case != "c" {
		t.Errorf("after resuming: %+v, %v", got, err)
	}
	if none, err := ReadJournal(filepath.Join(t.TempDir(), "missing.jsonl")); err != nil || none != nil {
		t.Errorf("a missing journal: %v, %v", none, err)
	}
}
