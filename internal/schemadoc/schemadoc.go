// Package schemadoc compiles the JSON Schemas (draft 2020-12) that blprobe
// embeds for its documents (blprobe.report/v1, blprobe.migrate/v1,
// blprobe.diff/v1) and validates documents against them. Nothing is fetched:
// each schema is registered under its URL from the embedded bytes.
package schemadoc

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schema is one embedded schema, compiled on first use.
type Schema struct {
	name string // file name, for errors, e.g. "diff.v1.json"
	url  string // the schema's $id
	data []byte

	once     sync.Once
	compiler *jsonschema.Compiler
	err      error
	mu       sync.Mutex
	compiled map[string]*jsonschema.Schema // "" (the document) or "#/$defs/…"
}

// New describes an embedded schema: its file name, its URL and its bytes.
func New(name, url string, data []byte) *Schema {
	return &Schema{name: name, url: url, data: data, compiled: map[string]*jsonschema.Schema{}}
}

// Bytes returns a copy of the schema.
func (s *Schema) Bytes() []byte { return bytes.Clone(s.data) }

// Compile returns the compiled schema of the document (fragment "") or of a
// fragment such as "#/$defs/dnsblResult". Formats (date-time…) are asserted.
func (s *Schema) Compile(fragment string) (*jsonschema.Schema, error) {
	s.once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(s.data))
		if err != nil {
			s.err = fmt.Errorf("parsing embedded schema %s: %w", s.name, err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource(s.url, doc); err != nil {
			s.err = fmt.Errorf("loading embedded schema %s: %w", s.name, err)
			return
		}
		s.compiler = c
	})
	if s.err != nil {
		return nil, s.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs, ok := s.compiled[fragment]; ok {
		return cs, nil
	}
	cs, err := s.compiler.Compile(s.url + fragment)
	if err != nil {
		return nil, fmt.Errorf("compiling embedded schema %s%s: %w", s.name, fragment, err)
	}
	s.compiled[fragment] = cs
	return cs, nil
}

// Validate checks data against the document schema. what names the
// document in errors ("diff", "migrate report") and id its schema version.
// A mismatch is one line: "<what> does not match schema <id>: …".
func (s *Schema) Validate(data []byte, what, id string) error {
	cs, err := s.Compile("")
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s is not valid JSON: %w", what, err)
	}
	if err := cs.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("%s does not match schema %s: %s", what, id, strings.ReplaceAll(ve.Error(), "\n", " "))
		}
		return err
	}
	return nil
}
