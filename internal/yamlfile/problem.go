// Package yamlfile reads the project's YAML file formats strictly: a file is
// checked as yaml.v3 nodes against the Go struct type of its format (unknown
// fields refused, required fields, kinds of values, enums and bounds from
// struct tags), every problem is reported at file:line:column with its
// field, and the format's JSON Schema is derived from the same types.
//
// The struct tags read are yaml (the field's name), required:"true",
// enum:"a,b", minimum:"N", maximum:"N" and doc:"text".
package yamlfile

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one mistake in a file, where it is and what is allowed.
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

// Lines is problems one a line, for the Error method of a file error.
func Lines[P fmt.Stringer](problems []P) string {
	lines := make([]string, len(problems))
	for i, p := range problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Decode reads the first YAML document of data and returns its content
// node (the document node itself when it holds no content); err is io.EOF
// when data holds no document. more is the next document, when data holds
// a second one that parses.
func Decode(data []byte) (root, more *yaml.Node, err error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, err
	}
	var next yaml.Node
	if dec.Decode(&next) == nil {
		more = &next
	}
	root = &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	return root, more, nil
}

// problemStruct is the type set of Problem and of the Problem types that
// packages declare with the same fields, for Convert.
type problemStruct interface {
	~struct {
		File    string
		Line    int
		Column  int
		Field   string
		Message string
	}
}

// Convert returns problems as a package's own Problem type P, one with the
// fields of Problem.
func Convert[P problemStruct](problems []Problem) []P {
	out := make([]P, len(problems))
	for i, p := range problems {
		out[i] = P(p)
	}
	return out
}
