package azure_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// expr is one parsed ARM template expression: a function call, a string or number literal, or
// a bare identifier, followed by any property accesses (.name) and index accesses ([expr]).
type expr struct {
	Func   string  // function name when the node is a call
	Args   []*expr // call arguments
	Lit    string  // literal text (without quotes for strings)
	IsStr  bool    // Lit is a string literal
	IsNum  bool    // Lit is a number
	Ident  string  // bare identifier (rare in ARM; kept so parsing never loses text)
	Access []access
}

type access struct {
	Prop  string
	Index *expr
}

// isExpression reports whether a template string is an expression ("[...]", not "[[" which is
// an escaped literal bracket).
func isExpression(s string) bool {
	return strings.HasPrefix(s, "[") && !strings.HasPrefix(s, "[[") && strings.HasSuffix(s, "]")
}

// parseExpression parses the text of a template string that isExpression accepted.
func parseExpression(s string) (*expr, error) {
	if !isExpression(s) {
		return nil, fmt.Errorf("not an expression: %q", s)
	}
	p := &exprParser{src: s[1 : len(s)-1]}
	e, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	p.space()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("%q: trailing text at %d: %q", s, p.pos, p.src[p.pos:])
	}
	return e, nil
}

type exprParser struct {
	src string
	pos int
}

var errEnd = errors.New("unexpected end of expression")

func (p *exprParser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n') {
		p.pos++
	}
}

func (p *exprParser) peek() (byte, bool) {
	p.space()
	if p.pos >= len(p.src) {
		return 0, false
	}
	return p.src[p.pos], true
}

func (p *exprParser) expect(c byte) error {
	got, ok := p.peek()
	if !ok {
		return fmt.Errorf("want %q: %w", c, errEnd)
	}
	if got != c {
		return fmt.Errorf("want %q at %d, got %q", c, p.pos, got)
	}
	p.pos++
	return nil
}

func isIdentByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		return true
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}

func (p *exprParser) parse() (*expr, error) {
	c, ok := p.peek()
	if !ok {
		return nil, errEnd
	}
	var e *expr
	switch {
	case c == '\'':
		var b strings.Builder
		p.pos++
		for {
			if p.pos >= len(p.src) {
				return nil, fmt.Errorf("unterminated string: %w", errEnd)
			}
			ch := p.src[p.pos]
			p.pos++
			if ch == '\'' {
				if p.pos < len(p.src) && p.src[p.pos] == '\'' {
					b.WriteByte('\'')
					p.pos++
					continue
				}
				break
			}
			b.WriteByte(ch)
		}
		e = &expr{Lit: b.String(), IsStr: true}
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		p.pos++
		for p.pos < len(p.src) && (p.src[p.pos] >= '0' && p.src[p.pos] <= '9' || p.src[p.pos] == '.') {
			p.pos++
		}
		e = &expr{Lit: p.src[start:p.pos], IsNum: true}
	case isIdentByte(c, true):
		start := p.pos
		for p.pos < len(p.src) && isIdentByte(p.src[p.pos], false) {
			p.pos++
		}
		name := p.src[start:p.pos]
		if c, ok := p.peek(); ok && c == '(' {
			p.pos++
			e = &expr{Func: name}
			if c, ok := p.peek(); ok && c == ')' {
				p.pos++
				break
			}
			for {
				arg, err := p.parse()
				if err != nil {
					return nil, err
				}
				e.Args = append(e.Args, arg)
				c, ok := p.peek()
				if !ok {
					return nil, fmt.Errorf("unclosed call to %s: %w", name, errEnd)
				}
				p.pos++
				if c == ')' {
					break
				}
				if c != ',' {
					return nil, fmt.Errorf("want ',' or ')' in call to %s at %d, got %q", name, p.pos-1, c)
				}
			}
		} else {
			e = &expr{Ident: name}
		}
	default:
		return nil, fmt.Errorf("unexpected %q at %d", c, p.pos)
	}
	for {
		c, ok := p.peek()
		if !ok {
			return e, nil
		}
		switch c {
		case '.':
			p.pos++
			start := p.pos
			for p.pos < len(p.src) && isIdentByte(p.src[p.pos], p.pos == start) {
				p.pos++
			}
			if p.pos == start {
				return nil, fmt.Errorf("property name expected at %d", start)
			}
			e.Access = append(e.Access, access{Prop: p.src[start:p.pos]})
		case '[':
			p.pos++
			idx, err := p.parse()
			if err != nil {
				return nil, err
			}
			if err := p.expect(']'); err != nil {
				return nil, err
			}
			e.Access = append(e.Access, access{Index: idx})
		default:
			return e, nil
		}
	}
}

// String renders the expression canonically (no optional spaces), so two spellings of the same
// expression compare equal.
func (e *expr) String() string {
	var b strings.Builder
	switch {
	case e.Func != "":
		b.WriteString(e.Func)
		b.WriteByte('(')
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(a.String())
		}
		b.WriteByte(')')
	case e.IsStr:
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(e.Lit, "'", "''"))
		b.WriteByte('\'')
	case e.IsNum:
		b.WriteString(e.Lit)
	default:
		b.WriteString(e.Ident)
	}
	for _, a := range e.Access {
		if a.Index != nil {
			b.WriteString("[" + a.Index.String() + "]")
		} else {
			b.WriteString("." + a.Prop)
		}
	}
	return b.String()
}

// walk calls fn for e and every expression nested in it, outermost first.
func (e *expr) walk(fn func(*expr)) {
	fn(e)
	for _, a := range e.Args {
		a.walk(fn)
	}
	for _, a := range e.Access {
		if a.Index != nil {
			a.Index.walk(fn)
		}
	}
}

// stringArg returns argument i when it is a string literal.
func (e *expr) stringArg(i int) (string, bool) {
	if i >= len(e.Args) || !e.Args[i].IsStr {
		return "", false
	}
	return e.Args[i].Lit, true
}

func TestParseExpression(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "a parameter reference", in: "[parameters('location')]", want: "parameters('location')"},
		{name: "nested calls and spaces", in: "[format( '{0}/{1}',variables('a') , 'b')]", want: "format('{0}/{1}', variables('a'), 'b')"},
		{name: "an escaped quote in a literal", in: "[concat('it''s', 'x')]", want: "concat('it''s', 'x')"},
		{name: "property and index access", in: "[reference(resourceId('T/x', 'n'), '2020-01-01').outputs['a'].value]", want: "reference(resourceId('T/x', 'n'), '2020-01-01').outputs['a'].value"},
		{name: "numbers", in: "[mul(parameters('c'), -10, 0.5)]", want: "mul(parameters('c'), -10, 0.5)"},
		{name: "a call with no arguments", in: "[resourceGroup().location]", want: "resourceGroup().location"},
		{name: "an unclosed call", in: "[parameters('x']", wantErr: true},
		{name: "an unterminated string", in: "[parameters('x)]", wantErr: true},
		{name: "trailing text", in: "[parameters('x') y]", wantErr: true},
		{name: "a missing comma", in: "[format('a' 'b')]", wantErr: true},
		{name: "an escaped bracket literal", in: "[[not an expression]", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExpression(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseExpression(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseExpression(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Errorf("parseExpression(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}
