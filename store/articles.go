package store

import (
	"context"
	"time"

	"github.com/newsroom-dev/newsroom/team"
)

// ArticleStatus is a published article's state.
type ArticleStatus string

// Article statuses.
const (
	ArticlePublished ArticleStatus = "published"
	// ArticleRetracted is an article withdrawn with a notice: still
	// readable, out of the feeds' current items.
	ArticleRetracted ArticleStatus = "retracted"
)

// DigitalSourceTypeTrained is IPTC's digitalSourceType for media created by
// a trained model (generative AI) from a person's prompt: what an article
// written by the desk's models is, whatever person then approved it. See
// https://cv.iptc.org/newscodes/digitalsourcetype/.
const DigitalSourceTypeTrained = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

// Article is a published story: the current version of what a run's team
// wrote and a person (or, without the approval gate, the service) published.
// Every change (a correction, a retraction, a rerun's new text) is a new
// version; the versions are kept (Articles.ArticleVersions).
type Article struct {
	ID string `json:"id"`
	// Slug is stable: it never changes after publication.
	Slug string `json:"slug"`
	// RunID is the run that wrote the current version.
	RunID     string          `json:"run_id"`
	Desk      string          `json:"desk"`
	Headline  string          `json:"headline"`
	Body      string          `json:"body"`
	Summary   string          `json:"summary,omitempty"`
	Byline    string          `json:"byline"`
	Sources   []ArticleSource `json:"sources"`
	Grounding *team.Grounding `json:"grounding,omitempty"`
	Approval  ArticleApproval `json:"approval"`
	Version   int             `json:"version"`
	Status    ArticleStatus   `json:"status"`
	// PublishedAt is the first publication; UpdatedAt the latest version's.
	PublishedAt time.Time    `json:"published_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
	Corrections []Correction `json:"corrections"`
	// Retraction is set once the article is retracted.
	Retraction *Correction `json:"retraction,omitempty"`
	Provenance Provenance  `json:"provenance"`
	// Outbox are the webhook deliveries announcing this version, written in
	// the same transaction (see Webhooks). Never stored with the article.
	Outbox []*Delivery `json:"-"`
}

// ArticleSource is a document the article is based on, numbered as cited.
type ArticleSource struct {
	ID    int    `json:"id"`
	URL   string `json:"url"`
	Title string `json:"title,omitempty"`
}

// ArticleApproval is who approved the current version, when, and the
// decisions made on the run that wrote it. Required is false for an article
// published without the approval gate (By is then the service).
type ArticleApproval struct {
	Required  bool            `json:"required"`
	By        string          `json:"by,omitempty"`
	At        time.Time       `json:"at,omitzero"`
	Decisions []team.Decision `json:"decisions"`
}

// Correction is a dated correction (or retraction) notice.
type Correction struct {
	// Version is the version that carries the notice first.
	Version int       `json:"version"`
	Note    string    `json:"note"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// Provenance is the article's disclosure and editorial responsibility
// record: how it was made (an IPTC digitalSourceType), the models and
// deployments that wrote it, and who took responsibility for each version.
type Provenance struct {
	DigitalSourceType string `json:"digital_source_type"`
	// Models are the models and deployments whose calls wrote the text.
	Models []string `json:"models"`
	// Approvals are, for each version, who published it and when.
	Approvals []VersionApproval `json:"approvals"`
}

// VersionApproval is the responsibility for one version.
type VersionApproval struct {
	Version int       `json:"version"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// ArticleListOptions filter and page ListArticles; articles come newest
// first (by first publication).
type ArticleListOptions struct {
	Desk   string
	Status ArticleStatus
	// Limit is the page size; 0 means 20, at most 100.
	Limit int
	// Cursor is the previous page's next cursor; empty for the first page.
	Cursor string
}

// Articles keeps published articles and their versions. A version is
// written with the write that produced it: the first with the run's end
// (Run.Publish in FinishRun, ResolveWaitingPublish), the next ones with a
// correction's or retraction's PutArticle, or with the end of the rerun that
// wrote them.
type Articles interface {
	// ResolveWaitingPublish is ResolveWaiting that also writes a (its
	// PutArticle, when not nil) in the same transaction: either all of it
	// lands or none.
	ResolveWaitingPublish(ctx context.Context, runID string, events []team.Event, status Status, stopReason string, a *Article) error
	// PutArticle writes a new version of an article: version 1 creates it
	// (ErrConflict when its id or slug is taken), version n updates the
	// article whose current version is n-1 (ErrConflict otherwise: another
	// change came first; ErrNotFound for an unknown article). The version is
	// kept for ArticleVersions.
	PutArticle(ctx context.Context, a *Article) error
	// GetArticle returns an article by id, or ErrNotFound.
	GetArticle(ctx context.Context, id string) (*Article, error)
	// ArticleBySlug returns an article by slug, or ErrNotFound.
	ArticleBySlug(ctx context.Context, slug string) (*Article, error)
	// ArticleOfRun returns the article a run published (any version), or
	// ErrNotFound.
	ArticleOfRun(ctx context.Context, runID string) (*Article, error)
	// ListArticles returns a page of articles, newest first, and the next
	// page's cursor ("" at the end); ErrBadCursor for a foreign cursor.
	ListArticles(ctx context.Context, opts ArticleListOptions) ([]*Article, string, error)
	// ArticleVersions returns every version of an article, oldest first
	// (ErrNotFound for an unknown article).
	ArticleVersions(ctx context.Context, id string) ([]*Article, error)
}
