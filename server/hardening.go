package server

import (
	"bytes"
	"encoding/json"
	"maps"
	"mime"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// What every request goes through before its handler, whatever route it
// is (routes added to the table later included): a canonical path, a
// method the route table has for the path (405 with Allow otherwise), and a
// JSON media type on a request with a body; and what every JSON body's
// strings go through (textProblem).

// maxQuoted is how many characters of a bad value an error message quotes.
const maxQuoted = 40

// quoteValue is a bad value as an error message shows it: escaped (Go
// string syntax, so control characters and invalid UTF-8 are visible and
// harmless), and cut to its first maxQuoted characters with its length
// given, so a 60,000-character value makes a short error.
func quoteValue(v string) string {
	n := 0
	for i := range v {
		if n == maxQuoted {
			return strconv.Quote(v[:i]) + "… (" + strconv.Itoa(len(v)) + " bytes)"
		}
		n++
	}
	return strconv.Quote(v)
}

// textProblem says what is wrong with a JSON value's strings that decoding
// would hide (invalid UTF-8 and lone surrogate escapes both decode to
// U+FFFD) or that breaks storage and display (NUL), or "" when nothing is.
// raw is the value as the client sent it: a string, or an array or object
// holding strings. A U+FFFD the client wrote itself is kept.
func textProblem(raw []byte) string {
	if !utf8.Valid(raw) {
		return "is not valid UTF-8"
	}
	if bytes.IndexByte(raw, 0) >= 0 {
		return "contains a NUL character"
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		i++ // the escaped character
		if raw[i] != 'u' {
			continue
		}
		r, ok := hex4(raw, i+1)
		if !ok {
			continue // not valid JSON; the decoder says so
		}
		i += 4
		switch {
		case r == 0:
			return "contains a NUL character"
		case r >= 0xDC00 && r <= 0xDFFF:
			return "has an escape that is not a character (a lone UTF-16 surrogate)"
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := rune(0), i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u'
			if ok {
				lo, ok = hex4(raw, i+3)
			}
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return "has an escape that is not a character (a lone UTF-16 surrogate)"
			}
			i += 6
		}
	}
	return ""
}

// hex4 reads the four hex digits of a \u escape at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw[i:i+4]), 16, 32)
	return rune(n), err == nil
}

// checkText applies textProblem to every field of a decoded JSON object: a
// bad one is a 400 "bad_<field>" naming the field.
func checkText(raw map[string]json.RawMessage) error {
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		if p := textProblem(raw[name]); p != "" {
			return &apiError{Status: http.StatusBadRequest, Code: "bad_" + name, Field: name, Message: name + " " + p}
		}
	}
	return nil
}

// errUnsupportedMediaType is the 415 of a body that is not JSON.
var errUnsupportedMediaType = &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
	Message: "the request body must be JSON, sent with Content-Type: application/json"}

// jsonBodyProblem checks the media type of a request that may carry a body:
// one with a body, or a Content-Type, must say application/json or a JSON
// structured-syntax type (RFC 6839: application/cloudevents+json, as Event
// Grid sends CloudEvents), with a charset, if given, of utf-8. It refuses
// forms and text/plain, and so the cross-site form posts a browser sends
// without asking (a +json type needs a CORS preflight).
func jsonBodyProblem(r *http.Request) error {
	if safeMethod(r.Method) {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" && r.ContentLength == 0 {
		return nil // no body (a cancel, a sign-out)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return errUnsupportedMediaType
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return errUnsupportedMediaType
		}
	}
	return nil
}

// canonicalPath is the path as net/http's mux would clean it (no "." or
// ".." segments, no doubled slashes; a trailing slash kept).
func canonicalPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// methodTable knows, for each path of the route table, the methods it has,
// so a request for a known path with another method gets 405 and Allow
// even where the page's catch-all "GET /" would otherwise answer it.
type methodTable struct {
	mux   *http.ServeMux // patterns without methods, one per path
	allow map[string][]string
}

// wildcard matches a pattern's {name} or {name...} segments.
var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// newMethodTable reads patterns of the form "METHOD /path". The catch-all
// "/" is left out: every other path is the page's, and the mux answers a
// wrong method there itself.
func newMethodTable(patterns []string) *methodTable {
	t := &methodTable{mux: http.NewServeMux(), allow: map[string][]string{}}
	spelled := map[string]string{} // path with wildcards unnamed -> first spelling
	for _, p := range patterns {
		method, p, ok := strings.Cut(p, " ")
		if !ok || p == "/" {
			continue
		}
		key := wildcard.ReplaceAllString(p, "{}")
		first, seen := spelled[key]
		if !seen {
			spelled[key], first = p, p
			t.mux.Handle(p, http.NotFoundHandler())
		}
		t.allow[first] = append(t.allow[first], method)
		if method == http.MethodGet {
			t.allow[first] = append(t.allow[first], http.MethodHead)
		}
	}
	for _, m := range t.allow {
		slices.Sort(m)
	}
	return t
}

// allowed returns the methods of the route for r's path, and whether r's
// method is one of them; nil when the path is none of the table's.
func (t *methodTable) allowed(r *http.Request) ([]string, bool) {
	_, pattern := t.mux.Handler(r)
	methods, ok := t.allow[pattern]
	if !ok {
		return nil, true
	}
	return methods, slices.Contains(methods, r.Method) || r.Method == http.MethodOptions
}

// harden answers what no handler should see: a path that is not canonical
// (400 in JSON, where the mux would redirect in HTML), a method the path's
// routes do not have (405 with Allow), and a body that is not JSON (415).
func (s *Server) harden(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodConnect {
		if c := canonicalPath(r.URL.Path); c != r.URL.Path {
			s.writeError(w, r, &apiError{Status: http.StatusBadRequest, Code: "bad_path",
				Message: "the path is not in canonical form (it has . or .. segments or doubled slashes); use " + quoteValue(c)})
			return true
		}
	}
	if methods, ok := s.methods.allowed(r); !ok {
		w.Header().Set("Allow", strings.Join(methods, ", "))
		s.writeError(w, r, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
			Message: quoteValue(r.Method) + " is not allowed here; allowed: " + strings.Join(methods, ", ")})
		return true
	}
	if err := jsonBodyProblem(r); err != nil {
		s.writeError(w, r, err)
		return true
	}
	return false
}
