package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// The parts of the server that need one role of the store take that role
// only; these tests give them doubles that implement nothing more.

// keysOnly is a store.Keys and nothing else: all the key watch needs.
type keysOnly struct {
	mu      sync.Mutex
	byHash  map[string]*store.Key
	failing map[string]bool // hashes whose lookup fails
	lookups map[string]int
}

var _ store.Keys = (*keysOnly)(nil)

func newKeysOnly(hashes ...string) *keysOnly {
	k := &keysOnly{byHash: map[string]*store.Key{}, failing: map[string]bool{}, lookups: map[string]int{}}
	for i, h := range hashes {
		k.byHash[h] = &store.Key{ID: fmt.Sprintf("key_%d", i), Hash: h}
	}
	return k
}

func (k *keysOnly) CreateKey(_ context.Context, key *store.Key) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.byHash[key.Hash] = key
	return nil
}

func (k *keysOnly) KeyByHash(_ context.Context, hash string) (*store.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lookups[hash]++
	if k.failing[hash] {
		return nil, errors.New("keysOnly: store unreachable")
	}
	key, ok := k.byHash[hash]
	if !ok {
		return nil, store.ErrNotFound
	}
	c := *key
	return &c, nil
}

func (k *keysOnly) ListKeys(context.Context) ([]*store.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []*store.Key
	for _, key := range k.byHash {
		out = append(out, key)
	}
	return out, nil
}

func (k *keysOnly) RevokeKey(_ context.Context, id string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, key := range k.byHash {
		if key.ID == id {
			key.RevokedAt = time.Now()
			return nil
		}
	}
	return store.ErrNotFound
}

func (k *keysOnly) remove(hash string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.byHash, hash)
}

func (k *keysOnly) setFailing(hash string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failing[hash] = true
}

func (k *keysOnly) lookupsOf(hash string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lookups[hash]
}

// waitClosed fails the test when ch is not closed within a generous bound
// (a hung test, not a speed goal).
func waitClosed(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not closed", what)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitLookups polls until the key with hash was looked up n more times
// than from.
func waitLookups(t *testing.T, k *keysOnly, hash string, from, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for k.lookupsOf(hash) < from+n {
		if time.Now().After(deadline) {
			t.Fatalf("key %s looked up %d times, want %d", hash, k.lookupsOf(hash)-from, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestKeyWatch_EndsTheStreamsOfRevokedKeysOnly(t *testing.T) {
	t.Parallel()
	keys := newKeysOnly("h_revoked", "h_deleted", "h_kept", "h_failing")
	done := make(chan struct{})
	kw := newKeyWatch(keys, 5*time.Millisecond, done)

	revoked1, stop1 := kw.watch("h_revoked")
	revoked2, stop2 := kw.watch("h_revoked") // two streams of one key
	deleted, stop3 := kw.watch("h_deleted")
	kept, stop4 := kw.watch("h_kept")
	failing, stop5 := kw.watch("h_failing")

	if err := keys.RevokeKey(context.Background(), "key_0"); err != nil {
		t.Fatal(err)
	}
	keys.remove("h_deleted")
	keys.setFailing("h_failing")
	waitClosed(t, "first stream of the revoked key", revoked1)
	waitClosed(t, "second stream of the revoked key", revoked2)
	waitClosed(t, "stream of the deleted key", deleted)

	// Two more rounds of checks: the kept key and the one whose lookup
	// fails (a store error is no revocation) stay open.
	from := keys.lookupsOf("h_kept")
	waitLookups(t, keys, "h_kept", from, 2)
	waitLookups(t, keys, "h_failing", keys.lookupsOf("h_failing"), 1)
	if isClosed(kept) {
		t.Error("the stream of a valid key was ended")
	}
	if isClosed(failing) {
		t.Error("a failed key lookup ended the stream")
	}
	if n := keys.lookupsOf("h_revoked"); n == 0 {
		t.Error("the revoked key was never looked up")
	}

	// With no stream left the checking goroutine ends by itself.
	for _, stop := range []func(){stop1, stop2, stop3, stop4, stop5} {
		stop()
	}
	kw.wait()
	close(done)
}

func TestKeyWatch_ShutdownEndsTheCheckingGoroutine(t *testing.T) {
	t.Parallel()
	keys := newKeysOnly("h")
	done := make(chan struct{})
	kw := newKeyWatch(keys, 5*time.Millisecond, done)
	_, stop := kw.watch("h")
	defer stop()
	waitLookups(t, keys, "h", 0, 1)
	close(done)
	kw.wait()
	// A watch after shutdown starts nothing; its stream ends anyway.
	ch, stop2 := kw.watch("h")
	defer stop2()
	if isClosed(ch) {
		t.Error("a watch after shutdown was closed as if revoked")
	}
}

// eventsOnly is a store.EventLog and nothing else; with a runStatus it is
// all a run's event stream reads.
type eventsOnly struct {
	mu     sync.Mutex
	events []store.Event
}

var _ store.EventLog = (*eventsOnly)(nil)

func (l *eventsOnly) AppendEvent(_ context.Context, _ store.Claim, e team.Event) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	seq := int64(len(l.events) + 1)
	l.events = append(l.events, store.Event{Seq: seq, Event: e})
	return seq, nil
}

func (l *eventsOnly) Events(_ context.Context, _ string, after int64) ([]store.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []store.Event
	for _, e := range l.events {
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out, nil
}

// finishedRun is a runStatus answering with a fixed status.
type finishedRun store.Status

func (s finishedRun) GetRun(_ context.Context, id string) (*store.Run, error) {
	return &store.Run{ID: id, Status: store.Status(s), StopReason: "verdict"}, nil
}

// statusRead is a runStatus of a running run that closes read when first
// asked: the stream has replayed the log by then and waits for live items.
type statusRead struct {
	once sync.Once
	read chan struct{}
}

func (s *statusRead) GetRun(_ context.Context, id string) (*store.Run, error) {
	s.once.Do(func() { close(s.read) })
	return &store.Run{ID: id, Status: store.StatusRunning}, nil
}

// streamOf serves st for run_x after last and returns the events read until
// the stream closed.
func streamOf(t *testing.T, st runStream, last int64, live func(sub *subscriber)) []sseEvent {
	t.Helper()
	h := newHub()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, unsubscribe := h.subscribe("run_x")
		defer unsubscribe()
		if live != nil {
			go live(sub)
		}
		st.serve(r.Context(), w, "run_x", last, sub, nil)
	}))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL, nil)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	return readSSE(t, resp.Body)
}

func TestRunStream_ReadsTheEventLogOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msg := team.Event{Type: team.EventMessage}
	t.Run("a finished run replays the log after Last-Event-ID and closes after run_finished", func(t *testing.T) {
		t.Parallel()
		log := &eventsOnly{}
		for _, e := range []team.Event{{Type: team.EventRunStarted}, msg, msg, {Type: team.EventRunFinished}} {
			_, _ = log.AppendEvent(ctx, store.Claim{}, e)
		}
		got := streamOf(t, runStream{events: log, runs: finishedRun(store.StatusSucceeded), heartbeat: time.Hour, done: make(chan struct{})}, 1, nil)
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID+":"+e.Type)
		}
		want := "[2:message 3:message 4:run_finished]"
		if fmt.Sprint(ids) != want {
			t.Errorf("stream = %v, want %s", ids, want)
		}
	})
	t.Run("a finished run whose log lacks run_finished ends with one made from the run, without an id", func(t *testing.T) {
		t.Parallel()
		log := &eventsOnly{}
		_, _ = log.AppendEvent(ctx, store.Claim{}, team.Event{Type: team.EventRunStarted})
		got := streamOf(t, runStream{events: log, runs: finishedRun(store.StatusSucceeded), heartbeat: time.Hour, done: make(chan struct{})}, 0, nil)
		if len(got) != 2 || got[1].Type != string(team.EventRunFinished) || got[1].ID != "" || got[1].Event.StopReason != "verdict" {
			t.Fatalf("stream = %+v, want run_started then an id-less run_finished with the run's stop reason", got)
		}
	})
	t.Run("a running run streams live events in order until run_finished", func(t *testing.T) {
		t.Parallel()
		log := &eventsOnly{}
		_, _ = log.AppendEvent(ctx, store.Claim{}, team.Event{Type: team.EventRunStarted})
		status := &statusRead{read: make(chan struct{})}
		got := streamOf(t, runStream{events: log, runs: status, heartbeat: time.Hour, done: make(chan struct{})}, 0,
			func(sub *subscriber) {
				<-status.read
				// Out of order: seq 3 before seq 2 is stored makes the stream
				// read the log, which by then holds both.
				_, _ = log.AppendEvent(ctx, store.Claim{}, msg)
				seq3, _ := log.AppendEvent(ctx, store.Claim{}, team.Event{Type: team.EventRunFinished})
				sub.ch <- item{Event: team.Event{Type: team.EventDelta}}
				sub.ch <- item{Seq: seq3, Event: team.Event{Type: team.EventRunFinished}}
			})
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID+":"+e.Type)
		}
		want := "[1:run_started :delta 2:message 3:run_finished]"
		if fmt.Sprint(ids) != want {
			t.Errorf("stream = %v, want %s", ids, want)
		}
	})
}

func TestIssueRoleKey_NeedsTheKeysOnly(t *testing.T) {
	t.Parallel()
	keys := newKeysOnly()
	secret, k, err := IssueRoleKey(context.Background(), keys, "desk", identity.RoleEditorInChief, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stored, err := keys.KeyByHash(context.Background(), HashKey(secret))
	if err != nil {
		t.Fatalf("the issued key is not found by its secret's hash: %v", err)
	}
	if stored.ID != k.ID || stored.Role != identity.RoleEditorInChief.String() || stored.Admin {
		t.Errorf("stored key = %+v, want %s with role %s", stored, k.ID, identity.RoleEditorInChief)
	}
	if stored.Hash == secret || strings.Contains(fmt.Sprint(*stored), secret) {
		t.Error("the store holds the key's secret")
	}
	if _, _, err := IssueRoleKey(context.Background(), keys, " ", identity.RoleReporter, time.Now()); err == nil {
		t.Error("a key without a name was issued")
	}
}
