package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// Tool approval (issue 19). A call to an acting tool pauses its run the way
// a finished article does: the run is stored awaiting_approval with the stop
// reason team.StopAwaitingToolApproval, which the API shows as the status
// awaiting_tool_approval; POST /v1/runs/{id}/tool-decision records an
// editor-in-chief's allow or deny and queues the run again, atomically
// (store.ResolveWaiting), so it survives restarts and works across
// instances like the article's approval.

// StatusAwaitingToolApproval is the status the API shows for a run whose
// call to an acting tool waits for a person.
const StatusAwaitingToolApproval store.Status = "awaiting_tool_approval"

// ToolDecisionRequest is the body of POST /v1/runs/{id}/tool-decision.
type ToolDecisionRequest struct {
	// Decision is "allow" or "deny".
	Decision string `json:"decision"`
	// Note says why; the model sees it with a denial.
	Note string `json:"note,omitempty"`
}

var errNotAwaitingTool = &apiError{Status: http.StatusConflict, Code: "not_awaiting_tool_approval",
	Message: "the run is not awaiting a tool approval"}

// awaitingTool reports whether a stored run waits for a tool decision.
func awaitingTool(r *store.Run) bool {
	return r.Status == store.StatusAwaitingApproval && r.StopReason == team.StopAwaitingToolApproval
}

func (s *Server) handleToolDecision(w http.ResponseWriter, r *http.Request, k *store.Key) {
	if err := need(k, identity.RoleEditorInChief); err != nil {
		s.writeError(w, r, err)
		return
	}
	run, err := s.visibleRun(r.Context(), k, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req ToolDecisionRequest
	if _, err := s.decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Decision != team.ToolAllow && req.Decision != team.ToolDeny {
		s.writeError(w, r, badRequest("bad_decision", "decision must be allow or deny"))
		return
	}
	if len(req.Note) > MaxNoteBytes {
		s.writeError(w, r, badRequest("bad_note", "the note is longer than 4096 bytes"))
		return
	}
	run, err = s.decideTool(r.Context(), run, req, k.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("tool call decided", "run", run.ID, "decision", req.Decision, "by", k.ID)
	writeJSON(w, http.StatusAccepted, s.viewOf(run))
}

// decideTool records the decision and queues the run again.
func (s *Server) decideTool(ctx context.Context, run *store.Run, req ToolDecisionRequest, by string) (*store.Run, error) {
	if !awaitingTool(run) {
		return nil, errNotAwaitingTool
	}
	cp, last, err := s.checkpointOf(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	ev, err := team.DecideTool(cp, req.Decision, by, req.Note, s.now().UTC())
	if errors.Is(err, team.ErrNotAwaitingTool) {
		return nil, errNotAwaitingTool
	}
	if err != nil {
		return nil, badRequest("bad_decision", errorText(err))
	}
	if err := s.runs.ResolveWaiting(ctx, run.ID, []team.Event{ev}, store.StatusQueued, ""); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, errNotAwaitingTool
		}
		return nil, err
	}
	s.publishSince(ctx, run.ID, last)
	s.requeue(ctx, run.ID, run.CreatedAt)
	return s.runs.GetRun(ctx, run.ID)
}
