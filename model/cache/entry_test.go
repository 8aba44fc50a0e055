package cache_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache"
)

func TestDecodeEntry_ReadsWhatStoresWriteAndNamesACorruptOne(t *testing.T) {
	in := cache.Entry{Content: "Bridge closes.", Model: "gpt-4o", FinishReason: "tool_calls",
		ToolCalls: []model.ToolCall{{ID: "c1", Name: "fetch", Arguments: `{"url":"x"}`}},
		CreatedAt: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := cache.DecodeEntry("test get", b)
	if err != nil || !ok || got.Content != in.Content || len(got.ToolCalls) != 1 || got.ToolCalls[0] != in.ToolCalls[0] ||
		!got.CreatedAt.Equal(in.CreatedAt) {
		t.Fatalf("round trip: %+v, %v, %v", got, ok, err)
	}
	_, ok, err = cache.DecodeEntry("test get", []byte(`{"content":`))
	if ok || !errors.Is(err, cache.ErrStore) || !strings.Contains(err.Error(), "test get: corrupt entry") {
		t.Fatalf("corrupt bytes: ok %v, err %v", ok, err)
	}
}

func TestEntryTTL(t *testing.T) {
	for ttl, want := range map[time.Duration]time.Duration{0: cache.DefaultTTL, -time.Second: cache.DefaultTTL, time.Minute: time.Minute} {
		if got := cache.EntryTTL(ttl); got != want {
			t.Errorf("EntryTTL(%s) = %s, want %s", ttl, got, want)
		}
	}
}
