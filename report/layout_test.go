package report

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/smtpcheck"
)

func TestAddrRanges(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"192.0.2.7"}, "192.0.2.7"},
		{[]string{"127.0.0.15", "127.0.0.3", "127.0.0.4", "127.0.0.10", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8",
			"127.0.0.9", "127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"}, "127.0.0.3–127.0.0.15 (13 addresses)"},
		// Numeric, not string, order; duplicates once; pairs are named.
		{[]string{"127.0.0.10", "127.0.0.2", "127.0.0.2", "127.0.0.3"}, "127.0.0.2, 127.0.0.3 and 127.0.0.10"},
		// The network address of a CIDR appears only when it was checked.
		{[]string{"192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.9"}, "192.0.2.0–192.0.2.2 (3 addresses) and 192.0.2.9"},
		{[]string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}, "192.0.2.1–192.0.2.3 (3 addresses)"},
		{[]string{"2001:db8::1", "2001:db8::2", "2001:db8::3", "192.0.2.1"}, "192.0.2.1 and 2001:db8::1–2001:db8::3 (3 addresses)"},
		{[]string{"192.0.2.1", "mail.example.com"}, "192.0.2.1 and mail.example.com"},
		{[]string{"10.0.0.1", "10.0.0.3", "10.0.0.5", "10.0.0.7", "10.0.0.9", "10.0.0.11", "10.0.0.13"},
			"10.0.0.1, 10.0.0.3, 10.0.0.5, 10.0.0.7, 10.0.0.9, … (7 addresses in all)"},
	} {
		if got := AddrRanges(tc.in); got != tc.want {
			t.Errorf("AddrRanges(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		s           string
		width       int
		first, rest string
		want        []string
	}{
		{"one two three", 0, "  ", "    ", []string{"  one two three"}},
		{"one two three four", 10, "", "  ", []string{"one two", "  three", "  four"}},
		{"alpha beta", 20, "1. ", "   ", []string{"1. alpha beta"}},
		// A word longer than a line (a URL) is cut, not overflowing.
		{"see https://www.example.com/a/very/long/path/that/never/ends", 24, "", "  ",
			[]string{"see", "  https://www.example.co", "  m/a/very/long/path/tha", "  t/never/ends"}},
		// Wide characters take two columns.
		{"日本語 日本語 日本語", 14, "", "", []string{"日本語 日本語", "日本語"}},
	} {
		got := wrap(tc.s, tc.width, tc.first, tc.rest)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.s, tc.width, got, tc.want)
		}
		for _, l := range got {
			if tc.width > 0 && runewidth.StringWidth(l) > tc.width {
				t.Errorf("wrap(%q, %d): line %q too wide", tc.s, tc.width, l)
			}
		}
	}
}

func TestTableFits(t *testing.T) {
	header := []string{"MX", "IP", "STATUS", "REPLY"}
	rows := [][]string{
		{"mx1.example.com", "192.0.2.10", "rejected/blocklisted", "554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using zen.spamhaus.org"},
		{"mx2.example.com", "192.0.2.20", "accepted", "250 2.1.5 Ok"},
		{"メール.example", "192.0.2.30", "accepted", "250 了解"},
	}
	full := table("  ", header, rows, 0, 3)
	if !strings.Contains(full[1], "zen.spamhaus.org") {
		t.Errorf("no width: cell cut: %q", full[1])
	}
	for _, w := range []int{60, 80} {
		lines := table("  ", header, rows, w, 3)
		for _, l := range lines {
			if runewidth.StringWidth(l) > w {
				t.Errorf("width %d: %q is %d columns", w, l, runewidth.StringWidth(l))
			}
		}
		if !strings.HasSuffix(lines[1], "…") || w == 80 && !strings.Contains(lines[1], "mx1.example.com") {
			t.Errorf("width %d: the reply should be cut, the MX kept: %q", w, lines[1])
		}
		// Columns line up in terminal cells, wide characters included.
		col := runewidth.StringWidth(lines[0][:strings.Index(lines[0], "STATUS")])
		for _, l := range lines[1:] {
			i := strings.Index(l, "accepted")
			if i < 0 {
				i = strings.Index(l, "rejected")
			}
			if got := runewidth.StringWidth(l[:i]); got != col {
				t.Errorf("width %d: STATUS at column %d, want %d: %q", w, got, col, l)
			}
		}
	}
}

// A resolver that refuses every zone is one diagnosis, not a line per
// zone and lookup; an unhealthy zone is one problem line.
func TestOneFactOnePlace(t *testing.T) {
	r := New(Tool{Name: "blprobe", Version: "t"}, []string{"blprobe"})
	r.Resolvers = []string{"127.0.53.53:53"}
	r.DNSBL = &DNSBL{}
	for _, z := range []string{"a.test", "b.test", "c.test"} {
		r.DNSBL.Zones = append(r.DNSBL.Zones, dnsbl.ZoneHealth{Zone: z, Type: dnsbl.TypeBlock, Health: dnsbl.HealthUnknown,
			Problem: "test entry 127.0.0.2: REFUSED", Evidence: []dnsbl.Evidence{{Query: "2.0.0.127." + z, Expect: "listed", Rcode: "REFUSED"}}})
		for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
			r.DNSBL.Results = append(r.DNSBL.Results, dnsbl.Result{IP: ip, Zone: z, Status: dnsbl.StatusError, ErrorKind: dnsbl.ErrRefused, Error: "not queried: REFUSED"})
		}
	}
	r.Finalize()
	ps := r.Problems()
	if len(ps) != 1 || ps[0].Message != "your resolver refuses DNSBL queries (REFUSED from 127.0.53.53:53 for 3 of 3 zones): use your own recursive resolver" {
		t.Errorf("problems %q", ps)
	}
	var b strings.Builder
	WriteText(&b, r, TextOptions{Width: 80})
	if n := strings.Count(b.String(), "REFUSED"); n > 3 {
		t.Errorf("REFUSED %d times in the text report:\n%s", n, b.String())
	}

	r2 := New(Tool{Name: "blprobe"}, nil)
	r2.DNSBL = &DNSBL{Zones: []dnsbl.ZoneHealth{{Zone: "dead.test", Type: dnsbl.TypeBlock, Health: dnsbl.HealthUnhealthy, Problem: "lists everything"}},
		Results: []dnsbl.Result{{IP: "192.0.2.1", Zone: "dead.test", Status: dnsbl.StatusError, ErrorKind: dnsbl.ErrZoneUnhealthy}}}
	r2.Correlations = []Correlation{{Kind: "zone_unhealthy", Severity: "warning", Evidence: map[string]string{"zone": "dead.test"}, Message: "dead.test failed"}}
	r2.Finalize()
	if ps := r2.Problems(); len(ps) != 1 || !strings.Contains(ps[0].Message, "zone dead.test is unhealthy") {
		t.Errorf("unhealthy zone problems %q", ps)
	}
	b.Reset()
	WriteText(&b, r2, TextOptions{})
	if n := strings.Count(b.String(), "dead.test"); n > 3 {
		t.Errorf("dead.test %d times:\n%s", n, b.String())
	}
}

// Interrupted rDNS checks are one not_done line, not one per address.
func TestRDNSNotDoneOnce(t *testing.T) {
	r := New(Tool{Name: "blprobe"}, nil)
	for i := 0; i < 256; i++ {
		r.RDNS = append(r.RDNS, RDNS{IP: "10.0.0." + strconv.Itoa(i), Error: RDNSNotDone})
	}
	r.Interrupted = true
	r.Finalize()
	ps := r.Problems()
	if len(ps) != 2 || ps[0].Message != "reverse DNS: 256 addresses not done (interrupted): 10.0.0.0–10.0.0.255 (256 addresses)" {
		t.Errorf("problems %q", ps)
	}
}

// A successful egress run leads with the addresses, not "Verdict: CLEAN";
// a domain whose MX resolved says how many, not "(ok)".
func TestHeadlines(t *testing.T) {
	r := New(Tool{Name: "blprobe"}, nil)
	r.Egress = &Egress{IPv4: EgressFamily{IP: "203.0.113.7", Agree: true, Answered: 2}, IPSource: true}
	r.Finished = r.Started.Add(time.Second)
	r.Finalize()
	var b strings.Builder
	WriteText(&b, r, TextOptions{})
	if first := strings.SplitN(b.String(), "\n", 2)[0]; first != "Egress: IPv4 203.0.113.7, IPv6 not found (exit code 0)" || strings.Contains(b.String(), "CLEAN") {
		t.Errorf("egress headline %q:\n%s", first, b.String())
	}
	b.Reset()
	WriteMarkdown(&b, r)
	if !strings.HasPrefix(b.String(), "# blprobe report: Egress: IPv4 203.0.113.7") || strings.Contains(b.String(), "CLEAN") {
		t.Errorf("egress Markdown:\n%s", b.String())
	}
	d := smtpcheck.Domain{Domain: "example.com", Status: smtpcheck.DomainOK, MX: []smtpcheck.MX{{Host: "mx1", Addresses: []smtpcheck.Probe{{}, {}}}, {Host: "mx2", Addresses: []smtpcheck.Probe{{}}}}}
	if got := domainLine(d); got != "example.com: 2 MX hosts, 3 addresses" {
		t.Errorf("domainLine = %q", got)
	}
}
