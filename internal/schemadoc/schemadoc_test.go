package schemadoc

import (
	"strings"
	"testing"
)

const testSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["schema", "items"],
  "properties": {
    "schema": {"const": "test/v1"},
    "items": {"type": "array", "items": {"$ref": "#/$defs/item"}}
  },
  "$defs": {"item": {"type": "object", "required": ["at"], "properties": {"at": {"type": "string", "format": "date-time"}}}}
}`

func TestValidate(t *testing.T) {
	s := New("test.v1.json", "https://example.test/test.v1.json", []byte(testSchema))
	tests := []struct {
		name, doc, wantErr string
	}{
		{"valid", `{"schema":"test/v1","items":[{"at":"2026-11-29T05:00:00Z"}]}`, ""},
		{"not JSON", `{"schema":`, "doc is not valid JSON"},
		{"wrong constant", `{"schema":"test/v2","items":[]}`, "doc does not match schema test/v1"},
		{"format asserted", `{"schema":"test/v1","items":[{"at":"yesterday"}]}`, "does not match schema test/v1"},
		{"null list", `{"schema":"test/v1","items":null}`, "does not match schema test/v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate([]byte(tt.doc), "doc", "test/v1")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestCompileFragment(t *testing.T) {
	s := New("test.v1.json", "https://example.test/test.v1.json", []byte(testSchema))
	item, err := s.Compile("#/$defs/item")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.Compile("#/$defs/item")
	if item != again {
		t.Error("a fragment is compiled once and reused")
	}
	if _, err := s.Compile("#/$defs/missing"); err == nil {
		t.Error("a missing fragment compiled")
	}
	if string(s.Bytes()) != testSchema {
		t.Error("Bytes does not return the schema")
	}
	bad := New("bad.json", "https://example.test/bad.json", []byte(`{"type": `))
	if err := bad.Validate([]byte(`{}`), "doc", "x"); err == nil || !strings.Contains(err.Error(), "parsing embedded schema bad.json") {
		t.Errorf("broken schema: %v", err)
	}
}
