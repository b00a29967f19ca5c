package report

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/smtpcheck"
)

func TestParseNagiosRange(t *testing.T) {
	// The examples of the plugin guidelines' "Threshold and ranges" section.
	tests := []struct {
		in     string
		alerts []float64
		quiet  []float64
	}{
		{"10", []float64{-1, 10.5, 11}, []float64{0, 5, 10}},
		{"10:", []float64{-1, 9.9}, []float64{10, 11, 1e9}},
		{"~:10", []float64{10.1, 11}, []float64{math.Inf(-1), -5, 10}},
		{"10:20", []float64{9, 21}, []float64{10, 15, 20}},
		{"@10:20", []float64{10, 15, 20}, []float64{9, 21}},
		{"0", []float64{1, 2}, []float64{0}},
		{"1", []float64{2}, []float64{0, 1}},
		{"@0", []float64{0}, []float64{1}},
		{"2.5", []float64{3}, []float64{2.5}},
	}
	for _, tt := range tests {
		r, err := ParseNagiosRange(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if r.String() != tt.in {
			t.Errorf("%q: String %q", tt.in, r.String())
		}
		for _, v := range tt.alerts {
			if !r.Alert(v) {
				t.Errorf("%q: %v does not alert", tt.in, v)
			}
		}
		for _, v := range tt.quiet {
			if r.Alert(v) {
				t.Errorf("%q: %v alerts", tt.in, v)
			}
		}
	}
	for _, bad := range []string{"", "@", "x", "20:10", ":5", "1:x", "~", "NaN", "Inf", "1::2", "--1"} {
		if _, err := ParseNagiosRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if !strings.Contains(err.Error(), "invalid threshold") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseNagiosRange(f *testing.F) {
	for _, s := range []string{"10", "10:", "~:10", "10:20", "@10:20", "1e3", "@~:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseNagiosRange(s)
		if err != nil {
			return
		}
		if r.Start > r.End || r.String() != s {
			t.Fatalf("%q parsed to %+v", s, r)
		}
		// The end points are inside the range.
		if !math.IsInf(r.Start, 0) && r.Alert(r.Start) != r.Inside {
			t.Fatalf("%q: start %v", s, r.Start)
		}
	})
}

// Plugin output format (https://nagios-plugins.org/doc/guidelines.html#AEN33):
// "SERVICE STATUS - text | perfdata", perfdata items separated by spaces,
// each 'label'=value[UOM];[warn];[crit];[min];[max].
var (
	statusLine = regexp.MustCompile(`^BLPROBE (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+) \| (.+)$`)
	rangeRE    = `@?(?:~|-?[0-9.]+)?(?::(?:-?[0-9.]+)?)?`
	perfItem   = regexp.MustCompile(`^(?:'(?:[^']|'')+'|[^ '=]+)=-?[0-9.]+(?:s|ms|us|%|B|KB|MB|TB|c)?(?:;(?:` + rangeRE + `)?(?:;(?:` + rangeRE + `)?(?:;(?:-?[0-9.]+)?(?:;(?:-?[0-9.]+)?)?)?)?)?$`)
)

func checkNagiosFormat(t *testing.T, out string) (status string) {
	t.Helper()
	first, _, _ := strings.Cut(out, "\n")
	m := statusLine.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("status line does not follow the plugin format: %q", first)
	}
	for _, item := range strings.Split(m[3], " ") {
		if !perfItem.MatchString(item) {
			t.Errorf("perfdata item %q does not follow 'label'=value[UOM];[warn];[crit];[min];[max]", item)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		for _, r := range line {
			if r < 0x20 || r == 0x7f {
				t.Errorf("control character in %q", line)
			}
		}
	}
	return m[1]
}

func rng(s string) *NagiosRange {
	r, err := ParseNagiosRange(s)
	if err != nil {
		panic(err)
	}
	return &r
}

// dnsblReport is 203.0.113.7 checked on n block lists, listed on the given
// zones, with errors lookups failing.
func dnsblReport(listedOn []string, n, errors int) *Report {
	r := New(Tool{Name: "blprobe", Version: "t"}, []string{"blprobe", "dnsbl", "203.0.113.7"})
	r.Started, r.Finished = t0, t0.Add(410*time.Millisecond)
	r.DNSBL = &DNSBL{}
	names := append([]string(nil), listedOn...)
	for i := len(names); i < n; i++ {
		names = append(names, fmt.Sprintf("bl%d.example", i))
	}
	for i, z := range names {
		r.DNSBL.Zones = append(r.DNSBL.Zones, dnsbl.ZoneHealth{Zone: z, Type: dnsbl.TypeBlock, Health: dnsbl.HealthHealthy})
		res := dnsbl.Result{IP: "203.0.113.7", Zone: z, Status: dnsbl.StatusClean}
		switch {
		case i < len(listedOn):
			res.Status, res.Codes = dnsbl.StatusListed, []string{"127.0.0.2"}
		case i >= n-errors:
			res.Status, res.ErrorKind = dnsbl.StatusError, dnsbl.ErrTimeout
		}
		r.DNSBL.Results = append(r.DNSBL.Results, res)
	}
	// Allow-list hits and not-applicable pairs never count.
	r.DNSBL.Zones = append(r.DNSBL.Zones, dnsbl.ZoneHealth{Zone: "list.dnswl.org", Type: dnsbl.TypeAllow, Health: dnsbl.HealthHealthy})
	r.DNSBL.Results = append(r.DNSBL.Results,
		dnsbl.Result{IP: "203.0.113.7", Zone: "list.dnswl.org", Status: dnsbl.StatusAllowed},
		dnsbl.Result{IP: "203.0.113.7", Zone: names[0], Status: dnsbl.StatusError, ErrorKind: dnsbl.ErrNotApplicable})
	r.Finalize()
	return r
}

func TestWriteNagiosIssueExample(t *testing.T) {
	r := dnsblReport([]string{"zen.spamhaus.org", "bl.spamcop.net"}, 10, 0)
	var b strings.Builder
	code, err := WriteNagios(&b, r, NagiosOptions{Warning: rng("1"), Critical: rng("1")})
	if err != nil {
		t.Fatal(err)
	}
	first, long, _ := strings.Cut(b.String(), "\n")
	want := "BLPROBE CRITICAL - 203.0.113.7 listed on 2 of 10 lists (zen.spamhaus.org, bl.spamcop.net) | listed=2;1;1;0 clean=8 errors=0 time=0.41s"
	if first != want || code != NagiosCritical {
		t.Errorf("got  %q (%d)\nwant %q", first, code, want)
	}
	if !strings.Contains(long, "203.0.113.7 is listed in zen.spamhaus.org: 127.0.0.2\n") {
		t.Errorf("long output:\n%s", long)
	}
	checkNagiosFormat(t, b.String())
}

func TestNagiosStatus(t *testing.T) {
	interrupted := dnsblReport(nil, 4, 0)
	interrupted.Interrupted = true
	interrupted.Finalize()
	rejected := dnsblReport(nil, 4, 0)
	rejected.SMTP = &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "example.com", Status: smtpcheck.DomainOK, MX: []smtpcheck.MX{{Host: "mx.example.com",
		Addresses: []smtpcheck.Probe{{IP: "198.51.100.1", Status: smtpcheck.StatusRejected, Class: smtpcheck.ClassBlocklisted, Stage: smtpcheck.StageRcpt,
			Reply: &smtpcheck.Reply{Code: 554, Text: "blocked | \x1b[31mred\x1b[0m"}}}}}}}}
	rejected.Finalize()
	// A 554 at the banner without a list named is a refusal of the client
	// (issue 7): the verdict says rejected, so must the plugin.
	banner := dnsblReport(nil, 4, 0)
	banner.SMTP = &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "example.com", Status: smtpcheck.DomainOK, MX: []smtpcheck.MX{{Host: "mx.example.com",
		Addresses: []smtpcheck.Probe{{IP: "198.51.100.1", Status: smtpcheck.StatusRejected, Class: smtpcheck.ClassRejected, Stage: smtpcheck.StageBanner,
			Reply: &smtpcheck.Reply{Code: 554, Text: "No SMTP service here"}}}}}}}}
	banner.Finalize()
	if banner.Verdict != VerdictRejected {
		t.Fatalf("banner 554 verdict %s", banner.Verdict)
	}
	// A range probes one MX address from each source: one name, probes counted.
	multi := dnsblReport(nil, 4, 0)
	var probes []smtpcheck.Probe
	for _, src := range []string{"203.0.113.7", "203.0.113.8", "203.0.113.9"} {
		probes = append(probes, smtpcheck.Probe{IP: "198.51.100.1", SourceIP: src, Status: smtpcheck.StatusRejected, Class: smtpcheck.ClassBlocklisted,
			Stage: smtpcheck.StageRcpt, Reply: &smtpcheck.Reply{Code: 554, Text: "blocked"}})
	}
	multi.SMTP = &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "example.com", Status: smtpcheck.DomainOK,
		MX: []smtpcheck.MX{{Host: "mx.example.com", Addresses: probes}}}}}
	multi.Finalize()
	tests := []struct {
		name       string
		r          *Report
		warn, crit string
		want       int
		text       string
	}{
		{"clean", dnsblReport(nil, 5, 0), "0", "0", NagiosOK, "203.0.113.7 not listed on 5 lists"},
		{"one listing, defaults", dnsblReport([]string{"a.example"}, 5, 0), "0", "0", NagiosCritical, "listed on 1 of 5 lists (a.example)"},
		{"one listing warns", dnsblReport([]string{"a.example"}, 5, 0), "0", "1", NagiosWarning, "listed on 1 of 5"},
		{"two listings critical", dnsblReport([]string{"a.example", "b.example"}, 5, 0), "0", "1", NagiosCritical, "listed on 2 of 5"},
		{"listing tolerated", dnsblReport([]string{"a.example"}, 5, 0), "1", "2", NagiosOK, "listed on 1 of 5"},
		{"inconclusive", dnsblReport(nil, 5, 2), "0", "0", NagiosUnknown, "2 lookups could not be checked"},
		{"tolerated listing, incomplete run", dnsblReport([]string{"a.example"}, 5, 1), "1", "2", NagiosUnknown, "1 lookup could not be checked"},
		{"listing beats inconclusive", dnsblReport([]string{"a.example"}, 5, 2), "0", "0", NagiosCritical, "2 lookups could not be checked"},
		{"interrupted", interrupted, "0", "0", NagiosUnknown, "interrupted"},
		{"no list answered", dnsblReport(nil, 3, 3), "0", "0", NagiosUnknown, "203.0.113.7 could not be checked on any list; 3 lookups could not be checked"},
		{"banner 554 without a list is critical", banner, "10", "10", NagiosCritical, "1 of 1 MX addresses reject (example.com mx.example.com [198.51.100.1])"},
		{"range: probes counted, MX named once", multi, "0", "0", NagiosCritical, "3 of 3 MX probes (from 3 source addresses) were rejected (example.com mx.example.com [198.51.100.1]) |"},
		{"MX rejection is critical whatever the thresholds", rejected, "10", "10", NagiosCritical, "1 of 1 MX addresses reject (example.com mx.example.com [198.51.100.1])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			code, err := WriteNagios(&b, tt.r, NagiosOptions{Warning: rng(tt.warn), Critical: rng(tt.crit)})
			if err != nil {
				t.Fatal(err)
			}
			status := checkNagiosFormat(t, b.String())
			if code != tt.want || status != NagiosStatus(tt.want) {
				t.Errorf("code %d status %s, want %d %s\n%s", code, status, tt.want, NagiosStatus(tt.want), b.String())
			}
			if !strings.Contains(b.String(), tt.text) {
				t.Errorf("output lacks %q:\n%s", tt.text, b.String())
			}
		})
	}
}

// TestWriteNagiosFull renders the full fixture: the DQS key never appears,
// the long output lists the problems and warnings, and remote text cannot
// break the format.
func TestWriteNagiosFull(t *testing.T) {
	r := fullReport()
	r.Finalize()
	var b strings.Builder
	code, err := WriteNagios(&b, r, NagiosOptions{Warning: rng("0"), Critical: rng("0")})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	checkNagiosFormat(t, out)
	if code != NagiosCritical {
		t.Errorf("code %d", code)
	}
	if strings.Contains(strings.ToLower(out), strings.ToLower(testKey)) {
		t.Error("the DQS key leaked")
	}
	if n := strings.Count(out, "|"); n != 1 {
		t.Errorf("%d pipes, want only the perfdata separator:\n%s", n, out)
	}
	if !strings.Contains(out, "\nwarning: ") || strings.Count(out, "\n") < 3 {
		t.Errorf("no long output:\n%s", out)
	}
	if code := NagiosUsage(&b, "invalid --zone \"x|y\""); code != NagiosUnknown {
		t.Errorf("usage code %d", code)
	}
	if _, err := WriteNagios(&b, nil, NagiosOptions{}); err == nil {
		t.Error("nil report rendered")
	}
}
