package server

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/store/sqlite"
)

// TestNew_DefaultsKeepTheLatencyGoals pins the defaults New fills in that
// the service's latency goals rest on (measured by `newsroom bench cluster`,
// never by a timed test): a killed instance's runs resume elsewhere within
// 10 s (a lapsed lease, then a scan finds the run), and a revoked key's
// streams end within a second (the key check). Raising one of them makes
// this test fail, not a benchmark drift unnoticed.
func TestNew_DefaultsKeepTheLatencyGoals(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "newsroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	newServer := func(cfg Config) Config {
		t.Helper()
		cfg.Store, cfg.Teams = st, &deskTeams{built: &atomic.Int64{}}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s.cfg
	}

	t.Run("the zero Config", func(t *testing.T) {
		cfg := newServer(Config{})
		if cfg.ClaimLease <= 0 || cfg.ClaimLease > 6*time.Second {
			t.Errorf("ClaimLease = %v, want in (0, 6s]", cfg.ClaimLease)
		}
		if cfg.ClaimRenew != cfg.ClaimLease/3 {
			t.Errorf("ClaimRenew = %v, want ClaimLease/3 = %v", cfg.ClaimRenew, cfg.ClaimLease/3)
		}
		if cfg.ScanInterval <= 0 || cfg.ScanInterval > time.Second {
			t.Errorf("ScanInterval = %v, want in (0, 1s]", cfg.ScanInterval)
		}
		if cfg.KeyCheckInterval <= 0 || cfg.KeyCheckInterval > time.Second {
			t.Errorf("KeyCheckInterval = %v, want in (0, 1s]", cfg.KeyCheckInterval)
		}
		// Take-over of a killed instance's run: at most a lease, then a scan.
		if worst := cfg.ClaimLease + cfg.ScanInterval; worst > 7*time.Second {
			t.Errorf("lease + scan = %v, want <= 7s (the 10 s take-over goal with margin)", worst)
		}
	})
	t.Run("a lease set alone is renewed at a third of it", func(t *testing.T) {
		cfg := newServer(Config{ClaimLease: 3 * time.Second})
		if cfg.ClaimLease != 3*time.Second || cfg.ClaimRenew != time.Second {
			t.Errorf("ClaimLease, ClaimRenew = %v, %v, want 3s, 1s", cfg.ClaimLease, cfg.ClaimRenew)
		}
	})
	t.Run("values set are kept", func(t *testing.T) {
		cfg := newServer(Config{ClaimLease: time.Minute, ClaimRenew: time.Second, ScanInterval: -1, KeyCheckInterval: 2 * time.Second})
		if cfg.ClaimLease != time.Minute || cfg.ClaimRenew != time.Second || cfg.ScanInterval != -1 || cfg.KeyCheckInterval != 2*time.Second {
			t.Errorf("configured values changed: %v %v %v %v", cfg.ClaimLease, cfg.ClaimRenew, cfg.ScanInterval, cfg.KeyCheckInterval)
		}
	})
}
