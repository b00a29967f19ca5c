package report

import (
	"github.com/blprobe/blprobe/dnsbl"
	"strings"
	"testing"
	"time"
)

// TestRDNSLookupFailureRendered: a PTR lookup that failed (SERVFAIL,
// timeout) is "PTR lookup failed: ERR", never "no PTR", which stays for a
// lookup that answered NXDOMAIN or NODATA.
func TestRDNSLookupFailureRendered(t *testing.T) {
	const servfail = "PTR lookup for 127.0.0.50 failed: dns: SERVFAIL for 50.0.0.127.in-addr.arpa."
	const heloErr = "resolving HELO name mail.probe.test failed: i/o timeout"
	tests := []struct {
		name   string
		rdns   RDNS
		want   []string // in text and Markdown
		absent []string
	}{
		{"SERVFAIL", RDNS{IP: "127.0.0.50", PTR: []string{}, Error: servfail, Problems: []string{}},
			[]string{"PTR lookup failed: dns: SERVFAIL for 50.0.0.127.in-addr.arpa."}, []string{"no PTR", "PTR lookup for 127.0.0.50 failed"}},
		{"SERVFAIL and HELO failure", RDNS{IP: "127.0.0.50", PTR: []string{}, Error: servfail + "; " + heloErr,
			HELO: &HELOCheck{Name: "mail.probe.test", FQDN: true, Error: heloErr}, Problems: []string{}},
			[]string{"PTR lookup failed: dns: SERVFAIL", "error: " + heloErr}, []string{"no PTR", "; resolving"}},
		{"NXDOMAIN", RDNS{IP: "127.0.0.51", PTR: []string{}, Problems: []string{"no PTR record for 127.0.0.51"}},
			[]string{"no PTR"}, []string{"lookup failed"}},
		{"NXDOMAIN, HELO failure", RDNS{IP: "127.0.0.51", PTR: []string{}, Error: heloErr,
			HELO: &HELOCheck{Name: "mail.probe.test", FQDN: true, Error: heloErr}, Problems: []string{"no PTR record for 127.0.0.51"}},
			[]string{"no PTR", "error: " + heloErr}, []string{"lookup failed:"}},
		{"PTR present", RDNS{IP: "127.0.0.20", PTR: []string{"mail.sender.test"}, ForwardConfirmed: true, Problems: []string{}},
			[]string{"mail.sender.test (forward-confirmed)"}, []string{"no PTR", "lookup failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Tool{Name: "blprobe", Version: "test"}, []string{"blprobe", "check"}, "")
			r.Started, r.Finished = time.Unix(0, 0).UTC(), time.Unix(1, 0).UTC()
			r.RDNS = []RDNS{tt.rdns}
			for _, format := range []string{"text", "markdown"} {
				out := render(t, r, format)
				// The Problems section quotes the whole error; the Reverse
				// DNS section is what this test is about.
				if i := strings.Index(out, "Reverse DNS"); i >= 0 {
					out = out[i:]
				} else if i = strings.Index(out, "REVERSE DNS"); i >= 0 {
					out = out[i:]
				} else {
					t.Fatalf("%s has no reverse DNS section:\n%s", format, out)
				}
				if i := strings.Index(out, "\n\n---"); i >= 0 {
					out = out[:i] // Markdown: up to the footer
				} else if i = strings.Index(out, "\nRun\n"); i >= 0 {
					out = out[:i] // text: up to the next section
				}
				for _, w := range tt.want {
					if !strings.Contains(out, w) {
						t.Errorf("%s lacks %q:\n%s", format, w, out)
					}
				}
				for _, a := range tt.absent {
					if strings.Contains(out, a) {
						t.Errorf("%s has %q:\n%s", format, a, out)
					}
				}
			}
		})
	}
}

// TestRDNSGroupLabels: the grouped view (many addresses) tells a failed PTR
// lookup from an address without PTR, whatever the HELO lookup did.
func TestRDNSGroupLabels(t *testing.T) {
	heloErr := "resolving HELO name mail.probe.test failed: i/o timeout"
	helo := &HELOCheck{Name: "mail.probe.test", FQDN: true, ResolvesToIP: true, Error: heloErr}
	tests := []struct {
		rdns RDNS
		want string
	}{
		{RDNS{IP: "127.0.0.50", Error: "PTR lookup for 127.0.0.50 failed: SERVFAIL"}, "PTR lookup failed"},
		{RDNS{IP: "127.0.0.51", Error: heloErr, HELO: helo}, "no PTR"},
		{RDNS{IP: "127.0.0.52"}, "no PTR"},
		{RDNS{IP: "127.0.0.53", Error: RDNSNotDone}, "not done (interrupted)"},
	}
	for _, tt := range tests {
		if g := rdnsGroups([]RDNS{tt.rdns}); len(g) != 1 || g[0].label != tt.want {
			t.Errorf("%+v: groups %+v, want label %q", tt.rdns, g, tt.want)
		}
	}
}

// The HELO check reads as words, not a "fqdn yes, resolves to the IP no"
// dump (issue 10: evidence as short readable sentences).
func TestHELOLine(t *testing.T) {
	tests := []struct {
		h    HELOCheck
		want string
	}{
		{HELOCheck{Name: "mail.example.org", FQDN: true, ResolvesToIP: true, MatchesPTR: true, Resolves: []string{"203.0.113.7"}},
			"HELO mail.example.org: fully qualified, resolves to this IP, matches the PTR"},
		{HELOCheck{Name: "mail.example.org", FQDN: true, Resolves: []string{"198.51.100.20"}},
			"HELO mail.example.org: fully qualified, resolves to 198.51.100.20 (not to this IP), does not match the PTR"},
		{HELOCheck{Name: "localhost", Resolves: []string{}},
			"HELO localhost: not a fully-qualified domain name, does not resolve, does not match the PTR"},
		{HELOCheck{Name: "mx.example.org", FQDN: true, Error: "i/o timeout"},
			"HELO mx.example.org: fully qualified, could not be resolved, does not match the PTR; error: i/o timeout"},
	}
	for _, tt := range tests {
		if got := heloLine(&tt.h); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

// A zone's test-entry evidence reads as words: what it should have answered,
// what it did.
func TestEvidenceLine(t *testing.T) {
	tests := []struct {
		e    dnsbl.Evidence
		want string
	}{
		{dnsbl.Evidence{Query: "2.0.0.127.z.example", Expect: "listed", Rcode: "NOERROR", Codes: []string{"127.0.0.2"}, OK: true},
			"2.0.0.127.z.example should be listed: answered 127.0.0.2 (as expected)"},
		{dnsbl.Evidence{Query: "1.0.0.127.z.example", Expect: "not_listed", Rcode: "NOERROR", Codes: []string{"127.0.0.2"}},
			"1.0.0.127.z.example should not be listed: answered 127.0.0.2 (WRONG)"},
		{dnsbl.Evidence{Query: "1.0.0.127.z.example", Expect: "not_listed", Rcode: "NXDOMAIN", Codes: []string{}, OK: true},
			"1.0.0.127.z.example should not be listed: answered NXDOMAIN (as expected)"},
		{dnsbl.Evidence{Query: "2.0.0.127.z.example", Expect: "listed", Codes: []string{}, Error: "i/o timeout"},
			"2.0.0.127.z.example should be listed: no answer: i/o timeout"},
	}
	for _, tt := range tests {
		if got := evidenceLine(tt.e); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}
