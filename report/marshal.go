package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/smtpcheck"
)

// reportJSON has Report's fields and tags but not its MarshalJSON method.
type reportJSON Report

// MarshalJSON marshals the report with every nil slice and map of the
// document and of its sections written as [] or {} (never null), so that
// the output matches schema/report.v1.json. Null sections stay null. The
// report itself is not modified. Secrets given to [New] are redacted.
func (r Report) MarshalJSON() ([]byte, error) {
	n := normalize(&r)
	b, err := json.Marshal((*reportJSON)(n))
	if err != nil {
		return nil, fmt.Errorf("marshalling report: %w", err)
	}
	return redactJSON(b, r.secrets), nil
}

// WriteJSON writes the report as indented JSON followed by a newline.
func WriteJSON(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("writing JSON report: nil report")
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Errorf("indenting JSON report: %w", err)
	}
	out.WriteByte('\n')
	if _, err := w.Write(out.Bytes()); err != nil {
		return fmt.Errorf("writing JSON report: %w", err)
	}
	return nil
}

// redactJSON replaces every secret, raw or JSON-escaped, in marshalled JSON.
func redactJSON(b []byte, secrets []string) []byte {
	for _, s := range sortedSecrets(secrets) {
		b = bytes.ReplaceAll(b, []byte(s), []byte(Redacted))
		q, err := json.Marshal(s)
		if err != nil || len(q) < 2 {
			continue
		}
		if esc := q[1 : len(q)-1]; !bytes.Equal(esc, []byte(s)) {
			b = bytes.ReplaceAll(b, esc, []byte(Redacted))
		}
	}
	return b
}

func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// normResult is res with its lists [] instead of null (the v1 contract),
// for every writer of results: the document, the stream and JSON lines.
func normResult(res dnsbl.Result) dnsbl.Result {
	res.Codes, res.Meanings = strs(res.Codes), strs(res.Meanings)
	return res
}

// normalize returns a shallow copy of r whose nil slices and maps (in the
// document and in every section) are empty instead. Slices that need no
// change are shared with r, never written.
func normalize(r *Report) *Report {
	n := *r
	n.Command = strs(n.Command)
	n.Resolvers = strs(n.Resolvers)
	n.NextSteps = strs(n.NextSteps)
	n.Warnings = strs(n.Warnings)
	if n.Egress != nil {
		e := *n.Egress
		e.Answers = make([]EgressAnswer, len(n.Egress.Answers))
		for i, a := range n.Egress.Answers {
			a.IPs = strs(a.IPs)
			e.Answers[i] = a
		}
		n.Egress = &e
	}
	if n.DNSBL != nil {
		results, omitted := n.DNSBL.selected()
		d := DNSBL{Zones: make([]dnsbl.ZoneHealth, len(n.DNSBL.Zones)), Omitted: omitted, Only: n.DNSBL.Only}
		for i, z := range n.DNSBL.Zones {
			ev := make([]dnsbl.Evidence, len(z.Evidence))
			for j, e := range z.Evidence {
				e.Codes = strs(e.Codes)
				ev[j] = e
			}
			z.Evidence = ev
			d.Zones[i] = z
		}
		d.Results = make([]dnsbl.Result, len(results))
		for i, res := range results {
			d.Results[i] = normResult(res)
		}
		if c := n.DNSBL.Coverage; c != nil {
			cc := *c
			cc.IPv4.NotApplicable, cc.IPv6.NotApplicable = strs(cc.IPv4.NotApplicable), strs(cc.IPv6.NotApplicable)
			d.Coverage = &cc
		}
		n.DNSBL = &d
	}
	if n.RDNS != nil {
		rd := make([]RDNS, len(n.RDNS))
		for i, x := range n.RDNS {
			x.PTR = strs(x.PTR)
			x.Problems = strs(x.Problems)
			if x.HELO != nil {
				h := *x.HELO
				h.Resolves = strs(h.Resolves)
				x.HELO = &h
			}
			rd[i] = x
		}
		n.RDNS = rd
	}
	if n.SMTP != nil {
		n.SMTP = normalizeSMTP(n.SMTP)
	}
	if n.Correlations == nil {
		n.Correlations = []Correlation{}
	} else {
		cs := make([]Correlation, len(n.Correlations))
		for i, c := range n.Correlations {
			if c.Evidence == nil {
				c.Evidence = map[string]string{}
			}
			cs[i] = c
		}
		n.Correlations = cs
	}
	return &n
}

func normalizeSMTP(in *smtpcheck.Result) *smtpcheck.Result {
	s := *in
	s.Rcpts = strs(s.Rcpts)
	s.Notes = strs(s.Notes)
	s.Domains = make([]smtpcheck.Domain, len(in.Domains))
	for i, d := range in.Domains {
		d.Rcpts = domainRcpts(in, d)
		mxs := make([]smtpcheck.MX, len(d.MX))
		for j, mx := range d.MX {
			ps := make([]smtpcheck.Probe, len(mx.Addresses))
			for k, p := range mx.Addresses {
				p.Extensions = strs(p.Extensions)
				if p.Rcpts == nil {
					p.Rcpts = []smtpcheck.RcptResult{}
				}
				if p.TLS != nil {
					tls := *p.TLS
					tls.Names = strs(tls.Names)
					p.TLS = &tls
				}
				if p.TimingsMs == nil {
					p.TimingsMs = map[string]float64{}
				}
				if p.Transcript == nil {
					p.Transcript = []smtpcheck.Line{}
				}
				ps[k] = p
			}
			mx.Addresses = ps
			mxs[j] = mx
		}
		d.MX = mxs
		s.Domains[i] = d
	}
	return &s
}
