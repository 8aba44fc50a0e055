package desk_test

import (
	"context"
	"testing"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/team"
)

// Every shipped desk marks the stop that means its work is done, so a run
// that requires approval waits there instead of ending.
func TestDesks_PauseForApprovalWhenDone(t *testing.T) {
	t.Parallel()
	for _, kind := range desk.Teams {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			_, client := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
			tm, err := desk.New(desk.Config{Team: kind, Client: client})
			if err != nil {
				t.Fatal(err)
			}
			res, err := team.Run(context.Background(), tm, task, team.WithApproval(true))
			if err != nil {
				t.Fatal(err)
			}
			if res.StopReason != team.StopAwaitingApproval {
				t.Fatalf("stop %q, want %q", res.StopReason, team.StopAwaitingApproval)
			}
		})
	}
}
