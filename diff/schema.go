package diff

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schema/diff.v1.json
var schemaV1 []byte

const schemaURL = "https://github.com/blprobe/blprobe/diff/schema/diff.v1.json"

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaV1))
	if err != nil {
		return nil, fmt.Errorf("parsing embedded schema diff.v1.json: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("loading embedded schema diff.v1.json: %w", err)
	}
	return c.Compile(schemaURL)
})

// Schema returns the JSON Schema (draft 2020-12) of blprobe.diff/v1.
func Schema() []byte { return bytes.Clone(schemaV1) }

// Validate checks a JSON document against the blprobe.diff/v1 schema.
func Validate(data []byte) error {
	s, err := compiled()
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("diff is not valid JSON: %w", err)
	}
	if err := s.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("diff does not match schema %s: %s", SchemaV1, strings.ReplaceAll(ve.Error(), "\n", " "))
		}
		return err
	}
	return nil
}
