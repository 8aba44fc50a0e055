// Package agui serves a newsroom run as an AG-UI 1.0 event stream, for front
// ends built on AG-UI clients (@ag-ui/client's HttpAgent): the client POSTs a
// RunAgentInput, the answer is Server-Sent Events of AG-UI events.
//
// It is an adapter over the REST API (package apiclient) with the caller's
// credentials: the last user message is the task, forwardedProps may name
// the desk, sources and approval, or a newsroom run to follow
// (forwardedProps.run_id). Each agent turn is a text message (start, content
// per streamed delta, end), each tool call its start/args/end/result, the
// run's status, cost and sources a state snapshot after every message. A run
// that waits for an editor-in-chief finishes with an interrupt; a resume
// entry answering it carries that person's decision ({"decision": "approve"
// | "revise" | "reject", "note"}), which newsroom accepts only from a key
// with the role.
package agui

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/apiclient"
	"github.com/newsroom-dev/newsroom/server"
)

// Input is AG-UI's RunAgentInput, the fields newsroom reads.
type Input struct {
	ThreadID       string          `json:"threadId"`
	RunID          string          `json:"runId"`
	Messages       []InputMessage  `json:"messages"`
	ForwardedProps *ForwardedProps `json:"forwardedProps,omitempty"`
	Resume         []ResumeEntry   `json:"resume,omitempty"`
}

// InputMessage is a message of the conversation the client holds.
type InputMessage struct {
	ID      string          `json:"id"`
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// ForwardedProps are newsroom's own run options.
type ForwardedProps struct {
	Desk     string   `json:"desk,omitempty"`
	Sources  []string `json:"sources,omitempty"`
	Approval string   `json:"approval,omitempty"`
	// RunID follows an existing newsroom run instead of starting one.
	RunID string `json:"run_id,omitempty"`
}

// ResumeEntry answers an interrupt of an earlier run.
type ResumeEntry struct {
	InterruptID string          `json:"interruptId"`
	Status      string          `json:"status"`
	Payload     json.RawMessage `json:"payload,omitempty"`
}

// Handler serves POST requests of RunAgentInput with api, each call
// carrying the request's Authorization header.
func Handler(api *apiclient.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "AG-UI runs are started with POST")
			return
		}
		var in Input
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		if err := dec.Decode(&in); err != nil {
			writeError(w, http.StatusBadRequest, "bad_json", "the body is not a RunAgentInput: "+shorten(err.Error()))
			return
		}
		c := api.WithAuthorization(r.Header.Get("Authorization"))
		id, decided, err := start(r.Context(), c, in)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		st := &stream{w: w, flush: flusher(w), thread: cmp.Or(in.ThreadID, id), run: cmp.Or(in.RunID, id), runID: id,
			decisions: decided, quiet: len(in.Resume) > 0 && decided > 0}
		st.serve(r.Context(), c)
		if r.Context().Err() != nil && (in.ForwardedProps == nil || in.ForwardedProps.RunID == "") && !st.ended {
			// The client aborted the AG-UI run it started (HttpAgent.abortRun):
			// the newsroom run stops too. Following an existing run never
			// cancels it.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
			defer cancel()
			_ = c.Cancel(cctx, id)
		}
	})
}

// start returns the newsroom run the input names, resumes or starts, and
// how many decisions it has had (the stream replays the run's history: an
// approval already decided is not the interrupt that ends this AG-UI run).
func start(ctx context.Context, c *apiclient.Client, in Input) (string, int, error) {
	fp := in.ForwardedProps
	if fp == nil {
		fp = &ForwardedProps{}
	}
	if fp.RunID != "" {
		for _, res := range in.Resume {
			if err := resume(ctx, c, fp.RunID, res); err != nil {
				return "", 0, err
			}
		}
		v, err := c.Run(ctx, fp.RunID)
		if err != nil {
			return "", 0, err
		}
		n := 0
		if v.Approval != nil {
			n = len(v.Approval.Decisions)
		}
		return fp.RunID, n, nil
	}
	task := lastUserText(in.Messages)
	if task == "" {
		return "", 0, &apiclient.Error{Status: http.StatusBadRequest, Code: "empty_task", Message: "no user message with the task"}
	}
	v, err := c.CreateRun(ctx, server.CreateRunRequest{Task: task, Team: fp.Desk, Sources: fp.Sources, Approval: fp.Approval}, "")
	if err != nil {
		return "", 0, err
	}
	return v.ID, 0, nil
}

func resume(ctx context.Context, c *apiclient.Client, runID string, res ResumeEntry) error {
	if res.InterruptID != interruptID(runID) {
		return &apiclient.Error{Status: http.StatusBadRequest, Code: "unknown_interrupt", Message: "resume answers no interrupt of this run"}
	}
	if res.Status == "cancelled" {
		return nil // the client abandoned it: the run waits on for newsroom's editors
	}
	var d server.DecisionRequest
	if err := json.Unmarshal(res.Payload, &d); err != nil || d.Decision == "" {
		return &apiclient.Error{Status: http.StatusBadRequest, Code: "bad_decision", Message: `the resume payload is {"decision": "approve"|"revise"|"reject", "note": "..."}`}
	}
	_, err := c.Decide(ctx, runID, d)
	return err
}

// lastUserText is the text of the last user message.
func lastUserText(msgs []InputMessage) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role != "user" {
			continue
		}
		var s string
		if json.Unmarshal(msgs[i].Content, &s) == nil {
			return strings.TrimSpace(s)
		}
		var parts []struct {
			Type, Text string
		}
		if json.Unmarshal(msgs[i].Content, &parts) == nil {
			var b strings.Builder
			for _, p := range parts {
				if p.Type == "text" {
					b.WriteString(p.Text)
				}
			}
			return strings.TrimSpace(b.String())
		}
	}
	return ""
}

func interruptID(runID string) string { return "approval:" + runID }

func flusher(w http.ResponseWriter) func() {
	if f, ok := w.(http.Flusher); ok {
		return f.Flush
	}
	return func() {}
}

func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// writeAPIError answers with the API's own status, code and message.
func writeAPIError(w http.ResponseWriter, err error) {
	var ae *apiclient.Error
	if !errors.As(err, &ae) {
		writeError(w, http.StatusBadGateway, "internal", "the run could not be started")
		return
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(ae.RetryAfter/time.Second)))
	}
	writeError(w, ae.Status, ae.Code, ae.Message)
}
