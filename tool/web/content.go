package web

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Errors of a document that cannot be read as text.
var (
	// ErrNoText is wrapped for a document with no readable text (empty,
	// blank, or replacement characters where its text should be).
	ErrNoText = errors.New("web: no readable text")
	// ErrNotText is wrapped for a document whose content is binary (an
	// image, an archive, a run of zeros) whatever type it declares.
	ErrNotText = errors.New("web: the content is not text")
	// ErrNameNotResolved is wrapped when a URL's host name did not resolve.
	ErrNameNotResolved = errors.New("the name did not resolve")
)

// sniffText refuses a body that declares a text type but is binary: the
// first 512 bytes sniffed (http.DetectContentType) as something other than
// text, or holding NUL bytes anywhere. A gzip bomb of zeros, once the
// transport has inflated it, is refused here.
func sniffText(body []byte, declared string, u *url.URL) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: %s has no text: it is empty", ErrNoText, u.Redacted())
	}
	sniffed, _, _ := strings.Cut(http.DetectContentType(body), ";")
	if !strings.HasPrefix(sniffed, "text/") || bytes.IndexByte(body, 0) >= 0 {
		if declared == "" {
			declared = "no type"
		}
		return fmt.Errorf("%w: %s has no text: its content is binary (%s), not the %s it declares",
			ErrNotText, u.Redacted(), sniffed, declared)
	}
	return nil
}

// readable reports whether text has something a reader could read: a
// letter or a digit, and fewer replacement characters (undecodable bytes)
// than letters and digits.
func readable(text string) bool {
	var letters, junk int
	for _, r := range text {
		switch {
		case r == utf8.RuneError:
			junk++
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			letters++
		}
	}
	return letters > 0 && junk < letters
}

// errNoText is the error of a document readable found no text in.
func errNoText(u *url.URL) error {
	return fmt.Errorf("%w: %s has no text a reader could read", ErrNoText, u.Redacted())
}

// publicError is a failed connection's error as the model, a client and
// an error message may see it: a host name that did not resolve says so
// without naming the resolver (net.DNSError names its server), and a
// failed dial or read names neither the local address nor the
// infrastructure in between. The full error goes to the log.
func publicError(err error) error {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		switch {
		case dns.IsTimeout:
			return fmt.Errorf("%w in time: %s", ErrNameNotResolved, dns.Name)
		default:
			return fmt.Errorf("%w: %s", ErrNameNotResolved, dns.Name)
		}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("web: could not %s: %w", opVerb(op), op.Err)
	}
	return unwrapURLError(err)
}

// opVerb is what a failed network operation tried, in a few words.
func opVerb(op *net.OpError) string {
	switch op.Op {
	case "dial":
		return "connect"
	case "read", "write":
		return op.Op + " the connection"
	}
	return "use the connection"
}
