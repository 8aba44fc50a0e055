package mcp

import (
	"cmp"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/newsroom-dev/newsroom/telemetry"
)

// minSecret is the shortest value redacted by its text: shorter values
// ("1", "on") would blank out ordinary words and say little anyway.
const minSecret = 4

// secretShapes are texts that look like credentials whoever wrote them,
// each with what replaces it ("$R" standing for telemetry.Redacted): an
// authorization scheme and its token, a value after a name ending in key,
// token, secret or password, the user information of a URL, and token
// formats well-known providers use. Redacting twice changes nothing: a
// value starting with "[" is not taken for a secret.
var secretShapes = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(?i)(\b(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]{8,}`), "${1}$R"},
	{regexp.MustCompile(`(?i)((?:key|token|secret|password|passwd|pwd|credentials?|cookie)s?["']?\s*[:=]\s*["']?)[^\s"',;&)\]}>\[][^\s"',;&)\]}>]*`), "${1}$R"},
	{regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s@:]+:[^/\s@]+@`), "${1}$R@"},
	{regexp.MustCompile(`\b(?:sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})\b`), "$R"},
}

// redactor takes secrets out of text that reaches logs, errors and the
// model: the credentials of a server's URL, the values of the environment a
// command is given (its own Env entries, and inherited variables named like
// secrets, see telemetry.IsSecretName), and text shaped like a credential.
type redactor struct {
	values []string // literal secrets, longest first
}

// newRedactor knows the secrets of spec, started with the inherited
// environment environ.
func newRedactor(spec Spec, environ []string) *redactor {
	r := &redactor{}
	add := func(v string) {
		if len(v) >= minSecret && !slices.Contains(r.values, v) {
			r.values = append(r.values, v)
		}
	}
	if u, err := url.Parse(spec.URL); err == nil && spec.URL != "" {
		if u.User != nil {
			add(u.User.String())
			if p, ok := u.User.Password(); ok {
				add(p)
				add(url.QueryEscape(p))
			}
		}
		add(u.RawQuery)
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
				add(url.QueryEscape(v))
			}
		}
	}
	for _, kv := range spec.Env {
		_, v, _ := strings.Cut(kv, "=")
		add(v)
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && telemetry.IsSecretName(k) {
			add(v)
		}
	}
	slices.SortFunc(r.values, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return r
}

// text returns s without the secrets it knows or recognises.
func (r *redactor) text(s string) string {
	for _, v := range r.values {
		s = strings.ReplaceAll(s, v, telemetry.Redacted)
	}
	for _, sh := range secretShapes {
		s = sh.re.ReplaceAllString(s, strings.ReplaceAll(sh.with, "$R", telemetry.Redacted))
	}
	return s
}

// err returns err with a redacted text, still unwrapping to err; nil stays
// nil and an error without secrets is returned as it is.
func (r *redactor) err(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := r.text(msg)
	if clean == msg {
		return err
	}
	return &textError{msg: clean, err: err}
}

// textError is an error with a text of its own (a redacted one, or one
// that says more) that still unwraps to err.
type textError struct {
	msg string
	err error
}

func (e *textError) Error() string { return e.msg }
func (e *textError) Unwrap() error { return e.err }
