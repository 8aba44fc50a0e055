package server

import (
	"strings"
	"testing"
	"time"
)

func TestSizeWorkers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		q    Quota
		want int
	}{
		{"nothing known: the floor", Quota{}, MinWorkers},
		{"default quota, TPM binds: 30 calls/min x 8 s", Quota{RPM: 180, TPM: 30000}, 4},
		{"small quota: the floor", Quota{RPM: 6, TPM: 1000}, MinWorkers},
		{"TPM binds: 150 calls/min x 8 s", Quota{RPM: 1000, TPM: 150000}, 20},
		{"RPM binds: 60 calls/min x 8 s", Quota{RPM: 60, TPM: 1000000}, 8},
		{"RPM only: 300 x 8 s", Quota{RPM: 300}, 40},
		{"TPM only: 100 calls/min x 8 s", Quota{TPM: 100000}, 14},
		{"large quota: the cap", Quota{RPM: 6000, TPM: 1000000}, MaxWorkers},
		{"smaller calls", Quota{RPM: 1000, TPM: 150000, CallTokens: 500}, 40},
		{"slower calls", Quota{RPM: 1000, TPM: 150000, CallLatency: 12 * time.Second}, 30},
		{"faster calls", Quota{RPM: 1000, TPM: 150000, CallLatency: 2 * time.Second}, 5},
	}
	for _, tt := range tests {
		if got := SizeWorkers(tt.q); got != tt.want {
			t.Errorf("%s: SizeWorkers(%+v) = %d, want %d", tt.name, tt.q, got, tt.want)
		}
	}
}

// TestServer_QueuedRunsStartInSubmissionOrder holds the only worker on the
// first run's first model call, queues five more runs, and checks they ran
// one after the other in the order they were submitted.
func TestServer_QueuedRunsStartInSubmissionOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: Config{Workers: 1, KeyRateLimit: -1}})
	e.client.holdFrom(1)
	first := e.create(e.user, `{"task":"Queued run number 0 of the order test.","team":"selector","max_messages":2}`)
	<-e.client.waiting // the worker is busy with the first run
	ids := []string{first.ID}
	for i := 1; i <= 5; i++ {
		v := e.create(e.user, `{"task":"Queued run number `+string(rune('0'+i))+` of the order test.","team":"selector","max_messages":2}`)
		ids = append(ids, v.ID)
	}
	e.client.release()
	var prev RunView
	for i, id := range ids {
		v := e.waitFinished(e.user, id)
		if v.Status != "succeeded" {
			t.Fatalf("run %d (%s): %s %s", i, id, v.Status, v.Error)
		}
		if !strings.Contains(v.Task, "number "+string(rune('0'+i))) {
			t.Fatalf("run %d has task %q", i, v.Task)
		}
		if i > 0 && !v.FinishedAt.After(prev.FinishedAt) {
			t.Errorf("run %d (submitted %s) finished at %s, not after run %d at %s: queued runs did not start in submission order",
				i, v.CreatedAt.Format(time.RFC3339Nano), v.FinishedAt.Format(time.RFC3339Nano), i-1, prev.FinishedAt.Format(time.RFC3339Nano))
		}
		prev = v
	}
}
