package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/blprobe/blprobe/dnsbl"
)

// each calls fn with every result of the section (from All when set),
// filtered or not, until fn returns false.
func (d *DNSBL) each(fn func(*dnsbl.Result) bool) {
	if d.All != nil {
		d.All.Each(fn)
		return
	}
	for i := range d.Results {
		if !fn(&d.Results[i]) {
			return
		}
	}
}

// Shown reports whether a result of this status is written to the results
// (Only is empty or lists it).
func (d *DNSBL) Shown(s dnsbl.Status) bool {
	return len(d.Only) == 0 || slices.Contains(d.Only, s)
}

// countOmitted adds a left-out result to the per-zone counts.
func countOmitted(m map[string]map[dnsbl.Status]int, res *dnsbl.Result) map[string]map[dnsbl.Status]int {
	if m == nil {
		m = map[string]map[dnsbl.Status]int{}
	}
	if m[res.Zone] == nil {
		m[res.Zone] = map[dnsbl.Status]int{}
	}
	m[res.Zone][res.Status]++
	return m
}

// selected materialises the results the JSON report writes (Only applied)
// and the counts of those left out.
func (d *DNSBL) selected() ([]dnsbl.Result, map[string]map[dnsbl.Status]int) {
	if d.All == nil && len(d.Only) == 0 {
		return d.Results, d.Omitted
	}
	out := []dnsbl.Result{}
	var omitted map[string]map[dnsbl.Status]int
	d.each(func(r *dnsbl.Result) bool {
		if d.Shown(r.Status) {
			out = append(out, *r)
		} else {
			omitted = countOmitted(omitted, r)
		}
		return true
	})
	return out, omitted
}

// WriteJSONStream writes the same bytes as WriteJSON, but the DNSBL
// results are encoded one at a time as they are read from the section
// (DNSBL.All for a large run), never held in memory together; w is written
// through a buffer.
func WriteJSONStream(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("writing JSON report: nil report")
	}
	if r.DNSBL == nil {
		return WriteJSON(w, r)
	}
	// The document without results: every other byte is WriteJSON's.
	src := r.DNSBL
	bare := *r
	bare.DNSBL = &DNSBL{Zones: src.Zones, Results: []dnsbl.Result{}, Only: src.Only, Coverage: src.Coverage}
	n := normalize(&bare)
	b, err := json.Marshal((*reportJSON)(n))
	if err != nil {
		return fmt.Errorf("marshalling report: %w", err)
	}
	var doc bytes.Buffer
	if err := json.Indent(&doc, redactJSON(b, r.secrets), "", "  "); err != nil {
		return fmt.Errorf("indenting JSON report: %w", err)
	}
	// The dnsbl object's members are indented by 4 spaces; a newline
	// cannot occur inside a JSON string, so this finds the member.
	const marker = "\n    \"results\": []"
	start := bytes.Index(doc.Bytes(), []byte("\n  \"dnsbl\": {"))
	at := -1
	if start >= 0 {
		if k := bytes.Index(doc.Bytes()[start:], []byte(marker)); k >= 0 {
			at = start + k + len(marker) - 2
		}
	}
	if at < 0 {
		return fmt.Errorf("writing JSON report: results member not found")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(doc.Bytes()[:at])
	var omitted map[string]map[dnsbl.Status]int
	first := true
	var item, ind bytes.Buffer
	var encErr error
	src.each(func(res *dnsbl.Result) bool {
		if !src.Shown(res.Status) {
			omitted = countOmitted(omitted, res)
			return true
		}
		item.Reset()
		enc := json.NewEncoder(&item)
		if encErr = enc.Encode(normResult(*res)); encErr != nil {
			return false
		}
		ind.Reset()
		if encErr = json.Indent(&ind, redactJSON(bytes.TrimSuffix(item.Bytes(), []byte("\n")), r.secrets), "      ", "  "); encErr != nil {
			return false
		}
		if first {
			bw.WriteString("[\n      ")
			first = false
		} else {
			bw.WriteString(",\n      ")
		}
		bw.Write(ind.Bytes())
		return true
	})
	if encErr != nil {
		return fmt.Errorf("marshalling DNSBL result: %w", encErr)
	}
	if first {
		bw.WriteString("[]")
	} else {
		bw.WriteString("\n    ]")
	}
	if len(omitted) > 0 {
		ob, err := json.Marshal(omitted)
		if err != nil {
			return fmt.Errorf("marshalling omitted counts: %w", err)
		}
		ind.Reset()
		if err := json.Indent(&ind, redactJSON(ob, r.secrets), "    ", "  "); err != nil {
			return fmt.Errorf("indenting omitted counts: %w", err)
		}
		bw.WriteString(",\n    \"omitted\": ")
		bw.Write(ind.Bytes())
	}
	bw.Write(doc.Bytes()[at+2:])
	bw.WriteByte('\n')
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing JSON report: %w", err)
	}
	return nil
}
