package server

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
)

// BenchmarkServer_TTFTOfTenRuns submits ten runs at once against the
// emulator answering after 300 ms to first token, and reports the time from
// each run's POST to its first token (its first delta event, or its first
// message when no deltas come) for the 1st and the 10th run submitted: with
// 2 workers (the old default); with the number SizeWorkers derives from the
// default quota and from a larger deployment's quota for the assumed call
// (1,000 tokens, 8 s); and with both quotas sized from the calls observed
// (CallStats, after one warm-up run), as `serve --workers 0` does. The
// "workers" metric is the number of runs executing at once the server
// allowed when the measured runs were submitted.
func BenchmarkServer_TTFTOfTenRuns(b *testing.B) {
	emu, err := emulator.Start(emulator.Config{Latency: emulator.Latency{TimeToFirstToken: 300 * time.Millisecond}}, emulator.Options{})
	if err != nil {
		b.Fatalf("emulator.Start: %v", err)
	}
	b.Cleanup(func() { emu.Close() })
	defaultQuota := Quota{RPM: config.DefaultRPM, TPM: config.DefaultTPM}
	largeQuota := Quota{RPM: 1000, TPM: 150000}
	cases := []struct {
		name     string
		workers  int
		quota    Quota
		observed bool
	}{
		{"workers=2", 2, defaultQuota, false},
		{fmt.Sprintf("default_quota_rpm=%d_tpm=%d/assumed_calls", defaultQuota.RPM, defaultQuota.TPM), 0, defaultQuota, false},
		{"rpm=1000_tpm=150000/assumed_calls", 0, largeQuota, false},
		{fmt.Sprintf("default_quota_rpm=%d_tpm=%d/observed_calls", defaultQuota.RPM, defaultQuota.TPM), 0, defaultQuota, true},
		{"rpm=1000_tpm=150000/observed_calls", 0, largeQuota, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			o := envOpts{emulator: emu, cfg: Config{Workers: c.workers, KeyRateLimit: -1, Quota: c.quota}}
			var calls *CallStats
			if c.observed {
				calls = &CallStats{}
				o.cfg.Calls = calls
				o.wrap = func(next model.Client) model.Client { return calls.Middleware()(next) }
			}
			e := newEnv(b, o)
			if c.observed {
				e.ttftOfRuns(1) // the warm-up: calls to observe
			}
			workers := e.srv.workerLimit()
			var first, tenth time.Duration
			for b.Loop() {
				ttft := e.ttftOfRuns(10)
				first += ttft[0]
				tenth += ttft[9]
			}
			b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "ttft_1st_ms")
			b.ReportMetric(float64(tenth.Milliseconds())/float64(b.N), "ttft_10th_ms")
			b.ReportMetric(float64(workers), "workers")
			if calls != nil {
				q := calls.Quota(Quota{})
				b.ReportMetric(float64(q.CallTokens), "call_tokens")
				b.ReportMetric(float64(q.CallLatency.Milliseconds()), "call_ms")
			}
		})
	}
}

// ttftOfRuns submits n runs one right after the other, follows each, and
// returns, in submission order, the time from each run's POST to its first
// token; it returns once every run has finished.
func (e *env) ttftOfRuns(n int) []time.Duration {
	e.t.Helper()
	out := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		start := time.Now()
		v := e.create(e.user, fmt.Sprintf(`{"task":"Harbour number %d reopens after storm repairs. Ferries resume Monday."}`, i))
		wg.Go(func() { out[i] = e.firstToken(v.ID, start) })
	}
	wg.Wait()
	return out
}

// firstToken follows run id's events to the end and returns the time from
// start to its first delta, or its first message when no delta comes.
func (e *env) firstToken(id string, start time.Time) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/v1/runs/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.user)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Errorf("events of %s: %v", id, err)
		return 0
	}
	defer resp.Body.Close()
	var got time.Duration
	tokens := []string{string(team.EventDelta), string(team.EventMessage)}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		typ, ok := strings.CutPrefix(sc.Text(), "event: ")
		switch {
		case !ok:
		case got == 0 && slices.Contains(tokens, typ):
			got = time.Since(start)
		case typ == string(team.EventRunFinished):
			if got == 0 {
				e.t.Errorf("run %s finished without a token", id)
			}
			return got
		}
	}
	e.t.Errorf("stream of %s ended without run_finished: %v", id, sc.Err())
	return got
}
