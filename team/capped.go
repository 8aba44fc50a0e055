package team

import (
	"errors"

	"github.com/newsroom-dev/newsroom/termination"
)

// ErrCapReached is returned for a revision of a run that a cap ended: the
// team has nothing left to revise with, so only approve or reject remain.
var ErrCapReached = errors.New("team: the run reached a cap; it can only be approved or rejected")

// pausesOnCap reports whether a run that requires approval waits for a
// person when it stops for reason, instead of ending: every graceful stop
// that is not the team's work being done (a cap on messages, tokens, budget
// or time, the grounding gate's cap, a content filter, a custom condition)
// would otherwise end the run with no person having read it. Cancellation,
// outside stops (a shutdown) and failures end it as before.
func pausesOnCap(reason string) bool {
	switch termination.KindOf(reason) {
	case termination.KindCancelled, termination.KindExternal, termination.KindShutdown, termination.KindError,
		termination.KindAwaitingApproval, termination.KindApproved, termination.KindRejected, termination.KindExpired:
		return false
	}
	return true
}
