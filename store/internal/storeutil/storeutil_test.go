package storeutil_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/internal/storeutil"
	"github.com/newsroom-dev/newsroom/team"
)

func TestJSON_ReplacesOnlyNULEscapes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\x00b", "a\ufffdb"},
		{`literal \u0000`, `literal \u0000`},
		{"\\\x00", "\\\ufffd"},
		{"ends with \x00", "ends with \ufffd"},
		{"\u0001 stays", "\u0001 stays"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if err := json.Unmarshal(storeutil.JSON(b), &got); err != nil {
				t.Fatalf("rewritten JSON %s does not decode: %v", b, err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCursor_RoundTripsAndRejectsForeignCursors(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
	c := storeutil.EncodeCursor(at, "id:with:colons")
	gotT, gotID, err := storeutil.DecodeCursor(c)
	if err != nil || !gotT.Equal(at) || gotID != "id:with:colons" {
		t.Errorf("DecodeCursor(EncodeCursor) = %v, %q, %v", gotT, gotID, err)
	}
	for _, bad := range []string{"%%%", "", "MTIz", "eDox"} { // "123", "x:1"
		if _, _, err := storeutil.DecodeCursor(bad); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("DecodeCursor(%q): err = %v, want ErrBadCursor", bad, err)
		}
	}
}

func TestLimit(t *testing.T) {
	for in, want := range map[int]int{-1: 20, 0: 20, 1: 1, 100: 100, 101: 100} {
		if got := storeutil.Limit(in); got != want {
			t.Errorf("Limit(%d) = %d, want %d", in, got, want)
		}
	}
}

// row is a one-row Scanner: strings, bools and database/sql Scanners take
// the values in order, as a driver would give them.
type row []any

func (r row) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("%d destinations for %d columns", len(dest), len(r))
	}
	for i, d := range dest {
		switch d := d.(type) {
		case *string:
			*d = r[i].(string)
		case *bool:
			*d = r[i].(bool)
		case sql.Scanner:
			if err := d.Scan(r[i]); err != nil {
				return err
			}
		default:
			return fmt.Errorf("column %d: unexpected destination %T", i, d)
		}
	}
	return nil
}

func TestScanKey_ReadsBothBackendsTimes(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	tests := []struct {
		name             string
		created, revoked any
		wantRevoked      time.Time
	}{
		{"SQLite microseconds, NULL", at.UnixMicro(), nil, time.Time{}},
		{"SQLite microseconds, revoked", at.UnixMicro(), at.Add(time.Second).UnixMicro(), at.Add(time.Second)},
		{"PostgreSQL time in another zone", at.In(time.FixedZone("x", 3600)), at.Local(), at},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := storeutil.ScanKey(row{"id", "name", "hash", true, tt.created, tt.revoked, "reader"})
			if err != nil {
				t.Fatal(err)
			}
			if k.CreatedAt != at || k.RevokedAt != tt.wantRevoked {
				t.Errorf("CreatedAt, RevokedAt = %v, %v; want %v, %v (UTC)", k.CreatedAt, k.RevokedAt, at, tt.wantRevoked)
			}
			if k.ID != "id" || k.Name != "name" || k.Hash != "hash" || !k.Admin || k.Role != "reader" {
				t.Errorf("key = %+v", k)
			}
		})
	}
	if _, err := storeutil.ScanKey(row{"id", "name", "hash", true, "yesterday", nil}); err == nil {
		t.Error("ScanKey with a text time succeeded")
	}
}

func TestCollect_StopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	scan := func(sc storeutil.Scanner) (string, error) {
		var s string
		return s, sc.Scan(&s)
	}
	got, err := storeutil.Collect(&rows{vals: []string{"a", "b"}}, scan)
	if err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Collect = %v, %v; want [a b]", got, err)
	}
	if got, err := storeutil.Collect(&rows{vals: []string{"a"}, err: boom}, scan); !errors.Is(err, boom) || got != nil {
		t.Errorf("Collect with rows.Err = %v, %v; want nil, boom", got, err)
	}
	failing := func(storeutil.Scanner) (string, error) { return "", boom }
	if _, err := storeutil.Collect(&rows{vals: []string{"a"}}, failing); !errors.Is(err, boom) {
		t.Errorf("Collect with a failing scan: err = %v, want boom", err)
	}
}

// rows is a Rows of one string column.
type rows struct {
	vals []string
	i    int
	err  error
}

func (r *rows) Next() bool { r.i++; return r.i <= len(r.vals) }
func (r *rows) Err() error { return r.err }
func (r *rows) Scan(dest ...any) error {
	*dest[0].(*string) = r.vals[r.i-1]
	return nil
}

func TestPage(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	runs := []*store.Run{{ID: "c", CreatedAt: at}, {ID: "b", CreatedAt: at}, {ID: "a", CreatedAt: at}}
	if page, next := storeutil.Page(runs, 3); len(page) != 3 || next != "" {
		t.Errorf("Page(3 runs, 3) = %d runs, next %q; want 3, none", len(page), next)
	}
	page, next := storeutil.Page(runs, 2)
	if len(page) != 2 || page[1].ID != "b" {
		t.Fatalf("Page(3 runs, 2) = %d runs; want c, b", len(page))
	}
	if ts, id, err := storeutil.DecodeCursor(next); err != nil || id != "b" || !ts.Equal(at) {
		t.Errorf("next cursor = %v, %q, %v; want after b", ts, id, err)
	}
}

func TestFinished(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	earlier := now.Add(-time.Minute + 123) // nanoseconds go
	tests := []struct {
		status   store.Status
		finished time.Time
		want     time.Time
	}{
		{store.StatusRunning, time.Time{}, time.Time{}},
		{store.StatusSucceeded, time.Time{}, now},
		{store.StatusSucceeded, earlier, now.Add(-time.Minute)},
		{store.StatusRunning, earlier, now.Add(-time.Minute)},
	}
	for _, tt := range tests {
		got := storeutil.Finished(&store.Run{Status: tt.status, FinishedAt: tt.finished}, now)
		if !got.Equal(tt.want) {
			t.Errorf("Finished(%s, %v) = %v, want %v", tt.status, tt.finished, got, tt.want)
		}
	}
}

func TestPrepareKey(t *testing.T) {
	k := &store.Key{Name: "a\x00b", Hash: "h"}
	got := storeutil.PrepareKey(k)
	if got.ID == "" || got.CreatedAt.IsZero() || got.Name != "a\ufffdb" {
		t.Errorf("PrepareKey = %+v; want an id, a creation time and the NUL replaced", got)
	}
	if k.ID != "" || k.Name != "a\x00b" {
		t.Errorf("PrepareKey changed its argument: %+v", k)
	}
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC)
	got = storeutil.PrepareKey(&store.Key{ID: "k", CreatedAt: fixed, RevokedAt: fixed})
	if want := fixed.Truncate(time.Microsecond); got.ID != "k" || got.CreatedAt != want || got.RevokedAt != want {
		t.Errorf("PrepareKey kept %q, %v, %v; want k and %v", got.ID, got.CreatedAt, got.RevokedAt, want)
	}
}

func TestNotFinished_NamesWhyAFinishChangedNothing(t *testing.T) {
	tests := []struct {
		name   string
		found  bool
		cur    int64
		token  int64
		status string
		want   error
		text   string
	}{
		{"an unknown run is not found", false, 0, 3, "", store.ErrNotFound, "run r1: "},
		{"a newer claim fences the writer", true, 4, 3, "running", store.ErrFenced, "finish run r1: "},
		{"a token that was never issued fences the writer", true, 0, 0, "running", store.ErrFenced, "finish run r1: "},
		{"a run finished already conflicts", true, 3, 3, "succeeded", store.ErrConflict, "finish run r1, which is succeeded: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := storeutil.NotFinished("r1", tt.token, tt.found, tt.cur, tt.status)
			if !errors.Is(err, tt.want) || err.Error() != tt.text+tt.want.Error() {
				t.Errorf("NotFinished = %v, want %q wrapping %v", err, tt.text+tt.want.Error(), tt.want)
			}
		})
	}
}

func TestPrepareFinish_RefusesAnUnfinishedRunAndAForeignClaim(t *testing.T) {
	run := &store.Run{ID: "r1", Status: store.StatusSucceeded}
	if _, err := storeutil.PrepareFinish(store.Claim{RunID: "r2", Token: 1}, run, team.Event{}); !errors.Is(err, store.ErrFenced) {
		t.Errorf("claim on another run: err = %v, want ErrFenced", err)
	}
	running := &store.Run{ID: "r1", Status: store.StatusRunning}
	if _, err := storeutil.PrepareFinish(store.Claim{RunID: "r1", Token: 1}, running, team.Event{}); err == nil || errors.Is(err, store.ErrFenced) {
		t.Errorf("running run: err = %v, want a plain error", err)
	}
	w, err := storeutil.PrepareFinish(store.Claim{RunID: "r1", Token: 1}, run, team.Event{Type: team.EventRunFinished})
	if err != nil {
		t.Fatal(err)
	}
	if w.Finished.IsZero() || !w.Finished.Equal(w.Now) || len(w.Payload) == 0 {
		t.Errorf("write = %+v, want finished now with a payload", w)
	}
	w.Saved(run)
	if !run.UpdatedAt.Equal(w.Now) || !run.FinishedAt.Equal(w.Finished) {
		t.Errorf("saved run times = %v, %v; want %v", run.UpdatedAt, run.FinishedAt, w.Now)
	}
}
