package diff

import (
	_ "embed"

	"github.com/blprobe/blprobe/internal/schemadoc"
)

//go:embed schema/diff.v1.json
var schemaV1 []byte

var schema = schemadoc.New("diff.v1.json", "https://github.com/blprobe/blprobe/diff/schema/diff.v1.json", schemaV1)

// Schema returns the JSON Schema (draft 2020-12) of blprobe.diff/v1.
func Schema() []byte { return schema.Bytes() }

// Validate checks a JSON document against the blprobe.diff/v1 schema.
func Validate(data []byte) error { return schema.Validate(data, "diff", SchemaV1) }
