package main

import (
	"slices"
	"testing"

	"github.com/spf13/pflag"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/untrusted"
)

func TestToolFlags_OpenHostsAndProvenanceOff(t *testing.T) {
	t.Setenv(untrusted.EnvOpen, "wire.example, *.agency.example")
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f := addToolFlags(fs, true)
	if err := fs.Parse([]string{"--fetch-open", "council.example"}); err != nil {
		t.Fatal(err)
	}
	if got := f.open(); !slices.Equal(got, []string{"wire.example", "*.agency.example", "council.example"}) {
		t.Errorf("open hosts %q", got)
	}
	c := (&toolSetup{}).deskConfig(desk.Config{}, f)
	if !slices.Contains(c.FetchOpen, "council.example") || c.FetchAny {
		t.Errorf("desk config open %v, any %v", c.FetchOpen, c.FetchAny)
	}
	shipped, _ := desk.NewRegistry().Get(desk.RoundRobin)
	if w := f.provenanceOff(shipped.Spec); w != "" {
		t.Errorf("a shipped desk warns: %s", w)
	}
	off, err := desk.Parse("off.yaml", []byte(`name: loose
kind: roundrobin
agents:
  - {name: A, description: d, prompt: p}
termination: {max_messages: 2}
fetch: {provenance: off}
`), desk.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w := f.provenanceOff(off); w == "" {
		t.Error("a desk with provenance off gives no warning")
	}
	if err := fs.Parse([]string{"--fetch-any"}); err != nil || f.provenanceOff(shipped.Spec) == "" {
		t.Errorf("--fetch-any gives no warning (%v)", err)
	}
}
