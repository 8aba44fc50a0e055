package intake

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/newsroom-dev/newsroom/internal/yamlfile"
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

// String is the problem as FILE:LINE:COLUMN: FIELD: MESSAGE.
func (p Problem) String() string { return yamlfile.Problem(p).String() }

// FileError lists every problem found in an intake file. It wraps ErrInvalid.
type FileError struct {
	Problems []Problem
}

func (e *FileError) Error() string { return yamlfile.Lines(e.Problems) }

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
	l := &loader{Checker: yamlfile.Checker{File: file}}
	if len(data) > maxFileSize {
		l.Add(nil, "", fmt.Sprintf("is %d bytes; an intake file may have at most %d", len(data), maxFileSize))
		return nil, l.err()
	}
	root, _, err := yamlfile.Decode(data)
	if errors.Is(err, io.EOF) {
		l.Add(nil, "", "is empty; an intake file is a mapping with sources")
		return nil, l.err()
	} else if err != nil {
		l.Syntax(err)
		return nil, l.err()
	}
	f := yamlfile.Load(&l.Checker, root, func(f *File) { l.check(f, opts) })
	if f == nil {
		return nil, l.err()
	}
	return f, nil
}

// loader checks an intake file against the rules the types cannot say.
type loader struct {
	yamlfile.Checker
}

func (l *loader) err() error {
	return &FileError{Problems: yamlfile.Convert[Problem](l.Problems)}
}

// check applies the rules the types cannot say.
func (l *loader) check(f *File, opts LoadOptions) {
	if len(f.Sources) == 0 {
		l.At("sources", "lists no source")
	}
	names := map[string]int{}
	for i := range f.Sources {
		s := &f.Sources[i]
		at := "sources[" + strconv.Itoa(i) + "]"
		if j, dup := names[s.Name]; dup {
			l.At(at+".name", fmt.Sprintf("%q is the name of sources[%d] too; names are unique", s.Name, j))
		}
		names[s.Name] = i
		l.checkSource(s, at, opts)
	}
}

var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func (l *loader) checkSource(s *Source, at string, opts LoadOptions) {
	if !sourceName.MatchString(s.Name) {
		l.At(at+".name", fmt.Sprintf("%q: want lowercase letters, digits and dashes (at most 63), as it is part of a URL", s.Name))
	}
	kinds := 0
	for _, set := range []bool{s.Feed != "", s.Queue != nil, s.Webhook != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		l.At(at, "want exactly one of feed, queue and webhook")
	}
	if s.Feed != "" {
		if u, err := url.Parse(s.Feed); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			l.At(at+".feed", fmt.Sprintf("%q is not an absolute http or https URL", s.Feed))
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
			l.At(at+".every", fmt.Sprintf("%q: want a Go duration of at least %s, e.g. 5m", s.Every, MinEvery))
		}
	}
	if s.Start != "" && s.Start != "now" && s.Start != "all" {
		if _, err := time.Parse(time.RFC3339, s.Start); err != nil {
			l.At(at+".start", fmt.Sprintf("%q: want now, all or an RFC 3339 time", s.Start))
		}
	}
	if (s.Every != "" || s.Start != "") && s.Webhook != nil {
		l.At(at, "every and start are for feeds and queues, not webhooks")
	}
	if opts.Desks != nil && !slices.Contains(opts.Desks, s.Desk) {
		l.At(at+".desk", fmt.Sprintf("no desk is named %q; the desks are %s", s.Desk, strings.Join(opts.Desks, ", ")))
	}
	if s.Task != "" {
		if _, err := parseTask(s.Task); err != nil {
			l.At(at+".task", err.Error())
		}
	}
}

func (l *loader) checkQueue(q *Queue, at string) {
	switch {
	case q.Account == "" && q.ConnectionString == "":
		l.At(at, "want account (signed in with Entra ID) or connection_string")
	case q.Account != "" && q.ConnectionString != "":
		l.At(at, "want account or connection_string, not both")
	case q.Account != "":
		if u, err := url.Parse(q.Account); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			l.At(at+".account", fmt.Sprintf("%q: want the queue service URL, https://ACCOUNT.queue.core.windows.net", q.Account))
		}
	default:
		if !IsReference(q.ConnectionString) {
			l.At(at+".connection_string", "want a reference, env:VAR or keyvault://VAULT/SECRET; a secret does not belong in the file")
		}
	}
	if !queueName.MatchString(q.Name) || strings.Contains(q.Name, "--") || len(q.Name) > 63-len("-poison") {
		l.At(at+".name", fmt.Sprintf("%q: an Azure queue name is 3-56 lowercase letters, digits and single dashes here (NAME-poison must fit 63)", q.Name))
	}
}

var queueName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

func (l *loader) checkWebhook(w *Webhook, at string) {
	if w.Secret == "" {
		l.At(at, `missing field "secret" (a reference env:VAR or keyvault://VAULT/SECRET)`)
	} else if !IsReference(w.Secret) {
		l.At(at+".secret", "want a reference, env:VAR or keyvault://VAULT/SECRET; a secret does not belong in the file")
	}
	if w.Tolerance != "" {
		if d, err := time.ParseDuration(w.Tolerance); err != nil || d < time.Second || d > time.Hour {
			l.At(at+".tolerance", fmt.Sprintf("%q: want a Go duration between 1s and 1h", w.Tolerance))
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
