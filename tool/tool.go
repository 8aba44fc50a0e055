// Package tool defines the functions agents can call: the Tool interface an
// assistant agent runs when the model asks for it, a typed helper (Func) that
// derives a tool's JSON Schema from a Go struct, and the Source an
// information-gathering tool reports, so a run can cite what it read.
//
// Built-in tools (fetch_url, read_feed) live in package tool/web, tools of
// Model Context Protocol servers in tool/mcp; to an agent they all look the
// same.
package tool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/newsroom-dev/newsroom/model"
)

// Tool is a function a model can call through an agent. Implementations must
// be safe for concurrent use: an agent runs the calls of one answer in
// parallel.
type Tool interface {
	// Definition is what the model is told: name, description and the JSON
	// Schema of the arguments.
	Definition() model.Tool
	// Call runs the tool with the arguments the model wrote (a JSON object).
	// An error is reported to the model as the call's result; the run goes on.
	Call(ctx context.Context, args json.RawMessage) (Result, error)
}

// Acting is implemented by a tool that may say whether it acts on the world
// (writes, sends, deletes) rather than only reading: an MCP tool whose
// annotations say it is not read-only. A desk makes a call to an acting tool
// wait for a person's yes.
type Acting interface {
	Acts() bool
}

// Result is what a call returns.
type Result struct {
	// Content is the text the model sees (JSON for the built-in tools).
	Content string
	// Source, when set, is a document the call read; the run records it and
	// numbers it for citations.
	Source *Source
}

// Source is a document a run read: fetched by a tool or given before the
// run started.
type Source struct {
	// ID is the number the article cites it by ([1], [2], ...), assigned by
	// the run in the order documents arrive; 0 until then.
	ID    int    `json:"id"`
	URL   string `json:"url"`
	Title string `json:"title,omitempty"`
	// FetchedAt is when it was read.
	FetchedAt time.Time `json:"fetched_at"`
	// Hash is the hex SHA-256 of the text read.
	Hash string `json:"hash,omitempty"`
	// Links are the document's links as it had them (a page's a elements,
	// a feed's item links): a run may fetch them (see package untrusted).
	Links []string `json:"links,omitempty"`
	// Text is the readable text, kept so a grounding check can compare the
	// article against it. It is not part of the JSON of a source.
	Text string `json:"-"`
}

// NewSource returns a source for a document read now, with its content hash.
func NewSource(url, title, text string, at time.Time) *Source {
	sum := sha256.Sum256([]byte(text))
	return &Source{URL: url, Title: title, FetchedAt: at.UTC(), Hash: hex.EncodeToString(sum[:]), Text: text}
}

// ErrBadArguments is wrapped when a model's arguments do not fit a tool's schema.
var ErrBadArguments = errors.New("tool: bad arguments")

// Func is a Tool made of a typed Go function: the JSON Schema of its
// arguments is derived from A (struct fields with json tags; a
// `jsonschema:"..."` tag describes a field), and arguments are validated
// against it before fn is called.
type Func[A any] struct {
	def    model.Tool
	schema *jsonschema.Resolved
	fn     func(ctx context.Context, args A) (Result, error)
}

// NewFunc returns a tool named name that calls fn with the decoded
// arguments. It fails when A has no JSON Schema (channels, functions).
func NewFunc[A any](name, description string, fn func(ctx context.Context, args A) (Result, error)) (*Func[A], error) {
	s, err := jsonschema.For[A](nil)
	if err != nil {
		return nil, fmt.Errorf("tool %s: schema: %w", name, err)
	}
	resolved, err := s.Resolve(nil)
	if err != nil {
		return nil, fmt.Errorf("tool %s: schema: %w", name, err)
	}
	params, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("tool %s: schema: %w", name, err)
	}
	return &Func[A]{def: model.Tool{Name: name, Description: description, Parameters: params}, schema: resolved, fn: fn}, nil
}

// MustFunc is NewFunc for tools defined at start-up; it panics on error.
func MustFunc[A any](name, description string, fn func(ctx context.Context, args A) (Result, error)) *Func[A] {
	f, err := NewFunc(name, description, fn)
	if err != nil {
		panic(err)
	}
	return f
}

// Definition returns the tool's definition.
func (f *Func[A]) Definition() model.Tool { return f.def }

// Call validates and decodes the arguments and calls the function.
func (f *Func[A]) Call(ctx context.Context, raw json.RawMessage) (Result, error) {
	if len(raw) == 0 {
		raw = json.RawMessage(`{}`)
	}
	var instance any
	if err := json.Unmarshal(raw, &instance); err != nil {
		return Result{}, fmt.Errorf("%w: not JSON: %v", ErrBadArguments, err)
	}
	if err := f.schema.Validate(instance); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrBadArguments, err)
	}
	var args A
	if err := json.Unmarshal(raw, &args); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrBadArguments, err)
	}
	return f.fn(ctx, args)
}

var _ Tool = (*Func[struct{}])(nil)

// Definitions returns the definitions of tools, in order.
func Definitions(tools []Tool) []model.Tool {
	if len(tools) == 0 {
		return nil
	}
	out := make([]model.Tool, len(tools))
	for i, t := range tools {
		out[i] = t.Definition()
	}
	return out
}
