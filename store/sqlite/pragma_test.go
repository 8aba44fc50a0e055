package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

func TestOpen_SetsPragmasOnBothPools(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string]int64{"foreign_keys": 1, "synchronous": 2, "busy_timeout": BusyTimeout.Milliseconds()}
	for name, db := range map[string]*sql.DB{"writer": s.w, "reader": s.r} {
		for pragma, v := range want {
			var got int64
			if err := db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", name, pragma, err)
			}
			if got != v {
				t.Errorf("%s: %s = %d, want %d", name, pragma, got, v)
			}
		}
		var mode string
		if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("%s: journal_mode = %q, %v; want wal", name, mode, err)
		}
	}
	if _, err := s.r.Exec(`DELETE FROM api_keys`); err == nil {
		t.Error("the read pool accepted a write; want query_only")
	}
	if n := s.w.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer pool allows %d connections, want 1", n)
	}
}
