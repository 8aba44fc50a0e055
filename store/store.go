// Package store keeps runs, their event logs (the checkpoints a run resumes
// from) and the service's API keys. Backends live in sub-packages:
// store/sqlite (embedded default) and store/postgres (several instances).
package store

import (
	"context"
	"errors"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
)

// Errors returned by every backend.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflict")
	// ErrBadCursor is returned by ListRuns for a cursor it did not issue
	// (a client error: HTTP 400).
	ErrBadCursor = errors.New("store: bad cursor")
)

// Status is a run's lifecycle state.
type Status string

// Run statuses.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
	// StatusAwaitingApproval is a run whose team is done and that waits for a
	// person's decision; nothing executes it until ResolveWaiting.
	StatusAwaitingApproval Status = "awaiting_approval"
	// StatusRejected is a run a person rejected.
	StatusRejected Status = "rejected"
	// StatusExpired is a run nobody decided on within the approval timeout.
	StatusExpired Status = "expired"
)

// Finished reports whether the status is terminal.
func (s Status) Finished() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCancelled, StatusRejected, StatusExpired:
		return true
	}
	return false
}

// Approval is a run's approval gate: whether a person must approve it, and
// the decisions made so far (kept in the run's event log as
// approval_decided events; the store fills in only Required). Decisions
// nil is left out (a list of runs does not read them); empty is "[]".
type Approval struct {
	Required bool `json:"required"`
	// Capped is the stop reason of the cap (messages, tokens, budget,
	// timeout, grounding) that ended the team's work of a run now waiting
	// for a decision: it can be approved or rejected, not revised. Empty
	// when the team finished its work.
	Capped    string          `json:"capped,omitempty"`
	Decisions []team.Decision `json:"decisions,omitzero"`
}

// RunOptions are a run's settings of tools, sources and grounding. The
// zero value is the service's default: tools and the grounding check on, no
// documents given.
type RunOptions struct {
	// Sources are the documents fetched for the run when it was created
	// (POST /v1/runs "sources"), handed to its team before it starts; a
	// resumed run reads these, not the web again.
	Sources []Document `json:"sources,omitempty"`
	// NoTools runs the agents without tools.
	NoTools bool `json:"no_tools,omitempty"`
	// NoGrounding turns the grounding check off.
	NoGrounding bool `json:"no_grounding,omitempty"`
	// Intake names the intake source and item that started the run; nil
	// for a run a person asked for.
	Intake *IntakeRef `json:"intake,omitempty"`
	// Corrects is the article a correction's rerun revises (POST
	// /v1/articles/{id}/corrections "rerun"), with the editor-in-chief's
	// CorrectionNote: its approval writes the article's next version.
	Corrects       string `json:"corrects,omitempty"`
	CorrectionNote string `json:"correction_note,omitempty"`
	// SubmittedBy names who submitted the run: the signed-in person's or
	// the key's name, with its id. A run published without an approval
	// records it as who takes responsibility.
	SubmittedBy string `json:"submitted_by,omitempty"`
}

// IsZero reports whether the options are the default.
func (o RunOptions) IsZero() bool {
	return len(o.Sources) == 0 && !o.NoTools && !o.NoGrounding && o.Intake == nil && o.Corrects == "" && o.SubmittedBy == ""
}

// Document is a fetched document as a run keeps it, text included.
type Document struct {
	// URL is where it was read (after redirects).
	URL string `json:"url"`
	// AskedURL is the URL the run asked for when redirects led elsewhere
	// (URL), empty otherwise: what an idempotent replay is compared on.
	AskedURL  string    `json:"asked_url,omitempty"`
	Title     string    `json:"title,omitempty"`
	FetchedAt time.Time `json:"fetched_at"`
	// Text is the readable text the team is given.
	Text string `json:"text"`
}

// Run is one submitted task and what became of it.
type Run struct {
	ID string `json:"id"`
	// Owner is the id of the API key that created the run.
	Owner string `json:"owner,omitempty"`
	// IdempotencyKey, when set, is unique per owner: a second create with the
	// same key returns the first run.
	IdempotencyKey string  `json:"-"`
	Task           string  `json:"task"`
	Team           string  `json:"team"`
	MaxMessages    int     `json:"max_messages,omitempty"`
	BudgetUSD      float64 `json:"budget_usd,omitempty"`
	Status         Status  `json:"status"`
	StopReason     string  `json:"stop_reason,omitempty"`
	Error          string  `json:"error,omitempty"`
	// Usage and PerAgent are the totals so far, the selector's calls included.
	Usage    model.Usage            `json:"usage"`
	PerAgent map[string]model.Usage `json:"per_agent,omitempty"`
	// Approval is set when the run requires a person's approval.
	Approval *Approval `json:"approval,omitempty"`
	// Article is the finished article as Markdown, when done.
	Article string `json:"article,omitempty"`
	// Publish, when set on a run given to FinishRun, is the article the
	// run publishes as it ends, written in the same transaction (see
	// Articles.PutArticle). Never stored with the run.
	Publish *Article `json:"-"`
	// Options are the run's own settings beyond its team and limits, fixed
	// when it is created: documents read before the team starts, tools and
	// the grounding check turned off.
	Options    RunOptions `json:"options,omitzero"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt time.Time  `json:"finished_at,omitzero"`
}

// Event is a run event with its position in the run's log (1, 2, 3, ...).
type Event struct {
	Seq int64 `json:"seq"`
	team.Event
}

// ListOptions filter and page ListRuns. Runs come newest first.
type ListOptions struct {
	// Owner limits the list to one key's runs; empty means all (admin).
	Owner string
	// Status limits the list to one status; empty means all.
	Status Status
	// Limit is the page size; 0 means 20, at most 100.
	Limit int
	// Cursor is the NextCursor of the previous page; empty means the first page.
	Cursor string
}

// Key is a service API key. Only the hash of the secret is stored.
type Key struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Hash  string `json:"-"`
	Admin bool   `json:"admin"`
	// Role is what the key may do (reader, reporter, editor-in-chief,
	// admin); empty for keys made before roles: admin keys are admin, others
	// reporter.
	Role      string    `json:"role,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// RoleNote says why a signed-in person has no role (see
	// identity.Principal); never stored.
	RoleNote string `json:"-"`
}

// Claim is an instance's right to execute a run and write its progress. Its
// Token is the run's fencing token: it grows with every new claim on the run
// (never reused, never reset by a release), and every write of the run's
// progress (UpdateRun, AppendEvent) is conditional on it still being the
// run's current token, checked in the same statement or transaction as the
// write. An instance whose claim was taken over therefore writes nothing
// more, even if it has not noticed yet.
type Claim struct {
	RunID string `json:"run_id"`
	Owner string `json:"owner"`
	Token int64  `json:"token"`
}

// ErrFenced is returned by a write under a claim that is no longer the run's
// current one: another instance took the run over (its lease lapsed) or
// seized it (a cancel). The writer must stop and write nothing more.
var ErrFenced = errors.New("store: claim superseded by a newer one")

// Runs keeps the runs themselves.
type Runs interface {
	// CreateRun stores a new run. When run.IdempotencyKey is set and the owner
	// already has a run with that key, it returns that run and existed=true.
	CreateRun(ctx context.Context, run *Run) (stored *Run, existed bool, err error)
	// GetRun returns a run or ErrNotFound.
	GetRun(ctx context.Context, id string) (*Run, error)
	// RunByIdempotencyKey returns the owner's run created under the
	// idempotency key, or ErrNotFound (also for an empty key).
	RunByIdempotencyKey(ctx context.Context, owner, key string) (*Run, error)
	// UpdateRun saves a run's status, stop reason, error, usage and article,
	// on condition that c is the run's current claim: ErrFenced otherwise,
	// ErrNotFound for an unknown run.
	UpdateRun(ctx context.Context, c Claim, run *Run) error
	// FinishRun ends a run in one atomic write: it saves the run as
	// UpdateRun does (run.Status must be finished; FinishedAt is set when
	// zero) and appends final, its run_finished event, returning the event's
	// sequence number. Either both land or neither, so no reader sees a
	// finished run without its run_finished event or the reverse. It is
	// conditional on c being the run's current claim (ErrFenced otherwise,
	// ErrNotFound for an unknown run) and on the run being queued or running
	// in the store (ErrConflict otherwise: it is finished already or waits
	// for approval).
	FinishRun(ctx context.Context, c Claim, run *Run, final team.Event) (int64, error)
	// ListRuns returns a page of runs, newest first, and the cursor of the next page ("" at the end).
	ListRuns(ctx context.Context, opts ListOptions) (runs []*Run, next string, err error)
	// UnfinishedRuns returns the runs queued or running, oldest first, claimed
	// or not. Instances sharing a store use ClaimableRuns and ClaimRun.
	UnfinishedRuns(ctx context.Context) ([]*Run, error)
	// ResolveWaiting ends a run's wait for approval, atomically: when the
	// run's status is StatusAwaitingApproval it appends events to its log and
	// sets its status and stop reason (a finished status sets FinishedAt).
	// Otherwise it changes nothing and returns ErrConflict (a replayed
	// decision, or one that lost a race with a cancel); ErrNotFound for an
	// unknown run. A waiting run has no executor, hence no claim: the status
	// condition is its fence.
	ResolveWaiting(ctx context.Context, runID string, events []team.Event, status Status, stopReason string) error
}

// EventLog keeps each run's events: the checkpoints a run resumes from and
// what clients replay.
type EventLog interface {
	// AppendEvent adds an event to the log of run c.RunID and returns its
	// sequence number, on condition that c is the run's current claim
	// (ErrFenced otherwise; ErrNotFound for an unknown run). It is durable
	// when it returns: this is the checkpoint.
	AppendEvent(ctx context.Context, c Claim, e team.Event) (int64, error)
	// Events returns the run's events with Seq > after, in order.
	Events(ctx context.Context, runID string, after int64) ([]Event, error)
}

// Claims decides which instance executes a run. Expiry is decided by the
// store's clock (PostgreSQL's now(), the SQLite process's clock), never the
// caller's, so instances with skewed clocks agree.
type Claims interface {
	// ClaimRun makes owner (a service instance's id) the one executing the
	// run until the lease ends, under a new fencing token. It succeeds (true)
	// when the run is unfinished and unclaimed, its claim expired, or owner
	// holds it already (the owner's older claim is then superseded). It
	// returns false when another owner holds a live claim or the run is
	// finished; ErrNotFound for an unknown run. Of concurrent claims exactly
	// one succeeds. lease must be > 0.
	ClaimRun(ctx context.Context, runID, owner string, lease time.Duration) (Claim, bool, error)
	// SeizeRun takes the claim of an unfinished run whoever holds it, under a
	// new fencing token, so that the holder's later writes fail with
	// ErrFenced: a cancel through another instance uses it. It returns false
	// for a finished run, ErrNotFound for an unknown one.
	SeizeRun(ctx context.Context, runID, owner string, lease time.Duration) (Claim, bool, error)
	// RenewClaim restarts the lease of c (the heartbeat of a run in
	// progress). It returns false when c is no longer the run's current
	// claim or the run is finished: the holder must stop.
	RenewClaim(ctx context.Context, c Claim, lease time.Duration) (bool, error)
	// ReleaseRun drops claim c so another owner may take the run at once.
	// Releasing a claim that is no longer current (or an unknown run) is a
	// no-op. The run's token is kept: the next claim gets a greater one.
	ReleaseRun(ctx context.Context, c Claim) error
	// ClaimableRuns returns up to limit unfinished runs that no one holds (no
	// claim, or an expired one), oldest first; limit <= 0 means 100. A run it
	// returns may be claimed by someone else before the caller's ClaimRun.
	ClaimableRuns(ctx context.Context, limit int) ([]*Run, error)
}

// Keys keeps the service's API keys.
type Keys interface {
	// CreateKey stores a key; KeyByHash finds an unrevoked key by its hash or
	// returns ErrNotFound; RevokeKey marks it revoked (ErrNotFound if unknown).
	CreateKey(ctx context.Context, k *Key) error
	KeyByHash(ctx context.Context, hash string) (*Key, error)
	ListKeys(ctx context.Context) ([]*Key, error)
	RevokeKey(ctx context.Context, id string) error
}

// Store is every role together, as each backend implements it. Code that
// needs one role asks for that interface only. Implementations are safe for
// concurrent use.
type Store interface {
	Runs
	EventLog
	Claims
	Keys
	Inbox
	Articles
	Webhooks
	// Ping checks the store is reachable (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}
