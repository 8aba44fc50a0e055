// Package storetest is the conformance suite every store.Store backend
// passes: a backend's test calls Run with a function that opens a fresh,
// empty store, and Reopen with one that opens the same storage again.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// Opener opens a store for one test. Run's opener must return a fresh, empty
// store on each call; Reopen's must open the same storage each time. The
// opener registers the store's Close with t.Cleanup (closing twice is fine).
type Opener func(t *testing.T) store.Store

// Run runs the conformance suite against the backend open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateRun fills in the id, status and times and GetRun returns it", testCreateGet},
		{"UpdateRun saves the outcome and keeps the task", testUpdate},
		{"CreateRun with a taken id is a conflict", testCreateConflict},
		{"CreateRun with an idempotency key returns the first run", testIdempotency},
		{"CreateRun with one idempotency key from many goroutines creates one run", testIdempotencyConcurrent},
		{"RunByIdempotencyKey finds the owner's run under a key and nothing else", testRunByIdempotencyKey},
		{"ListRuns pages newest first without gaps or repeats", testListPaging},
		{"ListRuns filters by owner and status", testListFilters},
		{"ListRuns limits pages to 20 by default and 100 at most", testListLimits},
		{"ListRuns rejects a cursor it did not issue", testListBadCursor},
		{"AppendEvent numbers events and Events reads after a seq", testEvents},
		{"AppendEvent from many goroutines gives gap-free unique seqs", testEventsConcurrent},
		{"UnfinishedRuns returns queued and running runs oldest first", testUnfinished},
		{"ClaimRun takes, refuses, renews, expires and releases claims", testClaim},
		{"ClaimRun from many goroutines and owners: exactly one wins", testClaimConcurrent},
		{"ClaimableRuns returns unfinished runs without a live claim oldest first", testClaimable},
		{"a superseded claim writes nothing: fencing tokens only grow", testFencing},
		{"SeizeRun takes a live claim and fences its holder", testSeize},
		{"FinishRun saves the final status and run_finished together, once, under the current claim", testFinish},
		{"FinishRun seen by concurrent readers: never a finished run without run_finished or the reverse", testFinishAtomic},
		{"keys are created, found by hash, listed and revoked", testKeys},
		{"ResolveWaiting ends a wait for approval once, atomically", testResolveWaiting},
		{"ResolveWaiting from many goroutines: exactly one wins", testResolveWaitingConcurrent},
		{"unknown ids give ErrNotFound", testNotFound},
		{"NUL characters and invalid UTF-8 are stored as U+FFFD", testUnsafeText},
		{"Ping succeeds on an open store", testPing},
	}
	for _, tt := range append(append(tests, articleTests...), webhookTests...) {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// Reopen checks that what one Store wrote is read back by a second Store
// opened on the same storage after the first is closed.
func Reopen(t *testing.T, open Opener) {
	ctx := context.Background()
	s1 := open(t)
	run := mustCreate(t, s1, &store.Run{Owner: "k1", IdempotencyKey: "idem", Task: "persist me", Team: "newsroom"})
	events := sampleEvents(run.ID, 3)
	c := mustClaim(t, s1, run.ID)
	for _, e := range events {
		if _, err := s1.AppendEvent(ctx, c, e); err != nil {
			t.Fatalf("AppendEvent: %v", err)
		}
	}
	key := &store.Key{Name: "ci", Hash: "hash-persist", Admin: true}
	if err := s1.CreateKey(ctx, key); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := open(t)
	got, err := s2.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatalf("GetRun after reopen: %v", err)
	}
	if diff := cmp.Diff(run, got); diff != "" {
		t.Errorf("run after reopen (-want +got):\n%s", diff)
	}
	again, existed, err := s2.CreateRun(ctx, &store.Run{Owner: "k1", IdempotencyKey: "idem", Task: "other", Team: "newsroom"})
	if err != nil || !existed || again.ID != run.ID {
		t.Errorf("idempotent create after reopen = %v, existed %v, %v; want run %s", idOf(again), existed, err, run.ID)
	}
	evs, err := s2.Events(ctx, run.ID, 0)
	if err != nil {
		t.Fatalf("Events after reopen: %v", err)
	}
	if diff := cmp.Diff(withSeqs(events, 1), evs); diff != "" {
		t.Errorf("events after reopen (-want +got):\n%s", diff)
	}
	seq, err := s2.AppendEvent(ctx, c, events[0])
	if err != nil || seq != int64(len(events)+1) {
		t.Errorf("AppendEvent after reopen = %d, %v; want %d", seq, err, len(events)+1)
	}
	k, err := s2.KeyByHash(ctx, "hash-persist")
	if err != nil {
		t.Fatalf("KeyByHash after reopen: %v", err)
	}
	if diff := cmp.Diff(key, k); diff != "" {
		t.Errorf("key after reopen (-want +got):\n%s", diff)
	}
}

// AppendFromTwoStores checks that two Stores open on the same storage at
// once (two processes, two instances) append to one run with unique,
// gap-free seqs: the storage, not a process-local lock, serialises them.
// open must open the same storage each time; each is the events per store.
func AppendFromTwoStores(t *testing.T, open Opener, each int) {
	ctx := context.Background()
	a, b := open(t), open(t)
	run := mustCreate(t, a, &store.Run{Task: "t", Team: "newsroom"})
	c := mustClaim(t, a, run.ID)
	seen := make(chan int64, 2*each)
	var wg sync.WaitGroup
	for _, s := range []store.Store{a, b} {
		wg.Go(func() {
			for range each {
				seq, err := s.AppendEvent(ctx, c, team.Event{Type: team.EventDelta, Delta: "x"})
				if err != nil {
					t.Error(err)
					return
				}
				seen <- seq
			}
		})
	}
	wg.Wait()
	close(seen)
	got := map[int64]bool{}
	for seq := range seen {
		if got[seq] {
			t.Errorf("seq %d given twice", seq)
		}
		got[seq] = true
	}
	for seq := int64(1); seq <= int64(2*each); seq++ {
		if !got[seq] {
			t.Errorf("seq %d missing", seq)
		}
	}
	evs, err := b.Events(ctx, run.ID, 0)
	if err != nil || len(evs) != 2*each || evs[len(evs)-1].Seq != int64(2*each) {
		t.Errorf("Events = %d events, %v; want %d ending at seq %d", len(evs), err, 2*each, 2*each)
	}
}

func idOf(r *store.Run) string {
	if r == nil {
		return "<nil>"
	}
	return r.ID
}

// mustClaim claims the run for the owner "writer" for an hour: the claim its
// progress is written under.
func mustClaim(t testing.TB, s store.Store, runID string) store.Claim {
	t.Helper()
	c, ok, err := s.ClaimRun(context.Background(), runID, "writer", time.Hour)
	if err != nil || !ok {
		t.Fatalf("ClaimRun(%s) = %v, %v; want a claim", runID, ok, err)
	}
	return c
}

func mustCreate(t *testing.T, s store.Store, r *store.Run) *store.Run {
	t.Helper()
	got, existed, err := s.CreateRun(context.Background(), r)
	if err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	if existed {
		t.Fatalf("CreateRun: existed = true for a new run")
	}
	return got
}

// base is a fixed instant at microsecond precision, the precision backends keep.
var base = time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC)

func testCreateGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	in := &store.Run{Owner: "key-1", Task: "Write about the harbour", Team: "newsroom", MaxMessages: 12, BudgetUSD: 0.5}
	got := mustCreate(t, s, in)
	if got.ID == "" {
		t.Fatal("CreateRun left the id empty")
	}
	if got.Status != store.StatusQueued {
		t.Errorf("status = %q, want %q", got.Status, store.StatusQueued)
	}
	if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("CreatedAt = %v, want about now", got.CreatedAt)
	}
	if !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Errorf("UpdatedAt = %v, want CreatedAt %v", got.UpdatedAt, got.CreatedAt)
	}
	if in.ID != "" {
		t.Errorf("CreateRun changed its argument's id to %q", in.ID)
	}
	want := *in
	want.ID, want.Status, want.CreatedAt, want.UpdatedAt = got.ID, store.StatusQueued, got.CreatedAt, got.UpdatedAt
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("CreateRun result (-want +got):\n%s", diff)
	}
	read, err := s.GetRun(ctx, got.ID)
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if diff := cmp.Diff(got, read); diff != "" {
		t.Errorf("GetRun (-created +read):\n%s", diff)
	}

	// A run's options come back as given: the documents with their text.
	opts := store.RunOptions{NoTools: true, NoGrounding: true, Sources: []store.Document{
		{URL: "https://news.example/a", Title: "A", FetchedAt: base, Text: "The council met on Tuesday.\nIt voted 7 to 2."},
		{URL: "http://intranet.example:8080/b", FetchedAt: base.Add(time.Second), Text: "Nothing else."},
	}}
	withOpts := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom", Options: opts})
	read, err = s.GetRun(ctx, withOpts.ID)
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if diff := cmp.Diff(opts, read.Options); diff != "" {
		t.Errorf("run options (-given +read):\n%s", diff)
	}
	if !got.Options.IsZero() {
		t.Errorf("a run created without options reads back %+v", got.Options)
	}

	explicit := mustCreate(t, s, &store.Run{ID: "run-explicit", Task: "t", Team: "newsroom", CreatedAt: base,
		Status: store.StatusRunning})
	if explicit.ID != "run-explicit" || !explicit.CreatedAt.Equal(base) || explicit.Status != store.StatusRunning {
		t.Errorf("CreateRun with id, time and status = %+v, want them kept", explicit)
	}
}

func testUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	run := mustCreate(t, s, &store.Run{Owner: "k", Task: "original task", Team: "newsroom", CreatedAt: base})

	run.Status = store.StatusRunning
	run.Usage = model.Usage{PromptTokens: 10, CompletionTokens: 5, Requests: 1, CostUSD: 0.001}
	run.PerAgent = map[string]model.Usage{"Reporter": run.Usage}
	c := mustClaim(t, s, run.ID)
	if err := s.UpdateRun(ctx, c, run); err != nil {
		t.Fatalf("UpdateRun running: %v", err)
	}
	if !run.FinishedAt.IsZero() {
		t.Errorf("a running run got FinishedAt %v", run.FinishedAt)
	}
	if !run.UpdatedAt.After(base) {
		t.Errorf("UpdatedAt = %v, want set to now", run.UpdatedAt)
	}

	run.Status = store.StatusSucceeded
	run.StopReason = "text mention: TERMINATE"
	run.Article = "# Harbour\n\n<script>alert(1)</script> stays text"
	run.Usage = model.Usage{PromptTokens: 30, CompletionTokens: 20, CachedPromptTokens: 4, Requests: 3, CachedResponses: 1, CostUSD: 0.0042}
	run.PerAgent = map[string]model.Usage{"Reporter": {PromptTokens: 20, CompletionTokens: 15, Requests: 2},
		team.SelectorSource: {PromptTokens: 10, CompletionTokens: 5, Requests: 1}}
	changed := *run
	changed.Task = "an update must not change the task"
	if err := s.UpdateRun(ctx, c, &changed); err != nil {
		t.Fatalf("UpdateRun succeeded: %v", err)
	}
	if changed.FinishedAt.IsZero() {
		t.Error("UpdateRun of a finished run left FinishedAt zero")
	}
	got, err := s.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	want := changed
	want.Task = "original task"
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("after UpdateRun (-want +got):\n%s", diff)
	}

	failed := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom"})
	failed.Status, failed.Error, failed.FinishedAt = store.StatusFailed, "model: 500", base.Add(time.Hour)
	if err := s.UpdateRun(ctx, mustClaim(t, s, failed.ID), failed); err != nil {
		t.Fatalf("UpdateRun failed: %v", err)
	}
	got, err = s.GetRun(ctx, failed.ID)
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if got.Error != "model: 500" || !got.FinishedAt.Equal(base.Add(time.Hour)) {
		t.Errorf("failed run = error %q finished %v, want the given ones", got.Error, got.FinishedAt)
	}
}

func testCreateConflict(t *testing.T, s store.Store) {
	mustCreate(t, s, &store.Run{ID: "same", Task: "a", Team: "newsroom"})
	_, _, err := s.CreateRun(context.Background(), &store.Run{ID: "same", Task: "b", Team: "newsroom"})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("second CreateRun with id %q: err = %v, want ErrConflict", "same", err)
	}
}

func testIdempotency(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := mustCreate(t, s, &store.Run{Owner: "alice", IdempotencyKey: "k-1", Task: "first", Team: "newsroom"})
	again, existed, err := s.CreateRun(ctx, &store.Run{Owner: "alice", IdempotencyKey: "k-1", Task: "retry", Team: "newsroom"})
	if err != nil {
		t.Fatalf("retried CreateRun: %v", err)
	}
	if !existed {
		t.Error("retried CreateRun: existed = false")
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("retried CreateRun returned another run (-first +returned):\n%s", diff)
	}
	other := mustCreate(t, s, &store.Run{Owner: "bob", IdempotencyKey: "k-1", Task: "bob's", Team: "newsroom"})
	if other.ID == first.ID {
		t.Error("another owner's run with the same idempotency key got the first owner's run")
	}
	a := mustCreate(t, s, &store.Run{Owner: "alice", Task: "no key", Team: "newsroom"})
	b := mustCreate(t, s, &store.Run{Owner: "alice", Task: "no key", Team: "newsroom"})
	if a.ID == b.ID {
		t.Error("two runs without an idempotency key got one id")
	}
}

func testRunByIdempotencyKey(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := mustCreate(t, s, &store.Run{Owner: "alice", IdempotencyKey: "k-find", Task: "first", Team: "newsroom",
		Options: store.RunOptions{NoTools: true, Sources: []store.Document{{URL: "https://example.com/a", Text: "page"}}}})
	got, err := s.RunByIdempotencyKey(ctx, "alice", "k-find")
	if err != nil {
		t.Fatalf("RunByIdempotencyKey(alice, k-find): %v", err)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("RunByIdempotencyKey returned another run (-created +found):\n%s", diff)
	}
	mustCreate(t, s, &store.Run{Owner: "alice", Task: "no key", Team: "newsroom"})
	for _, c := range []struct{ owner, key string }{{"bob", "k-find"}, {"alice", "k-other"}, {"alice", ""}} {
		if r, err := s.RunByIdempotencyKey(ctx, c.owner, c.key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RunByIdempotencyKey(%q, %q) = %v, %v; want ErrNotFound", c.owner, c.key, idOf(r), err)
		}
	}
}

func testIdempotencyConcurrent(t *testing.T, s store.Store) {
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]bool{}
		created int
		errs    []error
	)
	for range n {
		wg.Go(func() {
			r, existed, err := s.CreateRun(context.Background(),
				&store.Run{Owner: "alice", IdempotencyKey: "race", Task: "t", Team: "newsroom"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			ids[r.ID] = true
			if !existed {
				created++
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent CreateRun errors: %v", errs)
	}
	if len(ids) != 1 || created != 1 {
		t.Errorf("%d concurrent creates with one key: %d ids, %d created; want 1 and 1", n, len(ids), created)
	}
}

// seedRuns creates runs for two owners and three statuses; several share a
// created_at so the id must break ties. It returns them in list order.
func seedRuns(t *testing.T, s store.Store, n int) []*store.Run {
	t.Helper()
	statuses := []store.Status{store.StatusSucceeded, store.StatusRunning, store.StatusQueued}
	var runs []*store.Run
	for i := range n {
		runs = append(runs, mustCreate(t, s, &store.Run{
			ID:        fmt.Sprintf("run-%03d", (i*37)%n), // ids not in creation order
			Owner:     []string{"alice", "bob"}[i%2],
			Task:      fmt.Sprintf("task %d", i),
			Team:      "newsroom",
			Status:    statuses[i%3],
			CreatedAt: base.Add(time.Duration(i/3) * time.Minute),
		}))
	}
	sortNewestFirst(runs)
	return runs
}

func sortNewestFirst(runs []*store.Run) {
	sort.Slice(runs, func(i, j int) bool {
		if !runs[i].CreatedAt.Equal(runs[j].CreatedAt) {
			return runs[i].CreatedAt.After(runs[j].CreatedAt)
		}
		return runs[i].ID > runs[j].ID
	})
}

// listAll follows the cursor to the end and fails on a loop.
func listAll(t *testing.T, s store.Store, opts store.ListOptions) (runs []*store.Run, pages int) {
	t.Helper()
	for {
		page, next, err := s.ListRuns(context.Background(), opts)
		if err != nil {
			t.Fatalf("ListRuns(%+v): %v", opts, err)
		}
		pages++
		runs = append(runs, page...)
		if next == "" {
			return runs, pages
		}
		if pages > 1000 {
			t.Fatal("ListRuns: the cursor never ends")
		}
		opts.Cursor = next
	}
}

func ids(runs []*store.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

func testListPaging(t *testing.T, s store.Store) {
	want := seedRuns(t, s, 25)
	got, pages := listAll(t, s, store.ListOptions{Limit: 7})
	if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
		t.Errorf("paged list, newest first (-want +got):\n%s", diff)
	}
	if pages != 4 {
		t.Errorf("25 runs in pages of 7 took %d pages, want 4", pages)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed runs differ from created ones (-want +got):\n%s", diff)
	}
	exact, pages := listAll(t, s, store.ListOptions{Limit: 5})
	if len(exact) != 25 || pages != 5 {
		t.Errorf("25 runs in pages of 5: %d runs in %d pages, want 25 in 5 (no empty last page)", len(exact), pages)
	}
}

func testListFilters(t *testing.T, s store.Store) {
	all := seedRuns(t, s, 30)
	filter := func(owner string, status store.Status) []string {
		var out []string
		for _, r := range all {
			if (owner == "" || r.Owner == owner) && (status == "" || r.Status == status) {
				out = append(out, r.ID)
			}
		}
		return out
	}
	tests := []struct {
		owner  string
		status store.Status
	}{
		{"alice", ""}, {"bob", ""}, {"", store.StatusRunning}, {"alice", store.StatusQueued},
		{"bob", store.StatusSucceeded}, {"carol", ""}, {"", store.StatusCancelled},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("owner %q status %q", tt.owner, tt.status), func(t *testing.T) {
			got, _ := listAll(t, s, store.ListOptions{Owner: tt.owner, Status: tt.status, Limit: 4})
			want := filter(tt.owner, tt.status)
			if diff := cmp.Diff(want, ids(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func testListLimits(t *testing.T, s store.Store) {
	seedRuns(t, s, 105)
	ctx := context.Background()
	tests := []struct {
		limit, want int
	}{{0, 20}, {-3, 20}, {1, 1}, {100, 100}, {1000, 100}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("limit %d", tt.limit), func(t *testing.T) {
			page, next, err := s.ListRuns(ctx, store.ListOptions{Limit: tt.limit})
			if err != nil {
				t.Fatalf("ListRuns: %v", err)
			}
			if len(page) != tt.want || next == "" {
				t.Errorf("page of %d runs, next %q; want %d runs and a cursor", len(page), next, tt.want)
			}
		})
	}
}

func testListBadCursor(t *testing.T, s store.Store) {
	seedRuns(t, s, 3)
	for _, c := range []string{"not base64!", "bm8gY29sb24", "eHg6eXk"} { // "no colon", "xx:yy"
		_, _, err := s.ListRuns(context.Background(), store.ListOptions{Cursor: c})
		if !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("ListRuns(cursor %q): err = %v, want ErrBadCursor", c, err)
		}
	}
}

// sampleEvents is a run's event stream: started, then selected and message pairs.
func sampleEvents(runID string, messages int) []team.Event {
	evs := []team.Event{{Type: team.EventRunStarted, Time: base, Task: "task of " + runID}}
	total := model.Usage{}
	for i := range messages {
		u := model.Usage{PromptTokens: 100 + i, CompletionTokens: 40, Requests: 1, CostUSD: 0.0001 * float64(i+1)}
		total = total.Add(u)
		at := base.Add(time.Duration(i+1) * time.Second)
		evs = append(evs,
			team.Event{Type: team.EventSpeakerSelected, Time: at, Speaker: "Reporter", Attempts: 1, Index: i},
			team.Event{Type: team.EventMessage, Time: at, Speaker: "Reporter", Index: i, Usage: u, Total: total,
				Message: &agent.Message{Source: "Reporter", Content: fmt.Sprintf("paragraph %d with \"quotes\" and <b>html</b> ünïcode", i),
					Usage: u, Time: at}})
	}
	return evs
}

func withSeqs(evs []team.Event, first int64) []store.Event {
	out := make([]store.Event, len(evs))
	for i, e := range evs {
		out[i] = store.Event{Seq: first + int64(i), Event: e}
	}
	return out
}

func testEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	run := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom"})
	other := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom"})
	evs := sampleEvents(run.ID, 3)
	c := mustClaim(t, s, run.ID)
	for i, e := range evs {
		seq, err := s.AppendEvent(ctx, c, e)
		if err != nil {
			t.Fatalf("AppendEvent %d: %v", i, err)
		}
		if seq != int64(i+1) {
			t.Errorf("AppendEvent %d: seq = %d, want %d", i, seq, i+1)
		}
	}
	if seq, err := s.AppendEvent(ctx, mustClaim(t, s, other.ID), evs[0]); err != nil || seq != 1 {
		t.Errorf("first AppendEvent of another run = %d, %v; want 1", seq, err)
	}
	tests := []struct {
		after int64
		want  []store.Event
	}{
		{0, withSeqs(evs, 1)},
		{2, withSeqs(evs[2:], 3)},
		{int64(len(evs) - 1), withSeqs(evs[len(evs)-1:], int64(len(evs)))},
		{int64(len(evs)), nil},
		{99, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("after %d", tt.after), func(t *testing.T) {
			got, err := s.Events(ctx, run.ID, tt.after)
			if err != nil {
				t.Fatalf("Events: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if got, err := s.Events(ctx, "no-such-run", 0); err != nil || len(got) != 0 {
		t.Errorf("Events of an unknown run = %d events, %v; want none", len(got), err)
	}
	if _, err := s.AppendEvent(ctx, store.Claim{RunID: "no-such-run", Owner: "writer", Token: 1}, evs[0]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AppendEvent to an unknown run: err = %v, want ErrNotFound", err)
	}
}

func testEventsConcurrent(t *testing.T, s store.Store) {
	const writers, each = 6, 15
	ctx := context.Background()
	run := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom"})
	c := mustClaim(t, s, run.ID)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs []int64
		errs []error
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				seq, err := s.AppendEvent(ctx, c, team.Event{Type: team.EventDelta, Speaker: fmt.Sprint(w), Delta: fmt.Sprint(i)})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					seqs = append(seqs, seq)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent AppendEvent: %d errors, first %v", len(errs), errs[0])
	}
	slices.Sort(seqs)
	for i, seq := range seqs {
		if seq != int64(i+1) {
			t.Fatalf("sorted seqs[%d] = %d, want %d (seqs %v)", i, seq, i+1, seqs)
		}
	}
	got, err := s.Events(ctx, run.ID, 0)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(got) != writers*each {
		t.Fatalf("Events returned %d, want %d", len(got), writers*each)
	}
	next := map[string]int{} // each writer's events keep their order
	for i, e := range got {
		if e.Seq != int64(i+1) {
			t.Fatalf("Events[%d].Seq = %d, want %d", i, e.Seq, i+1)
		}
		if want := fmt.Sprint(next[e.Speaker]); e.Delta != want {
			t.Errorf("writer %s: event %d has delta %q, want %q", e.Speaker, e.Seq, e.Delta, want)
		}
		next[e.Speaker]++
	}
}

// mustCreateMixed creates seven runs (ids prefix0 to prefix6) of finished
// and unfinished statuses, each a minute older than the one before, so that
// oldest-first order is not insertion order. It returns the ids of the
// unfinished ones, oldest first.
func mustCreateMixed(t *testing.T, s store.Store, prefix string) []string {
	t.Helper()
	statuses := []store.Status{store.StatusRunning, store.StatusSucceeded, store.StatusQueued, store.StatusFailed,
		store.StatusCancelled, store.StatusQueued, store.StatusRunning}
	var unfinished []string
	for i, st := range statuses {
		r := mustCreate(t, s, &store.Run{ID: fmt.Sprintf("%s%d", prefix, i), Task: "t", Team: "newsroom", Status: st,
			CreatedAt: base.Add(-time.Duration(i) * time.Minute)})
		if !st.Finished() {
			unfinished = append([]string{r.ID}, unfinished...)
		}
	}
	return unfinished
}

func testUnfinished(t *testing.T, s store.Store) {
	ctx := context.Background()
	if runs, err := s.UnfinishedRuns(ctx); err != nil || len(runs) != 0 {
		t.Fatalf("UnfinishedRuns of an empty store = %d runs, %v", len(runs), err)
	}
	want := mustCreateMixed(t, s, "u")
	got, err := s.UnfinishedRuns(ctx)
	if err != nil {
		t.Fatalf("UnfinishedRuns: %v", err)
	}
	if diff := cmp.Diff(want, ids(got)); diff != "" {
		t.Errorf("UnfinishedRuns (-want +got):\n%s", diff)
	}
	// Finishing a run removes it.
	got[0].Status = store.StatusCancelled
	if err := s.UpdateRun(ctx, mustClaim(t, s, got[0].ID), got[0]); err != nil {
		t.Fatalf("UpdateRun: %v", err)
	}
	after, err := s.UnfinishedRuns(ctx)
	if err != nil {
		t.Fatalf("UnfinishedRuns: %v", err)
	}
	if diff := cmp.Diff(want[1:], ids(after)); diff != "" {
		t.Errorf("UnfinishedRuns after cancelling the oldest (-want +got):\n%s", diff)
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	admin := &store.Key{Name: "ops", Hash: "h-admin", Admin: true, CreatedAt: base}
	user := &store.Key{Name: "desk", Hash: "h-user", Role: "editor-in-chief"}
	for _, k := range []*store.Key{admin, user} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatalf("CreateKey(%s): %v", k.Name, err)
		}
		if k.ID == "" || k.CreatedAt.IsZero() {
			t.Fatalf("CreateKey(%s) left id %q, created %v", k.Name, k.ID, k.CreatedAt)
		}
	}
	if admin.ID == user.ID {
		t.Fatal("two keys got one id")
	}
	got, err := s.KeyByHash(ctx, "h-user")
	if err != nil {
		t.Fatalf("KeyByHash: %v", err)
	}
	if diff := cmp.Diff(user, got); diff != "" {
		t.Errorf("KeyByHash (-want +got):\n%s", diff)
	}
	if err := s.CreateKey(ctx, &store.Key{Name: "dup", Hash: "h-user"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateKey with a taken hash: err = %v, want ErrConflict", err)
	}
	if err := s.CreateKey(ctx, &store.Key{ID: admin.ID, Name: "dup", Hash: "h-new"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateKey with a taken id: err = %v, want ErrConflict", err)
	}

	if err := s.RevokeKey(ctx, user.ID); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	if _, err := s.KeyByHash(ctx, "h-user"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyByHash of a revoked key: err = %v, want ErrNotFound", err)
	}
	if err := s.RevokeKey(ctx, user.ID); err != nil {
		t.Errorf("RevokeKey twice: %v, want nil", err)
	}
	if _, err := s.KeyByHash(ctx, "h-admin"); err != nil {
		t.Errorf("KeyByHash of the other key after a revoke: %v", err)
	}
	keys, err := s.ListKeys(ctx)
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if len(keys) != 2 {
		t.Fatalf("ListKeys returned %d keys, want 2", len(keys))
	}
	if diff := cmp.Diff(admin, keys[0]); diff != "" {
		t.Errorf("ListKeys[0], the oldest (-want +got):\n%s", diff)
	}
	if keys[1].ID != user.ID || keys[1].RevokedAt.IsZero() || keys[1].Hash != "h-user" {
		t.Errorf("ListKeys[1] = %+v, want the revoked user key with its RevokedAt", keys[1])
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["GetRun"] = s.GetRun(ctx, "missing")
	missing := store.Claim{RunID: "missing", Owner: "writer", Token: 1}
	checks["UpdateRun"] = s.UpdateRun(ctx, missing, &store.Run{ID: "missing", Status: store.StatusFailed})
	_, checks["AppendEvent"] = s.AppendEvent(ctx, missing, team.Event{Type: team.EventRunStarted})
	_, checks["FinishRun"] = s.FinishRun(ctx, missing, &store.Run{ID: "missing", Status: store.StatusFailed},
		team.Event{Type: team.EventRunFinished})
	_, _, checks["ClaimRun"] = s.ClaimRun(ctx, "missing", "a", time.Minute)
	_, _, checks["SeizeRun"] = s.SeizeRun(ctx, "missing", "a", time.Minute)
	_, checks["KeyByHash"] = s.KeyByHash(ctx, "missing")
	checks["RevokeKey"] = s.RevokeKey(ctx, "missing")
	for name, err := range checks {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of an unknown id: err = %v, want ErrNotFound", name, err)
		}
	}
}

func testUnsafeText(t *testing.T, s store.Store) {
	ctx := context.Background()
	run := mustCreate(t, s, &store.Run{Owner: "o", Task: "a\x00b\xffc", Team: "newsroom"})
	if want := "a\uFFFDb\uFFFDc"; run.Task != want {
		t.Errorf("CreateRun task = %q, want %q", run.Task, want)
	}
	run.Status, run.Article, run.Error = store.StatusFailed, "x\x00y", "bad \xfe byte"
	c := mustClaim(t, s, run.ID)
	if err := s.UpdateRun(ctx, c, run); err != nil {
		t.Fatalf("UpdateRun: %v", err)
	}
	got, err := s.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if got.Task != "a\uFFFDb\uFFFDc" || got.Article != "x\uFFFDy" || got.Error != "bad \uFFFD byte" {
		t.Errorf("stored task %q, article %q, error %q; want NUL and bad bytes as U+FFFD", got.Task, got.Article, got.Error)
	}
	e := team.Event{Type: team.EventMessage, Delta: "p\x00q", Speaker: "Re\x00porter",
		Message: &agent.Message{Source: "Reporter", Content: `a literal \u0000 and \\u0000 stay as typed`}}
	if _, err := s.AppendEvent(ctx, c, e); err != nil {
		t.Fatalf("AppendEvent with a NUL: %v", err)
	}
	evs, err := s.Events(ctx, run.ID, 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("Events = %d events, %v; want 1", len(evs), err)
	}
	want := e
	want.Delta, want.Speaker = "p\uFFFDq", "Re\uFFFDporter"
	if diff := cmp.Diff(want, evs[0].Event); diff != "" {
		t.Errorf("event with NULs (-want +got):\n%s", diff)
	}
	if _, err := s.GetRun(ctx, "no\x00such"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRun of an id with a NUL: err = %v, want ErrNotFound", err)
	}
	if runs, _, err := s.ListRuns(ctx, store.ListOptions{Owner: "o\x00"}); err != nil || len(runs) != 0 {
		t.Errorf("ListRuns for an owner with a NUL = %d runs, %v; want none", len(runs), err)
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// BenchmarkAppendEvent measures AppendEvent, each call a durable commit, with
// a message-sized payload; run it from a backend's benchmark.
func BenchmarkAppendEvent(b *testing.B, s store.Store) {
	ctx := context.Background()
	run, _, err := s.CreateRun(ctx, &store.Run{Task: "bench", Team: "newsroom"})
	if err != nil {
		b.Fatalf("CreateRun: %v", err)
	}
	e := sampleEvents(run.ID, 1)[2]
	c := mustClaim(b, s, run.ID)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.AppendEvent(ctx, c, e); err != nil {
			b.Fatalf("AppendEvent: %v", err)
		}
	}
}

// BenchmarkAppendEventParallel measures AppendEvent from concurrent runs (one
// run per goroutine, as the worker pool writes): the throughput of checkpoints.
func BenchmarkAppendEventParallel(b *testing.B, s store.Store) {
	ctx := context.Background()
	e := sampleEvents("bench", 1)[2]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		run, _, err := s.CreateRun(ctx, &store.Run{Task: "bench", Team: "newsroom"})
		if err != nil {
			b.Errorf("CreateRun: %v", err)
			return
		}
		c, ok, err := s.ClaimRun(ctx, run.ID, "writer", time.Hour)
		if err != nil || !ok {
			b.Errorf("ClaimRun: %v, %v", ok, err)
			return
		}
		for pb.Next() {
			if _, err := s.AppendEvent(ctx, c, e); err != nil {
				b.Errorf("AppendEvent: %v", err)
				return
			}
		}
	})
}

// claim calls ClaimRun and fails the test on an error.
func claim(t *testing.T, s store.Store, id, owner string, lease time.Duration) bool {
	t.Helper()
	_, ok := claimOf(t, s, id, owner, lease)
	return ok
}

// mustClaimAs claims the run for owner; it fails the test unless it gets
// the claim.
func mustClaimAs(t *testing.T, s store.Store, id, owner string, lease time.Duration) store.Claim {
	t.Helper()
	c, ok := claimOf(t, s, id, owner, lease)
	if !ok {
		t.Fatalf("ClaimRun(%s, %s) found the run claimed", id, owner)
	}
	return c
}

// claimOf calls ClaimRun and returns the claim; it fails the test on an error.
func claimOf(t *testing.T, s store.Store, id, owner string, lease time.Duration) (store.Claim, bool) {
	t.Helper()
	c, ok, err := s.ClaimRun(context.Background(), id, owner, lease)
	if err != nil {
		t.Fatalf("ClaimRun(%s, %s): %v", id, owner, err)
	}
	if ok && (c.RunID != id || c.Owner != owner || c.Token <= 0) {
		t.Fatalf("ClaimRun(%s, %s) = %+v, want the run, the owner and a positive token", id, owner, c)
	}
	return c, ok
}

// waitClaim retries a claim until the store's clock has passed the holder's
// lease; the bound is generous and never reached when the store works.
func waitClaim(t *testing.T, s store.Store, id, owner string) store.Claim {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, ok := claimOf(t, s, id, owner, time.Minute); ok {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s could not claim %s after the other lease expired", owner, id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testClaim(t *testing.T, s store.Store) {
	ctx := context.Background()
	run := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom"})
	a1, ok := claimOf(t, s, run.ID, "a", time.Minute)
	if !ok {
		t.Fatal("claiming an unclaimed queued run failed")
	}
	if claim(t, s, run.ID, "b", time.Minute) {
		t.Fatal("b took a run a holds")
	}
	if ok, err := s.RenewClaim(ctx, a1, time.Minute); err != nil || !ok {
		t.Fatalf("a could not renew its own claim: %v, %v", ok, err)
	}
	a2, ok := claimOf(t, s, run.ID, "a", time.Minute)
	if !ok || a2.Token <= a1.Token {
		t.Fatalf("a's second claim = %+v, %v; want a greater token than %d", a2, ok, a1.Token)
	}
	if err := s.ReleaseRun(ctx, store.Claim{RunID: run.ID, Owner: "b", Token: a2.Token}); err != nil {
		t.Fatalf("ReleaseRun by a non-holder: %v", err)
	}
	if err := s.ReleaseRun(ctx, a1); err != nil {
		t.Fatalf("ReleaseRun of a superseded claim: %v", err)
	}
	if claim(t, s, run.ID, "b", time.Minute) {
		t.Fatal("a release by a non-holder or of an old claim dropped a's claim")
	}
	if err := s.ReleaseRun(ctx, a2); err != nil {
		t.Fatalf("ReleaseRun: %v", err)
	}
	b1, ok := claimOf(t, s, run.ID, "b", time.Minute)
	if !ok || b1.Token <= a2.Token {
		t.Fatalf("b's claim of a released run = %+v, %v; want a token greater than %d", b1, ok, a2.Token)
	}
	if claim(t, s, run.ID, "a", time.Minute) {
		t.Fatal("a took back a run b holds")
	}

	t.Run("an expired lease lets another owner take the run", func(t *testing.T) {
		r := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom", Status: store.StatusRunning})
		old := mustClaimAs(t, s, r.ID, "a", time.Millisecond)
		waitClaim(t, s, r.ID, "b")
		if ok, err := s.RenewClaim(ctx, old, time.Minute); err != nil || ok {
			t.Errorf("a renewed a claim b took over: %v, %v", ok, err)
		}
		if claim(t, s, r.ID, "a", time.Minute) {
			t.Error("a claimed a run b holds")
		}
	})
	t.Run("a renewal extends the lease", func(t *testing.T) {
		r := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom"})
		c := mustClaimAs(t, s, r.ID, "a", time.Millisecond)
		if ok, err := s.RenewClaim(ctx, c, time.Hour); err != nil || !ok {
			t.Fatalf("renewal failed: %v, %v", ok, err)
		}
		// The first lease is long over once b's expiry test above could
		// pass; the renewed one still holds.
		time.Sleep(20 * time.Millisecond)
		if claim(t, s, r.ID, "b", time.Minute) {
			t.Error("b took a run whose lease a renewed for an hour")
		}
	})
	t.Run("finished runs cannot be claimed", func(t *testing.T) {
		for _, st := range []store.Status{store.StatusSucceeded, store.StatusFailed, store.StatusCancelled} {
			r := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom", Status: st})
			if claim(t, s, r.ID, "a", time.Minute) {
				t.Errorf("claimed a %s run", st)
			}
		}
		r := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom"})
		c := mustClaimAs(t, s, r.ID, "a", time.Minute)
		r.Status = store.StatusSucceeded
		if err := s.UpdateRun(ctx, c, r); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.RenewClaim(ctx, c, time.Minute); err != nil || ok {
			t.Errorf("the holder renewed a claim on a finished run: %v, %v", ok, err)
		}
		if claim(t, s, r.ID, "a", time.Minute) {
			t.Error("the holder claimed a finished run again")
		}
	})
	t.Run("unknown runs and bad arguments", func(t *testing.T) {
		if _, _, err := s.ClaimRun(ctx, "missing", "a", time.Minute); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ClaimRun of an unknown run: %v, want ErrNotFound", err)
		}
		if err := s.ReleaseRun(ctx, store.Claim{RunID: "missing", Owner: "a", Token: 1}); err != nil {
			t.Errorf("ReleaseRun of an unknown run: %v", err)
		}
		if ok, err := s.RenewClaim(ctx, store.Claim{RunID: "missing", Owner: "a", Token: 1}, time.Minute); err != nil || ok {
			t.Errorf("RenewClaim of an unknown run = %v, %v; want false", ok, err)
		}
		if _, _, err := s.ClaimRun(ctx, run.ID, "a", 0); err == nil {
			t.Error("ClaimRun with a zero lease succeeded")
		}
		if _, _, err := s.ClaimRun(ctx, run.ID, "", time.Minute); err == nil {
			t.Error("ClaimRun without an owner succeeded")
		}
	})
}

// testFencing: once another owner took the run over, every write under the
// old claim fails with ErrFenced and changes nothing; the new holder's
// writes go on without a gap.
func testFencing(t *testing.T, s store.Store) {
	ctx := context.Background()
	run := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom"})
	old := mustClaimAs(t, s, run.ID, "a", time.Millisecond)
	if seq, err := s.AppendEvent(ctx, old, team.Event{Type: team.EventRunStarted}); err != nil || seq != 1 {
		t.Fatalf("AppendEvent under a live claim = %d, %v; want 1", seq, err)
	}
	cur := waitClaim(t, s, run.ID, "b") // a's lease lapsed
	if cur.Token <= old.Token {
		t.Fatalf("the take-over's token %d is not greater than %d", cur.Token, old.Token)
	}
	if _, err := s.AppendEvent(ctx, old, team.Event{Type: team.EventDelta, Delta: "stale"}); !errors.Is(err, store.ErrFenced) {
		t.Errorf("AppendEvent under a superseded claim: err = %v, want ErrFenced", err)
	}
	stale := *run
	stale.Status, stale.Error = store.StatusFailed, "written by a stale instance"
	if err := s.UpdateRun(ctx, old, &stale); !errors.Is(err, store.ErrFenced) {
		t.Errorf("UpdateRun under a superseded claim: err = %v, want ErrFenced", err)
	}
	for name, c := range map[string]store.Claim{
		"the zero claim":             {RunID: run.ID},
		"a token from the future":    {RunID: run.ID, Owner: "b", Token: cur.Token + 1},
		"the current token, negated": {RunID: run.ID, Owner: "b", Token: -cur.Token},
	} {
		if _, err := s.AppendEvent(ctx, c, team.Event{Type: team.EventDelta}); !errors.Is(err, store.ErrFenced) {
			t.Errorf("AppendEvent under %s: err = %v, want ErrFenced", name, err)
		}
		if err := s.UpdateRun(ctx, c, &stale); !errors.Is(err, store.ErrFenced) {
			t.Errorf("UpdateRun under %s: err = %v, want ErrFenced", name, err)
		}
	}
	if err := s.UpdateRun(ctx, store.Claim{RunID: "other", Owner: "b", Token: cur.Token}, &stale); !errors.Is(err, store.ErrFenced) {
		t.Errorf("UpdateRun under a claim on another run: err = %v, want ErrFenced", err)
	}
	if seq, err := s.AppendEvent(ctx, cur, team.Event{Type: team.EventDelta, Delta: "b"}); err != nil || seq != 2 {
		t.Errorf("AppendEvent by the new holder = %d, %v; want 2 (nothing stale in between)", seq, err)
	}
	got, err := s.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusQueued || got.Error != "" {
		t.Errorf("run after fenced writes = %s %q, want untouched", got.Status, got.Error)
	}
	evs, err := s.Events(ctx, run.ID, 0)
	if err != nil || len(evs) != 2 || evs[1].Delta != "b" {
		t.Errorf("events = %+v, %v; want the first holder's run_started and the new holder's delta", evs, err)
	}
	got.Status = store.StatusRunning
	if err := s.UpdateRun(ctx, cur, got); err != nil {
		t.Errorf("UpdateRun by the new holder: %v", err)
	}
}

func testSeize(t *testing.T, s store.Store) {
	ctx := context.Background()
	run := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom", Status: store.StatusRunning})
	held := mustClaimAs(t, s, run.ID, "a", time.Hour)
	seized, ok, err := s.SeizeRun(ctx, run.ID, "b", time.Minute)
	if err != nil || !ok || seized.Owner != "b" || seized.Token <= held.Token {
		t.Fatalf("SeizeRun of a live claim = %+v, %v, %v; want b's claim with a greater token than %d", seized, ok, err, held.Token)
	}
	if _, err := s.AppendEvent(ctx, held, team.Event{Type: team.EventDelta}); !errors.Is(err, store.ErrFenced) {
		t.Errorf("AppendEvent by the seized holder: err = %v, want ErrFenced", err)
	}
	if ok, err := s.RenewClaim(ctx, held, time.Hour); err != nil || ok {
		t.Errorf("RenewClaim by the seized holder = %v, %v; want false", ok, err)
	}
	run.Status, run.StopReason = store.StatusCancelled, "cancelled by user"
	if err := s.UpdateRun(ctx, seized, run); err != nil {
		t.Fatalf("UpdateRun by the seizer: %v", err)
	}
	if _, ok, err := s.SeizeRun(ctx, run.ID, "c", time.Minute); err != nil || ok {
		t.Errorf("SeizeRun of a finished run = %v, %v; want false", ok, err)
	}
}

// finalEvent is a run_finished event as an executor stores it.
func finalEvent(stopReason, errText string) team.Event {
	return team.Event{Type: team.EventRunFinished, Time: base, StopReason: stopReason, Error: errText}
}

func testFinish(t *testing.T, s store.Store) {
	ctx := context.Background()
	run := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom"})
	c := mustClaim(t, s, run.ID)
	if _, err := s.AppendEvent(ctx, c, team.Event{Type: team.EventRunStarted}); err != nil {
		t.Fatal(err)
	}
	run.Status = store.StatusRunning
	if err := s.UpdateRun(ctx, c, run); err != nil {
		t.Fatal(err)
	}

	t.Run("an unfinished status is refused and writes nothing", func(t *testing.T) {
		r := *run
		if _, err := s.FinishRun(ctx, c, &r, finalEvent("", "")); err == nil {
			t.Error("FinishRun with status running succeeded")
		}
	})

	done := *run
	done.Status, done.StopReason, done.Article = store.StatusSucceeded, "verdict", "# Harbour"
	done.Usage = model.Usage{PromptTokens: 10, CompletionTokens: 5}
	seq, err := s.FinishRun(ctx, c, &done, finalEvent("verdict", ""))
	if err != nil || seq != 2 {
		t.Fatalf("FinishRun = %d, %v; want seq 2", seq, err)
	}
	if done.FinishedAt.IsZero() || done.UpdatedAt.IsZero() {
		t.Errorf("FinishRun left FinishedAt %v, UpdatedAt %v zero", done.FinishedAt, done.UpdatedAt)
	}
	got, err := s.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusSucceeded || got.StopReason != "verdict" || got.Article != "# Harbour" ||
		got.Usage.TotalTokens() != 15 || !got.FinishedAt.Equal(done.FinishedAt) {
		t.Errorf("run after FinishRun = %+v, want succeeded with its stop reason, article, usage and FinishedAt %v", got, done.FinishedAt)
	}
	evs, err := s.Events(ctx, run.ID, 0)
	if err != nil || len(evs) != 2 || evs[1].Seq != 2 || evs[1].Type != team.EventRunFinished || evs[1].StopReason != "verdict" {
		t.Fatalf("events after FinishRun = %+v, %v; want run_started then run_finished at seq 2", evs, err)
	}

	t.Run("finishing a finished run is a conflict and writes nothing", func(t *testing.T) {
		again := done
		again.Status, again.Error = store.StatusFailed, "second finish"
		if _, err := s.FinishRun(ctx, c, &again, finalEvent("error", "second finish")); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second FinishRun: err = %v, want ErrConflict", err)
		}
		got, _ := s.GetRun(ctx, run.ID)
		evs, _ := s.Events(ctx, run.ID, 0)
		if got.Status != store.StatusSucceeded || len(evs) != 2 {
			t.Errorf("after a second FinishRun: status %s, %d events; want succeeded and 2", got.Status, len(evs))
		}
	})

	t.Run("a superseded claim finishes nothing", func(t *testing.T) {
		r := mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom"})
		old := mustClaimAs(t, s, r.ID, "a", time.Millisecond)
		cur := waitClaim(t, s, r.ID, "b")
		stale := *r
		stale.Status, stale.Error = store.StatusFailed, "written by a stale instance"
		if _, err := s.FinishRun(ctx, old, &stale, finalEvent("error", stale.Error)); !errors.Is(err, store.ErrFenced) {
			t.Errorf("FinishRun under a superseded claim: err = %v, want ErrFenced", err)
		}
		if _, err := s.FinishRun(ctx, store.Claim{RunID: "other", Owner: "b", Token: cur.Token}, &stale, finalEvent("error", "")); !errors.Is(err, store.ErrFenced) {
			t.Errorf("FinishRun under a claim on another run: err = %v, want ErrFenced", err)
		}
		got, _ := s.GetRun(ctx, r.ID)
		evs, _ := s.Events(ctx, r.ID, 0)
		if got.Status.Finished() || len(evs) != 0 {
			t.Errorf("after fenced FinishRuns: status %s, %d events; want unfinished and none", got.Status, len(evs))
		}
		r.Status = store.StatusCancelled
		if seq, err := s.FinishRun(ctx, cur, r, finalEvent("cancelled by user", "")); err != nil || seq != 1 {
			t.Errorf("FinishRun by the current holder = %d, %v; want seq 1", seq, err)
		}
	})
}

// testFinishAtomic finishes runs while readers poll them, each reading the
// run then its events and the events then the run: a reader that sees the
// one must see the other, since both are one write.
func testFinishAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	const runs = 8
	for i := range runs {
		run := mustCreate(t, s, &store.Run{Task: fmt.Sprintf("t%d", i), Team: "newsroom", Status: store.StatusRunning})
		c := mustClaim(t, s, run.ID)
		if _, err := s.AppendEvent(ctx, c, team.Event{Type: team.EventRunStarted}); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var seen [2]atomic.Int64
		for r := range 2 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					statusFirst := r == 0
					var (
						got *store.Run
						evs []store.Event
						err error
					)
					if statusFirst {
						if got, err = s.GetRun(ctx, run.ID); err == nil {
							evs, err = s.Events(ctx, run.ID, 0)
						}
					} else {
						if evs, err = s.Events(ctx, run.ID, 0); err == nil {
							got, err = s.GetRun(ctx, run.ID)
						}
					}
					if err != nil {
						t.Errorf("reading run %s: %v", run.ID, err)
						return
					}
					final := len(evs) > 0 && evs[len(evs)-1].Type == team.EventRunFinished
					switch {
					case statusFirst && got.Status.Finished() && !final:
						t.Errorf("run %s read %s, then its events without run_finished", run.ID, got.Status)
						return
					case !statusFirst && final && !got.Status.Finished():
						t.Errorf("run %s: events read with run_finished, then the run %s", run.ID, got.Status)
						return
					}
					seen[r].Add(1)
				}
			})
		}
		for deadline := time.Now().Add(10 * time.Second); seen[0].Load() == 0 || seen[1].Load() == 0; {
			if time.Now().After(deadline) {
				t.Fatal("the readers did not start")
			}
			runtime.Gosched()
		}
		done := *run
		done.Status, done.Error = store.StatusFailed, "boom"
		_, err := s.FinishRun(ctx, c, &done, finalEvent("error", "boom"))
		// Let both readers read the finished run too.
		for n0, n1, deadline := seen[0].Load(), seen[1].Load(), time.Now().Add(10*time.Second); seen[0].Load() == n0 || seen[1].Load() == n1; {
			if time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
		}
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("FinishRun: %v", err)
		}
	}
}

func testClaimConcurrent(t *testing.T, s store.Store) {
	const runs, owners = 5, 8
	var created []*store.Run
	for range runs {
		created = append(created, mustCreate(t, s, &store.Run{Task: "t", Team: "newsroom"}))
	}
	type result struct {
		run, owner string
		ok         bool
		err        error
	}
	results := make(chan result, runs*owners)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, r := range created {
		for o := range owners {
			owner := fmt.Sprintf("owner-%d", o)
			wg.Go(func() {
				<-start
				_, ok, err := s.ClaimRun(context.Background(), r.ID, owner, time.Minute)
				results <- result{r.ID, owner, ok, err}
			})
		}
	}
	close(start)
	wg.Wait()
	close(results)
	winners := map[string][]string{}
	for res := range results {
		if res.err != nil {
			t.Errorf("ClaimRun(%s, %s): %v", res.run, res.owner, res.err)
		}
		if res.ok {
			winners[res.run] = append(winners[res.run], res.owner)
		}
	}
	for _, r := range created {
		if len(winners[r.ID]) != 1 {
			t.Errorf("run %s: winners %v, want exactly one", r.ID, winners[r.ID])
		}
	}
}

func testClaimable(t *testing.T, s store.Store) {
	ctx := context.Background()
	if runs, err := s.ClaimableRuns(ctx, 0); err != nil || len(runs) != 0 {
		t.Fatalf("ClaimableRuns of an empty store = %d runs, %v", len(runs), err)
	}
	unfinished := mustCreateMixed(t, s, "c")
	list := func(limit int) []string {
		t.Helper()
		runs, err := s.ClaimableRuns(ctx, limit)
		if err != nil {
			t.Fatalf("ClaimableRuns: %v", err)
		}
		return ids(runs)
	}
	if diff := cmp.Diff(unfinished, list(0)); diff != "" {
		t.Errorf("ClaimableRuns (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(unfinished[:2], list(2)); diff != "" {
		t.Errorf("ClaimableRuns limit 2 (-want +got):\n%s", diff)
	}
	// A live claim hides a run; an expired or released one shows it again.
	held, expiring := unfinished[0], unfinished[1]
	heldClaim, ok := claimOf(t, s, held, "a", time.Minute)
	if !ok || !claim(t, s, expiring, "a", time.Millisecond) {
		t.Fatal("claims failed")
	}
	deadline := time.Now().Add(10 * time.Second)
	for slices.Contains(list(0), held) || !slices.Contains(list(0), expiring) {
		if time.Now().After(deadline) {
			t.Fatalf("ClaimableRuns = %v: want %s hidden and %s back after its lease", list(0), held, expiring)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.ReleaseRun(ctx, heldClaim); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(unfinished, list(0)); diff != "" {
		t.Errorf("ClaimableRuns after the release (-want +got):\n%s", diff)
	}
}

// waiting makes a run that awaits approval, with one message in its log.
func waiting(t *testing.T, s store.Store) *store.Run {
	t.Helper()
	ctx := context.Background()
	r := mustCreate(t, s, &store.Run{Task: "t", Team: "roundrobin", Approval: &store.Approval{Required: true}})
	c := mustClaim(t, s, r.ID)
	if _, err := s.AppendEvent(ctx, c, team.Event{Type: team.EventApprovalRequested, Reason: "verdict APPROVE"}); err != nil {
		t.Fatal(err)
	}
	r.Status, r.StopReason = store.StatusAwaitingApproval, team.StopAwaitingApproval
	if err := s.UpdateRun(ctx, c, r); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseRun(ctx, c); err != nil { // as the executor does when the run pauses
		t.Fatal(err)
	}
	return r
}

func testResolveWaiting(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := waiting(t, s)
	got, err := s.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Approval == nil || !got.Approval.Required || got.Status != store.StatusAwaitingApproval || !got.FinishedAt.IsZero() {
		t.Fatalf("waiting run read back as %+v (approval %+v)", got, got.Approval)
	}
	if plain := mustCreate(t, s, &store.Run{Task: "t", Team: "roundrobin"}); plain.Approval != nil {
		t.Fatalf("a run without approval has %+v", plain.Approval)
	}
	if un, err := s.UnfinishedRuns(ctx); err != nil || slices.ContainsFunc(un, func(u *store.Run) bool { return u.ID == r.ID }) {
		t.Fatalf("UnfinishedRuns lists a waiting run (err %v): nothing may execute it", err)
	}
	if ok := claim(t, s, r.ID, "inst-a", time.Minute); ok {
		t.Fatal("a waiting run was claimed")
	}

	d := &team.Decision{Decision: team.DecisionReject, Note: "no", By: "key:k", At: base}
	evs := []team.Event{{Type: team.EventApprovalDecided, Decision: d}, {Type: team.EventRunFinished, StopReason: team.StopRejected}}
	if err := s.ResolveWaiting(ctx, r.ID, evs, store.StatusRejected, team.StopRejected); err != nil {
		t.Fatalf("ResolveWaiting: %v", err)
	}
	got, err = s.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusRejected || got.StopReason != team.StopRejected || got.FinishedAt.IsZero() {
		t.Fatalf("resolved run: status %s stop %q finished %v", got.Status, got.StopReason, got.FinishedAt)
	}
	log, err := s.Events(ctx, r.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 3 || log[1].Seq != 2 || log[1].Decision == nil || *log[1].Decision != *d || log[2].Seq != 3 {
		t.Fatalf("log after the decision: %+v", log)
	}

	// A replayed decision changes nothing.
	if err := s.ResolveWaiting(ctx, r.ID, evs, store.StatusSucceeded, "approved"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("replayed: err %v, want ErrConflict", err)
	}
	if again, _ := s.Events(ctx, r.ID, 0); len(again) != 3 {
		t.Fatalf("a refused decision wrote events: %d", len(again))
	}
	if err := s.ResolveWaiting(ctx, "run_unknown", evs, store.StatusRejected, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown run: err %v, want ErrNotFound", err)
	}

	// A revision sends the run back to the queue, unfinished and claimable.
	r2 := waiting(t, s)
	if err := s.ResolveWaiting(ctx, r2.ID, []team.Event{{Type: team.EventApprovalDecided, Decision: d}}, store.StatusQueued, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetRun(ctx, r2.ID); got.Status != store.StatusQueued || !got.FinishedAt.IsZero() {
		t.Fatalf("revised run: %+v", got)
	}
	if !claim(t, s, r2.ID, "inst-a", time.Minute) {
		t.Fatal("a revised run cannot be claimed")
	}
}

func testResolveWaitingConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := waiting(t, s)
	const n = 8
	var wg sync.WaitGroup
	var wins, conflicts atomic.Int32
	for i := range n {
		wg.Go(func() {
			d := &team.Decision{Decision: team.DecisionApprove, By: fmt.Sprintf("key:%d", i)}
			err := s.ResolveWaiting(ctx, r.ID, []team.Event{{Type: team.EventApprovalDecided, Decision: d}}, store.StatusSucceeded, team.StopApproved)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, store.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("ResolveWaiting: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != n-1 {
		t.Fatalf("%d wins, %d conflicts; want 1 and %d", wins.Load(), conflicts.Load(), n-1)
	}
	if log, _ := s.Events(ctx, r.ID, 0); len(log) != 2 {
		t.Fatalf("%d events, want the request and one decision", len(log))
	}
}
