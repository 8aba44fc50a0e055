package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// rerun answers a correction with "rerun": it queues a run of the article's
// desk with the article and the note, through the approval gate; the
// approval of that run writes the article's next version (nextVersion).
func (s *Server) rerun(w http.ResponseWriter, r *http.Request, k *store.Key, a *store.Article, c *CorrectionRequest) {
	if strings.TrimSpace(c.Note) == "" {
		s.writeError(w, r, badRequest("note_required", "a note is required"))
		return
	}
	if a.Status == store.ArticleRetracted {
		s.writeError(w, r, errRetracted)
		return
	}
	if !s.knownTeam(a.Desk) {
		s.writeError(w, r, badRequest("unknown_team", "the article's desk "+a.Desk+" is not offered here"))
		return
	}
	task := "Facts: the published article below needs a correction. The editor-in-chief's note: " + strings.TrimSpace(c.Note) +
		"\n\nRewrite the article with the correction applied, keeping everything else.\n\n# " + a.Headline + "\n\n" + stripNotices(a.Body)
	if len(task) > s.cfg.MaxTaskBytes {
		s.writeError(w, r, badRequest("task_too_long", "the article and the note are longer than a task may be"))
		return
	}
	if !s.queue.reserve() {
		s.writeError(w, r, errQueueFull(s.retryHint()))
		return
	}
	now := s.now().UTC()
	run := &store.Run{ID: s.newID(), Owner: k.ID, Task: task, Team: a.Desk, Status: store.StatusQueued, CreatedAt: now, UpdatedAt: now,
		Approval: &store.Approval{Required: true}, Options: store.RunOptions{Corrects: a.ID, CorrectionNote: strings.TrimSpace(c.Note)}}
	stored, _, err := s.runs.CreateRun(r.Context(), run)
	switch {
	case err != nil:
		s.queue.release()
		s.writeError(w, r, err)
		return
	case !s.claimAccepted(r.Context(), stored.ID):
		s.queue.release()
	default:
		s.queue.commit(stored.ID, stored.CreatedAt)
	}
	s.log.Info("correction rerun queued", "article", a.ID, "run", stored.ID, "by", k.ID)
	s.writeAccepted(w, stored)
}

// nextVersion is the version of article run.Options.Corrects that the
// approval d of run writes: the run's article with the correction notice,
// approved by d.By.
func (s *Server) nextVersion(ctx context.Context, run *store.Run, cp team.Checkpoint, d *team.Decision, by string) (*store.Article, error) {
	a, err := s.cfg.Store.GetArticle(ctx, run.Options.Corrects)
	if err != nil {
		return nil, err
	}
	fresh := s.publication(run, cp, d, by)
	if fresh == nil {
		return nil, errors.New("the correction's run wrote no article")
	}
	a.Headline, a.RunID = fresh.Headline, run.ID
	a.Sources, a.Grounding = fresh.Sources, fresh.Grounding
	a.Approval = fresh.Approval
	a.Provenance.Models = mergeModels(a.Provenance.Models, fresh.Provenance.Models)
	if err := Correct(a, run.Options.CorrectionNote, fresh.Body, by, d.At); err != nil {
		return nil, err
	}
	s.withOutbox(ctx, store.EventArticleCorrected, a)
	return a, nil
}

// mergeModels is a with the models of b it lacks.
func mergeModels(a, b []string) []string {
	out := slices.Clone(a)
	for _, m := range b {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}
