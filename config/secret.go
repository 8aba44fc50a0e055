package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what a Secret prints instead of its value.
const Redacted = "[redacted]"

// Secret is a setting that must never be printed: an API key, a connection
// string with a password. Every way of printing it (fmt verbs, JSON, slog)
// shows Redacted; Value returns the real text for the code that needs it.
type Secret string

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

// String returns Redacted for a set secret and "" for an empty one.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalJSON encodes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText encodes the redacted form (used by encoders such as YAML or TOML).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue makes slog print the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Format makes every fmt verb (%v, %s, %q, %x, %d, %#v ...) print the
// redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = io.WriteString(f, s.String())
}
