package desk

import (
	"github.com/newsroom-dev/newsroom/model/profile"

	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid is wrapped by every error about a team file's content.
var ErrInvalid = errors.New("desk: invalid team file")

// Problem is one mistake in a team file, where it is and what is allowed.
type Problem struct {
	File   string
	Line   int
	Column int // 0 when the YAML parser gives only a line
	// Field is the path of the field, e.g. "agents[1].prompt"; empty for the file as a whole.
	Field   string
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteString(":" + strconv.Itoa(p.Column))
		}
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// FileError lists every problem found in a team file. It wraps ErrInvalid.
type FileError struct {
	Problems []Problem
}

func (e *FileError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FileError) Unwrap() error { return ErrInvalid }

// LoadOptions says what a team file may refer to.
type LoadOptions struct {
	// Deployments, when not nil, are the deployments and models an agent or
	// the selector may name; nil allows any name.
	Deployments []string
	// Tools are the tool names an agent may list; nil means KnownTools.
	Tools []string
	// Profile returns the profile of the model behind a deployment an agent
	// or the selector names ("" is the run's default deployment): a
	// temperature on a reasoning deployment, or a reasoning effort its model
	// lacks, is refused. Nil knows only deployments named after a model.
	Profile func(deployment string) profile.Profile
}

// KnownTools are the tool names a team file may give an agent by default.
var KnownTools = []string{"fetch_url", "read_feed"}

// maxFileSize bounds a team file: a desk is a page of YAML, not a data set.
const maxFileSize = 1 << 20

// Parse reads a team file. file names it in errors. A team file is data: it
// has no includes, and nothing in it is expanded (no environment variables).
func Parse(file string, data []byte, opts LoadOptions) (*Spec, error) {
	l := &loader{file: file, pos: map[string]*yaml.Node{}}
	if len(data) > maxFileSize {
		l.add(nil, "", fmt.Sprintf("is %d bytes; a team file may have at most %d", len(data), maxFileSize))
		return nil, l.err()
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		l.add(nil, "", "is empty; a team file is a mapping with name, kind and agents")
		return nil, l.err()
	} else if err != nil {
		l.syntax(err)
		return nil, l.err()
	}
	var more yaml.Node
	if err := dec.Decode(&more); err == nil {
		l.add(&more, "", "holds more than one YAML document; a team file is one document")
		return nil, l.err()
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.DocumentNode || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		l.add(nil, "", "is empty; a team file is a mapping with name, kind and agents")
		return nil, l.err()
	}
	l.pos[""] = root
	l.walk(root, reflect.TypeFor[Spec](), "")
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	var s Spec
	if err := root.Decode(&s); err != nil {
		l.syntax(err)
		return nil, l.err()
	}
	l.check(&s, opts)
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	return &s, nil
}

type loader struct {
	file     string
	pos      map[string]*yaml.Node // field path -> its value node
	problems []Problem
}

func (l *loader) err() error {
	return &FileError{Problems: l.problems}
}

func (l *loader) add(n *yaml.Node, field, msg string) {
	p := Problem{File: l.file, Field: field, Message: msg}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	l.problems = append(l.problems, p)
}

// at reports a problem at the node of field, or of its nearest parent that
// has one.
func (l *loader) at(field, msg string) {
	for f := field; ; {
		if n, ok := l.pos[f]; ok {
			l.add(n, field, msg)
			return
		}
		if f == "" {
			l.add(nil, field, msg)
			return
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			f = ""
		} else {
			f = f[:i]
		}
	}
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// syntax reports a YAML parser error; the parser gives a line, not a column.
func (l *loader) syntax(err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			l.syntaxLine(e)
		}
		return
	}
	l.syntaxLine(err.Error())
}

func (l *loader) syntaxLine(s string) {
	p := Problem{File: l.file, Message: "not valid YAML: " + s}
	if m := yamlLine.FindStringSubmatch(s); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Message = "not valid YAML: " + m[2]
	}
	l.problems = append(l.problems, p)
}

// fieldInfo describes one field of a format type.
type fieldInfo struct {
	name     string
	index    int
	required bool
	enum     []string
	minimum  *float64
	maximum  *float64
	doc      string
}

func fieldsOf(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fi := fieldInfo{name: name, index: i, required: f.Tag.Get("required") == "true", doc: f.Tag.Get("doc")}
		if e := f.Tag.Get("enum"); e != "" {
			fi.enum = strings.Split(e, ",")
		}
		if m := f.Tag.Get("minimum"); m != "" {
			v, _ := strconv.ParseFloat(m, 64)
			fi.minimum = &v
		}
		if m := f.Tag.Get("maximum"); m != "" {
			v, _ := strconv.ParseFloat(m, 64)
			fi.maximum = &v
		}
		out = append(out, fi)
	}
	return out
}

func names(fs []fieldInfo) string {
	n := make([]string, len(fs))
	for i, f := range fs {
		n[i] = f.name
	}
	return strings.Join(n, ", ")
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// walk checks node n against type t: mappings have only known fields and
// every required one, sequences are sequences, scalars have the right type,
// enums and minimums hold. It records each field's node for later messages.
func (l *loader) walk(n *yaml.Node, t reflect.Type, field string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	l.pos[field] = n
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value is the field's zero value
	}
	switch t.Kind() {
	case reflect.Struct:
		fs := fieldsOf(t)
		if n.Kind != yaml.MappingNode {
			l.add(n, field, "want a mapping with the fields "+names(fs))
			return
		}
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if prev, dup := seen[k.Value]; dup {
				l.add(k, join(field, k.Value), fmt.Sprintf("given twice (first at line %d)", prev.Line))
				continue
			}
			seen[k.Value] = k
			j := slices.IndexFunc(fs, func(f fieldInfo) bool { return f.name == k.Value })
			if j < 0 {
				msg := fmt.Sprintf("unknown field %q; allowed: %s", k.Value, names(fs))
				l.add(k, field, msg)
				continue
			}
			f := fs[j]
			sub := join(field, f.name)
			l.walk(v, t.Field(f.index).Type, sub)
			l.scalarRules(v, f, sub)
		}
		for _, f := range fs {
			if _, ok := seen[f.name]; f.required && !ok {
				l.add(n, field, fmt.Sprintf("missing field %q (%s)", f.name, f.doc))
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			l.add(n, field, "want a list")
			return
		}
		for i, e := range n.Content {
			l.walk(e, t.Elem(), field+"["+strconv.Itoa(i)+"]")
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			l.add(n, field, "want a text value")
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			l.add(n, field, fmt.Sprintf("want a whole number, not %q", n.Value))
		}
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			l.add(n, field, fmt.Sprintf("want a number, not %q", n.Value))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			l.add(n, field, fmt.Sprintf("want true or false, not %q", n.Value))
		}
	}
}

func (l *loader) scalarRules(n *yaml.Node, f fieldInfo, field string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return
	}
	if f.enum != nil && !slices.Contains(f.enum, n.Value) {
		l.add(n, field, fmt.Sprintf("%q is not allowed; want one of %s", n.Value, strings.Join(f.enum, ", ")))
	}
	if n.Tag == "!!int" || n.Tag == "!!float" {
		v, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return
		}
		if f.minimum != nil && v < *f.minimum {
			l.add(n, field, fmt.Sprintf("%s is too small; want at least %g", n.Value, *f.minimum))
		}
		if f.maximum != nil && v > *f.maximum {
			l.add(n, field, fmt.Sprintf("%s is too large; want at most %g", n.Value, *f.maximum))
		}
	}
}
