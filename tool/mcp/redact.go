package mcp

import (
	"cmp"
	"net/url"
	"slices"
	"strings"

	"github.com/newsroom-dev/newsroom/redact"
)

// minSecret is the shortest value redacted by its text: shorter values
// ("1", "on") would blank out ordinary words and say little anyway.
const minSecret = 4

// redactor takes secrets out of text that reaches logs, errors and the
// model: the credentials of a server's URL, the values of the environment a
// command is given (its own Env entries, and inherited variables named like
// secrets, see redact.IsSecretName), and text shaped like a credential
// (redact.Shapes).
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
		if k, v, ok := strings.Cut(kv, "="); ok && redact.IsSecretName(k) {
			add(v)
		}
	}
	slices.SortFunc(r.values, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return r
}

// text returns s without the secrets it knows or recognises.
func (r *redactor) text(s string) string {
	for _, v := range r.values {
		s = strings.ReplaceAll(s, v, redact.Marker)
	}
	return redact.Shapes(s)
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
