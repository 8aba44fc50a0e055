package yamlfile

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

type format struct {
	Name  string  `yaml:"name" required:"true" doc:"the name"`
	Count int     `yaml:"count,omitempty" minimum:"1" maximum:"9"`
	Rate  float64 `yaml:"rate,omitempty" minimum:"0"`
	Mode  string  `yaml:"mode,omitempty" enum:"a,b"`
	On    bool    `yaml:"on,omitempty"`
	Items []item  `yaml:"items,omitempty"`
}

type item struct {
	Label string `yaml:"label"`
	Next  *item  `yaml:"next,omitempty"`
}

func load(t *testing.T, src string, floatBounds bool) (*format, []string) {
	t.Helper()
	c := &Checker{File: "f.yaml", FloatBounds: floatBounds}
	root, _, err := Decode([]byte(src))
	if err != nil {
		c.Syntax(err)
		return nil, lines(c.Problems)
	}
	f := Load(c, root, func(f *format) {
		if f.Name == "bad" {
			c.At("name", "is bad")
		}
	})
	return f, lines(c.Problems)
}

func lines(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestLoad_ProblemsAtLineAndColumn(t *testing.T) {
	src := "name: x\ncount: 0\nmode: c\non: maybe\nitems:\n  - label: a\n    extra: 1\nname: y\n"
	f, got := load(t, src, false)
	want := []string{
		`f.yaml:2:8: count: 0 is too small; want at least 1`,
		`f.yaml:3:7: mode: "c" is not allowed; want one of a, b`,
		`f.yaml:4:5: on: want true or false, not "maybe"`,
		`f.yaml:7:5: items[0]: unknown field "extra"; allowed: label, next`,
		`f.yaml:8:1: name: given twice (first at line 1)`,
	}
	if f != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v, %q; want nil, %q", f, got, want)
	}
}

func TestLoad_RequiredAndOwnRules(t *testing.T) {
	if _, got := load(t, "count: 2\n", false); !slices.Equal(got, []string{`f.yaml:1:1: missing field "name" (the name)`}) {
		t.Errorf("missing name: %q", got)
	}
	if _, got := load(t, "name: bad\n", false); !slices.Equal(got, []string{`f.yaml:1:7: name: is bad`}) {
		t.Errorf("own rule: %q", got)
	}
	f, got := load(t, "name: ok\ncount: 3\nrate: 0.5\nitems: [{label: a, next: {label: b}}]\n", false)
	if len(got) != 0 || f == nil || f.Count != 3 || f.Rate != 0.5 || f.Items[0].Next.Label != "b" {
		t.Fatalf("valid file: %+v, %q", f, got)
	}
}

// A decimal on a whole-number field is always refused; only FloatBounds
// also checks its bounds.
func TestLoad_FloatBounds(t *testing.T) {
	src := "name: x\ncount: 0.5\nrate: -1.5\n"
	_, whole := load(t, src, false)
	_, all := load(t, src, true)
	if want := []string{`f.yaml:2:8: count: want a whole number, not "0.5"`}; !slices.Equal(whole, want) {
		t.Errorf("whole numbers only: %q, want %q", whole, want)
	}
	want := []string{
		`f.yaml:2:8: count: want a whole number, not "0.5"`,
		`f.yaml:2:8: count: 0.5 is too small; want at least 1`,
		`f.yaml:3:7: rate: -1.5 is too small; want at least 0`,
	}
	if !slices.Equal(all, want) {
		t.Errorf("FloatBounds: %q, want %q", all, want)
	}
}

func TestDecode(t *testing.T) {
	if _, _, err := Decode(nil); !errors.Is(err, io.EOF) {
		t.Errorf("empty: %v, want io.EOF", err)
	}
	root, more, err := Decode([]byte("a: 1\n---\nb: 2\n"))
	if err != nil || root.Content[0].Value != "a" || more == nil || more.Content[0].Content[0].Value != "b" {
		t.Errorf("two documents: %v, %v, %v", root, more, err)
	}
	_, got := load(t, "name: [\n", false)
	if len(got) != 1 || !strings.HasPrefix(got[0], "f.yaml:1: not valid YAML: ") {
		t.Errorf("syntax: %q", got)
	}
}

type ownProblem struct {
	File    string
	Line    int
	Column  int
	Field   string
	Message string
}

func (p ownProblem) String() string { return Problem(p).String() }

func TestConvertAndLines(t *testing.T) {
	ps := Convert[ownProblem]([]Problem{{File: "f", Message: "m"}, {File: "f", Line: 2, Column: 3, Field: "x", Message: "n"}})
	if got, want := Lines(ps), "f: m\nf:2:3: x: n"; got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}

func TestSchema(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(Schema(reflect.TypeFor[format](), "urn:x", "T"), &s); err != nil {
		t.Fatal(err)
	}
	props := s["properties"].(map[string]any)
	count := props["count"].(map[string]any)
	item := s["$defs"].(map[string]any)["item"].(map[string]any)
	next := item["properties"].(map[string]any)["next"].(map[string]any)
	if s["$id"] != "urn:x" || s["title"] != "T" || !reflect.DeepEqual(s["required"], []any{"name"}) ||
		count["type"] != "integer" || count["minimum"] != 1.0 || count["maximum"] != 9.0 ||
		props["rate"].(map[string]any)["type"] != "number" || next["$ref"] != "#/$defs/item" ||
		s["additionalProperties"] != false {
		t.Errorf("schema: %v", s)
	}
}
