package eval

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadFile_ReadsCasesAndTheirDocuments(t *testing.T) {
	s, err := LoadFile("testdata/mini/suite.yaml", LoadOptions{Desks: []string{"roundrobin"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "mini" || len(s.Cases) != 2 || len(s.Cases[0].Documents) != 1 || !strings.Contains(s.Cases[0].Documents[0].Text, "4.2 million euros") {
		t.Fatalf("suite %+v", s)
	}
	if s.Cases[1].Expect.Outcome != OutcomeApproved || len(s.Cases[1].Documents) != 0 {
		t.Errorf("second case %+v", s.Cases[1])
	}
}

func TestLoadFile_StarterSuiteIsValid(t *testing.T) {
	s, err := LoadFile("suites/starter/suite.yaml", LoadOptions{Desks: []string{"roundrobin", "selector", "investigations"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cases) < 12 {
		t.Errorf("%d cases, want at least 12", len(s.Cases))
	}
}

func TestParse_RefusesBadSuitesWithFileLineColumn(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "doc.txt"), []byte("A document."), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "suite.yaml")
	tests := []struct {
		name, yaml, want string
	}{
		{"an unknown field", "cases:\n  - name: a\n    task: t\n    expct: {}\n", path + `:4:5: unknown field "expct"`},
		{"an unknown field in expect", "cases:\n  - name: a\n    task: t\n    expect:\n      fact: [x]\n", path + `:5:7: unknown field "fact"`},
		{"a missing document", "cases:\n  - name: a\n    task: t\n    sources: [doc.txt, nope.txt]\n", path + `:4:24: cases[0].sources[1]: no such document`},
		{"a document outside the suite's folder", "cases:\n  - name: a\n    task: t\n    sources: [../x.txt]\n", path + `:4:15: cases[0].sources[0]: "../x.txt" must be a path inside`},
		{"an unknown desk", "desks: [roundrobin, nosuch]\ncases:\n  - name: a\n    task: t\n", path + `:1:21: desks: unknown desk "nosuch"`},
		{"a bad outcome", "cases:\n  - name: a\n    task: t\n    expect: {outcome: published}\n", path + `:4:23: cases[0].expect.outcome: "published" must be`},
		{"two cases of one name", "cases:\n  - name: a\n    task: t\n  - name: a\n    task: u\n", path + `:4:11: cases[1].name: "a" is the name of an earlier case`},
		{"no task", "cases:\n  - name: a\n", path + `:2:5: cases[0].task: a case needs a task`},
		{"no cases", "name: x\n", path + `:1:1: cases: a suite needs at least one case`},
		{"a list where a mapping goes", "cases:\n  - [a, b]\n", path + `:2:5: must be a mapping`},
		{"a YAML syntax error", "cases:\n  - name: a\n   task: [\n", path + `:1: did not find expected`},
		{"an empty file", "", path + `: is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(path, []byte(tt.yaml), LoadOptions{Desks: []string{"roundrobin"}})
			var fe *FileError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v, want a FileError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%v\nwant it to contain\n%s", err, tt.want)
			}
		})
	}
}

func TestSchema_DescribesTheSuiteFields(t *testing.T) {
	s := string(Schema())
	for _, want := range []string{`"$id": "` + SchemaID, `"cases"`, `"forbidden"`, `"additionalProperties": false`, `"approved"`} {
		if !strings.Contains(s, want) {
			t.Errorf("schema lacks %s", want)
		}
	}
}
