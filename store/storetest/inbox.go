package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/store"
)

// RunInbox runs the inbox conformance suite (store.Inbox) against the
// backend open returns; open must return a fresh, empty store each call.
func RunInbox(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"AdmitItem creates an item's run once and returns it after", testAdmitOnce},
		{"a deferred item keeps its pending run and starts it once when admitted", testAdmitDeferred},
		{"AdmitItem of one item from many goroutines creates one run", testAdmitConcurrent},
		{"AdmitItem keeps a source's hourly cap over concurrent admissions and defers the rest", testAdmitCapConcurrent},
		{"InboxStats counts items, runs, deferred items and recent runs per source", testInboxStats},
		{"AdmitItem refuses an item without an identity", testAdmitBad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func intakeRun(id, source, item string) *store.Run {
	return &store.Run{ID: id, Owner: "intake", Task: "write about " + item, Team: "newsroom",
		Approval: &store.Approval{Required: true}, CreatedAt: base,
		Options: store.RunOptions{Intake: &store.IntakeRef{Source: source, Item: item, Title: "T " + item}}}
}

func admit(t *testing.T, s store.Store, source, item string, run *store.Run) (store.InboxItem, bool) {
	t.Helper()
	got, created, err := s.AdmitItem(context.Background(), store.InboxItem{Source: source, Item: item, Title: "T " + item}, run)
	if err != nil {
		t.Fatalf("AdmitItem(%s, %s): %v", source, item, err)
	}
	return got, created
}

func countRuns(t *testing.T, s store.Store) int {
	t.Helper()
	runs, _ := listAll(t, s, store.ListOptions{Limit: 100})
	return len(runs)
}

func testAdmitOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	got, created := admit(t, s, "press", "guid-1", intakeRun("run_a", "press", "guid-1"))
	if !created || got.RunID != "run_a" || got.AdmittedAt.IsZero() {
		t.Fatalf("first admission = %+v, created %v; want run_a created", got, created)
	}
	run, err := s.GetRun(ctx, "run_a")
	if err != nil {
		t.Fatal(err)
	}
	want := &store.IntakeRef{Source: "press", Item: "guid-1", Title: "T guid-1"}
	if diff := cmp.Diff(want, run.Options.Intake); diff != "" || run.Approval == nil || !run.Approval.Required {
		t.Errorf("the run's intake (-want +got):\n%s approval %v", diff, run.Approval)
	}
	again, created := admit(t, s, "press", "guid-1", intakeRun("run_b", "press", "guid-1"))
	if created || again.RunID != "run_a" {
		t.Errorf("second admission = %+v, created %v; want run_a, not created", again, created)
	}
	if _, err := s.GetRun(ctx, "run_b"); err == nil {
		t.Error("the second admission stored its run")
	}
	// The identity is scoped by the source.
	if _, created := admit(t, s, "wire", "guid-1", intakeRun("run_c", "wire", "guid-1")); !created {
		t.Error("the same item id of another source was not admitted")
	}
	if n := countRuns(t, s); n != 2 {
		t.Errorf("%d runs stored, want 2", n)
	}
}

func testAdmitDeferred(t *testing.T, s store.Store) {
	ctx := context.Background()
	pending := intakeRun("", "press", "guid-9")
	got, created, err := s.AdmitItem(ctx, store.InboxItem{Source: "press", Item: "guid-9", Pending: pending}, nil)
	if err != nil || !created || got.RunID != "" {
		t.Fatalf("defer = %+v, %v, %v", got, created, err)
	}
	// Recording it deferred twice changes nothing.
	if _, created, err := s.AdmitItem(ctx, store.InboxItem{Source: "press", Item: "guid-9", Pending: pending}, nil); err != nil || created {
		t.Errorf("second defer: created %v, %v", created, err)
	}
	items, err := s.DeferredItems(ctx, 0)
	if err != nil || len(items) != 1 || items[0].Pending == nil || items[0].Pending.Task != pending.Task ||
		items[0].Pending.Options.Intake == nil || items[0].Pending.Options.Intake.Item != "guid-9" {
		t.Fatalf("DeferredItems = %+v, %v; want guid-9 with its pending run", items, err)
	}
	if n := countRuns(t, s); n != 0 {
		t.Fatalf("a deferred item stored %d runs", n)
	}
	run := *items[0].Pending
	run.ID = "run_late"
	got, created = admit(t, s, "press", "guid-9", &run)
	if !created || got.RunID != "run_late" || !got.SeenAt.Equal(items[0].SeenAt) {
		t.Errorf("admitting the deferred item = %+v, %v", got, created)
	}
	if items, err := s.DeferredItems(ctx, 0); err != nil || len(items) != 0 {
		t.Errorf("DeferredItems after admission = %d items, %v", len(items), err)
	}
	if _, created := admit(t, s, "press", "guid-9", intakeRun("run_again", "press", "guid-9")); created {
		t.Error("an admitted item was admitted again")
	}
	// A deferral of an item that has a run changes nothing.
	if got, created, err := s.AdmitItem(ctx, store.InboxItem{Source: "press", Item: "guid-9", Pending: pending}, nil); err != nil || created || got.RunID != "run_late" {
		t.Errorf("deferring an admitted item = %+v, %v, %v", got, created, err)
	}
}

func testAdmitConcurrent(t *testing.T, s store.Store) {
	const n = 16
	var created atomic.Int32
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got, ok, err := s.AdmitItem(context.Background(), store.InboxItem{Source: "q", Item: "msg-1"},
				intakeRun(fmt.Sprintf("run_%02d", i), "q", "msg-1"))
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				created.Add(1)
			}
			ids[i] = got.RunID
		})
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Errorf("%d admissions created a run, want 1", created.Load())
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Errorf("admissions saw runs %v, want one id", ids)
			break
		}
	}
	if got := countRuns(t, s); got != 1 {
		t.Errorf("%d runs stored, want 1", got)
	}
}

func testAdmitCapConcurrent(t *testing.T, s store.Store) {
	const n, limit = 20, 5
	ctx := context.Background()
	for i := range 3 { // admitted two hours ago: outside the window
		old := intakeRun(fmt.Sprintf("run_old_%d", i), "flood", fmt.Sprintf("old-%d", i))
		old.CreatedAt = base.Add(-2 * time.Hour)
		if _, ok, err := s.AdmitItem(ctx, store.InboxItem{Source: "flood", Item: fmt.Sprintf("old-%d", i), MaxPerHour: limit}, old); err != nil || !ok {
			t.Fatalf("AdmitItem(old-%d) = %v, %v", i, ok, err)
		}
	}
	var runs, deferred atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			item := fmt.Sprintf("item-%02d", i)
			got, ok, err := s.AdmitItem(ctx, store.InboxItem{Source: "flood", Item: item, MaxPerHour: limit},
				intakeRun(fmt.Sprintf("run_%02d", i), "flood", item))
			switch {
			case err != nil:
				t.Error(err)
			case !ok:
				t.Errorf("AdmitItem(%s) created nothing", item)
			case got.RunID != "":
				runs.Add(1)
			case got.Pending == nil:
				t.Errorf("deferred %s has no pending run", item)
			default:
				deferred.Add(1)
			}
		})
	}
	wg.Wait()
	if runs.Load() != limit || deferred.Load() != n-limit {
		t.Errorf("%d runs created and %d deferred, want %d and %d", runs.Load(), deferred.Load(), limit, n-limit)
	}
	if got := countRuns(t, s); got != 3+limit {
		t.Errorf("%d runs stored, want %d", got, 3+limit)
	}
	left, err := s.DeferredItems(ctx, 100)
	if err != nil || len(left) != n-limit {
		t.Fatalf("DeferredItems = %d items, %v; want %d", len(left), err, n-limit)
	}
	again := intakeRun("run_again", "flood", left[0].Item)
	if got, ok, err := s.AdmitItem(ctx, store.InboxItem{Source: "flood", Item: left[0].Item, MaxPerHour: limit}, again); err != nil || ok || got.RunID != "" {
		t.Errorf("AdmitItem of a deferred item under a full cap = %+v, %v, %v; want it still deferred", got, ok, err)
	}
	later := intakeRun("run_later", "flood", left[0].Item)
	later.CreatedAt = base.Add(61 * time.Minute)
	if got, ok, err := s.AdmitItem(ctx, store.InboxItem{Source: "flood", Item: left[0].Item, MaxPerHour: limit}, later); err != nil || !ok || got.RunID != "run_later" {
		t.Errorf("AdmitItem an hour later = %+v, %v, %v; want run_later", got, ok, err)
	}
}

func testInboxStats(t *testing.T, s store.Store) {
	ctx := context.Background()
	admit(t, s, "a", "1", intakeRun("run_1", "a", "1"))
	admit(t, s, "a", "2", intakeRun("run_2", "a", "2"))
	if _, _, err := s.AdmitItem(ctx, store.InboxItem{Source: "a", Item: "3", Pending: intakeRun("", "a", "3")}, nil); err != nil {
		t.Fatal(err)
	}
	admit(t, s, "b", "1", intakeRun("run_3", "b", "1"))
	stats, err := s.InboxStats(ctx, base.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.InboxStats{{Source: "a", Items: 3, Runs: 2, Deferred: 1, RunsSince: 2}, {Source: "b", Items: 1, Runs: 1, RunsSince: 1}}
	if diff := cmp.Diff(want, stats); diff != "" {
		t.Errorf("InboxStats (-want +got):\n%s", diff)
	}
	stats, err = s.InboxStats(ctx, base.Add(time.Minute))
	if err != nil || len(stats) != 2 || stats[0].RunsSince != 0 {
		t.Errorf("InboxStats after the runs = %+v, %v; want RunsSince 0", stats, err)
	}
}

func testAdmitBad(t *testing.T, s store.Store) {
	if _, _, err := s.AdmitItem(context.Background(), store.InboxItem{Source: "a"}, intakeRun("run_x", "a", "")); err == nil {
		t.Error("an item without an identity was admitted")
	}
	if n := countRuns(t, s); n != 0 {
		t.Errorf("%d runs stored", n)
	}
}

// AdmitFromTwoStores checks that two Stores open on the same storage (two
// processes, two instances) admitting the same items create one run each:
// the storage's unique key decides, not a process-local lock. open must
// open the same storage each time.
func AdmitFromTwoStores(t *testing.T, open Opener, items int) {
	a, b := open(t), open(t)
	var created atomic.Int32
	var wg sync.WaitGroup
	for si, s := range []store.Store{a, b} {
		wg.Go(func() {
			for i := range items {
				item := fmt.Sprintf("item-%d", i)
				_, ok, err := s.AdmitItem(context.Background(), store.InboxItem{Source: "shared", Item: item},
					intakeRun(fmt.Sprintf("run_%d_%d", si, i), "shared", item))
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					created.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if int(created.Load()) != items {
		t.Errorf("%d runs created for %d items", created.Load(), items)
	}
	stats, err := b.InboxStats(context.Background(), time.Time{})
	if err != nil || len(stats) != 1 || stats[0].Runs != items || stats[0].Items != items {
		t.Errorf("InboxStats = %+v, %v; want %d items with a run each", stats, err, items)
	}
}
