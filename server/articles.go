package server

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// Publish modes (Config.Publish, serve --publish).
const (
	// PublishAll publishes approved runs and, when a run does not require
	// approval, every run that succeeds.
	PublishAll = "all"
	// PublishApprovedOnly publishes only what an editor-in-chief approved.
	PublishApprovedOnly = "approved-only"
)

// DefaultDisclosure is the reader-facing disclosure line when
// Config.Disclosure is empty.
const DefaultDisclosure = "This article was written by AI models and published after review by a named editor, who takes editorial responsibility for it."

// disclosure is the reader-facing disclosure line.
func (s *Server) disclosure() string { return cmp.Or(s.cfg.Disclosure, DefaultDisclosure) }

// publishMode is Config.Publish with its default: approved-only when
// approval is required by default, all otherwise.
func (s *Server) publishMode() string {
	if s.cfg.Publish != "" {
		return s.cfg.Publish
	}
	if s.cfg.RequireApproval {
		return PublishApprovedOnly
	}
	return PublishAll
}

// publishOnFinish is the article a run publishes as it ends succeeded
// without an approval (nil when it publishes none): only in PublishAll
// mode, for a run that did not require approval and wrote an article.
func (s *Server) publishOnFinish(run *store.Run, cp team.Checkpoint) *store.Article {
	if run.Status != store.StatusSucceeded || (run.Approval != nil && run.Approval.Required) || s.publishMode() != PublishAll {
		return nil
	}
	a := s.publication(run, cp, nil, cmp.Or(run.Options.SubmittedBy, "key:"+run.Owner))
	ctx, cancel := s.storeCtx()
	defer cancel()
	s.withOutbox(ctx, store.EventArticlePublished, a)
	return a
}

// publication is the first version of the article run wrote, approved by
// approve (nil: published without the approval gate, on the authority of
// the key that submitted the run, Options.SubmittedBy); by names who takes
// responsibility (see responsible). It is nil when the run wrote no article.
func (s *Server) publication(run *store.Run, cp team.Checkpoint, approve *team.Decision, by string) *store.Article {
	md := run.Article
	if art := s.cfg.Teams.Article(run.Team, cp.Messages); art != "" {
		md = art
	}
	headline, body := splitHeadline(md)
	if body == "" && headline == "" {
		return nil
	}
	now := s.now().UTC()
	id := "art_" + randomHex(8)
	a := &store.Article{ID: id, Slug: slugOf(headline, id), RunID: run.ID, Desk: run.Team, Headline: headline, Body: body,
		Summary: s.summaryOf(run.Team, cp.Messages), Byline: "The " + run.Team + " desk", Version: 1, Status: store.ArticlePublished, PublishedAt: now, UpdatedAt: now,
		Grounding: cp.Grounding, Corrections: []store.Correction{}, Sources: []store.ArticleSource{}}
	for _, src := range cp.Sources {
		a.Sources = append(a.Sources, store.ArticleSource{ID: src.ID, URL: src.URL, Title: src.Title})
	}
	decisions := slices.Clone(cp.Decisions)
	at := now
	if approve != nil {
		decisions = append(decisions, *approve)
		at = approve.At
	}
	if decisions == nil {
		decisions = []team.Decision{}
	}
	a.Approval = store.ArticleApproval{Required: approve != nil, By: by, At: at, Decisions: decisions}
	a.Provenance = store.Provenance{DigitalSourceType: store.DigitalSourceTypeTrained, Models: modelsOf(cp),
		Approvals: []store.VersionApproval{{Version: 1, By: by, At: at}}}
	return a
}

// modelsOf lists the deployments (or models) whose calls wrote the run.
func modelsOf(cp team.Checkpoint) []string {
	ms := slices.Sorted(maps.Keys(cp.PerDeployment))
	if ms == nil {
		ms = []string{}
	}
	return ms
}

// splitHeadline splits an article's Markdown into its headline (the first
// line, without its heading marks) and body.
func splitHeadline(md string) (headline, body string) {
	md = strings.TrimSpace(md)
	first, rest, _ := strings.Cut(md, "\n")
	return strings.TrimSpace(strings.TrimLeft(first, "# ")), strings.TrimSpace(rest)
}

// slugOf is a stable URL slug: the headline's words in lower case, joined
// by hyphens (at most 60 characters), and the end of the article's id, which
// makes it unique.
func slugOf(headline, id string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(headline) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	suffix := id[max(0, len(id)-6):]
	if b.Len() == 0 {
		return "article-" + suffix
	}
	return strings.TrimRight(b.String(), "-") + "-" + suffix
}

// ArticleList is a page of GET /v1/articles.
type ArticleList struct {
	Articles   []*store.Article `json:"articles"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// errNoArticle is the 404 of an unknown article.
var errNoArticle = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such article"}

// articleRoutes are the routes of published articles.
func (s *Server) articleRoutes() []route {
	return []route{
		{"GET /v1/articles", s.authed(s.handleListArticles)},
		{"GET /v1/articles/{id}", s.authed(s.handleGetArticle)},
		{"GET /v1/articles/{id}/versions", s.authed(s.handleArticleVersions)},
		{"POST /v1/articles/{id}/corrections", s.authed(s.handleCorrectArticle)},
		{"POST /v1/articles/{id}/retract", s.authed(s.handleRetractArticle)},
	}
}

func (s *Server) handleListArticles(w http.ResponseWriter, r *http.Request, k *store.Key) {
	if err := need(k, identity.RoleReader); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	opts := store.ArticleListOptions{Desk: q.Get("desk"), Status: store.ArticleStatus(q.Get("status")), Cursor: q.Get("cursor"), Limit: 20}
	switch opts.Status {
	case "", store.ArticlePublished, store.ArticleRetracted:
	default:
		s.writeError(w, r, badRequest("bad_status", "status must be published or retracted"))
		return
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			s.writeError(w, r, badRequest("bad_limit", "limit must be a number from 1 to 100"))
			return
		}
		opts.Limit = n
	}
	as, next, err := s.cfg.Store.ListArticles(r.Context(), opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if as == nil {
		as = []*store.Article{}
	}
	writeJSON(w, http.StatusOK, ArticleList{Articles: as, NextCursor: next})
}

// article reads the article of the request's {id}: 404 no such article.
func (s *Server) article(ctx context.Context, id string) (*store.Article, error) {
	a, err := s.cfg.Store.GetArticle(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoArticle
	}
	return a, err
}

func (s *Server) handleGetArticle(w http.ResponseWriter, r *http.Request, k *store.Key) {
	if err := need(k, identity.RoleReader); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.article(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if wantsNinjs(r) {
		s.writeNinjs(w, r, a)
		return
	}
	w.Header().Set("Vary", "Accept")
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleArticleVersions(w http.ResponseWriter, r *http.Request, k *store.Key) {
	if err := need(k, identity.RoleReader); err != nil {
		s.writeError(w, r, err)
		return
	}
	vs, err := s.cfg.Store.ArticleVersions(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		err = errNoArticle
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
}

// CorrectionRequest is the body of POST /v1/articles/{id}/corrections.
type CorrectionRequest struct {
	// Note is the correction notice readers see (required).
	Note string `json:"note"`
	// Body, when set, is the corrected body (Markdown).
	Body string `json:"body,omitempty"`
	// Rerun sends the article and the note back to its desk: a run through
	// the approval gate whose approval writes the next version.
	Rerun bool `json:"rerun,omitempty"`
}

// RetractionRequest is the body of POST /v1/articles/{id}/retract.
type RetractionRequest struct {
	// Note says why the article is withdrawn (required).
	Note string `json:"note"`
}

var errRetracted = &apiError{Status: http.StatusConflict, Code: "article_retracted", Message: "the article is retracted"}

// Errors of Correct and Retract.
var (
	// ErrArticleRetracted is a change to a retracted article.
	ErrArticleRetracted = errors.New("server: the article is retracted")
	// ErrNoteRequired is a correction or retraction without a note.
	ErrNoteRequired = errors.New("server: a note is required")
)

// next makes a the next version of itself, changed by by at at, with the
// notice c for it; it refuses a retracted article and an empty note.
func next(a *store.Article, note, by string, at time.Time) (store.Correction, error) {
	if strings.TrimSpace(note) == "" {
		return store.Correction{}, ErrNoteRequired
	}
	if a.Status == store.ArticleRetracted {
		return store.Correction{}, ErrArticleRetracted
	}
	at = at.UTC()
	a.Version++
	a.UpdatedAt = at
	a.Provenance.Approvals = append(a.Provenance.Approvals, store.VersionApproval{Version: a.Version, By: by, At: at})
	return store.Correction{Version: a.Version, Note: strings.TrimSpace(note), By: by, At: at}, nil
}

// Correct makes a its next version, corrected by by at at: body, when not
// empty, replaces its body, and a dated correction notice with note is
// added to its body and its corrections. Store it with PutArticle.
func Correct(a *store.Article, note, body, by string, at time.Time) error {
	c, err := next(a, note, by, at)
	if err != nil {
		return err
	}
	if strings.TrimSpace(body) != "" {
		a.Body = strings.TrimSpace(body)
	}
	a.Corrections = append(a.Corrections, c)
	a.Body = withNotice(stripNotices(a.Body), a.Corrections, nil)
	return nil
}

// Retract makes a its next version, retracted by by at at with a dated
// retraction notice: it stays readable, with the notice. Store it with
// PutArticle.
func Retract(a *store.Article, note, by string, at time.Time) error {
	c, err := next(a, note, by, at)
	if err != nil {
		return err
	}
	a.Status, a.Retraction = store.ArticleRetracted, &c
	a.Body = withNotice(stripNotices(a.Body), a.Corrections, &c)
	return nil
}

func (s *Server) handleCorrectArticle(w http.ResponseWriter, r *http.Request, k *store.Key) {
	var req CorrectionRequest
	s.changeArticle(w, r, k, &req, func(a *store.Article, at time.Time) error { return Correct(a, req.Note, req.Body, responsible(k), at) })
}

func (s *Server) handleRetractArticle(w http.ResponseWriter, r *http.Request, k *store.Key) {
	var req RetractionRequest
	s.changeArticle(w, r, k, &req, func(a *store.Article, at time.Time) error { return Retract(a, req.Note, responsible(k), at) })
}

// changeArticle writes the next version of an article an editor-in-chief
// corrects or retracts (change, with the request decoded into req): it is
// stored as version n+1 on condition that n is still current (409 conflict
// otherwise).
func (s *Server) changeArticle(w http.ResponseWriter, r *http.Request, k *store.Key, req any, change func(*store.Article, time.Time) error) {
	if err := need(k, identity.RoleEditorInChief); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.article(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.decodeJSON(w, r, req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if c, ok := req.(*CorrectionRequest); ok && c.Rerun {
		s.rerun(w, r, k, a, c)
		return
	}
	switch err := change(a, s.now()); {
	case errors.Is(err, ErrNoteRequired):
		s.writeError(w, r, badRequest("note_required", "a note is required"))
		return
	case errors.Is(err, ErrArticleRetracted):
		s.writeError(w, r, errRetracted)
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	event := store.EventArticleCorrected
	if a.Status == store.ArticleRetracted {
		event = store.EventArticleRetracted
	}
	s.withOutbox(r.Context(), event, a) // written with the version
	if err := s.cfg.Store.PutArticle(r.Context(), a); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("article changed", "article", a.ID, "version", a.Version, "status", a.Status, "by", k.ID)
	writeJSON(w, http.StatusOK, a)
}

// noticeMark starts the block of notices at the end of an article's body.
const noticeMark = "\n\n---\n\n"

// stripNotices is body without its notices block.
func stripNotices(body string) string {
	if i := strings.Index(body, noticeMark+"*"); i >= 0 {
		return body[:i]
	}
	return body
}

// withNotice appends the dated correction notices (and a retraction's) to
// body, as readers see them.
func withNotice(body string, cs []store.Correction, retraction *store.Correction) string {
	var b strings.Builder
	b.WriteString(body)
	if retraction != nil || len(cs) > 0 {
		b.WriteString(noticeMark)
	}
	if retraction != nil {
		b.WriteString("*Retracted on " + retraction.At.Format(time.DateOnly) + ":* " + retraction.Note + "\n\n")
	}
	for _, c := range cs {
		b.WriteString("*Correction, " + c.At.Format(time.DateOnly) + ":* " + c.Note + "\n\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// responsible names who takes editorial responsibility for what k does:
// the signed-in person's name, or the key's name, with its id, so an
// auditor can tell two people of one name apart.
func responsible(k *store.Key) string {
	if k.Name == "" {
		return k.ID
	}
	return k.Name + " (" + k.ID + ")"
}

// articleIDOf is the id of the article a run published, "" when none.
func (s *Server) articleIDOf(ctx context.Context, run *store.Run) string {
	if run.Status != store.StatusSucceeded {
		return ""
	}
	a, err := s.cfg.Store.ArticleOfRun(ctx, run.ID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("reading a run's article", "run", run.ID, "err", err)
		}
		return ""
	}
	return a.ID
}
