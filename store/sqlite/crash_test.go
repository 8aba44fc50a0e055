package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/sqlite"
	"github.com/newsroom-dev/newsroom/team"
)

// The child half of TestStore_EventsSurviveKill9: it appends events forever,
// printing each seq once AppendEvent returned.
func TestHelperAppendUntilKilled(t *testing.T) {
	path, runID := os.Getenv("SQLITE_CRASH_DB"), os.Getenv("SQLITE_CRASH_RUN")
	if path == "" {
		t.Skip("helper process for TestStore_EventsSurviveKill9")
	}
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	c, ok, err := s.ClaimRun(context.Background(), runID, "child", time.Hour)
	if err != nil || !ok {
		fmt.Println("error: claim:", ok, err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		seq, err := s.AppendEvent(context.Background(), c, team.Event{Type: team.EventDelta, Delta: strconv.Itoa(i)})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(seq)
	}
}

// An event whose AppendEvent returned is in the file after the process is
// killed with SIGKILL mid-stream: the checkpoint a crashed run resumes from.
func TestStore_EventsSurviveKill9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	s := open(t, path)
	run, _, err := s.CreateRun(context.Background(), &store.Run{Task: "t", Team: "newsroom"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperAppendUntilKilled$")
	cmd.Env = append(os.Environ(), "SQLITE_CRASH_DB="+path, "SQLITE_CRASH_RUN="+run.ID)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const want = 50
	var acked int64
	sc := bufio.NewScanner(out)
	for acked < want && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "error:") {
			t.Fatalf("child: %s", sc.Text())
		}
		if seq, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil { // skip the test framework's lines
			acked = seq
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL, mid-append
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if acked < want {
		t.Fatalf("child acknowledged only %d events", acked)
	}

	s2 := open(t, path)
	evs, err := s2.Events(context.Background(), run.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(evs)) < acked {
		t.Fatalf("after kill -9: %d events in the file, but %d were acknowledged", len(evs), acked)
	}
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.Delta != strconv.Itoa(i) {
			t.Fatalf("event %d = seq %d delta %q, want seq %d delta %q", i, e.Seq, e.Delta, i+1, strconv.Itoa(i))
		}
	}
	// The dead child's claim lasts an hour: the one who resumes seizes it.
	c, ok, err := s2.SeizeRun(context.Background(), run.ID, "resumer", time.Minute)
	if err != nil || !ok {
		t.Fatalf("SeizeRun after the crash = %v, %v", ok, err)
	}
	seq, err := s2.AppendEvent(context.Background(), c, team.Event{Type: team.EventRunFinished})
	if err != nil || seq != int64(len(evs)+1) {
		t.Errorf("AppendEvent after the crash = %d, %v; want %d", seq, err, len(evs)+1)
	}
}
