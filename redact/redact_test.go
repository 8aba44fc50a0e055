package redact_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/redact"
)

func TestIsSecretName(t *testing.T) {
	for name, want := range map[string]bool{"api_key": true, "GITHUB_TOKEN": true, "DB_PASSWORD": true, "tokens": false, "prompt_tokens": false, "model": false} {
		if got := redact.IsSecretName(name); got != want {
			t.Errorf("IsSecretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestAttr_ReplacesSecretNamedValues(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: redact.Attr}))
	log.Info("x", "api_key", "abc123secret", "tokens", 42)
	if out := buf.String(); strings.Contains(out, "abc123secret") || !strings.Contains(out, "api_key="+redact.Marker) || !strings.Contains(out, "tokens=42") {
		t.Fatalf("log line %q", out)
	}
}

func TestShapes_ReplacesCredentialShapedTextOnce(t *testing.T) {
	in := "Authorization: Bearer abcdefghijkl0123 and https://user:pw@example.org and sk-abcdefghijklmnopqrstu"
	out := redact.Shapes(in)
	for _, secret := range []string{"abcdefghijkl0123", "user:pw", "sk-abcdefghijklmnopqrstu"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q is still in %q", secret, out)
		}
	}
	if again := redact.Shapes(out); again != out {
		t.Errorf("redacting twice changed %q to %q", out, again)
	}
}
