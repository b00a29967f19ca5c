package check

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// Next steps come by impact: the listing an MX cited, then what will
// cause refusals (PTR), then hygiene (a dead zone).
func TestStepOrder(t *testing.T) {
	r := &report.Report{
		DNSBL: &report.DNSBL{
			Zones: []dnsbl.ZoneHealth{{Zone: "dead.example", Type: dnsbl.TypeBlock, Health: dnsbl.HealthUnhealthy, Problem: "lists everything"}},
			Results: []dnsbl.Result{res("zen.spamhaus.org", dnsbl.StatusListed, "127.0.0.2"), res("bl.spamcop.net", dnsbl.StatusListed, "127.0.0.2"),
				{IP: ip, Zone: "dead.example", Status: dnsbl.StatusError, ErrorKind: dnsbl.ErrZoneUnhealthy}},
		},
		RDNS: []report.RDNS{{IP: ip}},
		SMTP: smtpSection("example.com", mx("mx1.example.com", probe("192.0.2.10", smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "zen.spamhaus.org", ip, 554, "5.7.1", postfixSpamhaus))),
	}
	Correlate(r, catalog, []netip.Addr{netip.MustParseAddr(ip)})
	want := []string{"Spamhaus ZEN listing", "SpamCop listing", "set a PTR for", "stop using dead.example"}
	if len(r.NextSteps) != len(want) {
		t.Fatalf("steps %q", r.NextSteps)
	}
	for i, w := range want {
		if !strings.Contains(r.NextSteps[i], w) {
			t.Errorf("step %d = %q, want %q", i+1, r.NextSteps[i], w)
		}
	}
}

// Sentences read well for every PTR issue (no "X has PTR … is not
// forward-confirmed").
func TestPTRSentences(t *testing.T) {
	for _, tc := range []struct {
		d    report.RDNS
		want string
	}{
		{report.RDNS{IP: ip}, ip + " has no PTR record"},
		{report.RDNS{IP: ip, PTR: []string{"dyn-203-0-113-7.pool.isp.test"}}, "the PTR of " + ip + " (dyn-203-0-113-7.pool.isp.test) is not forward-confirmed"},
		{report.RDNS{IP: ip, PTR: []string{"dyn.isp.test"}, ForwardConfirmed: true, Generic: true, GenericWhy: "IP digits"}, "the PTR of " + ip + " (dyn.isp.test) looks generic (IP digits)"},
		{report.RDNS{IP: ip, PTR: []string{"mail.example.net"}, ForwardConfirmed: true}, ""},
	} {
		if got := ptrSentence(tc.d); got != tc.want {
			t.Errorf("ptrSentence = %q, want %q", got, tc.want)
		}
		r := &report.Report{RDNS: []report.RDNS{tc.d}}
		Correlate(r, nil, nil)
		r.Finalize()
		if strings.Contains(r.Summary, " has the PTR") || strings.Contains(r.Summary, "has PTR") || strings.Contains(r.Summary, "has dyn") {
			t.Errorf("summary %q", r.Summary)
		}
	}
}

// Several addresses: counts in the summary, one step per kind.
func TestRangeSummary(t *testing.T) {
	r := &report.Report{DNSBL: &report.DNSBL{}}
	var checked []netip.Addr
	for i := 0; i < 16; i++ {
		a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		checked = append(checked, a)
		st := dnsbl.StatusClean
		if i >= 3 && i <= 6 {
			st = dnsbl.StatusListed
		}
		r.DNSBL.Results = append(r.DNSBL.Results, dnsbl.Result{IP: a.String(), Zone: "zen.spamhaus.org", Status: st, Codes: []string{"127.0.0.2"}})
		r.RDNS = append(r.RDNS, report.RDNS{IP: a.String()})
	}
	Correlate(r, catalog, checked)
	r.Finalize()
	if !strings.Contains(r.Summary, "4 of 16 addresses are listed (Spamhaus ZEN: 4); 12 clean") ||
		!strings.Contains(r.Summary, "16 addresses have no PTR record: 192.0.2.0–192.0.2.15 (16 addresses)") {
		t.Errorf("summary %q", r.Summary)
	}
	if len(r.NextSteps) != 2 || !strings.Contains(r.NextSteps[0], "192.0.2.3–192.0.2.6 (4 addresses)") {
		t.Errorf("steps %q", r.NextSteps)
	}
}
