package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/newsroom-dev/newsroom/model"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// serviceError is the error body shape shared by Azure OpenAI and OpenAI:
// {"error": {"code": ..., "message": ..., "innererror": {...}}}.
type serviceError struct {
	Code       json.RawMessage `json:"code"`
	Message    string          `json:"message"`
	Type       string          `json:"type"`
	Param      *string         `json:"param"`
	InnerError *struct {
		Code                string                     `json:"code"`
		ContentFilterResult map[string]json.RawMessage `json:"content_filter_result"`
	} `json:"innererror"`
}

// mapError turns a failed request into a *model.Error: the caller's context
// ended, an error status (already a *model.Error, see statusError), or a
// transport failure (connection refused or reset, TLS, a credential that
// could not get a token, the request timeout).
func (c *Client) mapError(ctx context.Context, err error, raw *http.Response) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &model.Error{Err: ctxErr, RequestID: requestID(raw)}
	}
	var me *model.Error
	if errors.As(err, &me) {
		return me
	}
	return &model.Error{Message: c.redact(err.Error()), Err: err}
}

// statusError reads the body of an error response (bounded) into a
// *model.Error that keeps the status, the service's code and message, the
// request id and the wait it asked for. A body that is not the service's
// JSON error (a gateway's HTML page, say) leaves the status's text.
func (c *Client) statusError(raw *http.Response) *model.Error {
	var body []byte
	if raw.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(raw.Body, maxErrorBody))
	}
	var wrapped struct {
		Error json.RawMessage `json:"error"`
	}
	_ = json.Unmarshal(body, &wrapped)
	e := c.httpError(raw.StatusCode, raw, wrapped.Error)
	if e.Message == "" {
		e.Message = http.StatusText(raw.StatusCode)
	}
	return e
}

// httpError builds a *model.Error from an error response and the JSON of its
// "error" object (which may be empty).
func (c *Client) httpError(status int, resp *http.Response, errJSON []byte) *model.Error {
	e := &model.Error{StatusCode: status, RequestID: requestID(resp)}
	if resp != nil {
		e.RetryAfter = RetryAfter(resp.Header, c.now())
	}
	var se serviceError
	if len(errJSON) > 0 && json.Unmarshal(errJSON, &se) == nil {
		e.Code = codeString(se.Code)
		e.Message = c.redact(se.Message)
		if se.Param != nil {
			e.Param = *se.Param
		}
		if cats := filteredCategories(&se); len(cats) > 0 {
			e.Message += " [content filter: " + strings.Join(cats, ", ") + "]"
		}
	}
	return e
}

// codeString accepts the error code as a JSON string or number (Azure sends
// "429", some gateways 429).
func codeString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// filteredCategories lists the content filter categories Azure marked as
// filtered (hate, sexual, violence, self_harm, jailbreak, ...), sorted.
func filteredCategories(se *serviceError) []string {
	if se.InnerError == nil {
		return nil
	}
	var cats []string
	for name, v := range se.InnerError.ContentFilterResult {
		var r struct {
			Filtered bool `json:"filtered"`
		}
		if json.Unmarshal(v, &r) == nil && r.Filtered {
			cats = append(cats, name)
		}
	}
	sort.Strings(cats)
	return cats
}

// streamError maps a failure after the stream began.
func (c *Client) streamError(ctx context.Context, err error, raw *http.Response, chunks int) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &model.Error{Err: ctxErr, RequestID: requestID(raw)}
	}
	var se *streamErrorEvent
	if errors.As(err, &se) {
		// The service sent an error event in the stream.
		var body struct {
			Error serviceError `json:"error"`
		}
		e := &model.Error{RequestID: requestID(raw), Message: "the service ended the stream with an error"}
		if json.Unmarshal(se.data, &body) == nil {
			e.Code = codeString(body.Error.Code)
			if body.Error.Message != "" {
				e.Message = c.redact(body.Error.Message)
			}
			if cats := filteredCategories(&body.Error); len(cats) > 0 {
				e.Message += " [content filter: " + strings.Join(cats, ", ") + "]"
			}
		}
		if e.Code != "content_filter" {
			e.Err = model.ErrStreamCut
		}
		return e
	}
	// A broken connection or a malformed chunk: the answer is incomplete.
	return &model.Error{
		Message:   fmt.Sprintf("stream broken after %d chunks: %s", chunks, c.redact(err.Error())),
		RequestID: requestID(raw),
		Err:       fmt.Errorf("%w: %w", model.ErrStreamCut, err),
	}
}

// redact removes the API key from text a server or library produced, in case
// it echoes it back.
func (c *Client) redact(s string) string {
	if len(c.apiKey) >= 4 {
		s = strings.ReplaceAll(s, c.apiKey, "[redacted]")
	}
	return s
}

// filteredAnswer is the error for an answer Azure's content filter stopped
// (HTTP 200 with finish_reason "content_filter"): the text is cut or empty,
// so it is not returned as an answer. StatusCode stays 0 because the request
// itself succeeded; Code is "content_filter" as for a refused prompt, and the
// message names the categories from the choice's content_filter_results.
func filteredAnswer(choiceJSON, requestID string) *model.Error {
	e := &model.Error{Code: "content_filter", Message: "the answer was filtered by the content filter", RequestID: requestID}
	var choice struct {
		Results map[string]json.RawMessage `json:"content_filter_results"`
	}
	if json.Unmarshal([]byte(choiceJSON), &choice) == nil {
		se := serviceError{InnerError: &struct {
			Code                string                     `json:"code"`
			ContentFilterResult map[string]json.RawMessage `json:"content_filter_result"`
		}{ContentFilterResult: choice.Results}}
		if cats := filteredCategories(&se); len(cats) > 0 {
			e.Message += " [content filter: " + strings.Join(cats, ", ") + "]"
		}
	}
	return e
}
