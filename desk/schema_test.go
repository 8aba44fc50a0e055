package desk_test

import (
	"encoding/json"
	"testing"

	"github.com/newsroom-dev/newsroom/desk"
	"go.yaml.in/yaml/v3"
)

// TestSchema_DescribesEveryFieldOfTheShippedDesks walks each shipped desk's
// YAML through the schema: every key it uses must be a property there, and
// the schema must close objects and mark required fields.
func TestSchema_DescribesEveryFieldOfTheShippedDesks(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(desk.Schema(), &s); err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	defs := s["$defs"].(map[string]any)
	resolve := func(n map[string]any) map[string]any {
		if ref, ok := n["$ref"].(string); ok {
			return defs[ref[len("#/$defs/"):]].(map[string]any)
		}
		return n
	}
	var walk func(path string, y any, sch map[string]any)
	walk = func(path string, y any, sch map[string]any) {
		sch = resolve(sch)
		switch v := y.(type) {
		case map[string]any:
			if sch["type"] != "object" || sch["additionalProperties"] != false {
				t.Errorf("%s: schema %v is not a closed object", path, sch["type"])
				return
			}
			props := sch["properties"].(map[string]any)
			for k, val := range v {
				p, ok := props[k].(map[string]any)
				if !ok {
					t.Errorf("%s.%s: not in the schema", path, k)
					continue
				}
				walk(path+"."+k, val, p)
			}
		case []any:
			if sch["type"] != "array" {
				t.Errorf("%s: schema type %v, want array", path, sch["type"])
				return
			}
			for _, e := range v {
				walk(path+"[]", e, sch["items"].(map[string]any))
			}
		}
	}
	for _, d := range desk.NewRegistry().List() {
		var y map[string]any
		if err := yaml.Unmarshal(d.YAML, &y); err != nil {
			t.Fatal(err)
		}
		walk(d.Spec.Name, y, s)
	}
	if req := s["required"].([]any); len(req) != 3 {
		t.Errorf("required %v, want name, kind, agents", req)
	}
	if _, ok := defs["ConditionSpec"].(map[string]any)["properties"].(map[string]any)["any"]; !ok {
		t.Error("conditions must nest through any")
	}
}
