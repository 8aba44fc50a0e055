package retry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/newsroom-dev/newsroom/model"
)

// ContentFilterError is a request the service's content filter refused. It is
// a model.StopError: the run ends with its stop reason instead of failing.
type ContentFilterError struct {
	// Prompt is true when the prompt was filtered, false when the answer was.
	Prompt bool
	// Categories are the filter categories that fired ("violence",
	// "jailbreak", ...), sorted; empty when the service did not say.
	Categories []string
	// Err is the service's error.
	Err *model.Error
}

var _ model.StopError = (*ContentFilterError)(nil)

// StopReason says what was filtered and why, for example
// "content filter: the prompt was filtered (category: violence)".
func (e *ContentFilterError) StopReason() string {
	what := "the response"
	if e.Prompt {
		what = "the prompt"
	}
	s := "content filter: " + what + " was filtered"
	switch len(e.Categories) {
	case 0:
	case 1:
		s += " (category: " + e.Categories[0] + ")"
	default:
		s += " (categories: " + strings.Join(e.Categories, ", ") + ")"
	}
	return s
}

func (e *ContentFilterError) Error() string {
	s := "retry: " + e.StopReason()
	if e.Err != nil && e.Err.RequestID != "" {
		s += " (request id " + e.Err.RequestID + ")"
	}
	return s
}

// Unwrap returns the service's error.
func (e *ContentFilterError) Unwrap() error { return e.Err }

// ContextLengthError is a request whose prompt does not fit the model's
// context window.
type ContextLengthError struct {
	// Sent is the number of tokens the request resulted in; Limit is the
	// model's maximum context length. Either is 0 when the service did not say.
	Sent, Limit int
	// Err is the service's error.
	Err *model.Error
}

func (e *ContextLengthError) Error() string {
	switch {
	case e.Sent > 0 && e.Limit > 0:
		return fmt.Sprintf("retry: the request is too long for the model: it has %d tokens but the maximum context length is %d tokens (%d over)",
			e.Sent, e.Limit, e.Sent-e.Limit)
	case e.Limit > 0:
		return fmt.Sprintf("retry: the request is too long for the model: the maximum context length is %d tokens", e.Limit)
	}
	return "retry: the request is too long for the model: " + e.Err.Message
}

// Unwrap returns the service's error.
func (e *ContextLengthError) Unwrap() error { return e.Err }

func isContentFilter(me *model.Error) bool {
	if me.Code == "content_filter" {
		return true
	}
	return me.StatusCode == http.StatusBadRequest &&
		strings.Contains(strings.ToLower(me.Message), "content management policy")
}

func isContextLength(me *model.Error) bool {
	return me.Code == "context_length_exceeded" ||
		(me.StatusCode == http.StatusBadRequest && strings.Contains(me.Message, "maximum context length"))
}

// filterCategories are the Azure content filter categories.
var filterCategories = []string{
	"hate", "sexual", "violence", "self_harm", "profanity", "jailbreak", "indirect_attack",
	"protected_material_text", "protected_material_code", "custom_blocklists",
}

func newContentFilterError(me *model.Error) *ContentFilterError {
	msg := me.Message
	lower := strings.ToLower(msg)
	e := &ContentFilterError{Err: me}
	switch {
	case strings.Contains(lower, "due to the prompt"):
		// Azure's refusal of a prompt: "The response was filtered due to
		// the prompt triggering ...".
		e.Prompt = true
	case me.StatusCode == 0:
		// An error event in a stream that had begun: the answer was filtered.
	default:
		e.Prompt = !strings.Contains(lower, "completion") && !strings.Contains(lower, "output")
	}
	e.Categories = filteredFromJSON(msg)
	if e.Categories == nil {
		e.Categories = filteredFromNote(msg)
	}
	if e.Categories == nil {
		// No verdict object in the message: name the categories it mentions.
		for _, c := range filterCategories {
			if containsWord(lower, c) {
				e.Categories = append(e.Categories, c)
			}
		}
	}
	return e
}

// filteredFromJSON finds Azure content filter verdicts
// (innererror.content_filter_result or content_filter_results) in any JSON
// object embedded in msg and returns the categories that were filtered,
// sorted; nil when there are none.
func filteredFromJSON(msg string) []string {
	var found []string
	for i := strings.IndexByte(msg, '{'); i >= 0; {
		var v any
		dec := json.NewDecoder(strings.NewReader(msg[i:]))
		if err := dec.Decode(&v); err == nil {
			walkVerdicts(v, &found)
			i += int(dec.InputOffset())
		} else {
			i++
		}
		j := strings.IndexByte(msg[i:], '{')
		if j < 0 {
			break
		}
		i += j
	}
	return sortCategories(found)
}

// sortCategories sorts categories by name without duplicates; nil stays nil.
func sortCategories(cats []string) []string {
	slices.Sort(cats)
	return slices.Compact(cats)
}

// filteredFromNote reads the note package model/provider appends to the
// message of a refusal: "... [content filter: hate, violence]".
func filteredFromNote(msg string) []string {
	const note = "[content filter:"
	i := strings.LastIndex(msg, note)
	if i < 0 {
		return nil
	}
	list, _, ok := strings.Cut(msg[i+len(note):], "]")
	if !ok {
		return nil
	}
	var cats []string
	for c := range strings.SplitSeq(list, ",") {
		if c = strings.TrimSpace(c); c != "" {
			cats = append(cats, c)
		}
	}
	return sortCategories(cats)
}

func walkVerdicts(v any, found *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			if k == "content_filter_result" || k == "content_filter_results" {
				collectFiltered(sub, found)
			}
			walkVerdicts(sub, found)
		}
	case []any:
		for _, sub := range v {
			walkVerdicts(sub, found)
		}
	}
}

// collectFiltered reads one verdict object: {"violence": {"filtered": true,
// "severity": "medium"}, "jailbreak": {"filtered": false, "detected": true}, ...}.
func collectFiltered(v any, found *[]string) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for cat, r := range m {
		res, ok := r.(map[string]any)
		if !ok {
			continue
		}
		if res["filtered"] == true {
			*found = append(*found, cat)
		}
	}
}

func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(w)
		if (j == 0 || !isWordByte(s[j-1])) && (end == len(s) || !isWordByte(s[end])) {
			return true
		}
		i = j + 1
	}
}

func isWordByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

var (
	contextLimitRE = regexp.MustCompile(`maximum context length is (\d+) tokens`)
	contextSentRE  = regexp.MustCompile(`(?:messages|prompt|request) resulted in (\d+) tokens|requested (\d+) tokens`)
)

func newContextLengthError(me *model.Error) *ContextLengthError {
	e := &ContextLengthError{Err: me}
	if m := contextLimitRE.FindStringSubmatch(me.Message); m != nil {
		e.Limit, _ = strconv.Atoi(m[1])
	}
	if m := contextSentRE.FindStringSubmatch(me.Message); m != nil {
		s := m[1]
		if s == "" {
			s = m[2]
		}
		e.Sent, _ = strconv.Atoi(s)
	}
	return e
}
