package intake

import (
	"reflect"

	"github.com/newsroom-dev/newsroom/internal/yamlfile"
)

// SchemaID is the $id of the intake file JSON Schema.
const SchemaID = "https://github.com/newsroom-dev/newsroom/intake/intake-file.schema.json"

// Schema returns the JSON Schema (draft 2020-12) of the intake file, derived
// from the types the loader checks files against. Rules across fields (one
// kind per source, unique names, desks that exist) are only in the loader.
func Schema() []byte {
	return yamlfile.Schema(reflect.TypeFor[File](), SchemaID, "newsroom intake file")
}
