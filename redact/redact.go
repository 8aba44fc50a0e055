// Package redact knows what a secret looks like, for everything that writes
// text others read (logs, errors, tool results shown to a model): names of
// values that hold secrets, texts shaped like credentials, and the marker
// that replaces them. It imports nothing of newsroom's, so any package may
// use it.
package redact

import (
	"log/slog"
	"regexp"
	"strings"
)

// Marker replaces a secret.
const Marker = "[redacted]"

// secretSuffixes end the names of values that must never be shown.
var secretSuffixes = []string{"key", "token", "secret", "password", "passwd", "pwd", "authorization", "credential", "credentials", "cookie", "connectionstring", "connection_string"}

// IsSecretName reports whether a value called name (a log attribute, an
// environment variable) may hold a secret: its lower-cased name ends with
// key, token, secret, password (and a few more). Counts such as "tokens" or
// "prompt_tokens" are not secrets.
func IsSecretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range secretSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// Attr is a slog ReplaceAttr function that replaces the values of
// secret-named attributes with Marker.
func Attr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindGroup && IsSecretName(a.Key) {
		return slog.String(a.Key, Marker)
	}
	return a
}

// shapes are texts that look like credentials whoever wrote them, each with
// what replaces it ("$R" standing for Marker): an authorization scheme and
// its token, a value after a name ending in key, token, secret or password,
// the user information of a URL, and token formats well-known providers
// use. Redacting twice changes nothing: a value starting with "[" is not
// taken for a secret.
var shapes = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(?i)(\b(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]{8,}`), "${1}$R"},
	{regexp.MustCompile(`(?i)((?:key|token|secret|password|passwd|pwd|credentials?|cookie)s?["']?\s*[:=]\s*["']?)[^\s"',;&)\]}>\[][^\s"',;&)\]}>]*`), "${1}$R"},
	{regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s@:]+:[^/\s@]+@`), "${1}$R@"},
	{regexp.MustCompile(`\b(?:sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})\b`), "$R"},
}

// Shapes returns s with every text shaped like a credential replaced.
func Shapes(s string) string {
	for _, sh := range shapes {
		s = sh.re.ReplaceAllString(s, strings.ReplaceAll(sh.with, "$R", Marker))
	}
	return s
}
