// Package armtest reads ARM templates for the deploy packages' tests: no
// Azure subscription is reachable where tests run, so a template is checked
// by its properties and by every expression naming only what it declares.
package armtest

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Template is an ARM template; resources stay maps so any path can be read.
type Template struct {
	Schema     string                    `json:"$schema"`
	Parameters map[string]map[string]any `json:"parameters"`
	Variables  map[string]any            `json:"variables"`
	Resources  []map[string]any          `json:"resources"`
	Outputs    map[string]map[string]any `json:"outputs"`
	Raw        string                    `json:"-"`
}

// Load reads and decodes the template at path.
func Load(t testing.TB, path string) *Template {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tm Template
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&tm); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tm.Raw = string(b)
	if tm.Schema != "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#" {
		t.Errorf("%s: $schema %q", path, tm.Schema)
	}
	return &tm
}

var (
	paramRef = regexp.MustCompile(`parameters\('([^']+)'\)`)
	varRef   = regexp.MustCompile(`variables\('([^']+)'\)`)
)

// CheckReferences fails for a parameter or variable an expression names
// but the template does not declare, and for a declared one nothing uses.
func CheckReferences(t testing.TB, tm *Template) {
	t.Helper()
	used := map[string]bool{}
	for _, m := range paramRef.FindAllStringSubmatch(tm.Raw, -1) {
		used[m[1]] = true
		if _, ok := tm.Parameters[m[1]]; !ok {
			t.Errorf("parameters('%s') is not declared", m[1])
		}
	}
	for name := range tm.Parameters {
		if !used[name] {
			t.Errorf("parameter %s is never used", name)
		}
	}
	for _, m := range varRef.FindAllStringSubmatch(tm.Raw, -1) {
		if _, ok := tm.Variables[m[1]]; !ok {
			t.Errorf("variables('%s') is not declared", m[1])
		}
	}
}

// OfType returns the resources of type typ.
func (tm *Template) OfType(typ string) []map[string]any {
	var out []map[string]any
	for _, r := range tm.Resources {
		if r["type"] == typ {
			out = append(out, r)
		}
	}
	return out
}

// One returns the only resource of type typ.
func (tm *Template) One(t testing.TB, typ string) map[string]any {
	t.Helper()
	rs := tm.OfType(typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	return rs[0]
}

// Get reads a value by a dotted path ("properties.sku.name"); list
// elements by index ("containers.0.name").
func Get(v any, path string) any {
	for part := range strings.SplitSeq(path, ".") {
		switch c := v.(type) {
		case map[string]any:
			v = c[part]
		case []any:
			i := 0
			for _, ch := range part {
				if ch < '0' || ch > '9' {
					return nil
				}
				i = i*10 + int(ch-'0')
			}
			if i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

// Settings returns name → value of a list of {name, value} objects (app
// settings, environment variables).
func Settings(v any) map[string]any {
	out := map[string]any{}
	list, _ := v.([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		name, _ := m["name"].(string)
		if val, ok := m["value"]; ok {
			out[name] = val
		} else {
			out[name] = m["secretRef"]
		}
	}
	return out
}

var roleID = regexp.MustCompile(`'([0-9a-f-]{36})'\)\]$`)

// RoleIDs are the role definitions the template's role assignments grant.
func (tm *Template) RoleIDs() map[string]bool {
	out := map[string]bool{}
	for _, r := range tm.OfType("Microsoft.Authorization/roleAssignments") {
		id, _ := Get(r, "properties.roleDefinitionId").(string)
		if m := roleID.FindStringSubmatch(id); m != nil {
			out[m[1]] = true
		}
	}
	return out
}
