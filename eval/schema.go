package eval

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// SchemaID is the $id of the suite file JSON Schema.
const SchemaID = "https://github.com/newsroom-dev/newsroom/eval/suite.schema.json"

// Schema returns the JSON Schema (draft 2020-12) of suite files, derived
// from the types the loader checks against. Rules across fields (unique
// case names, documents that exist) are only in the loader.
func Schema() []byte {
	root := schemaOf(reflect.TypeFor[Suite]())
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaID
	root["title"] = "newsroom eval suite"
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil { // maps, slices, strings and numbers only
		panic(err)
	}
	return append(b, '\n')
}

func schemaOf(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	}
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		p := schemaOf(f.Type)
		if d := f.Tag.Get("doc"); d != "" {
			p["description"] = d
		}
		if e := f.Tag.Get("enum"); e != "" {
			p["enum"] = strings.Split(e, ",")
		}
		if m := f.Tag.Get("minimum"); m != "" {
			n, _ := strconv.Atoi(m)
			p["minimum"] = n
		}
		if f.Tag.Get("required") == "true" {
			required = append(required, name)
		}
		props[name] = p
	}
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if required != nil {
		o["required"] = required
	}
	return o
}
