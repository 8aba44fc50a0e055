// Package preflight refuses, before the first model call, work that can
// never succeed: a prompt longer than the model's context window, or one
// larger than the deployment's whole per-minute token quota (the quota
// limiter could never admit it). Both the CLI and the service call Check,
// so a long brief fails at once with the token count and the limit instead
// of minutes later with a quota or context_length_exceeded error.
package preflight

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/tokenizer"
)

// ErrTooLarge is matched (errors.Is) by every error of Check.
var ErrTooLarge = errors.New("preflight: the prompt can never fit")

// Limits are what a model call must fit in.
type Limits struct {
	// Model is the model name, for its tokenizer and its known context
	// window (an Azure deployment name that names a model also works).
	Model string
	// ContextWindow is the most prompt tokens the model takes; zero means
	// the model family's known window (ContextWindow), and no check when
	// the family is unknown.
	ContextWindow int
	// TokensPerMinute is the deployment's token quota; zero means no check.
	TokensPerMinute int
}

// Limit names which limit a prompt exceeds.
type Limit string

// The limits Check enforces.
const (
	LimitContextWindow Limit = "context_window"
	LimitTokensPerMin  Limit = "tokens_per_minute"
)

// Error says which limit a prompt exceeds and by how much.
type Error struct {
	Limit Limit
	// Tokens is the prompt's size; Max the limit, both in tokens.
	Tokens, Max int
	Model       string
}

func (e *Error) Error() string {
	switch e.Limit {
	case LimitContextWindow:
		return fmt.Sprintf("the task is %s tokens, more than the context window of %s (%s tokens): shorten it",
			thousands(e.Tokens), e.Model, thousands(e.Max))
	default:
		return fmt.Sprintf("the task is %s tokens, more than the deployment's whole quota of %s tokens per minute, "+
			"so no call with it can ever be admitted: shorten it or raise the quota (--tpm)", thousands(e.Tokens), thousands(e.Max))
	}
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *Error) Is(target error) bool { return target == ErrTooLarge }

// Check counts the prompt of the smallest call a run can make (msgs: at
// least the task as a user message; every call of a run carries it) with
// the model's tokenizer and returns an *Error when it exceeds a limit.
func Check(msgs []model.Message, l Limits) error {
	window := l.ContextWindow
	if window <= 0 {
		window = ContextWindow(l.Model)
	}
	if window <= 0 && l.TokensPerMinute <= 0 {
		return nil
	}
	tok, err := tokenizer.ForModel(l.Model)
	if err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	n := model.PromptTokens(tok.Count, msgs)
	switch {
	case window > 0 && n > window:
		return &Error{Limit: LimitContextWindow, Tokens: n, Max: window, Model: cmp.Or(l.Model, "the model")}
	case l.TokensPerMinute > 0 && n > l.TokensPerMinute:
		return &Error{Limit: LimitTokensPerMin, Tokens: n, Max: l.TokensPerMinute, Model: l.Model}
	}
	return nil
}

// CheckTask is Check for a run's task: the smallest call carries at least
// the task as a user message.
func CheckTask(task string, l Limits) error {
	return Check([]model.Message{{Role: model.RoleUser, Content: task}}, l)
}

// windows are the known prompt limits of model families, longest prefix
// first, from the providers' model documentation. The gpt-5 family takes
// 400,000 tokens in all, of which at most 272,000 of input.
var windows = []struct {
	prefix string
	tokens int
}{
	{"gpt-5", 272000},
	{"gpt-4.1", 1047576},
	{"gpt-4.5", 128000},
	{"gpt-4o", 128000},
	{"gpt-4-turbo", 128000},
	{"gpt-4-1106", 128000},
	{"gpt-4-0125", 128000},
	{"gpt-4-32k", 32768},
	{"gpt-4", 8192},
	{"gpt-35-turbo-16k", 16384},
	{"gpt-3.5-turbo-16k", 16384},
	{"gpt-35-turbo", 16385},
	{"gpt-3.5-turbo", 16385},
	{"o1-mini", 128000},
	{"o1-preview", 128000},
	{"o1", 200000},
	{"o3", 200000},
	{"o4-mini", 200000},
}

// ContextWindow returns the known context window of a model family, in
// tokens, or 0 when the name is not known.
func ContextWindow(modelName string) int {
	n := strings.ToLower(strings.TrimSpace(modelName))
	for _, w := range windows {
		if strings.HasPrefix(n, w.prefix) {
			return w.tokens
		}
	}
	return 0
}

// thousands writes n with comma separators: 128,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
