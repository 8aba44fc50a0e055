package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/newsroom-dev/newsroom/store"
)

// apiError is an error with the HTTP status and code the client sees.
type apiError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	// Field names the request's field at fault, if one is.
	Field string
}

func (e *apiError) Error() string { return "server: " + e.Code + ": " + e.Message }

func badRequest(code, msg string) error {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: msg}
}

// Errors the handlers return; statusOf maps them (and store and body-size
// errors) to responses.
var (
	errUnauthorized      = &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing or invalid API key"}
	errNotFound          = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such run"}
	errFinished          = &apiError{Status: http.StatusConflict, Code: "run_finished", Message: "the run has already finished"}
	errIdempotencyReused = &apiError{Status: http.StatusUnprocessableEntity, Code: "idempotency_key_reused",
		Message: "this Idempotency-Key was used for a different request; use a new key for a new run"}
	errStoreUnavailable = &apiError{Status: http.StatusServiceUnavailable, Code: "store_unavailable",
		Message: "the service cannot store runs right now; try again shortly", RetryAfter: 5 * time.Second}
	errDraining = &apiError{Status: http.StatusServiceUnavailable, Code: "shutting_down", Message: "the service is shutting down; try again shortly", RetryAfter: 5 * time.Second}
)

func errQueueFull(retry time.Duration) error {
	return &apiError{Status: http.StatusTooManyRequests, Code: "queue_full", Message: "too many runs waiting; try again later", RetryAfter: retry}
}

func errAuthRateLimited(retry time.Duration) error {
	return &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
		Message: "too many requests without a valid API key from this address", RetryAfter: retry}
}

func errRateLimited(retry time.Duration) error {
	return &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "too many requests for this key", RetryAfter: retry}
}

// statusOf is the one place errors become HTTP statuses.
func statusOf(err error) *apiError {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &mbe):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: "request body larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes"}
	case errors.Is(err, store.ErrBadCursor):
		return &apiError{Status: http.StatusBadRequest, Code: "bad_cursor", Message: "cursor is not valid"}
	case errors.Is(err, store.ErrNotFound):
		return errNotFound
	case errors.Is(err, store.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Message: "conflicting request"}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		// Field names the request's field at fault (e.g. "sources[1]"), if one is.
		Field string `json:"field,omitempty"`
	} `json:"error"`
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := statusOf(err)
	switch {
	case errors.Is(err, errDraining):
		// A planned shutdown: the client is told to come back, nothing failed.
		s.log.Info("request refused while shutting down", "method", r.Method, "path", r.URL.Path)
	case ae.Status >= 500:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if ae.RetryAfter > 0 {
		secs := int((ae.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	var body errorBody
	body.Error.Code, body.Error.Message, body.Error.Field = ae.Code, ae.Message, ae.Field
	writeJSON(w, ae.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// jsonErrorWriter turns an error response written in plain text (by the mux
// or the file server) into the API's JSON error with the same status.
// Anything below 400 (a redirect) passes through.
type jsonErrorWriter struct {
	http.ResponseWriter
	s       *Server
	r       *http.Request
	written bool // a JSON error was written: drop the plain text
}

func (w *jsonErrorWriter) WriteHeader(code int) {
	if code < 400 || w.written {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.written = true
	ae := &apiError{Status: code, Code: "error", Message: http.StatusText(code)}
	switch code {
	case http.StatusNotFound:
		ae.Code, ae.Message = "not_found", "no such endpoint"
	case http.StatusMethodNotAllowed:
		ae.Code, ae.Message = "method_not_allowed", w.r.Method+" is not allowed here"
		if allow := w.Header().Get("Allow"); allow != "" {
			ae.Message += "; allowed: " + allow
		}
	}
	w.Header().Del("Content-Length")
	w.s.writeError(w.ResponseWriter, w.r, ae)
}

func (w *jsonErrorWriter) Write(b []byte) (int, error) {
	if w.written {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *jsonErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
