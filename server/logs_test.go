package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/internal/syncbuf"
	"github.com/newsroom-dev/newsroom/store"
)

// logLines returns the JSON log lines whose msg is msg and whose run is id.
func logLines(t *testing.T, logs, msg, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		if m["msg"] == msg && m["run"] == id {
			out = append(out, m)
		}
	}
	return out
}

// TestServer_Logs checks what the logs of a run's life say: the key that
// queued it by id (never its secret), and a user's cancel, of a running run
// or a queued one, as INFO with no ERROR line anywhere.
func TestServer_Logs(t *testing.T) {
	t.Parallel()
	logs := &syncbuf.Buffer{}
	e := newEnv(t, envOpts{cfg: Config{Workers: 1, KeyRateLimit: -1, Logger: slog.New(slog.NewJSONHandler(logs, nil))}})
	k, err := e.st.KeyByHash(context.Background(), HashKey(e.user))
	if err != nil {
		t.Fatal(err)
	}

	e.client.holdFrom(2) // the reporter answers, the editor's call waits
	running := e.create(e.user, task)
	<-e.client.waiting
	queued := e.create(e.user, task) // behind the running one (one worker)
	for _, id := range []string{queued.ID, running.ID} {
		if resp, b := e.do("POST", "/v1/runs/"+id+"/cancel", e.user, ""); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("cancel %s = %d %s", id, resp.StatusCode, b)
		}
	}
	for _, id := range []string{running.ID, queued.ID} {
		if got := e.waitFinished(e.user, id); got.Status != store.StatusCancelled {
			t.Errorf("run %s: %s, want cancelled", id, got.Status)
		}
	}
	e.client.release()
	out := logs.String()

	t.Run("run queued carries the key id, not the key", func(t *testing.T) {
		for _, id := range []string{running.ID, queued.ID} {
			lines := logLines(t, out, "run queued", id)
			if len(lines) != 1 {
				t.Fatalf("run %s has %d \"run queued\" lines, want 1:\n%s", id, len(lines), grepLines(out, id))
			}
			if got := lines[0]["key_id"]; got != k.ID {
				t.Errorf("run queued: key_id = %v, want %s", got, k.ID)
			}
		}
		if strings.Contains(out, e.user) {
			t.Error("the logs hold an API key's secret")
		}
	})
	t.Run("a user's cancel logs no ERROR", func(t *testing.T) {
		if strings.Contains(out, `"level":"ERROR"`) {
			t.Errorf("ERROR lines after a user's cancel:\n%s", grepLines(out, `"level":"ERROR"`))
		}
		lines := logLines(t, out, "run finished", running.ID)
		if len(lines) != 1 || lines[0]["level"] != "INFO" || lines[0]["status"] != string(store.StatusCancelled) {
			t.Errorf("\"run finished\" of the cancelled running run = %v, want one INFO line with status cancelled", lines)
		}
	})
}
