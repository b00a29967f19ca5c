package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func marshal(t *testing.T, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSchemaIsDraft2020(t *testing.T) {
	var s struct {
		Schema string `json:"$schema"`
		Props  map[string]any
	}
	if err := json.Unmarshal(Schema(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q", s.Schema)
	}
	if _, err := schema.Compile(""); err != nil {
		t.Fatal(err)
	}
}

func TestValidateReports(t *testing.T) {
	empty := New(Tool{Name: "blprobe", Version: "dev"}, nil)
	bare := &Report{Schema: SchemaV1, Tool: Tool{Name: "blprobe"}, Verdict: VerdictClean} // built by hand: nil slices everywhere
	sectionsNil := fullReport()
	sectionsNil.DNSBL.Zones[0].Evidence = nil
	sectionsNil.DNSBL.Results = nil
	sectionsNil.Egress.Answers = nil
	sectionsNil.RDNS[0].PTR, sectionsNil.RDNS[0].Problems, sectionsNil.RDNS[0].HELO.Resolves = nil, nil, nil
	sectionsNil.SMTP.Rcpts = nil
	sectionsNil.SMTP.Domains[0].MX[0].Addresses[0].Extensions = nil
	sectionsNil.SMTP.Domains[0].MX[0].Addresses[0].TimingsMs = nil
	sectionsNil.SMTP.Domains[0].MX[0].Addresses[0].Transcript = nil
	sectionsNil.Correlations[0].Evidence = nil
	emptyRDNS := New(Tool{Name: "blprobe"}, []string{"blprobe", "egress"})
	emptyRDNS.RDNS = []RDNS{}
	for name, r := range map[string]*Report{"new": empty, "bare": bare, "full": fullReport(), "enums": enumReport(), "nil-in-sections": sectionsNil, "empty-rdns": emptyRDNS} {
		t.Run(name, func(t *testing.T) {
			b := marshal(t, r)
			if err := Validate(b); err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			var doc any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			checkNulls(t, "", doc)
		})
	}
}

// nullable are the only fields that may be null: sections and optional objects.
var nullable = map[string]bool{"egress": true, "dnsbl": true, "rdns": true, "smtp": true, "helo": true, "reply": true, "tls": true}

// checkNulls fails on any null outside the nullable fields.
func checkNulls(t *testing.T, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil && !nullable[k] {
				t.Errorf("%s/%s is null", path, k)
			}
			checkNulls(t, path+"/"+k, e)
		}
	case []any:
		for i, e := range x {
			checkNulls(t, fmt.Sprintf("%s/%d", path, i), e)
		}
	}
}

// TestMarshalNormalizesNil: nil slices become [] (sections stay null) and
// the caller's report is not modified.
func TestMarshalNormalizesNil(t *testing.T) {
	r := &Report{Schema: SchemaV1, SMTP: fullReport().SMTP}
	r.SMTP.Domains[0].MX[0].Addresses[0].Transcript = nil
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"command", "resolvers", "next_steps", "warnings", "correlations"} {
		if _, ok := m[k].([]any); !ok {
			t.Errorf("%s = %#v, want []", k, m[k])
		}
	}
	for _, k := range []string{"egress", "dnsbl", "rdns"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("%s = %#v, want null", k, v)
		}
	}
	if !strings.Contains(string(b), `"transcript":[]`) {
		t.Errorf("nil transcript not marshalled as []: %s", b)
	}
	if r.Command != nil || r.SMTP.Domains[0].MX[0].Addresses[0].Transcript != nil {
		t.Error("MarshalJSON modified the report")
	}
	// Round trip.
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.SMTP.Domains[0].MX[0].Addresses[0].Reply.Code != 554 {
		t.Errorf("round trip lost the reply: %+v", back.SMTP.Domains[0].MX[0].Addresses[0])
	}
}

// mutate applies f to the generic JSON form of the full report.
func mutate(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(marshal(t, enumReport()), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(v any, path ...any) map[string]any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v.(map[string]any)
}

func TestValidateRejects(t *testing.T) {
	probe := []any{"smtp", "domains", 0, "mx", 0, "addresses", 0}
	for _, tc := range []struct {
		name, pointer string
		f             func(m map[string]any)
	}{
		{"missing verdict", "/", func(m map[string]any) { delete(m, "verdict") }},
		{"bad verdict", "/verdict", func(m map[string]any) { m["verdict"] = "maybe" }},
		{"bad schema", "/schema", func(m map[string]any) { m["schema"] = "blprobe.report/v2" }},
		{"exit code 4", "/exit_code", func(m map[string]any) { m["exit_code"] = 4 }},
		{"bad time", "/started", func(m map[string]any) { m["started"] = "yesterday" }},
		{"unknown top field", "/", func(m map[string]any) { m["verdikt"] = "clean" }},
		{"null warnings", "/warnings", func(m map[string]any) { m["warnings"] = nil }},
		{"renamed result field", "/dnsbl/results/0", func(m map[string]any) {
			res := obj(m, "dnsbl", "results", 0)
			res["state"] = res["status"]
			delete(res, "status")
		}},
		{"bad result status", "/dnsbl/results/0/status", func(m map[string]any) { obj(m, "dnsbl", "results", 0)["status"] = "blocked" }},
		{"error without kind", "/dnsbl/results/3", func(m map[string]any) { delete(obj(m, "dnsbl", "results", 3), "error_kind") }},
		{"bad error kind", "/dnsbl/results/3/error_kind", func(m map[string]any) { obj(m, "dnsbl", "results", 3)["error_kind"] = "oops" }},
		{"bad health", "/dnsbl/zones/0/health", func(m map[string]any) { obj(m, "dnsbl", "zones", 0)["health"] = "sick" }},
		{"bad zone type", "/dnsbl/zones/0/type", func(m map[string]any) { obj(m, "dnsbl", "zones", 0)["type"] = "deny" }},
		{"missing evidence", "/dnsbl/zones/0", func(m map[string]any) { delete(obj(m, "dnsbl", "zones", 0), "evidence") }},
		{"bad family", "/egress/answers/0/family", func(m map[string]any) { obj(m, "egress", "answers", 0)["family"] = "v4" }},
		{"egress family missing agree", "/egress/ipv4", func(m map[string]any) { delete(obj(m, "egress", "ipv4"), "agree") }},
		{"rdns missing ptr", "/rdns/0", func(m map[string]any) { delete(obj(m, "rdns", 0), "ptr") }},
		{"helo unknown field", "/rdns/0/helo", func(m map[string]any) { obj(m, "rdns", 0, "helo")["fcrdns"] = true }},
		{"bad probe status", "/smtp/domains/0/mx/0/addresses/0/status", func(m map[string]any) { obj(m, probe...)["status"] = "bounced" }},
		{"bad class", "/smtp/domains/0/mx/0/addresses/0/class", func(m map[string]any) { obj(m, probe...)["class"] = "spam" }},
		{"bad stage", "/smtp/domains/0/mx/0/addresses/0/stage", func(m map[string]any) { obj(m, probe...)["stage"] = "data" }},
		{"empty stage on finished probe", "/smtp/domains/0/mx/0/addresses/0/status", func(m map[string]any) { obj(m, probe...)["stage"] = "" }},
		{"missing transcript", "/smtp/domains/0/mx/0/addresses/0", func(m map[string]any) { delete(obj(m, probe...), "transcript") }},
		{"bad dir", "/smtp/domains/0/mx/0/addresses/0/transcript/0/dir", func(m map[string]any) {
			obj(m, append(probe, "transcript", 0)...)["dir"] = "X"
		}},
		{"reply code as string", "/smtp/domains/0/mx/0/addresses/0/reply/code", func(m map[string]any) { obj(m, append(probe, "reply")...)["code"] = "554" }},
		{"tls missing version", "/smtp/domains/0/mx/0/addresses/0/tls", func(m map[string]any) { delete(obj(m, append(probe, "tls")...), "version") }},
		{"bad domain status", "/smtp/domains/0/status", func(m map[string]any) { obj(m, "smtp", "domains", 0)["status"] = "fine" }},
		{"bad severity", "/correlations/0/severity", func(m map[string]any) { obj(m, "correlations", 0)["severity"] = "fatal" }},
		{"evidence not string", "/correlations/0/evidence/mx", func(m map[string]any) { obj(m, "correlations", 0, "evidence")["mx"] = 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(mutate(t, tc.f))
			if err == nil {
				t.Fatal("mutated document validated")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T %v is not a *ValidationError", err, err)
			}
			found := false
			for _, f := range ve.Failures {
				if strings.HasPrefix(f, tc.pointer+":") {
					found = true
				}
			}
			if !found {
				t.Errorf("error does not name %s: %v", tc.pointer, err)
			}
		})
	}
}

func TestValidateNotJSON(t *testing.T) {
	for _, in := range []string{"", "{", "null", "[]", `{"schema":"blprobe.report/v1"}`} {
		if err := Validate([]byte(in)); err == nil {
			t.Errorf("Validate(%q) = nil", in)
		}
	}
}

// TestSchemaCoversGoFields: every JSON field of every Go type in the report
// appears in a marshalled fixture that validates, so a field added to the
// types without the schema (additionalProperties: false) is caught here.
func TestSchemaCoversGoFields(t *testing.T) {
	r := enumReport()
	r.RDNS[0].Error = "SERVFAIL"
	r.RDNS[0].HELO.Error = "timeout"
	r.SMTP.Domains[0].MX[0].Addresses[0].TLS.VerifyError = "x509: certificate signed by unknown authority"
	b := marshal(t, r)
	if err := Validate(b); err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				seen[k] = true
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	for _, name := range jsonFields(reflect.TypeOf(Report{}), map[reflect.Type]bool{}) {
		if !seen[name] {
			t.Errorf("field %q never appears in the fixture: add it to enumReport (and to the schema)", name)
		}
	}
	// Timestamps in other zones are still date-times.
	r.Started = time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	if err := Validate(marshal(t, r)); err != nil {
		t.Fatal(err)
	}
}

// jsonFields lists the JSON names of the exported fields of t and of every
// struct type reachable from it.
func jsonFields(t reflect.Type, done map[reflect.Type]bool) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || done[t] || t == reflect.TypeOf(time.Time{}) {
		return nil
	}
	done[t] = true
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
		out = append(out, jsonFields(f.Type, done)...)
	}
	return out
}

func TestSchemaCopy(t *testing.T) {
	s := Schema()
	s[0] = 'X'
	if Schema()[0] == 'X' {
		t.Error("Schema returns the embedded slice itself")
	}
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"schema":"blprobe.report/v1"}`))
	f.Add([]byte(`{"smtp":{"domains":[{"mx":[{"addresses":[{"status":1}]}]}]}}`))
	f.Add([]byte("[[[[[[[[[[[[[[[["))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Validate(b)
		var ve *ValidationError
		if errors.As(err, &ve) && (len(ve.Failures) == 0 || len(ve.Failures) > maxValidationErrors) {
			t.Fatalf("validation error with %d failures: %v", len(ve.Failures), err)
		}
	})
}

// TestListsNeverNull: in a report built with nil slices everywhere, only the
// sections and the single objects documented as nullable are null; every list
// is [] (the README's contract).
func TestListsNeverNull(t *testing.T) {
	r := fullReport()
	r.DNSBL.Results[0].Codes, r.DNSBL.Results[0].Meanings = nil, nil
	r.DNSBL.Zones[0].Evidence[0].Codes = nil
	r.Egress.Answers[0].IPs = nil
	p := &r.SMTP.Domains[0].MX[0].Addresses[0]
	p.Rcpts, p.Extensions, p.Transcript = nil, nil, nil
	if p.TLS != nil {
		p.TLS.Names = nil
	}
	r.SMTP.Notes, r.SMTP.Rcpts = nil, nil
	r.RDNS[0].PTR, r.RDNS[0].Problems = nil, nil
	r.Warnings, r.NextSteps, r.Correlations = nil, nil, nil
	b := marshal(t, r)
	if err := Validate(b); err != nil {
		t.Fatal(err)
	}
	nullable := map[string]bool{"egress": true, "dnsbl": true, "rdns": true, "smtp": true, "reply": true, "tls": true, "helo": true}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if e == nil && !nullable[k] {
					t.Errorf("%s.%s is null", path, k)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("", doc)
	for _, want := range []string{`"codes": []`, `"meanings": []`, `"rcpts": []`, `"notes": []`, `"ips": []`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	// The schema rejects null lists.
	bad := bytes.Replace(b, []byte(`"meanings": []`), []byte(`"meanings": null`), 1)
	if err := Validate(bad); err == nil {
		t.Error("schema accepts \"meanings\": null")
	}
}
