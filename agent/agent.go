// Package agent defines the participants of a newsroom team: the Agent
// interface, the messages agents exchange, and the Assistant, an agent that
// answers through a model.Client with a system prompt.
package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tool"
)

// SourceUser is the source of the task message.
const SourceUser = "user"

// Message is one message of a team conversation.
type Message struct {
	// Source is the agent name that wrote it, or SourceUser for the task.
	Source  string `json:"source"`
	Content string `json:"content"`
	// Usage is the model usage that produced the message (zero for the task).
	Usage model.Usage `json:"usage"`
	// Time is when the message was completed.
	Time time.Time `json:"time,omitzero"`
	// Cached is true when the message was answered from the response cache.
	Cached bool `json:"cached,omitempty"`
	// Deployment is the deployment that answered: the pool deployment when
	// a deployment pool chose it, else the deployment (or model) the agent
	// asked for; empty means the client's default.
	Deployment string `json:"deployment,omitempty"`
	// Model is the model the service says answered.
	Model string `json:"model,omitempty"`
	// Similarity is set when the similarity cache answered: how similar
	// the request was to the one whose answer was reused.
	Similarity float64 `json:"similarity,omitempty"`
	// ToolCalls are the tool calls the agent made while writing it, with
	// their results.
	ToolCalls []ToolExchange `json:"tool_calls,omitempty"`
}

// Agent is a participant of a team.
type Agent interface {
	// Name is unique within a team; teams and the selector address agents by it.
	Name() string
	// Description tells the selector what the agent does.
	Description() string
	// Run answers the conversation of turn (the task first) and yields what
	// the turn does as it happens: text deltas (when turn.Stream is set),
	// tool calls and their results, and last the message (its usage in it).
	// A failed turn yields the error instead of the message; a consumer
	// that stops early cancels the turn.
	Run(ctx context.Context, turn Turn) iter.Seq2[Event, error]
}

// Errors returned by this package.
var (
	ErrNoName   = errors.New("agent: name is required")
	ErrBadName  = errors.New("agent: name must be letters, digits, '_' or '-', at most 64 characters")
	ErrNoClient = errors.New("agent: model client is required")
	// ErrTools is wrapped when an agent's tools cannot all be offered to a
	// model: two with one name, or more than MaxTools.
	ErrTools = errors.New("agent: bad tools")
)

// MaxTools is the most tools one request may carry (Azure OpenAI's and
// OpenAI's limit on functions per chat completion); an agent with more
// would fail on its first call.
const MaxTools = 128

// Config configures an Assistant.
type Config struct {
	// Name of the agent: letters, digits, '_' and '-' (the protocol's name rule).
	Name string
	// Description for the selector; empty means no description.
	Description string
	// SystemPrompt is sent first on every call; empty means none.
	SystemPrompt string
	// Client answers the calls. Required.
	Client model.Client
	// Model is the deployment or model name; empty means the client's default.
	Model string
	// MaxTokens caps each reply; 0 means the service default.
	MaxTokens int
	// Temperature; nil means the service default. A reasoning deployment
	// never gets it (see package model/profile).
	Temperature *float64
	// ReasoningEffort and Verbosity are the reasoning_effort and verbosity
	// of a reasoning deployment; empty means the model's default. Other
	// deployments never get them.
	ReasoningEffort string
	Verbosity       string
	// MaxOutputTokens bounds the larger cap an empty answer is retried with
	// (the model's largest output); 0 means twice MaxTokens, unbounded.
	MaxOutputTokens int
	// Context chooses the part of the conversation sent on each call; the
	// zero value sends all of it.
	Context ContextPolicy
	// Output, when set, asks for a structured answer: JSON valid against
	// its schema, as the message's Content (see OutputFormat and
	// ParseOutput). Nil means text.
	Output *model.ResponseFormat

	// Tools the agent may call; none means a plain model call per reply.
	Tools []tool.Tool
	// MaxToolRounds caps the model-call/tool-run rounds of one reply; past
	// it the model must answer with text. 0 means DefaultMaxToolRounds.
	MaxToolRounds int
	// ReflectOnToolUse makes the agent run one round of tools and then
	// reflect on their results with one more model call that must answer
	// with text (AutoGen's reflect_on_tool_use).
	ReflectOnToolUse bool
	// ToolTimeout bounds each tool call; 0 means DefaultToolTimeout.
	ToolTimeout time.Duration
	// MaxToolResult bounds the bytes of one result; 0 means DefaultMaxToolResult.
	MaxToolResult int
	// MaxToolCalls bounds the calls of one answer that run; the calls past
	// it get an error result asking the model to ask again. 0 means
	// DefaultMaxToolCalls.
	MaxToolCalls int
	// Logger receives a WARN line for every failed tool call; nil means slog.Default().
	Logger *slog.Logger
}

// Assistant is an Agent backed by a model.
type Assistant struct {
	cfg Config
}

var _ Agent = (*Assistant)(nil)

// NewAssistant returns an Assistant, or an error when the configuration is incomplete.
func NewAssistant(cfg Config) (*Assistant, error) {
	if cfg.Name == "" {
		return nil, ErrNoName
	}
	if !ValidName(cfg.Name) {
		return nil, fmt.Errorf("%w: %q", ErrBadName, cfg.Name)
	}
	if cfg.Client == nil {
		return nil, fmt.Errorf("%w (agent %s)", ErrNoClient, cfg.Name)
	}
	if err := cfg.Context.Validate(); err != nil {
		return nil, fmt.Errorf("%w (agent %s)", err, cfg.Name)
	}
	if len(cfg.Tools) > MaxTools {
		return nil, fmt.Errorf("%w: agent %s has %d tools; a request may carry at most %d", ErrTools, cfg.Name, len(cfg.Tools), MaxTools)
	}
	seen := make(map[string]bool, len(cfg.Tools))
	for _, t := range cfg.Tools {
		n := t.Definition().Name
		if seen[n] {
			return nil, fmt.Errorf("%w: agent %s has two tools named %q", ErrTools, cfg.Name, n)
		}
		seen[n] = true
	}
	return &Assistant{cfg: cfg}, nil
}

// ValidName reports whether name can be sent as a chat message name.
func ValidName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		ok := r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// Name returns the agent's name.
func (a *Assistant) Name() string { return a.cfg.Name }

// Description returns the agent's description.
func (a *Assistant) Description() string { return a.cfg.Description }

// SystemPrompt returns the agent's system prompt.
func (a *Assistant) SystemPrompt() string { return a.cfg.SystemPrompt }

// Model returns the deployment or model the agent asks for; empty means the
// client's default.
func (a *Assistant) Model() string { return a.cfg.Model }

// Run asks the model for the agent's next message (see Agent.Run).
func (a *Assistant) Run(ctx context.Context, turn Turn) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		t := &turnRun{a: a, turn: turn, yield: yield, cancel: cancel}
		msg, err := t.reply(ctx)
		if t.stopped {
			return
		}
		if err != nil {
			yield(Event{}, fmt.Errorf("agent %s: %w", a.cfg.Name, err))
			return
		}
		yield(Event{Type: EventMessage, Message: &msg}, nil)
	}
}

// turnRun is one turn of an Assistant: the request it makes and the stream
// it yields to.
type turnRun struct {
	a       *Assistant
	turn    Turn
	yield   func(Event, error) bool
	cancel  context.CancelFunc
	stopped bool
}

// emit yields e unless the consumer has stopped; a consumer that stops
// cancels the turn's calls.
func (t *turnRun) emit(e Event) bool {
	if t.stopped {
		return false
	}
	if !t.yield(e, nil) {
		t.stopped = true
		t.cancel()
	}
	return !t.stopped
}

func (t *turnRun) reply(ctx context.Context) (Message, error) {
	a := t.a
	req := &model.Request{
		Model:           a.cfg.Model,
		Messages:        a.Prompt(t.turn.History),
		MaxTokens:       a.cfg.MaxTokens,
		Temperature:     a.cfg.Temperature,
		ReasoningEffort: a.cfg.ReasoningEffort,
		Verbosity:       a.cfg.Verbosity,
		Meta:            model.Meta{Agent: a.cfg.Name, Purpose: model.PurposeReply},
	}
	req.ResponseFormat = a.cfg.Output // nil for text
	if t.turn.Stream {
		req.OnDelta = func(d model.Delta) { t.emit(Event{Type: EventDelta, Delta: d}) }
	}
	if m, ok := model.MetaFrom(ctx); ok {
		req.Meta.RunID = m.RunID
	}
	if len(a.cfg.Tools) > 0 {
		resp, exchanges, usage, err := t.replyWithTools(ctx, req)
		if err != nil {
			return Message{}, err
		}
		return Message{Source: a.cfg.Name, Content: strings.TrimSpace(resp.Content), Usage: usage, Time: time.Now(),
			Cached: resp.Cached, ToolCalls: exchanges, Deployment: cmp.Or(resp.Deployment, a.cfg.Model), Model: resp.Model}, nil
	}
	resp, err := a.complete(ctx, req)
	if err != nil {
		return Message{}, err
	}
	return Message{
		Source:     a.cfg.Name,
		Content:    strings.TrimSpace(resp.Content),
		Usage:      resp.Usage,
		Time:       time.Now(),
		Cached:     resp.Cached,
		Deployment: cmp.Or(resp.Deployment, a.cfg.Model),
		Model:      resp.Model,
		Similarity: resp.Similarity,
	}, nil
}

// Tools returns the agent's tools.
func (a *Assistant) Tools() []tool.Tool { return a.cfg.Tools }

// Prompt builds the chat messages the agent sends for a history: its system
// prompt, the task as a user message, other agents' messages as user messages
// carrying their name, and its own earlier messages as assistant messages,
// in conversation order (so every call's prompt extends the previous one and
// the service's prompt cache applies), after the context policy chose them.
func (a *Assistant) Prompt(history []Message) []model.Message {
	history = a.cfg.Context.Apply(history)
	msgs := make([]model.Message, 0, len(history)+1)
	if a.cfg.SystemPrompt != "" {
		msgs = append(msgs, model.Message{Role: model.RoleSystem, Content: a.cfg.SystemPrompt})
	}
	for _, m := range history {
		switch {
		case m.Source == a.cfg.Name:
			msgs = appendOwn(msgs, m)
		case ValidName(m.Source):
			msgs = append(msgs, model.Message{Role: model.RoleUser, Name: m.Source, Content: m.Content})
		default:
			msgs = append(msgs, model.Message{Role: model.RoleUser, Content: m.Content})
		}
	}
	return msgs
}
