package report

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/blprobe/blprobe/internal/schemadoc"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed schema/report.v1.json
var schemaV1 []byte

// schemaURL names the embedded schema for the compiler; nothing is fetched.
const schemaURL = "https://github.com/blprobe/blprobe/report/schema/report.v1.json"

// maxValidationErrors caps how many failures Validate reports.
const maxValidationErrors = 5

var schema = schemadoc.New("report.v1.json", schemaURL, schemaV1)

// ValidateJSONL checks --format jsonl output: a run line ($defs/jsonlRun),
// result lines ($defs/dnsblResult) and a summary line last
// ($defs/jsonlSummary). The error names the first bad line.
func ValidateJSONL(data []byte) error {
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) < 2 {
		return fmt.Errorf("JSON lines: want a run line and a summary line, got %d lines", len(lines))
	}
	for i, l := range lines {
		def := "dnsblResult"
		switch i {
		case 0:
			def = "jsonlRun"
		case len(lines) - 1:
			def = "jsonlSummary"
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(l))
		if err != nil {
			return fmt.Errorf("JSON line %d is not valid JSON: %w", i+1, err)
		}
		cs, err := schema.Compile("#/$defs/" + def)
		if err != nil {
			return err
		}
		if err := cs.Validate(inst); err != nil {
			return fmt.Errorf("JSON line %d does not match $defs/%s: %w", i+1, def, err)
		}
	}
	return nil
}

// Schema returns the JSON Schema (draft 2020-12) of blprobe.report/v1
// documents (a copy of the embedded schema/report.v1.json).
func Schema() []byte { return schema.Bytes() }

// ValidationError lists where a document breaks the v1 schema.
type ValidationError struct {
	Failures []string // "JSON pointer: message", at most a few, first failures first
	Total    int      // how many leaf failures there were
}

func (e *ValidationError) Error() string {
	msg := "report does not match schema blprobe.report/v1: " + strings.Join(e.Failures, "; ")
	if more := e.Total - len(e.Failures); more > 0 {
		msg += fmt.Sprintf(" (and %d more)", more)
	}
	return msg
}

// Validate checks a JSON document against the v1 schema. The error, a
// *ValidationError when the document is well-formed JSON, names the JSON
// pointer of the first failures, e.g.
// `/smtp/domains/0/mx/0/addresses/0/status: value must be one of …`.
func Validate(data []byte) error {
	s, err := schema.Compile("")
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("report is not valid JSON: %w", err)
	}
	err = s.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("validating report: %w", err)
	}
	var leaves, nullBranches []*jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			// "got object, want null" is the other branch of a nullable
			// section's oneOf: noise next to the real failure inside it.
			if t, ok := e.ErrorKind.(*kind.Type); ok && len(t.Want) == 1 && t.Want[0] == "null" {
				nullBranches = append(nullBranches, e)
			} else {
				leaves = append(leaves, e)
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if len(leaves) == 0 {
		leaves = nullBranches
	}
	p := message.NewPrinter(language.English)
	out := &ValidationError{Total: len(leaves)}
	for _, e := range leaves[:min(len(leaves), maxValidationErrors)] {
		out.Failures = append(out.Failures, pointer(e.InstanceLocation)+": "+e.ErrorKind.LocalizedString(p))
	}
	return out
}

// pointer renders an instance location as a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}
