package migrate

import (
	_ "embed"

	"github.com/blprobe/blprobe/internal/schemadoc"
)

//go:embed schema/migrate.v1.json
var schemaV1 []byte

var schema = schemadoc.New("migrate.v1.json", "https://github.com/blprobe/blprobe/migrate/schema/migrate.v1.json", schemaV1)

// Schema returns the JSON Schema (draft 2020-12) of blprobe.migrate/v1.
func Schema() []byte { return schema.Bytes() }

// Validate checks a JSON document against the blprobe.migrate/v1 schema.
func Validate(data []byte) error { return schema.Validate(data, "migrate report", SchemaV1) }
