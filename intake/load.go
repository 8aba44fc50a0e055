package intake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"
)

// Problem is one mistake in an intake file, where it is and what is allowed.
type Problem struct {
	File   string
	Line   int
	Column int // 0 when the YAML parser gives only a line
	// Field is the path of the field, e.g. "sources[1].every".
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

// FileError lists every problem found in an intake file. It wraps ErrInvalid.
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

// LoadOptions say what an intake file may refer to.
type LoadOptions struct {
	// Desks, when not nil, are the desks a source may name; nil allows any.
	Desks []string
}

// maxFileSize bounds an intake file.
const maxFileSize = 1 << 20

// LoadFile reads and checks the intake file at path.
func LoadFile(path string, opts LoadOptions) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("intake: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse reads an intake file; file names it in errors. Nothing in it is
// expanded: secrets are references (env:VAR, keyvault://VAULT/SECRET) resolved when
// the service starts.
func Parse(file string, data []byte, opts LoadOptions) (*File, error) {
	l := &loader{file: file, pos: map[string]*yaml.Node{}}
	if len(data) > maxFileSize {
		l.add(nil, "", fmt.Sprintf("is %d bytes; an intake file may have at most %d", len(data), maxFileSize))
		return nil, l.err()
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); errors.Is(err, io.EOF) {
		l.add(nil, "", "is empty; an intake file is a mapping with sources")
		return nil, l.err()
	} else if err != nil {
		l.syntax(err)
		return nil, l.err()
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	l.pos[""] = root
	l.walk(root, reflect.TypeFor[File](), "")
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	var f File
	if err := root.Decode(&f); err != nil {
		l.syntax(err)
		return nil, l.err()
	}
	l.check(&f, opts)
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	return &f, nil
}

type loader struct {
	file     string
	pos      map[string]*yaml.Node
	problems []Problem
}

func (l *loader) err() error { return &FileError{Problems: l.problems} }

func (l *loader) add(n *yaml.Node, field, msg string) {
	p := Problem{File: l.file, Field: field, Message: msg}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	l.problems = append(l.problems, p)
}

// at reports a problem at field's node, or its nearest parent's.
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
		if i := strings.LastIndexAny(f, ".["); i < 0 {
			f = ""
		} else {
			f = f[:i]
		}
	}
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

func (l *loader) syntax(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, s := range msgs {
		p := Problem{File: l.file, Message: "not valid YAML: " + s}
		if m := yamlLine.FindStringSubmatch(s); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Message = "not valid YAML: " + m[2]
		}
		l.problems = append(l.problems, p)
	}
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// walk checks node n against type t: known fields only, required ones
// present, the right kinds of values, enums and bounds.
func (l *loader) walk(n *yaml.Node, t reflect.Type, field string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	l.pos[field] = n
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		l.walkStruct(n, t, field)
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
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			l.add(n, field, fmt.Sprintf("want true or false, not %q", n.Value))
		}
	}
}

func (l *loader) walkStruct(n *yaml.Node, t reflect.Type, field string) {
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
			l.add(k, field, fmt.Sprintf("unknown field %q; allowed: %s", k.Value, names(fs)))
			continue
		}
		sub := join(field, fs[j].name)
		l.walk(v, t.Field(fs[j].index).Type, sub)
		l.scalarRules(v, fs[j], sub)
	}
	for _, f := range fs {
		if _, ok := seen[f.name]; f.required && !ok {
			l.add(n, field, fmt.Sprintf("missing field %q (%s)", f.name, f.doc))
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
	if n.Tag != "!!int" {
		return
	}
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

// check applies the rules the types cannot say.
func (l *loader) check(f *File, opts LoadOptions) {
	if len(f.Sources) == 0 {
		l.at("sources", "lists no source")
	}
	names := map[string]int{}
	for i := range f.Sources {
		s := &f.Sources[i]
		at := "sources[" + strconv.Itoa(i) + "]"
		if j, dup := names[s.Name]; dup {
			l.at(at+".name", fmt.Sprintf("%q is the name of sources[%d] too; names are unique", s.Name, j))
		}
		names[s.Name] = i
		l.checkSource(s, at, opts)
	}
}

var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func (l *loader) checkSource(s *Source, at string, opts LoadOptions) {
	if !sourceName.MatchString(s.Name) {
		l.at(at+".name", fmt.Sprintf("%q: want lowercase letters, digits and dashes (at most 63), as it is part of a URL", s.Name))
	}
	kinds := 0
	for _, set := range []bool{s.Feed != "", s.Queue != nil, s.Webhook != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		l.at(at, "want exactly one of feed, queue and webhook")
	}
	if s.Feed != "" {
		if u, err := url.Parse(s.Feed); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			l.at(at+".feed", fmt.Sprintf("%q is not an absolute http or https URL", s.Feed))
		}
	}
	if s.Queue != nil {
		l.checkQueue(s.Queue, at+".queue")
	}
	if s.Webhook != nil {
		l.checkWebhook(s.Webhook, at+".webhook")
	}
	if s.Every != "" {
		if d, err := time.ParseDuration(s.Every); err != nil || d < MinEvery {
			l.at(at+".every", fmt.Sprintf("%q: want a Go duration of at least %s, e.g. 5m", s.Every, MinEvery))
		}
	}
	if s.Start != "" && s.Start != "now" && s.Start != "all" {
		if _, err := time.Parse(time.RFC3339, s.Start); err != nil {
			l.at(at+".start", fmt.Sprintf("%q: want now, all or an RFC 3339 time", s.Start))
		}
	}
	if (s.Every != "" || s.Start != "") && s.Webhook != nil {
		l.at(at, "every and start are for feeds and queues, not webhooks")
	}
	if opts.Desks != nil && !slices.Contains(opts.Desks, s.Desk) {
		l.at(at+".desk", fmt.Sprintf("no desk is named %q; the desks are %s", s.Desk, strings.Join(opts.Desks, ", ")))
	}
	if s.Task != "" {
		if _, err := parseTask(s.Task); err != nil {
			l.at(at+".task", err.Error())
		}
	}
}

func (l *loader) checkQueue(q *Queue, at string) {
	switch {
	case q.Account == "" && q.ConnectionString == "":
		l.at(at, "want account (signed in with Entra ID) or connection_string")
	case q.Account != "" && q.ConnectionString != "":
		l.at(at, "want account or connection_string, not both")
	case q.Account != "":
		if u, err := url.Parse(q.Account); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			l.at(at+".account", fmt.Sprintf("%q: want the queue service URL, https://ACCOUNT.queue.core.windows.net", q.Account))
		}
	default:
		if !IsReference(q.ConnectionString) {
			l.at(at+".connection_string", "want a reference, env:VAR or keyvault://VAULT/SECRET; a secret does not belong in the file")
		}
	}
	if !queueName.MatchString(q.Name) || strings.Contains(q.Name, "--") || len(q.Name) > 63-len("-poison") {
		l.at(at+".name", fmt.Sprintf("%q: an Azure queue name is 3-56 lowercase letters, digits and single dashes here (NAME-poison must fit 63)", q.Name))
	}
}

var queueName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

func (l *loader) checkWebhook(w *Webhook, at string) {
	if w.Secret == "" {
		l.at(at, `missing field "secret" (a reference env:VAR or keyvault://VAULT/SECRET)`)
	} else if !IsReference(w.Secret) {
		l.at(at+".secret", "want a reference, env:VAR or keyvault://VAULT/SECRET; a secret does not belong in the file")
	}
	if w.Tolerance != "" {
		if d, err := time.ParseDuration(w.Tolerance); err != nil || d < time.Second || d > time.Hour {
			l.at(at+".tolerance", fmt.Sprintf("%q: want a Go duration between 1s and 1h", w.Tolerance))
		}
	}
}

// IsReference reports whether s is a secret reference: env:VAR or
// keyvault://VAULT/SECRET (resolved by package keyvault).
func IsReference(s string) bool {
	if name, ok := strings.CutPrefix(s, "env:"); ok {
		return name != ""
	}
	rest, ok := strings.CutPrefix(s, "keyvault://")
	return ok && strings.Contains(strings.Trim(rest, "/"), "/")
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
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
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

// parseTask parses a task template and runs it on a sample item, so a field
// the item does not have is an error at load, not at the first item.
func parseTask(text string) (*template.Template, error) {
	t, err := template.New("task").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("not a valid template: %s", strings.TrimPrefix(err.Error(), "template: task:"))
	}
	sample := Item{Title: "t", Summary: "s", Link: "https://example.org/", Published: time.Unix(0, 0), Categories: []string{"c"}, Body: "b"}
	if err := t.Execute(io.Discard, sample); err != nil {
		return nil, fmt.Errorf("the template fails on an item: %s (the fields are .Title .Summary .Link .Published .Categories .Body)",
			strings.TrimPrefix(err.Error(), "template: task:"))
	}
	return t, nil
}
