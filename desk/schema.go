package desk

import (
	"reflect"

	"github.com/newsroom-dev/newsroom/internal/yamlfile"
)

// SchemaID is the $id of the team file JSON Schema.
const SchemaID = "https://github.com/newsroom-dev/newsroom/desk/team-file.schema.json"

// Schema returns the JSON Schema (draft 2020-12) of the team file format,
// derived from the same types the loader checks files against, so editors
// offer completion and flag what newsroom would refuse. Semantic rules (names
// that must refer to agents, loops that need a cap) are only in the loader.
func Schema() []byte {
	return yamlfile.Schema(reflect.TypeFor[Spec](), SchemaID, "newsroom team file")
}
