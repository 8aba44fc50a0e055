// Package profile knows what each model family behind an Azure OpenAI
// deployment accepts: whether it is a reasoning model (it takes
// max_completion_tokens, reasoning_effort and, for GPT-5, verbosity, and
// refuses max_tokens, temperature, top_p and the other sampling
// parameters), which reasoning efforts it has, and its context window and
// largest output.
//
// An Azure deployment's name says nothing certain about its model, so the
// profile of a deployment comes from configuration where the user knows the
// model (the deployments file's model:, AZURE_OPENAI_MODEL), else from the
// deployment's name, else from the model field of its first answer (see
// Set). Prices stay in package model/cost, keyed by the same model names.
package profile

import (
	"slices"
	"strings"
)

// Reasoning efforts, cheapest first. Not every reasoning model has every
// one: GPT-5 has minimal but not none, GPT-5.1 none but not minimal, o3 and
// o4-mini only low, medium and high.
const (
	EffortNone    = "none"
	EffortMinimal = "minimal"
	EffortLow     = "low"
	EffortMedium  = "medium"
	EffortHigh    = "high"
)

// Verbosity values (GPT-5 family).
const (
	VerbosityLow    = "low"
	VerbosityMedium = "medium"
	VerbosityHigh   = "high"
)

// Parameters of a chat completions request that some models refuse.
const (
	ParamMaxTokens           = "max_tokens"
	ParamMaxCompletionTokens = "max_completion_tokens"
	ParamTemperature         = "temperature"
	ParamTopP                = "top_p"
	ParamPresencePenalty     = "presence_penalty"
	ParamFrequencyPenalty    = "frequency_penalty"
	ParamLogprobs            = "logprobs"
	ParamLogitBias           = "logit_bias"
	ParamReasoningEffort     = "reasoning_effort"
	ParamVerbosity           = "verbosity"
	ParamStop                = "stop"
	ParamSeed                = "seed"
)

// MinMaxCompletionAPIVersion is the first dated Azure OpenAI api-version
// that takes max_completion_tokens, so the first a reasoning deployment can
// be called with (the v1 API takes it too).
const MinMaxCompletionAPIVersion = "2024-09-01-preview"

// SamplingParams are the parameters reasoning models refuse.
var samplingParams = []string{ParamMaxTokens, ParamTemperature, ParamTopP, ParamPresencePenalty,
	ParamFrequencyPenalty, ParamLogprobs, ParamLogitBias}

// SamplingParams returns the parameters reasoning deployments never get:
// max_tokens and the sampling parameters.
func SamplingParams() []string { return slices.Clone(samplingParams) }

// Profile describes a model family.
type Profile struct {
	// Name is the table entry that matched ("gpt-5-mini"), empty for an
	// unknown model.
	Name string
	// Reasoning models take max_completion_tokens (which also holds their
	// hidden reasoning tokens) and reasoning_effort, and refuse max_tokens
	// and the sampling parameters.
	Reasoning bool
	// Efforts are the reasoning_effort values the model takes, cheapest
	// first; empty for a model without reasoning_effort.
	Efforts []string
	// DefaultEffort is the effort the service uses when a request names none.
	DefaultEffort string
	// Verbosity is true when the model takes verbosity (GPT-5 family).
	Verbosity bool
	// ContextWindow is the most prompt tokens the model takes; MaxOutput
	// the most completion tokens (reasoning included).
	ContextWindow, MaxOutput int
}

// Known reports whether the profile comes from the table.
func (p Profile) Known() bool { return p.Name != "" }

// Accepts reports whether the model takes a parameter. An unknown model is
// assumed to take what a GPT-4o deployment takes (no reasoning_effort, no
// verbosity: most deployments refuse them); Set adapts it when the service
// says otherwise, and the model its first answer names replaces it.
func (p Profile) Accepts(param string) bool {
	switch param {
	case ParamReasoningEffort:
		return len(p.Efforts) > 0
	case ParamVerbosity:
		return p.Verbosity
	case ParamMaxCompletionTokens:
		return true
	}
	if p.Reasoning {
		return !slices.Contains(samplingParams, param)
	}
	return true
}

// AcceptsEffort reports whether the model takes reasoning_effort e. An
// unknown model is given the benefit of the doubt.
func (p Profile) AcceptsEffort(e string) bool {
	if !p.Known() {
		return slices.Contains([]string{EffortNone, EffortMinimal, EffortLow, EffortMedium, EffortHigh}, e)
	}
	return slices.Contains(p.Efforts, e)
}

// Lower returns the next cheaper effort the model has than e ("" when e is
// already the cheapest or unknown).
func (p Profile) Lower(e string) string {
	e = Effective(p, e)
	i := slices.Index(p.Efforts, e)
	if i <= 0 {
		return ""
	}
	return p.Efforts[i-1]
}

// Effective is the effort a call runs at: e, or the model's default.
func Effective(p Profile, e string) string {
	if e != "" {
		return e
	}
	return p.DefaultEffort
}

// ValidVerbosity reports whether v is a verbosity value.
func ValidVerbosity(v string) bool {
	return v == VerbosityLow || v == VerbosityMedium || v == VerbosityHigh
}

// Table is a set of profiles by model name. A name matches a model when it
// is the model itself or a prefix of it followed by "-" ("gpt-5-mini"
// matches "gpt-5-mini-2025-08-07"); the longest match wins, so "gpt-5-chat"
// is not "gpt-5". Matching ignores case. A Table is immutable.
type Table struct {
	profiles map[string]Profile
}

// Default returns the built-in table.
func Default() *Table { return NewTable(builtin()) }

// NewTable returns a table of exactly these profiles, by model name.
func NewTable(profiles map[string]Profile) *Table {
	t := &Table{profiles: make(map[string]Profile, len(profiles))}
	for name, p := range profiles {
		name = strings.ToLower(name)
		p.Name = name
		t.profiles[name] = p
	}
	return t
}

// Merge returns a table with t's profiles overridden and extended by over.
func (t *Table) Merge(over map[string]Profile) *Table {
	m := make(map[string]Profile, len(t.profiles)+len(over))
	for k, v := range t.profiles {
		m[k] = v
	}
	for k, v := range over {
		m[strings.ToLower(k)] = v
	}
	return NewTable(m)
}

// Lookup returns the profile of a model name; ok is false (and the profile
// unknown) when no entry matches.
func (t *Table) Lookup(modelName string) (Profile, bool) {
	m := strings.ToLower(strings.TrimSpace(modelName))
	if m == "" {
		return Profile{}, false
	}
	best, found := "", false
	for name := range t.profiles {
		if found && len(name) <= len(best) {
			continue
		}
		if m == name || (strings.HasPrefix(m, name) && m[len(name)] == '-') {
			best, found = name, true
		}
	}
	if found {
		return t.profiles[best], true
	}
	return family(m)
}

// family is the profile of a model the table does not name but whose family
// it knows from the name's shape: a later GPT-5 point version ("gpt-5.4")
// is like GPT-5.1, a later o-series model like o3.
func family(m string) (Profile, bool) {
	switch {
	case strings.HasPrefix(m, "gpt-5.") && !strings.Contains(m, "chat"):
		p := gpt51
		p.Name = m
		return p, true
	case len(m) >= 2 && m[0] == 'o' && m[1] >= '1' && m[1] <= '9':
		p := oSeries
		p.Name = m
		return p, true
	}
	return Profile{}, false
}
