package intake

import (
	"encoding/json"
	"reflect"
)

// SchemaID is the $id of the intake file JSON Schema.
const SchemaID = "https://github.com/newsroom-dev/newsroom/intake/intake-file.schema.json"

// Schema returns the JSON Schema (draft 2020-12) of the intake file, derived
// from the types the loader checks files against. Rules across fields (one
// kind per source, unique names, desks that exist) are only in the loader.
func Schema() []byte {
	defs := map[string]any{}
	root := object(reflect.TypeFor[File](), defs)
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaID
	root["title"] = "newsroom intake file"
	root["$defs"] = defs
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil { // only maps, slices, strings and numbers: cannot fail
		panic(err)
	}
	return append(b, '\n')
}

func object(t reflect.Type, defs map[string]any) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range fieldsOf(t) {
		p := schemaOf(t.Field(f.index).Type, defs)
		if f.doc != "" {
			p["description"] = f.doc
		}
		if f.enum != nil {
			p["enum"] = f.enum
		}
		if f.minimum != nil {
			p["minimum"] = *f.minimum
		}
		if f.maximum != nil {
			p["maximum"] = *f.maximum
		}
		props[f.name] = p
		if f.required {
			required = append(required, f.name)
		}
	}
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if required != nil {
		o["required"] = required
	}
	return o
}

func schemaOf(t reflect.Type, defs map[string]any) map[string]any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if _, ok := defs[t.Name()]; !ok {
			defs[t.Name()] = true
			defs[t.Name()] = object(t, defs)
		}
		return map[string]any{"$ref": "#/$defs/" + t.Name()}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), defs)}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	}
	return map[string]any{}
}
