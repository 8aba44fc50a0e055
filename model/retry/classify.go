package retry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/newsroom-dev/newsroom/model"
)

// Retryable reports whether a call that failed with err is worth another
// attempt: a throttled, timed-out or failed-on-the-server request, a broken
// connection, or a stream cut before its end. It is never true once ctx is
// done, nor for client errors (400, 401, 403, 404 and the other 4xx but 408
// and 429).
func Retryable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if errors.Is(err, model.ErrStreamCut) {
		return true
	}
	var me *model.Error
	if errors.As(err, &me) && me.StatusCode != 0 {
		switch me.StatusCode {
		case http.StatusTooManyRequests:
			// OpenAI answers 429 "insufficient_quota" when the account
			// is out of credit: waiting does not help.
			return me.Code != "insufficient_quota"
		case http.StatusRequestTimeout, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	return transient(err)
}

// transient reports whether err is a transport failure of one attempt: the
// connection was reset, refused or closed mid-answer, or the attempt timed
// out while the caller still had time (ctx was checked by the caller).
func transient(err error) bool {
	switch {
	case errors.Is(err, context.Canceled):
		// A cancellation that is not the caller's is still nobody's
		// request for a retry.
		return false
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// Some layers (HTTP/2, TLS) flatten the cause into text.
	msg := err.Error()
	for _, s := range transientText {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

var transientText = [...]string{
	"connection reset by peer",
	"connection refused",
	"broken pipe",
	"unexpected EOF",
	"server closed idle connection",
	"http2: server sent GOAWAY",
	"http2: client connection lost",
	"TLS handshake timeout",
}

// classify turns the refusals a run can act on into their own errors and
// returns any other error unchanged.
func classify(err error) error {
	var me *model.Error
	if !errors.As(err, &me) {
		return err
	}
	if isContentFilter(me) {
		return newContentFilterError(me)
	}
	if isContextLength(me) {
		return newContextLengthError(me)
	}
	return err
}
