package yamlfile

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Checker collects the problems of one file. The zero value with File set
// is ready to use.
type Checker struct {
	// File names the file in problems.
	File string
	// FloatBounds applies minimum and maximum to values written as decimal
	// numbers too, on whole-number fields as well; false applies them to
	// whole numbers only.
	FloatBounds bool
	// Problems are the problems found so far, in the order found.
	Problems []Problem

	pos map[string]*yaml.Node // field path -> its value node
}

// Add records a problem at node n (nil: no line) in field.
func (c *Checker) Add(n *yaml.Node, field, msg string) {
	p := Problem{File: c.File, Field: field, Message: msg}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	c.Problems = append(c.Problems, p)
}

// At records a problem in field at the node of field, or of its nearest
// parent that Check has seen.
func (c *Checker) At(field, msg string) {
	for f := field; ; {
		if n, ok := c.pos[f]; ok {
			c.Add(n, field, msg)
			return
		}
		if f == "" {
			c.Add(nil, field, msg)
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

// Syntax records a YAML parser error, one problem per message; the parser
// gives a line, not a column.
func (c *Checker) Syntax(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, s := range msgs {
		p := Problem{File: c.File, Message: "not valid YAML: " + s}
		if m := yamlLine.FindStringSubmatch(s); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Message = "not valid YAML: " + m[2]
		}
		c.Problems = append(c.Problems, p)
	}
}

// Check checks root against the struct type t: mappings have only known
// fields and every required one, sequences are sequences, scalars have the
// right type, enums and bounds hold. It records each field's node for At.
func (c *Checker) Check(root *yaml.Node, t reflect.Type) {
	if c.pos == nil {
		c.pos = map[string]*yaml.Node{}
	}
	c.pos[""] = root
	c.walk(root, t, "")
}

func (c *Checker) walk(n *yaml.Node, t reflect.Type, field string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	c.pos[field] = n
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value is the field's zero value
	}
	switch t.Kind() {
	case reflect.Struct:
		c.walkStruct(n, t, field)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.Add(n, field, "want a list")
			return
		}
		for i, e := range n.Content {
			c.walk(e, t.Elem(), field+"["+strconv.Itoa(i)+"]")
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.Add(n, field, "want a text value")
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			c.Add(n, field, fmt.Sprintf("want a whole number, not %q", n.Value))
		}
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			c.Add(n, field, fmt.Sprintf("want a number, not %q", n.Value))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			c.Add(n, field, fmt.Sprintf("want true or false, not %q", n.Value))
		}
	}
}

func (c *Checker) walkStruct(n *yaml.Node, t reflect.Type, field string) {
	fs := fieldsOf(t)
	if n.Kind != yaml.MappingNode {
		c.Add(n, field, "want a mapping with the fields "+names(fs))
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if prev, dup := seen[k.Value]; dup {
			c.Add(k, join(field, k.Value), fmt.Sprintf("given twice (first at line %d)", prev.Line))
			continue
		}
		seen[k.Value] = k
		j := slices.IndexFunc(fs, func(f fieldInfo) bool { return f.name == k.Value })
		if j < 0 {
			c.Add(k, field, fmt.Sprintf("unknown field %q; allowed: %s", k.Value, names(fs)))
			continue
		}
		sub := join(field, fs[j].name)
		c.walk(v, t.Field(fs[j].index).Type, sub)
		c.scalarRules(v, fs[j], sub)
	}
	for _, f := range fs {
		if _, ok := seen[f.name]; f.required && !ok {
			c.Add(n, field, fmt.Sprintf("missing field %q (%s)", f.name, f.doc))
		}
	}
}

func (c *Checker) scalarRules(n *yaml.Node, f fieldInfo, field string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return
	}
	if f.enum != nil && !slices.Contains(f.enum, n.Value) {
		c.Add(n, field, fmt.Sprintf("%q is not allowed; want one of %s", n.Value, strings.Join(f.enum, ", ")))
	}
	if n.Tag != "!!int" && (!c.FloatBounds || n.Tag != "!!float") {
		return
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil {
		return
	}
	if f.minimum != nil && v < *f.minimum {
		c.Add(n, field, fmt.Sprintf("%s is too small; want at least %g", n.Value, *f.minimum))
	}
	if f.maximum != nil && v > *f.maximum {
		c.Add(n, field, fmt.Sprintf("%s is too large; want at most %g", n.Value, *f.maximum))
	}
}

// Load checks root against the struct type T, decodes it and then calls
// check, which applies the rules the types cannot say. It returns nil when
// any problem was found, by c before or by these steps.
func Load[T any](c *Checker, root *yaml.Node, check func(*T)) *T {
	c.Check(root, reflect.TypeFor[T]())
	if len(c.Problems) > 0 {
		return nil
	}
	var v T
	if err := root.Decode(&v); err != nil {
		c.Syntax(err)
		return nil
	}
	check(&v)
	if len(c.Problems) > 0 {
		return nil
	}
	return &v
}
