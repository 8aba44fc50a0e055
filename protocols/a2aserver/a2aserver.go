// Package a2aserver serves newsroom as an Agent2Agent (A2A) agent: a
// planning agent in another newsroom system delegates a story with
// message/send or message/stream and follows the task until the article is
// an artifact.
//
// The JSON-RPC binding and the types are the A2A Go SDK's
// (github.com/a2aproject/a2a-go); what a task is, is newsroom's: a task is a
// run, its id the run's id, its state the run's (working while the desk
// writes, input-required while it waits for an editor-in-chief, completed
// with the article as an artifact, failed, canceled, rejected), so tasks
// survive restarts and are shared by every instance. Every call is a REST
// API request with the caller's own credentials (package apiclient): a
// message to a task waiting for approval is taken as a decision only when
// the caller's key has the editor-in-chief's role.
package a2aserver

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/a2aproject/a2a-go/a2a"
	"github.com/a2aproject/a2a-go/a2asrv"

	"github.com/newsroom-dev/newsroom/apiclient"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/store"
)

// ProtocolVersion is the A2A protocol version of the SDK newsroom is built on.
const ProtocolVersion = "0.3.0"

// Handler serves the JSON-RPC binding at its path with api: requests without
// valid credentials are answered 401 before any JSON-RPC.
func Handler(api *apiclient.Client) http.Handler {
	rpc := a2asrv.NewJSONRPCHandler(&handler{api: api})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if _, err := api.WithAuthorization(auth).Me(r.Context()); err != nil {
			var ae *apiclient.Error
			status := http.StatusUnauthorized
			if errors.As(err, &ae) {
				status = ae.Status
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="newsroom"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "unauthorized", "message": "missing or invalid API key"}})
			return
		}
		rpc.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authKey{}, auth)))
	})
}

type authKey struct{}

// handler is a2asrv.RequestHandler over newsroom's API.
type handler struct{ api *apiclient.Client }

var _ a2asrv.RequestHandler = (*handler)(nil)

func (h *handler) client(ctx context.Context) *apiclient.Client {
	auth, _ := ctx.Value(authKey{}).(string)
	return h.api.WithAuthorization(auth)
}

// Options are newsroom's own run options in a message's metadata.
type Options struct {
	Desk     string   `json:"desk,omitempty"`
	Sources  []string `json:"sources,omitempty"`
	Approval string   `json:"approval,omitempty"`
	// Decision answers a task waiting for approval (approve, revise, reject).
	Decision string `json:"decision,omitempty"`
	Note     string `json:"note,omitempty"`
}

func optionsOf(m *a2a.Message) Options {
	var o Options
	if m == nil || m.Metadata == nil {
		return o
	}
	b, _ := json.Marshal(m.Metadata)
	_ = json.Unmarshal(b, &o)
	return o
}

func textOf(m *a2a.Message) string {
	if m == nil {
		return ""
	}
	var b strings.Builder
	for _, p := range m.Parts {
		switch tp := p.(type) {
		case a2a.TextPart:
			b.WriteString(tp.Text)
		case *a2a.TextPart:
			b.WriteString(tp.Text)
		}
	}
	return strings.TrimSpace(b.String())
}

// submit starts the message's run, or answers the task it names.
func (h *handler) submit(ctx context.Context, p *a2a.MessageSendParams) (string, error) {
	if p == nil || p.Message == nil {
		return "", fmt.Errorf("%w: no message", a2a.ErrInvalidParams)
	}
	c, o := h.client(ctx), optionsOf(p.Message)
	if id := string(p.Message.TaskID); id != "" {
		d := server.DecisionRequest{Decision: o.Decision, Note: cmp.Or(o.Note, textOf(p.Message))}
		if d.Decision == "" {
			d.Decision, d.Note = decisionOf(textOf(p.Message))
		}
		if _, err := c.Decide(ctx, id, d); err != nil {
			return "", apiError(err)
		}
		return id, nil
	}
	task := textOf(p.Message)
	if task == "" {
		return "", fmt.Errorf("%w: the message has no text part with the task", a2a.ErrInvalidParams)
	}
	v, err := c.CreateRun(ctx, server.CreateRunRequest{Task: task, Team: o.Desk, Sources: o.Sources, Approval: o.Approval}, p.Message.ID)
	if err != nil {
		return "", apiError(err)
	}
	return v.ID, nil
}

// decisionOf reads "approve", "reject" or "revise: note" from a message.
func decisionOf(text string) (string, string) {
	word, note, _ := strings.Cut(strings.TrimSpace(text), ":")
	return strings.ToLower(strings.TrimSpace(word)), strings.TrimSpace(note)
}

func (h *handler) OnSendMessage(ctx context.Context, p *a2a.MessageSendParams) (a2a.SendMessageResult, error) {
	id, err := h.submit(ctx, p)
	if err != nil {
		return nil, err
	}
	c := h.client(ctx)
	if p.Config != nil && p.Config.Blocking != nil && *p.Config.Blocking {
		for ev, err := range c.Events(ctx, id, 0) {
			if err != nil {
				return nil, apiError(err)
			}
			if ev.Type == "run_finished" || ev.Type == "approval_requested" {
				break
			}
		}
	}
	return h.task(ctx, id, historyOf(p.Config))
}

func historyOf(c *a2a.MessageSendConfig) *int {
	if c == nil {
		return nil
	}
	return c.HistoryLength
}

func (h *handler) OnSendMessageStream(ctx context.Context, p *a2a.MessageSendParams) iter.Seq2[a2a.Event, error] {
	return func(yield func(a2a.Event, error) bool) {
		id, err := h.submit(ctx, p)
		if err != nil {
			yield(nil, err)
			return
		}
		h.follow(ctx, id, yield)
	}
}

func (h *handler) OnResubscribeToTask(ctx context.Context, p *a2a.TaskIDParams) iter.Seq2[a2a.Event, error] {
	return func(yield func(a2a.Event, error) bool) {
		h.follow(ctx, string(p.ID), yield)
	}
}

func (h *handler) OnGetTask(ctx context.Context, q *a2a.TaskQueryParams) (*a2a.Task, error) {
	return h.task(ctx, string(q.ID), q.HistoryLength)
}

func (h *handler) OnCancelTask(ctx context.Context, p *a2a.TaskIDParams) (*a2a.Task, error) {
	c := h.client(ctx)
	if err := c.Cancel(ctx, string(p.ID)); err != nil {
		if apiclient.StatusOf(err) == http.StatusConflict {
			return nil, fmt.Errorf("%w: %v", a2a.ErrTaskNotCancelable, err)
		}
		return nil, apiError(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		t, err := h.task(ctx, string(p.ID), nil)
		if err != nil || t.Status.State.Terminal() || time.Now().After(deadline) {
			return t, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *handler) OnGetTaskPushConfig(context.Context, *a2a.GetTaskPushConfigParams) (*a2a.TaskPushConfig, error) {
	return nil, a2a.ErrPushNotificationNotSupported
}

func (h *handler) OnListTaskPushConfig(context.Context, *a2a.ListTaskPushConfigParams) ([]*a2a.TaskPushConfig, error) {
	return nil, a2a.ErrPushNotificationNotSupported
}

func (h *handler) OnSetTaskPushConfig(context.Context, *a2a.TaskPushConfig) (*a2a.TaskPushConfig, error) {
	return nil, a2a.ErrPushNotificationNotSupported
}

func (h *handler) OnDeleteTaskPushConfig(context.Context, *a2a.DeleteTaskPushConfigParams) error {
	return a2a.ErrPushNotificationNotSupported
}

func (h *handler) OnGetExtendedAgentCard(context.Context) (*a2a.AgentCard, error) {
	return nil, a2a.ErrAuthenticatedExtendedCardNotConfigured
}

// apiError is an API error as an A2A error: the API's code and message in
// the JSON-RPC error's data, under the closest A2A code.
func apiError(err error) error {
	var ae *apiclient.Error
	if !errors.As(err, &ae) {
		return err
	}
	base := a2a.ErrServerError
	switch {
	case ae.Status == http.StatusNotFound:
		base = a2a.ErrTaskNotFound
	case ae.Status == http.StatusBadRequest || ae.Status == http.StatusUnprocessableEntity:
		base = a2a.ErrInvalidParams
	case ae.Status == http.StatusForbidden || ae.Status == http.StatusConflict:
		base = a2a.ErrInvalidRequest
	}
	return fmt.Errorf("%w: %s: %s", base, ae.Code, ae.Message)
}

// stateOf is a run's status as a task state.
func stateOf(st store.Status) a2a.TaskState {
	switch st {
	case store.StatusQueued:
		return a2a.TaskStateSubmitted
	case store.StatusRunning:
		return a2a.TaskStateWorking
	case store.StatusAwaitingApproval:
		return a2a.TaskStateInputRequired
	case store.StatusFailed, store.StatusExpired:
		return a2a.TaskStateFailed
	case store.StatusCancelled:
		return a2a.TaskStateCanceled
	case store.StatusRejected:
		return a2a.TaskStateRejected
	}
	return a2a.TaskStateCompleted
}
