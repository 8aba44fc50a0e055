package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/intake"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// cappedFeedIntake is an intake configuration of the fixture's feed with
// an hourly cap of limit.
func cappedFeedIntake(t *testing.T, feed *pressFeed, limit int) *IntakeConfig {
	t.Helper()
	yaml := fmt.Sprintf(`sources:
  - name: harbour-press
    feed: %s/press.xml
    every: 10s
    start: all
    desk: roundrobin
    link_as_source: false
    max_runs_per_hour: %d
`, feed.srv.URL, limit)
	f, err := intake.Parse("intake.yaml", []byte(yaml), intake.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetch := web.New(web.Config{Allow: []string{strings.TrimPrefix(feed.srv.URL, "http://")}, Logger: slog.New(slog.DiscardHandler)})
	return &IntakeConfig{File: f, HTTPClient: fetch.Client(), DeferredSweep: -1}
}

// inboxStats returns source's totals in st's inbox.
func inboxStats(t *testing.T, st store.Store, source string) store.InboxStats {
	t.Helper()
	stats, err := st.InboxStats(context.Background(), time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		if s.Source == source {
			return s
		}
	}
	return store.InboxStats{Source: source}
}

func TestCluster_TwoInstancesKeepAFeedsHourlyCapTogether(t *testing.T) {
	dsn := testsvc.Postgres(t)
	feed := newPressFeed(t)
	ctx := context.Background()
	const items, limit = 16, 3
	for i := range items {
		feed.add(fmt.Sprintf("flood-%d", i), fmt.Sprintf("Release %d", i), time.Now().Add(-time.Duration(i)*time.Minute))
	}
	var envs []*env
	for _, id := range []string{"A", "B"} {
		o := envOpts{openStore: openPostgres(dsn), noStart: true, teamNames: []string{"roundrobin"},
			cfg: Config{InstanceID: id, Intake: cappedFeedIntake(t, feed, limit)}}
		if len(envs) > 0 {
			o.emulator = envs[0].emu
		}
		envs = append(envs, newEnv(t, o))
	}
	var wg sync.WaitGroup
	for round := range 3 { // both instances' loops and polls flood the store at once
		for _, e := range envs {
			if round == 0 {
				wg.Go(func() {
					if err := e.srv.Start(ctx); err != nil {
						t.Errorf("Start: %v", err)
					}
				})
			}
			wg.Go(func() { _ = e.srv.PollFeeds(ctx) })
		}
		wg.Wait()
	}
	for inboxStats(t, envs[0].st, "harbour-press").Items < items {
		time.Sleep(20 * time.Millisecond) // the loops' first polls still recording
	}
	st := inboxStats(t, envs[1].st, "harbour-press")
	if n := len(intakeRuns(t, envs[1].st, "harbour-press")); n != limit || st.Runs != limit {
		t.Errorf("%d runs (inbox says %d) from %d items, want the cap %d", n, st.Runs, items, limit)
	}
	if st.Deferred != items-limit {
		t.Errorf("%d items deferred, want %d (none dropped)", st.Deferred, items-limit)
	}
}
