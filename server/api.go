package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/termination"
	"github.com/newsroom-dev/newsroom/tool"
)

// CreateRunRequest is the body of POST /v1/runs.
type CreateRunRequest struct {
	Task string `json:"task"`
	// Team is "roundrobin" or "selector"; empty means "roundrobin".
	Team string `json:"team,omitempty"`
	// MaxMessages caps the run; 0 means the team's default.
	MaxMessages int `json:"max_messages,omitempty"`
	// BudgetUSD stops the run gracefully when its cost would exceed it; 0 means none.
	BudgetUSD float64 `json:"budget_usd,omitempty"`
	// Approval is "required" (a person decides before the run ends), "none",
	// or empty for the service's default.
	Approval string `json:"approval,omitempty"`
	// Sources are URLs (at most MaxRunSources) fetched when the run is
	// created, under the fetch guard and allow list, and given to its team
	// as numbered documents before it starts.
	Sources []string `json:"sources,omitempty"`
	// Tools false runs the agents without tools; absent or true keeps the
	// service's setting.
	Tools *bool `json:"tools,omitempty"`
	// Grounding false turns the grounding check off for this run; absent or
	// true keeps it on.
	Grounding *bool `json:"grounding,omitempty"`
}

// RunView is a run as the API shows it.
type RunView struct {
	ID     string       `json:"id"`
	Status store.Status `json:"status"`
	Task   string       `json:"task"`
	Team   string       `json:"team"`
	// MaxMessages is the run's effective message cap (the team default when none was asked).
	MaxMessages int     `json:"max_messages"`
	BudgetUSD   float64 `json:"budget_usd,omitempty"`
	StopReason  string  `json:"stop_reason,omitempty"`
	// StopReasonKind is the class of StopReason (a closed set), for programs.
	StopReasonKind termination.Kind       `json:"stop_reason_kind,omitempty"`
	Error          string                 `json:"error,omitempty"`
	Usage          model.Usage            `json:"usage"`
	PerAgent       map[string]model.Usage `json:"per_agent,omitempty"`
	// Messages so far; only on GET /v1/runs/{id}.
	Messages []agent.Message `json:"messages,omitempty"`
	Article  string          `json:"article,omitempty"`
	// Sources are the documents the run read, numbered as the article cites
	// them; only on GET /v1/runs/{id}. Their URLs and titles are untrusted.
	Sources []tool.Source `json:"sources,omitempty"`
	// Grounding is the grounding check of the run's article (the same
	// object as `newsroom run --format json`'s); only on GET
	// /v1/runs/{id}, once a check ran or the run finished, and never when
	// the run turned grounding off.
	Grounding *team.GroundingReport `json:"grounding,omitempty"`
	// Options are the run's own options, when it asked for any.
	Options *RunOptionsView `json:"options,omitempty"`
	// Intake names the intake source and item that started the run; absent
	// for a run a person asked for.
	Intake     *store.IntakeRef `json:"intake,omitempty"`
	CreatedAt  time.Time        `json:"created_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
	FinishedAt time.Time        `json:"finished_at,omitzero"`
	// Emulated is true when the service answers with its built-in emulator:
	// the tokens and costs are an estimate at list prices, nothing is billed.
	Emulated bool `json:"emulated,omitempty"`
	// Approval is set for a run that requires a person's approval; the
	// decisions are listed only on GET /v1/runs/{id}.
	Approval *store.Approval `json:"approval,omitempty"`
	// ToolApproval is the call to an acting tool the run waits for (status
	// awaiting_tool_approval), on GET /v1/runs/{id}.
	ToolApproval *team.ToolApproval `json:"tool_approval,omitempty"`
	// ArticleID is the article the run published, once it has; only on
	// GET /v1/runs/{id}.
	ArticleID string            `json:"article_id,omitempty"`
	Links     map[string]string `json:"links"`
}

// RunList is a page of GET /v1/runs.
type RunList struct {
	Runs       []RunView `json:"runs"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// viewOf is a run as this service shows it.
func (s *Server) viewOf(r *store.Run) RunView {
	self := "/v1/runs/" + r.ID
	var kind termination.Kind
	if r.StopReason != "" || r.Error != "" {
		kind = termination.KindOfRun(r.StopReason, r.Error)
	}
	status := r.Status
	if awaitingTool(r) {
		status = StatusAwaitingToolApproval
	}
	return RunView{StopReasonKind: kind,
		ID: r.ID, Status: status, Task: r.Task, Team: r.Team, MaxMessages: s.maxMessagesFor(r),
		BudgetUSD: r.BudgetUSD, StopReason: r.StopReason, Error: r.Error, Usage: r.Usage.Rounded(), PerAgent: roundedUsage(r.PerAgent),
		Article: r.Article, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, FinishedAt: r.FinishedAt,
		Approval: r.Approval, Emulated: s.cfg.Emulator, Options: optionsView(r.Options), Intake: r.Options.Intake,
		Links: map[string]string{"self": self, "events": self + "/events", "cancel": self + "/cancel"},
	}
}

// roundedUsage returns usages with their amounts rounded (model.Usage.Rounded),
// so the API's JSON shows exact decimals.
func roundedUsage(m map[string]model.Usage) map[string]model.Usage {
	if m == nil {
		return nil
	}
	out := make(map[string]model.Usage, len(m))
	for k, u := range m {
		out[k] = u.Rounded()
	}
	return out
}

// roundedMessages returns messages with their costs rounded.
func roundedMessages(msgs []agent.Message) []agent.Message {
	out := slices.Clone(msgs)
	for i := range out {
		out[i].Usage = out[i].Usage.Rounded()
	}
	return out
}

// decodeJSON reads one JSON object into v: bounded size, field names exactly
// as v's json tags spell them (encoding/json alone would accept "Task" for
// "task"), no unknown fields, nothing after it. It returns the object's raw
// fields, for checks the decoded values can no longer show. Every string in
// it must be valid UTF-8 without NUL characters or lone surrogate escapes
// (checkText), as decoding would replace them silently. Its messages name
// JSON fields and JSON types, never Go's.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) (map[string]json.RawMessage, error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("bad_json", "request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("bad_json", "request body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, badJSON(err)
	}
	if raw == nil {
		return nil, badRequest("bad_json", "request body must be a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badRequest("bad_json", "request body has data after the JSON object")
	}
	known := jsonFields(v)
	for name := range raw {
		if !slices.Contains(known, name) {
			return nil, badRequest("bad_json", "unknown field "+quoteValue(name)+"; the fields are "+strings.Join(known, ", "))
		}
	}
	if err := checkText(raw); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, badJSON(err)
	}
	return raw, nil
}

// badJSON describes a decoding error in the client's terms.
func badJSON(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest("bad_json", "request body is not valid JSON (at byte "+strconv.FormatInt(se.Offset, 10)+")")
	case errors.As(err, &te) && te.Field != "":
		return &apiError{Status: http.StatusBadRequest, Code: "bad_json", Field: te.Field,
			Message: "field " + strconv.Quote(te.Field) + " must be " + jsonKind(te.Type.Kind()) + ", not a JSON " + te.Value}
	case errors.As(err, &te):
		return badRequest("bad_json", "request body must be a JSON object, not a JSON "+te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("bad_json", "request body ends before the JSON object does")
	}
	return badRequest("bad_json", "request body is not valid JSON")
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// jsonFields are the JSON names of a struct's fields (v points to the struct).
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case name == "":
			names = append(names, f.Name)
		default:
			names = append(names, name)
		}
	}
	return names
}

func (s *Server) handleCreateRun(w http.ResponseWriter, r *http.Request, k *store.Key) {
	if err := need(k, identity.RoleReporter); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.draining.Load() {
		s.writeError(w, r, errDraining)
		return
	}
	var req CreateRunRequest
	if _, err := s.decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	req.Task = strings.TrimSpace(req.Task)
	if req.Team == "" {
		req.Team = s.teamNames()[0]
	}
	idem := r.Header.Get("Idempotency-Key")
	switch {
	case req.Task == "":
		s.writeError(w, r, badRequest("empty_task", "task is empty"))
		return
	case len(req.Task) > s.cfg.MaxTaskBytes:
		s.writeError(w, r, badRequest("task_too_long", "task is longer than "+strconv.Itoa(s.cfg.MaxTaskBytes)+" bytes"))
		return
	case !s.knownTeam(req.Team):
		s.writeError(w, r, badRequest("unknown_team", "unknown team "+quoteValue(req.Team)+"; want one of "+strings.Join(s.teamNames(), ", ")))
		return
	case req.MaxMessages < 0 || req.MaxMessages > s.cfg.MaxRunMessages:
		s.writeError(w, r, badRequest("bad_max_messages", "max_messages must be between 0 and "+strconv.Itoa(s.cfg.MaxRunMessages)))
		return
	case req.BudgetUSD < 0:
		s.writeError(w, r, badRequest("bad_budget", "budget_usd must not be negative"))
		return
	case len(idem) > 200:
		s.writeError(w, r, badRequest("bad_idempotency_key", "Idempotency-Key is longer than 200 characters"))
		return
	case !utf8.ValidString(idem):
		s.writeError(w, r, badRequest("bad_idempotency_key", "Idempotency-Key is not valid UTF-8"))
		return
	}
	if err := s.checkRunOptions(&req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.cfg.Preflight != nil {
		if err := s.cfg.Preflight(req.Task); err != nil {
			s.writeError(w, r, badRequest("task_too_large", err.Error()))
			return
		}
	}
	if err := s.checkStore(r.Context()); err != nil {
		// A run accepted now could be lost (an SQLite file deleted under
		// the service takes writes into an unlinked file).
		s.log.Error("store not writable; refusing new runs", "err", err)
		s.writeError(w, r, errStoreUnavailable)
		return
	}
	approval, err := s.approvalRequired(req.Approval)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if idem != "" {
		asked := &store.Run{Task: req.Task, Team: req.Team, MaxMessages: req.MaxMessages, BudgetUSD: req.BudgetUSD,
			Options: requestedOptions(&req)}
		if approval {
			asked.Approval = &store.Approval{Required: true}
		}
		if s.replay(w, r, k, idem, asked) {
			return
		}
	}
	// The sources are read before a queue slot is taken: a slow site
	// holds no slot.
	options, err := s.runOptions(r.Context(), &req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	options.SubmittedBy = responsible(k)
	if !s.queue.reserve() {
		s.writeError(w, r, errQueueFull(s.retryHint()))
		return
	}
	now := s.now().UTC()
	run := &store.Run{
		ID: s.newID(), Owner: k.ID, IdempotencyKey: idem, Task: req.Task, Team: req.Team,
		MaxMessages: req.MaxMessages, BudgetUSD: req.BudgetUSD, Status: store.StatusQueued,
		CreatedAt: now, UpdatedAt: now, Options: options,
	}
	if approval {
		run.Approval = &store.Approval{Required: true}
	}
	stored, existed, err := s.runs.CreateRun(r.Context(), run)
	switch {
	case err != nil || existed:
		s.queue.release()
	case !s.claimAccepted(r.Context(), stored.ID):
		s.queue.release() // another instance's scan took it first
	default:
		s.queue.commit(stored.ID, stored.CreatedAt)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if existed {
		if !sameRequest(stored, run) {
			s.writeError(w, r, errIdempotencyReused)
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		s.log.Info("run queued", "run", stored.ID, "team", stored.Team, "key_id", k.ID)
	}
	s.writeAccepted(w, stored)
}

// replay answers a create retried under an Idempotency-Key the owner used
// before from the stored run, before the request's sources are fetched: a
// replay costs no fetch and succeeds while a source is down. The same
// request gets the run (202, Idempotent-Replayed: true), another one
// idempotency_key_reused. It reports whether it answered; false when the
// key is new (CreateRun still settles a concurrent first use).
func (s *Server) replay(w http.ResponseWriter, r *http.Request, k *store.Key, idem string, asked *store.Run) bool {
	stored, err := s.runs.RunByIdempotencyKey(r.Context(), k.ID, idem)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false
	case err != nil:
		s.writeError(w, r, err)
	case !sameRequest(stored, asked):
		s.writeError(w, r, errIdempotencyReused)
	default:
		w.Header().Set("Idempotent-Replayed", "true")
		s.writeAccepted(w, stored)
	}
	return true
}

// writeAccepted answers a create with the run: 202 and its Location.
func (s *Server) writeAccepted(w http.ResponseWriter, stored *store.Run) {
	v := s.viewOf(stored)
	w.Header().Set("Location", v.Links["self"])
	writeJSON(w, http.StatusAccepted, v)
}

// sameRequest reports whether a run stored under an Idempotency-Key was
// asked for with the same body as run.
func sameRequest(stored, run *store.Run) bool {
	return stored.Task == run.Task && stored.Team == run.Team && stored.MaxMessages == run.MaxMessages &&
		stored.BudgetUSD == run.BudgetUSD && (stored.Approval != nil && stored.Approval.Required) == (run.Approval != nil && run.Approval.Required) &&
		sameOptions(stored.Options, run.Options)
}

// retryHint guesses when a queue slot frees: a few seconds per waiting run per worker.
func (s *Server) retryHint() time.Duration {
	d := time.Duration(1+s.queue.len()/s.workerLimit()) * 5 * time.Second
	return min(d, 2*time.Minute)
}

// visibleRun loads a run the key may see; others' runs are not found.
func (s *Server) visibleRun(ctx context.Context, k *store.Key, id string) (*store.Run, error) {
	run, err := s.runs.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canSee(k, run) {
		return nil, errNotFound
	}
	return run, nil
}

func (s *Server) handleGetRun(w http.ResponseWriter, r *http.Request, k *store.Key) {
	run, err := s.visibleRun(r.Context(), k, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	events, err := s.eventLog.Events(r.Context(), run.ID, 0)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var cp team.Checkpoint
	for _, e := range events {
		cp.Apply(e.Event)
	}
	v := s.viewOf(run)
	v.Approval = approvalView(run, cp)
	if awaitingTool(run) {
		v.ToolApproval = cp.AwaitingTool
	}
	v.ArticleID = s.articleIDOf(r.Context(), run)
	v.Messages = roundedMessages(cp.Messages)
	if v.Messages == nil {
		v.Messages = []agent.Message{}
	}
	// Sources are numbered in the order they arrived; show them by number.
	v.Sources = slices.SortedStableFunc(slices.Values(cp.Sources), func(a, b tool.Source) int { return a.ID - b.ID })
	if !run.Options.NoGrounding {
		v.Grounding = cp.Grounding.Report()
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleListRuns(w http.ResponseWriter, r *http.Request, k *store.Key) {
	q := r.URL.Query()
	opts := store.ListOptions{Status: store.Status(q.Get("status")), Cursor: q.Get("cursor"), Limit: 20}
	switch opts.Status {
	case "", store.StatusQueued, store.StatusRunning, store.StatusSucceeded, store.StatusFailed, store.StatusCancelled,
		store.StatusAwaitingApproval, store.StatusRejected, store.StatusExpired:
	default:
		s.writeError(w, r, badRequest("bad_status", "unknown status "+quoteValue(string(opts.Status))))
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
	if !seesAll(k) {
		opts.Owner = k.ID
	}
	runs, next, err := s.runs.ListRuns(r.Context(), opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := RunList{Runs: make([]RunView, 0, len(runs)), NextCursor: next}
	for _, run := range runs {
		out.Runs = append(out.Runs, s.viewOf(run))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request, k *store.Key) {
	run, err := s.visibleRun(r.Context(), k, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Reporters cancel their own runs; only admins cancel others'.
	role := identity.RoleReporter
	if run.Owner != k.ID {
		role = identity.RoleAdmin
	}
	if err := need(k, role); err != nil {
		s.writeError(w, r, err)
		return
	}
	run, err = s.cancel(r.Context(), run.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, s.viewOf(run))
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request, k *store.Key) {
	if err := need(k, identity.RoleAdmin); err != nil {
		s.writeError(w, r, err)
		return
	}
	keys, err := s.keyStore.ListKeys(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if keys == nil {
		keys = []*store.Key{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Readiness is the body of GET /readyz.
type Readiness struct {
	Ready    bool              `json:"ready"`
	Emulator bool              `json:"emulator"`
	Checks   map[string]string `json:"checks"`
}

// writeChecker is implemented by stores that can tell whether a write would
// land (store/sqlite: the file is still at its path; store/postgres: not a
// standby).
type writeChecker interface {
	CheckWritable(ctx context.Context) error
}

// checkStore reports whether the store takes writes: CheckWritable when the
// store has it, else Ping.
func (s *Server) checkStore(ctx context.Context) error {
	if wc, ok := s.store.(writeChecker); ok {
		return wc.CheckWritable(ctx)
	}
	return s.store.Ping(ctx)
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	out := Readiness{Ready: true, Emulator: s.cfg.Emulator, Checks: map[string]string{"store": "ok", "model": "ok"}}
	if err := s.checkStore(ctx); err != nil {
		out.Ready, out.Checks["store"] = false, "not writable"
		s.log.Warn("readiness: store", "err", err)
	}
	if s.cfg.ModelReady != nil {
		if err := s.cfg.ModelReady(ctx); err != nil {
			out.Ready, out.Checks["model"] = false, "not ready"
			s.log.Warn("readiness: model", "err", err)
		}
	}
	if s.cfg.Emulator {
		out.Checks["model"] += " (emulator: text is not from a language model)"
	}
	if s.draining.Load() {
		out.Ready, out.Checks["service"] = false, "shutting down"
	}
	status := http.StatusOK
	if !out.Ready {
		status = http.StatusServiceUnavailable
		var failing []string
		for name, v := range out.Checks {
			if v != "ok" && !strings.HasPrefix(v, "ok ") {
				failing = append(failing, name)
			}
		}
		slices.Sort(failing)
		w.Header().Set("X-Failing-Checks", strings.Join(failing, ","))
	}
	writeJSON(w, status, out)
}

// claimAccepted claims a run this instance just accepted, so that no other
// instance takes it while it waits in the local queue (for up to a lease);
// false only when another instance holds it already. When the store fails,
// the run is queued all the same: the worker claims it before executing it.
func (s *Server) claimAccepted(ctx context.Context, id string) bool {
	ok, err := s.claim(ctx, id)
	if err != nil {
		s.log.Warn("claiming accepted run", "run", id, "err", err)
		return true
	}
	return ok
}
