package storeutil_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/internal/storeutil"
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
