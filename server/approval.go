package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// DefaultApprovalTimeout is how long a run waits for a decision before it
// ends as expired, when Config.ApprovalTimeout is 0.
const DefaultApprovalTimeout = 72 * time.Hour

// Approval values of CreateRunRequest.Approval.
const (
	ApprovalRequired = "required"
	ApprovalNone     = "none"
)

// DecisionRequest is the body of POST /v1/runs/{id}/decision.
type DecisionRequest struct {
	// Decision is "approve", "revise" or "reject".
	Decision string `json:"decision"`
	// Note is what the reporter should change (required for "revise"); at
	// most MaxNoteBytes, valid UTF-8 without NUL characters, like the task.
	Note string `json:"note,omitempty"`
}

// MaxNoteBytes is the longest note a decision may carry.
const MaxNoteBytes = 4096

// errCapReached is the 409 of a revision of a run a cap ended.
var errCapReached = &apiError{Status: http.StatusConflict, Code: "cap_reached",
	Message: "the run reached a cap and has nothing left to revise with; approve or reject it"}

var errNotAwaiting = &apiError{Status: http.StatusConflict, Code: "not_awaiting_approval",
	Message: "the run is not awaiting approval"}

// errNeedRole is the 403 of a caller without the role an action needs; the
// message names the role, and why the caller has none when that is known.
func errNeedRole(need, have identity.Role, note string) error {
	msg := "this needs the " + need.String() + " role; the caller has " + have.String()
	if note != "" {
		msg += " (" + note + ")"
	}
	return &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: msg}
}

// RoleOf is what a caller may do: the key's role, or for keys made before
// roles, admin for admin keys and reporter for the others.
func RoleOf(k *store.Key) identity.Role {
	if k.Role != "" {
		if r, err := identity.ParseRole(k.Role); err == nil {
			return r
		}
		return identity.RoleNone // an unknown role grants nothing
	}
	if k.Admin {
		return identity.RoleAdmin
	}
	return identity.RoleReporter
}

// need returns errNeedRole unless the caller has role.
func need(k *store.Key, role identity.Role) error {
	if have := RoleOf(k); !have.Allows(role) {
		return errNeedRole(role, have, k.RoleNote)
	}
	return nil
}

// seesAll reports whether the caller sees every run (editor-in-chief and up).
func seesAll(k *store.Key) bool { return RoleOf(k).Allows(identity.RoleEditorInChief) }

// approvalRequired resolves a create request's approval field against the
// service default.
func (s *Server) approvalRequired(v string) (bool, error) {
	switch v {
	case "":
		return s.cfg.RequireApproval, nil
	case ApprovalRequired:
		return true, nil
	case ApprovalNone:
		return false, nil
	}
	return false, badRequest("bad_approval", "approval must be \"required\" or \"none\", not "+quoteValue(v))
}

// checkpointOf folds a run's stored events.
func (s *Server) checkpointOf(ctx context.Context, id string) (team.Checkpoint, int64, error) {
	events, err := s.eventLog.Events(ctx, id, 0)
	if err != nil {
		return team.Checkpoint{}, 0, err
	}
	var cp team.Checkpoint
	var last int64
	for _, e := range events {
		cp.Apply(e.Event)
		last = e.Seq
	}
	return cp, last, nil
}

// approvalView is the approval object of a run view, with the decisions.
func approvalView(run *store.Run, cp team.Checkpoint) *store.Approval {
	if run.Approval == nil && len(cp.Decisions) == 0 {
		return nil
	}
	a := &store.Approval{Required: run.Approval != nil && run.Approval.Required, Capped: cp.Capped, Decisions: cp.Decisions}
	if a.Decisions == nil {
		a.Decisions = []team.Decision{}
	}
	return a
}

func (s *Server) handleDecision(w http.ResponseWriter, r *http.Request, k *store.Key) {
	// The role first: a caller who may not decide gets the same 403 for
	// every run id, so it learns nothing of which runs exist.
	if err := need(k, identity.RoleEditorInChief); err != nil {
		s.writeError(w, r, err)
		return
	}
	run, err := s.visibleRun(r.Context(), k, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req DecisionRequest
	if _, err := s.decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch req.Decision {
	case team.DecisionApprove, team.DecisionRevise, team.DecisionReject:
	default:
		s.writeError(w, r, badRequest("bad_decision", "decision must be approve, revise or reject, not "+quoteValue(req.Decision)))
		return
	}
	if len(req.Note) > MaxNoteBytes {
		s.writeError(w, r, &apiError{Status: http.StatusBadRequest, Code: "note_too_long", Field: "note",
			Message: "note is longer than " + strconv.Itoa(MaxNoteBytes) + " bytes"})
		return
	}
	d := team.Decision{Decision: req.Decision, Note: req.Note, By: k.ID, At: s.now().UTC()}
	if err := d.Validate(); err != nil {
		code := "bad_decision"
		if errors.Is(err, team.ErrNoteRequired) {
			code = "note_required"
		}
		s.writeError(w, r, badRequest(code, errorText(err)))
		return
	}
	run, err = s.decide(r.Context(), run, d, responsible(k))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("approval decided", "run", run.ID, "decision", d.Decision, "by", d.By)
	v := s.viewOf(run)
	// The decision just recorded is in the answer, as GET shows it.
	if cp, _, err := s.checkpointOf(r.Context(), run.ID); err == nil {
		v.Approval = approvalView(run, cp)
	} else {
		s.log.Warn("reading the decided run's decisions", "run", run.ID, "err", err)
	}
	writeJSON(w, http.StatusAccepted, v)
}

// errorText is an error's message without its package prefix.
func errorText(err error) string {
	msg := err.Error()
	if len(msg) > 6 && msg[:6] == "team: " {
		return msg[6:]
	}
	return msg
}

// decide records a decision on a waiting run and moves it on: approve and
// reject finish it, revise queues it again so the team goes on from where it
// stopped. The store's ResolveWaiting makes it atomic: a replayed decision,
// or one racing another decision or a cancel, finds the run no longer
// waiting and changes nothing.
func (s *Server) decide(ctx context.Context, run *store.Run, d team.Decision, by string) (*store.Run, error) {
	if run.Status != store.StatusAwaitingApproval {
		return nil, errNotAwaiting
	}
	cp, last, err := s.checkpointOf(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	events, stop, err := team.Decide(cp, d, d.At)
	if errors.Is(err, team.ErrNotAwaitingApproval) {
		return nil, errNotAwaiting
	}
	if errors.Is(err, team.ErrCapReached) {
		return nil, errCapReached
	}
	if err != nil {
		return nil, badRequest("bad_decision", errorText(err))
	}
	status := store.StatusQueued
	switch stop {
	case team.StopApproved:
		status = store.StatusSucceeded
	case team.StopRejected:
		status = store.StatusRejected
	}
	if stop != "" {
		events = append(events, team.Event{Type: team.EventRunFinished, Time: d.At, StopReason: stop,
			Index: len(cp.Messages), Total: cp.Usage})
	}
	var article *store.Article // an approval publishes, in the same write (articles.go)
	switch {
	case stop == team.StopApproved && run.Options.Corrects != "": // a correction's rerun: the next version
		if article, err = s.nextVersion(ctx, run, cp, &d, by); err != nil {
			return nil, err
		}
	case stop == team.StopApproved:
		article = s.publication(run, cp, &d, by)
		s.withOutbox(ctx, store.EventArticlePublished, article)
	}
	if err := s.cfg.Store.ResolveWaitingPublish(ctx, run.ID, events, status, stop, article); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, errNotAwaiting
		}
		return nil, err
	}
	s.publishSince(ctx, run.ID, last)
	if status == store.StatusQueued {
		s.requeue(ctx, run.ID, run.CreatedAt)
	}
	return s.runs.GetRun(ctx, run.ID)
}

// publishSince fans out the run's stored events after seq to SSE clients.
func (s *Server) publishSince(ctx context.Context, id string, seq int64) {
	events, err := s.eventLog.Events(ctx, id, seq)
	if err != nil {
		s.log.Warn("publishing decision events", "run", id, "err", err)
		return
	}
	for _, e := range events {
		s.publish(id, item{Seq: e.Seq, Event: e.Event})
	}
}

// requeue queues a revised run (submitted at created) here when there is
// room; otherwise it stays queued in the store, where a scan (here or on
// another instance) finds it.
//
// The run may be held here already: by the executor that paused it a moment
// ago and has not ended yet (a worker would skip the run while it is
// registered), or by a new executor a scan gave it to since the decision.
// Either is told to queue it again when it ends, and no reservation is taken:
// this instance's claim would supersede the new executor's and fence it.
// Server.mu is held from that check to the claim, so an executor registers
// either before (and is seen) or after (and claims anew, superseding this).
func (s *Server) requeue(ctx context.Context, id string, created time.Time) {
	if s.draining.Load() || !s.queue.reserve() {
		return
	}
	s.mu.Lock()
	if e := s.active[id]; e != nil || s.queue.contains(id) {
		if e != nil {
			e.again = true
		}
		s.mu.Unlock()
		s.queue.release()
		return
	}
	c, ok, err := s.claims.ClaimRun(ctx, id, s.cfg.InstanceID, s.cfg.ClaimLease)
	if err == nil && ok {
		s.pending[id] = c
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		// Queued all the same: the worker claims it before executing it.
		s.log.Warn("claiming revised run", "run", id, "err", err)
	case !ok: // another instance holds it
		s.queue.release()
		return
	}
	s.queue.commit(id, created)
}

// cancelWaiting cancels a run that awaits approval, atomically with respect
// to decisions.
func (s *Server) cancelWaiting(ctx context.Context, run *store.Run) (*store.Run, error) {
	cp, last, err := s.checkpointOf(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	e := team.Event{Type: team.EventRunFinished, Time: s.now(), StopReason: cancelReason, Index: len(cp.Messages), Total: cp.Usage}
	if err := s.runs.ResolveWaiting(ctx, run.ID, []team.Event{e}, store.StatusCancelled, cancelReason); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, errFinished
		}
		return nil, err
	}
	s.finished.cancelled.Add(1)
	s.publishSince(ctx, run.ID, last)
	return s.runs.GetRun(ctx, run.ID)
}

// expireWaiting ends the runs that have waited longer than the approval
// timeout as expired; it returns how many.
func (s *Server) expireWaiting(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-s.cfg.ApprovalTimeout)
	n := 0
	cursor := ""
	for {
		runs, next, err := s.runs.ListRuns(ctx, store.ListOptions{Status: store.StatusAwaitingApproval, Limit: 100, Cursor: cursor})
		if err != nil {
			return n, err
		}
		for _, run := range runs {
			if run.UpdatedAt.After(cutoff) {
				continue
			}
			cp, last, err := s.checkpointOf(ctx, run.ID)
			if err != nil {
				return n, err
			}
			reason := "approval timed out after " + s.cfg.ApprovalTimeout.String()
			e := team.Event{Type: team.EventRunFinished, Time: s.now(), StopReason: reason, Index: len(cp.Messages), Total: cp.Usage}
			switch err := s.runs.ResolveWaiting(ctx, run.ID, []team.Event{e}, store.StatusExpired, reason); {
			case errors.Is(err, store.ErrConflict): // decided meanwhile
			case err != nil:
				return n, err
			default:
				n++
				s.publishSince(ctx, run.ID, last)
				s.log.Info("run expired waiting for approval", "run", run.ID)
			}
		}
		if next == "" {
			return n, nil
		}
		cursor = next
	}
}

// expireLoop runs expireWaiting every ApprovalSweep until shutdown.
func (s *Server) expireLoop() {
	defer s.background.Done()
	t := time.NewTicker(s.cfg.ApprovalSweep)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			ctx, cancel := s.storeCtx()
			if _, err := s.expireWaiting(ctx); err != nil {
				s.log.Warn("expiring runs waiting for approval", "err", err)
			}
			cancel()
		}
	}
}
