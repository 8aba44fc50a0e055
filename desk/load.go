package desk

import (
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/newsroom-dev/newsroom/internal/yamlfile"
	"github.com/newsroom-dev/newsroom/model/profile"
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

// String is the problem as FILE:LINE:COLUMN: FIELD: MESSAGE, leaving out
// the parts that are not known.
func (p Problem) String() string { return yamlfile.Problem(p).String() }

// FileError lists every problem found in a team file. It wraps ErrInvalid.
type FileError struct {
	Problems []Problem
}

func (e *FileError) Error() string { return yamlfile.Lines(e.Problems) }

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
	l := &loader{Checker: yamlfile.Checker{File: file, FloatBounds: true}}
	if len(data) > maxFileSize {
		l.Add(nil, "", fmt.Sprintf("is %d bytes; a team file may have at most %d", len(data), maxFileSize))
		return nil, l.err()
	}
	const empty = "is empty; a team file is a mapping with name, kind and agents"
	root, more, err := yamlfile.Decode(data)
	switch {
	case errors.Is(err, io.EOF):
		l.Add(nil, "", empty)
	case err != nil:
		l.Syntax(err)
	case more != nil:
		l.Add(more, "", "holds more than one YAML document; a team file is one document")
	case root.Kind == yaml.DocumentNode || (root.Kind == yaml.ScalarNode && root.Tag == "!!null"):
		l.Add(nil, "", empty)
	}
	if len(l.Problems) > 0 {
		return nil, l.err()
	}
	s := yamlfile.Load(&l.Checker, root, func(s *Spec) { l.check(s, opts) })
	if s == nil {
		return nil, l.err()
	}
	return s, nil
}

// loader checks a team file; its methods in check.go apply the rules the
// types cannot say.
type loader struct {
	yamlfile.Checker
}

func (l *loader) err() error {
	return &FileError{Problems: yamlfile.Convert[Problem](l.Problems)}
}
