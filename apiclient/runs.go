package apiclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/store"
)

// CreateRun submits a run (POST /v1/runs); idemKey, when not empty, is its
// Idempotency-Key.
func (c *Client) CreateRun(ctx context.Context, req server.CreateRunRequest, idemKey string) (*server.RunView, error) {
	var h http.Header
	if idemKey != "" {
		h = http.Header{"Idempotency-Key": {idemKey}}
	}
	resp, err := c.send(ctx, http.MethodPost, "/v1/runs", req, h)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v server.RunView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Run is GET /v1/runs/{id}: the run with its messages, sources and grounding.
func (c *Client) Run(ctx context.Context, id string) (*server.RunView, error) {
	var v server.RunView
	if err := c.Call(ctx, http.MethodGet, "/v1/runs/"+url.PathEscape(id), nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Cancel is POST /v1/runs/{id}/cancel.
func (c *Client) Cancel(ctx context.Context, id string) error {
	return c.Call(ctx, http.MethodPost, "/v1/runs/"+url.PathEscape(id)+"/cancel", struct{}{}, nil)
}

// Decide is POST /v1/runs/{id}/decision (approve, revise with a note, reject).
func (c *Client) Decide(ctx context.Context, id string, d server.DecisionRequest) (*server.RunView, error) {
	var v server.RunView
	if err := c.Call(ctx, http.MethodPost, "/v1/runs/"+url.PathEscape(id)+"/decision", d, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Teams is GET /v1/teams: the desks the service runs.
func (c *Client) Teams(ctx context.Context) ([]server.TeamInfo, error) {
	var out struct {
		Teams []server.TeamInfo `json:"teams"`
	}
	if err := c.Call(ctx, http.MethodGet, "/v1/teams", nil, &out); err != nil {
		return nil, err
	}
	return out.Teams, nil
}

// Me is GET /v1/me: who the credentials are and their role.
func (c *Client) Me(ctx context.Context) (*store.Key, error) {
	var k store.Key
	if err := c.Call(ctx, http.MethodGet, "/v1/me", nil, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// Finished reports whether a run in status st will change no more without
// a person (it ended, or it waits for an editor-in-chief).
func Finished(st store.Status) bool {
	switch st {
	case store.StatusQueued, store.StatusRunning:
		return false
	}
	return true
}
