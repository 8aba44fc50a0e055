package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/intake"
)

const goodIntake = `sources:
  - name: harbour-press
    feed: https://harbour.example/press.xml
    desk: roundrobin
  - name: wire
    webhook: {secret: env:INTAKE_WIRE_SECRET}
    desk: selector
`

func TestIntake_ValidateAndSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	write(t, good, goodIntake)
	write(t, bad, strings.Replace(goodIntake, "desk: selector", "desk: sports", 1))
	code, out, errOut := runCode(t, "intake", "validate", good, bad)
	if code != 2 || !strings.Contains(out, "good.yaml: ok: 2 sources (1 feeds, 0 queues, 1 webhooks)") ||
		!strings.Contains(errOut, `bad.yaml:7:11: sources[1].desk: no desk is named "sports"`) {
		t.Fatalf("validate: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	code, out, _ = runCode(t, "intake", "schema")
	var schema map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &schema) != nil || schema["$id"] != intake.SchemaID {
		t.Fatalf("schema: exit %d\n%.200s", code, out)
	}
}

func TestServe_BadIntakeFileExits2BeforeServing(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "intake.yaml")
	write(t, bad, strings.Replace(goodIntake, "every", "evry", 1)+"    evry: 5m\n")
	code, _, errOut := runCode(t, "serve", "--addr", "127.0.0.1:0", "--intake", bad, "--db", filepath.Join(t.TempDir(), "n.db"))
	if code != 2 || !strings.Contains(errOut, `intake.yaml:8:5: sources[1]: unknown field "evry"`) {
		t.Fatalf("serve: exit %d\n%s", code, errOut)
	}
}
