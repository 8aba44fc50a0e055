// Package eval measures a desk's articles: it runs the cases of a suite
// (a task, its source documents and what the article must and must not
// say) on one or more variants (desk, deployment, reasoning effort),
// scores each article with metrics that need no model (claim support,
// citations, quotes, expected facts, length, readability, cost), and
// compares two evaluations so that a change to a prompt, a desk or a
// model is judged on its articles and not only on its bill.
package eval

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/newsroom-dev/newsroom/internal/yamlfile"
)

// ErrInvalid is wrapped by every error about a suite's content.
var ErrInvalid = errors.New("eval: invalid suite")

// Suite is a suite file: cases run on every variant.
type Suite struct {
	// Name names the suite in reports; default the file's base name.
	Name string `yaml:"name,omitempty" json:"name" doc:"The suite's name in reports; default the file name."`
	// Version is the suite's own version, recorded in every result so
	// that results of different suite versions are not compared blindly.
	Version     string `yaml:"version,omitempty" json:"version,omitempty" doc:"The suite's version, recorded in results."`
	Description string `yaml:"description,omitempty" json:"description,omitempty" doc:"What the suite is for."`
	// Desks are the desks the suite runs on when no --desk is given.
	Desks []string `yaml:"desks,omitempty" json:"desks,omitempty" doc:"Desks to run when --desk is not given (shipped desk names)."`
	Cases []Case   `yaml:"cases" json:"cases" doc:"The cases." required:"true"`
	// Path is the file the suite was read from.
	Path string `yaml:"-" json:"path"`
}

// Case is one task and what its article must do.
type Case struct {
	Name string `yaml:"name" json:"name" doc:"A unique name: letters, digits, - and _." required:"true"`
	Task string `yaml:"task" json:"task" doc:"The task given to the desk." required:"true"`
	// Sources are files beside the suite (given to the run as its
	// sources, without fetching) or http(s) URLs (fetched before the run).
	Sources []string `yaml:"sources,omitempty" json:"sources,omitempty" doc:"Source documents: paths relative to the suite file, or http(s) URLs."`
	Expect  Expect   `yaml:"expect,omitempty" json:"expect" doc:"What the article must and must not do."`
	// Documents are the sources' texts, read by Load (files) or filled by
	// the runner (URLs).
	Documents []SourceDoc `yaml:"-" json:"-"`
}

// SourceDoc is a case's source: a file's text, or a URL to fetch.
type SourceDoc struct {
	// Name is the path as the suite gives it, or the URL.
	Name string
	// URL is set for a document to fetch; Text for a file.
	URL  string
	Text string
}

// Expect is what a case's article must do.
type Expect struct {
	Facts     []string `yaml:"facts,omitempty" json:"facts,omitempty" doc:"Phrases the article must carry (case, spacing, AP abbreviations and number words do not matter)."`
	Forbidden []string `yaml:"forbidden,omitempty" json:"forbidden,omitempty" doc:"Phrases the article must not carry."`
	Quotes    []string `yaml:"quotes,omitempty" json:"quotes,omitempty" doc:"Quotations the article must carry exactly."`
	Length    *Length  `yaml:"length,omitempty" json:"length,omitempty" doc:"The body's length in words."`
	Outcome   string   `yaml:"outcome,omitempty" json:"outcome,omitempty" doc:"The run's expected outcome: approved (the editor approved), grounded (no unsupported claim left) or any (default)." enum:"approved,grounded,any"`
}

// Length is a range of words; 0 means no bound.
type Length struct {
	Min int `yaml:"min,omitempty" json:"min,omitempty" doc:"At least this many words." minimum:"0"`
	Max int `yaml:"max,omitempty" json:"max,omitempty" doc:"At most this many words (0: no bound)." minimum:"0"`
}

// Outcomes a case may expect.
const (
	OutcomeApproved = "approved"
	OutcomeGrounded = "grounded"
	OutcomeAny      = "any"
)

// Problem is one mistake in a suite file and where it is.
type Problem struct {
	File    string
	Line    int
	Column  int
	Message string
}

// String is the problem as FILE:LINE:COLUMN: MESSAGE.
func (p Problem) String() string {
	return yamlfile.Problem{File: p.File, Line: p.Line, Column: p.Column, Message: p.Message}.String()
}

// FileError lists every problem of a suite file. It wraps ErrInvalid.
type FileError struct{ Problems []Problem }

func (e *FileError) Error() string { return yamlfile.Lines(e.Problems) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FileError) Unwrap() error { return ErrInvalid }

// LoadOptions says what a suite may refer to.
type LoadOptions struct {
	// Desks are the desk names a suite may list; nil allows any.
	Desks []string
}

// maxSuiteSize bounds a suite file; maxDocumentSize each source file.
const (
	maxSuiteSize    = 4 << 20
	maxDocumentSize = 1 << 20
)

// LoadFile reads and checks a suite file and the source files beside it.
func LoadFile(path string, opts LoadOptions) (*Suite, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse checks a suite; path names it in errors and locates its source
// files (relative to the suite's directory).
func Parse(path string, data []byte, opts LoadOptions) (*Suite, error) {
	l := &loader{file: path}
	if len(data) > maxSuiteSize {
		l.add(nil, fmt.Sprintf("is %d bytes; a suite may have at most %d", len(data), maxSuiteSize))
		return nil, l.err()
	}
	root, ok := l.document(data)
	if !ok {
		return nil, l.err()
	}
	l.walk(root, reflect.TypeFor[Suite]())
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	var s Suite
	if err := root.Decode(&s); err != nil {
		l.syntax(err)
		return nil, l.err()
	}
	s.Path = path
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	l.check(&s, root, opts)
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	return &s, nil
}

type loader struct {
	file     string
	problems []Problem
}

func (l *loader) add(n *yaml.Node, msg string) {
	p := Problem{File: l.file, Message: msg}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	l.problems = append(l.problems, p)
}

func (l *loader) err() error { return fmt.Errorf("%w", &FileError{Problems: l.problems}) }

var yamlLineRe = regexp.MustCompile(`^yaml: (?:unmarshal errors:\n\s*)?line (\d+)(?:, column (\d+))?: (.*)$`)

// syntax records a YAML parser error at the line (and column) it names.
func (l *loader) syntax(err error) {
	msg := strings.TrimSpace(err.Error())
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		l.problems = append(l.problems, Problem{File: l.file, Line: line, Column: col, Message: m[3]})
		return
	}
	l.add(nil, msg)
}

// document returns the mapping at the root of the file.
func (l *loader) document(data []byte) (*yaml.Node, bool) {
	root, more, err := yamlfile.Decode(data)
	switch {
	case errors.Is(err, io.EOF):
		l.add(nil, "is empty; a suite is a mapping with cases")
	case err != nil:
		l.syntax(err)
	case more != nil:
		l.add(more, "holds more than one YAML document; a suite is one document")
	case root.Kind != yaml.MappingNode:
		l.add(root, "a suite is a mapping with cases")
	default:
		return root, true
	}
	return nil, false
}

// walk reports the keys of a mapping that its type has no field for, and
// values of the wrong shape, at their line and column.
func (l *loader) walk(n *yaml.Node, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			l.add(n, "must be a mapping")
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				l.add(k, fmt.Sprintf("unknown field %q; known: %s", k.Value, strings.Join(fieldNames(t), ", ")))
				continue
			}
			l.walk(v, f.Type)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			l.add(n, "must be a list")
			return
		}
		for _, e := range n.Content {
			l.walk(e, t.Elem())
		}
	case reflect.String, reflect.Int:
		if n.Kind != yaml.ScalarNode {
			l.add(n, "must be a single value")
		}
	}
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out[name] = f
		}
	}
	return out
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// child returns the value of key in a mapping node, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

var caseNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// check applies the rules the types cannot say, and reads the source files.
func (l *loader) check(s *Suite, root *yaml.Node, opts LoadOptions) {
	if len(s.Cases) == 0 {
		l.add(cmp.Or(child(root, "cases"), root), "cases: a suite needs at least one case")
	}
	for i, d := range s.Desks {
		if opts.Desks != nil && !slices.Contains(opts.Desks, d) {
			l.add(child(root, "desks").Content[i], fmt.Sprintf("desks: unknown desk %q; known: %s", d, strings.Join(opts.Desks, ", ")))
		}
	}
	cases := child(root, "cases")
	seen := map[string]bool{}
	for i := range s.Cases {
		c := &s.Cases[i]
		cn := cases.Content[i]
		switch {
		case !caseNameRe.MatchString(c.Name):
			l.add(cmp.Or(child(cn, "name"), cn), fmt.Sprintf("cases[%d].name: %q must be letters, digits, - and _", i, c.Name))
		case seen[c.Name]:
			l.add(child(cn, "name"), fmt.Sprintf("cases[%d].name: %q is the name of an earlier case", i, c.Name))
		}
		seen[c.Name] = true
		if strings.TrimSpace(c.Task) == "" {
			l.add(cmp.Or(child(cn, "task"), cn), fmt.Sprintf("cases[%d].task: a case needs a task", i))
		}
		l.checkExpect(c, cn, i)
		l.readSources(c, cn, i)
	}
}

func (l *loader) checkExpect(c *Case, cn *yaml.Node, i int) {
	e := child(cn, "expect")
	switch c.Expect.Outcome {
	case "", OutcomeApproved, OutcomeGrounded, OutcomeAny:
	default:
		l.add(child(e, "outcome"), fmt.Sprintf("cases[%d].expect.outcome: %q must be approved, grounded or any", i, c.Expect.Outcome))
	}
	if n := c.Expect.Length; n != nil && (n.Min < 0 || n.Max < 0 || (n.Max > 0 && n.Min > n.Max)) {
		l.add(child(e, "length"), fmt.Sprintf("cases[%d].expect.length: min %d and max %d are not a range of words", i, n.Min, n.Max))
	}
}

// readSources reads a case's source files, relative to the suite's
// directory; a URL is kept for the runner to fetch.
func (l *loader) readSources(c *Case, cn *yaml.Node, i int) {
	srcs := child(cn, "sources")
	dir := filepath.Dir(l.file)
	for j, s := range c.Sources {
		n := srcs.Content[j]
		if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			c.Documents = append(c.Documents, SourceDoc{Name: s, URL: s})
			continue
		}
		if filepath.IsAbs(s) || strings.HasPrefix(filepath.Clean(s), "..") {
			l.add(n, fmt.Sprintf("cases[%d].sources[%d]: %q must be a path inside the suite's directory or an http(s) URL", i, j, s))
			continue
		}
		b, err := readLimited(filepath.Join(dir, s))
		if err != nil {
			l.add(n, fmt.Sprintf("cases[%d].sources[%d]: %v", i, j, err))
			continue
		}
		c.Documents = append(c.Documents, SourceDoc{Name: s, Text: documentText(s, b)})
	}
}

func readLimited(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no such document %s", path)
	}
	if err != nil {
		return nil, err
	}
	if st.Size() > maxDocumentSize {
		return nil, fmt.Errorf("%s is %d bytes; a source document may have at most %d", path, st.Size(), maxDocumentSize)
	}
	return os.ReadFile(path)
}

var (
	tagRe    = regexp.MustCompile(`(?s)<(script|style)\b.*?</(script|style)>|<[^>]+>`)
	spacesRe = regexp.MustCompile(`[ \t]+`)
	blankRe  = regexp.MustCompile(`\n\s*\n+`)
)

// documentText is a source file's text: an HTML file without its tags.
func documentText(name string, b []byte) string {
	s := string(b)
	if ext := strings.ToLower(filepath.Ext(name)); ext == ".html" || ext == ".htm" {
		s = tagRe.ReplaceAllString(s, "\n")
		s = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&nbsp;", " ").Replace(s)
		s = blankRe.ReplaceAllString(spacesRe.ReplaceAllString(s, " "), "\n\n")
	}
	return strings.TrimSpace(s)
}
