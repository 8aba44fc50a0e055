// Package mcpserver serves newsroom as a Model Context Protocol server: an
// assistant (Claude, Copilot, an IDE) or another agent commissions a story
// with the write_article tool and reads runs, desks and articles.
//
// Every tool is an adapter over the REST API (package apiclient): a call is
// an API request carrying the caller's own credentials, so roles, limits,
// validation and error codes are the API's. Over stdio (newsroom mcp) the
// credentials are the local user's; over streamable HTTP (serve's /mcp) they
// are the Authorization header of the MCP request.
package mcpserver

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/newsroom-dev/newsroom/apiclient"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/store"
)

// Config configures a server.
type Config struct {
	// API is the service the tools call. Over HTTP each call uses a copy
	// carrying the request's Authorization header.
	API *apiclient.Client
	// Version is newsroom's version, reported in the initialize answer.
	Version string
	// DefaultApproval is write_article's approval when the caller names
	// none: "none" over stdio (the local user runs it), empty (the
	// service's default) over HTTP.
	DefaultApproval string
	// PerRequestAuth takes each call's credentials from the HTTP request's
	// Authorization header instead of API's own.
	PerRequestAuth bool
}

// New is the MCP server with newsroom's tools and article resources.
func New(cfg Config) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "newsroom", Title: "newsroom news desk", Version: cmp.Or(cfg.Version, "dev")},
		&mcp.ServerOptions{Instructions: "Commission a news article from a newsroom desk with write_article " +
			"(a task with the facts, optional source URLs). The article may wait for an editor-in-chief's approval; " +
			"follow it with get_run. Published articles are listed by list_articles and are resources newsroom://articles/{id}."})
	t := &tools{cfg: cfg}
	t.register(s)
	return s
}

type tools struct{ cfg Config }

// api is the client for one call: the request's credentials over HTTP.
func (t *tools) api(extra *mcp.RequestExtra) *apiclient.Client {
	if !t.cfg.PerRequestAuth {
		return t.cfg.API
	}
	auth := ""
	if extra != nil && extra.Header != nil {
		auth = extra.Header.Get("Authorization")
	}
	return t.cfg.API.WithAuthorization(auth)
}

func ptr[T any](v T) *T { return &v }

func (t *tools) register(s *mcp.Server) {
	mcp.AddTool(s, &mcp.Tool{
		Name:  "write_article",
		Title: "Write a news article",
		Description: "Starts a newsroom run: the desk's agents write and edit an article from the task and sources. " +
			"Reports progress until the article is done, or until it waits for an editor-in-chief's approval " +
			"(then it returns the run's id and state: follow it with get_run).",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: false, DestructiveHint: ptr(false), IdempotentHint: false, OpenWorldHint: ptr(true)},
	}, t.writeArticle)
	mcp.AddTool(s, &mcp.Tool{
		Name:        "get_run",
		Title:       "Get a run",
		Description: "A run's state, its article when it has one, its sources and grounding check, and its approval.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(false)},
	}, t.getRun)
	mcp.AddTool(s, &mcp.Tool{
		Name:        "list_desks",
		Title:       "List desks",
		Description: "The desks (agent teams) this newsroom runs, with their agents.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(false)},
	}, t.listDesks)
	t.registerArticles(s)
}

// WriteArticleInput is write_article's arguments.
type WriteArticleInput struct {
	Task     string   `json:"task" jsonschema:"the assignment: the facts to report, or the topic and what to find out"`
	Desk     string   `json:"desk,omitempty" jsonschema:"the desk (see list_desks); empty for the service's default"`
	Sources  []string `json:"sources,omitempty" jsonschema:"at most 5 http(s) URLs the desk reads before writing"`
	Approval string   `json:"approval,omitempty" jsonschema:"required (an editor-in-chief decides before it is done) or none"`
}

// RunOutput is a run as the tools return it.
type RunOutput struct {
	RunID      string                `json:"run_id"`
	Status     string                `json:"status"`
	Desk       string                `json:"desk"`
	StopReason string                `json:"stop_reason,omitempty"`
	Error      string                `json:"error,omitempty"`
	Article    string                `json:"article,omitempty"`
	Sources    []SourceOutput        `json:"sources,omitempty"`
	Grounding  *GroundingOutput      `json:"grounding,omitempty"`
	Approval   *ApprovalOutput       `json:"approval,omitempty"`
	Messages   int                   `json:"messages"`
	CostUSD    float64               `json:"cost_usd"`
	Links      map[string]string     `json:"links,omitempty"`
	PerAgent   map[string]AgentUsage `json:"per_agent,omitempty"`
	Emulated   bool                  `json:"emulated,omitempty"`
	WaitingFor string                `json:"waiting_for,omitempty"`
}

// SourceOutput is a document the run read.
type SourceOutput struct {
	N     int    `json:"n"`
	URL   string `json:"url"`
	Title string `json:"title,omitempty"`
}

// GroundingOutput is the grounding check of the article.
type GroundingOutput struct {
	// Checked is how many claims were checked against the sources.
	Checked     int      `json:"checked"`
	Unsupported []string `json:"unsupported,omitempty"`
	Skipped     string   `json:"skipped,omitempty"`
}

// ApprovalOutput is a run's approval.
type ApprovalOutput struct {
	Required  bool `json:"required"`
	Decisions int  `json:"decisions"`
}

// AgentUsage is one agent's tokens.
type AgentUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

func outputOf(v *server.RunView) RunOutput {
	out := RunOutput{RunID: v.ID, Status: string(v.Status), Desk: v.Team, StopReason: v.StopReason, Error: v.Error,
		Article: v.Article, Messages: len(v.Messages), CostUSD: v.Usage.CostUSD, Links: v.Links, Emulated: v.Emulated}
	for _, s := range v.Sources {
		out.Sources = append(out.Sources, SourceOutput{N: s.ID, URL: s.URL, Title: s.Title})
	}
	if g := v.Grounding; g != nil {
		out.Grounding = &GroundingOutput{Checked: g.Checked, Unsupported: g.Unsupported, Skipped: g.Skipped}
	}
	if a := v.Approval; a != nil {
		out.Approval = &ApprovalOutput{Required: a.Required, Decisions: len(a.Decisions)}
	}
	if v.Status == store.StatusAwaitingApproval {
		out.WaitingFor = "an editor-in-chief's decision (approve, revise or reject) through newsroom"
	}
	if len(v.PerAgent) > 0 {
		out.PerAgent = map[string]AgentUsage{}
		for name, u := range v.PerAgent {
			out.PerAgent[name] = AgentUsage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
		}
	}
	return out
}

func (t *tools) writeArticle(ctx context.Context, req *mcp.CallToolRequest, in WriteArticleInput) (*mcp.CallToolResult, RunOutput, error) {
	api := t.api(req.Extra)
	approval := cmp.Or(in.Approval, t.cfg.DefaultApproval)
	run, err := api.CreateRun(ctx, server.CreateRunRequest{Task: in.Task, Team: in.Desk, Sources: in.Sources, Approval: approval}, "")
	if err != nil {
		return nil, RunOutput{}, toolError(err)
	}
	p := progress{ctx: ctx, req: req}
	p.say(fmt.Sprintf("run %s %s on the %s desk", run.ID, run.Status, run.Team))
	if err := t.follow(ctx, api, run.ID, &p); err != nil {
		if ctx.Err() != nil {
			// The caller cancelled the request: the run it started stops too.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = api.Cancel(cctx, run.ID)
			return nil, RunOutput{}, ctx.Err()
		}
		return nil, RunOutput{}, toolError(err)
	}
	v, err := api.Run(ctx, run.ID)
	if err != nil {
		return nil, RunOutput{}, toolError(err)
	}
	out := outputOf(v)
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: summary(out)}}}, out, nil
}

// follow reads run id's events until it ends or pauses, telling the
// client who is working.
func (t *tools) follow(ctx context.Context, api *apiclient.Client, id string, p *progress) error {
	for ev, err := range api.Events(ctx, id, 0) {
		if err != nil {
			return err
		}
		switch ev.Type {
		case "speaker_selected":
			p.say(speakerOf(ev.Data) + " is working")
		case "message":
			p.messages++
			p.say(fmt.Sprintf("%s wrote message %d", speakerOf(ev.Data), p.messages))
		case "approval_requested":
			// The stream stays open for the decision; the call ends here.
			p.say("waiting for an editor-in-chief's approval")
			return nil
		case "run_finished":
			p.say("run finished")
			return nil
		}
	}
	return ctx.Err()
}

// progress sends notifications/progress for a call that asked for them.
type progress struct {
	ctx      context.Context
	req      *mcp.CallToolRequest
	n        float64
	messages int
}

func (p *progress) say(msg string) {
	tok := p.req.Params.GetProgressToken()
	if tok == nil || p.req.Session == nil {
		return
	}
	p.n++
	_ = p.req.Session.NotifyProgress(p.ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: p.n, Message: msg})
}

func summary(o RunOutput) string {
	switch {
	case o.Status == string(store.StatusAwaitingApproval):
		return fmt.Sprintf("Run %s is waiting for an editor-in-chief's approval; follow it with get_run.", o.RunID)
	case o.Article != "":
		return o.Article
	case o.Error != "":
		return fmt.Sprintf("Run %s %s: %s", o.RunID, o.Status, o.Error)
	}
	return fmt.Sprintf("Run %s %s (%s).", o.RunID, o.Status, o.StopReason)
}

// GetRunInput is get_run's arguments.
type GetRunInput struct {
	RunID string `json:"run_id" jsonschema:"the run's id, as write_article returned it"`
}

func (t *tools) getRun(ctx context.Context, req *mcp.CallToolRequest, in GetRunInput) (*mcp.CallToolResult, RunOutput, error) {
	if strings.TrimSpace(in.RunID) == "" {
		return nil, RunOutput{}, errors.New("bad_request: run_id is empty")
	}
	v, err := t.api(req.Extra).Run(ctx, in.RunID)
	if err != nil {
		return nil, RunOutput{}, toolError(err)
	}
	out := outputOf(v)
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: summary(out)}}}, out, nil
}

// DesksOutput is list_desks' answer.
type DesksOutput struct {
	Desks []server.TeamInfo `json:"desks"`
}

func (t *tools) listDesks(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, DesksOutput, error) {
	desks, err := t.api(req.Extra).Teams(ctx)
	if err != nil {
		return nil, DesksOutput{}, toolError(err)
	}
	names := make([]string, len(desks))
	for i, d := range desks {
		names[i] = d.Name
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "Desks: " + strings.Join(names, ", ")}}},
		DesksOutput{Desks: desks}, nil
}

// toolError is an API error as the tool's error text: the API's code and
// message, so an MCP client sees what a REST client would.
func toolError(err error) error {
	var ae *apiclient.Error
	if errors.As(err, &ae) {
		msg := ae.Code + ": " + ae.Message
		if ae.RetryAfter > 0 {
			msg += fmt.Sprintf(" (retry after %d s)", int(ae.RetryAfter/time.Second))
		}
		return errors.New(msg)
	}
	return err
}

// HTTPHandler serves s over streamable HTTP, stateless (the 2026 protocol;
// older clients are answered at the version they ask for). Requests
// without valid credentials get 401 with the protected resource metadata's
// address (MCP's authorization flow) from api's /v1/me.
func HTTPHandler(s *mcp.Server, api *apiclient.Client, resourceMetadataURL func(*http.Request) string) http.Handler {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true, PropagateRequestCancellation: true})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if _, err := api.WithAuthorization(r.Header.Get("Authorization")).Me(r.Context()); err != nil {
				writeAuthError(w, r, err, resourceMetadataURL)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func writeAuthError(w http.ResponseWriter, r *http.Request, err error, metadata func(*http.Request) string) {
	var ae *apiclient.Error
	if !errors.As(err, &ae) {
		http.Error(w, `{"error":{"code":"internal","message":"authentication check failed"}}`, http.StatusInternalServerError)
		return
	}
	if ae.Status == http.StatusUnauthorized && metadata != nil {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer resource_metadata=%q`, metadata(r)))
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(ae.RetryAfter/time.Second)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ae.Status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`+"\n", ae.Code, ae.Message)
}

var errEmptyID = errors.New("bad_request: id is empty")

// speakerOf is the speaker of an event's JSON (speaker_selected, message).
func speakerOf(data []byte) string {
	var e struct {
		Speaker string `json:"speaker"`
		Message *struct {
			Source string `json:"source"`
		} `json:"message"`
	}
	_ = json.Unmarshal(data, &e)
	if e.Speaker == "" && e.Message != nil {
		e.Speaker = e.Message.Source
	}
	return cmp.Or(e.Speaker, "an agent")
}
