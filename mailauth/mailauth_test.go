package mailauth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/dnstest"
)

// zone serves the SPF and DMARC records of the test domains.
var zone = `
ip4.test. 60 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
ip6.test. 60 IN TXT "v=spf1 ip6:2001:db8::/32 ~all"
include.test. 60 IN TXT "v=spf1 include:_spf.provider.test ?all"
_spf.provider.test. 60 IN TXT "v=spf1 ip4:203.0.113.0/24 -all"
a.test. 60 IN TXT "v=spf1 a -all"
a.test. 60 IN A 192.0.2.10
mx.test. 60 IN TXT "v=spf1 mx -all"
mx.test. 60 IN MX 10 mail.mx.test.
mail.mx.test. 60 IN A 192.0.2.20
redirect.test. 60 IN TXT "v=spf1 redirect=ip4.test"
macro.test. 60 IN TXT "v=spf1 exists:%{i}._ip.macro.test -all"
192.0.2.30._ip.macro.test. 60 IN A 127.0.0.2
void.test. 60 IN TXT "v=spf1 a:nx1.void.test a:nx2.void.test a:nx3.void.test ip4:192.0.2.40 -all"
void2.test. 60 IN TXT "v=spf1 a:nx1.void.test mx:nx2.void.test ip4:192.0.2.40 -all"
dmacro.test. 60 IN TXT "v=spf1 include:_spf.%{d} -all"
_spf.dmacro.test. 60 IN TXT "v=spf1 ip4:192.0.2.50 -all"
nospf.test. 60 IN TXT "hello world"
twospf.test. 60 IN TXT "v=spf1 -all"
twospf.test. 60 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
deny.test. 60 IN TXT "v=spf1 -ip4:198.51.100.7 ip4:192.0.2.0/24 -all"
noall.test. 60 IN TXT "v=spf1 ip4:192.0.2.0/24"
badinc.test. 60 IN TXT "v=spf1 include:nothing.test -all"
loop.test. 60 IN TXT "v=spf1 include:loop2.test -all"
loop2.test. 60 IN TXT "v=spf1 include:loop.test -all"
ptr.test. 60 IN TXT "v=spf1 ptr -all"
diamond.test. 60 IN TXT "v=spf1 include:b.diamond.test include:c.diamond.test -all"
b.diamond.test. 60 IN TXT "v=spf1 include:d.diamond.test -all"
c.diamond.test. 60 IN TXT "v=spf1 include:d.diamond.test -all"
d.diamond.test. 60 IN TXT "v=spf1 a:d.diamond.test -all"
d.diamond.test. 60 IN A 192.0.2.60
syntax.test. 60 IN TXT "v=spf1 ip4:192.0.2.0/24 bogus:x -all"
badip.test. 60 IN TXT "v=spf1 ip4:192.0.2.0/24 ip4:300.1.1.1 -all"
_dmarc.reject.test. 60 IN TXT "v=DMARC1; p=reject; pct=50; aspf=s"
_dmarc.org.test. 60 IN TXT "v=DMARC1; p=quarantine; sp=reject"
_dmarc.none.test. 60 IN TXT "v=DMARC1; p=none; rua=mailto:d@none.test"
_dmarc.two.test. 60 IN TXT "v=DMARC1; p=none"
_dmarc.two.test. 60 IN TXT "v=DMARC1; p=reject"
_dmarc.bad.test. 60 IN TXT "v=DMARC1; p=bogus"
_dmarc.other.test. 60 IN TXT "v=spf1 -all"
_dmarc.other.test. 60 IN TXT "not v=DMARC1; p=reject"
`

func manyZone() string {
	// 11 includes: one over the limit of RFC 7208 §4.6.4.
	var b strings.Builder
	rec := "v=spf1"
	for i := 1; i <= 11; i++ {
		rec += fmt.Sprintf(" include:i%d.many.test", i)
		fmt.Fprintf(&b, "i%d.many.test. 60 IN TXT \"v=spf1 ip4:10.0.%d.0/24 -all\"\n", i, i)
	}
	fmt.Fprintf(&b, "many.test. 60 IN TXT %q\n", rec+" ip4:192.0.2.0/24 -all")
	// Exactly 10: at the limit, still evaluated.
	rec = strings.Replace(rec, " include:i11.many.test", "", 1)
	fmt.Fprintf(&b, "ten.test. 60 IN TXT %q\n", rec+" ip4:192.0.2.0/24 -all")
	// A record of 44x ip4 terms: a suggestion would be over 450 bytes.
	rec = "v=spf1"
	for i := 0; len(rec) < 430; i++ {
		rec += fmt.Sprintf(" ip4:10.1.%d.0/24", i)
	}
	fmt.Fprintf(&b, "big.test. 60 IN TXT %q\n", rec+" -all")
	return b.String()
}

func setup(t *testing.T) (*dnsclient.Client, *dnstest.Server) {
	t.Helper()
	s := dnstest.Start(t, zone+manyZone())
	s.Handle("servfail.test", dnstest.Rcode(dns.RcodeServerFailure))
	s.Handle("_dmarc.servfail.test", dnstest.Rcode(dns.RcodeServerFailure))
	c, err := dnsclient.New([]string{s.Addr}, 300*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func TestCheckSPF(t *testing.T) {
	c, _ := setup(t)
	ctx := context.Background()
	tests := []struct {
		domain, ip  string
		want        Result
		lookups     int
		void        int
		problem     string // substring of one problem ("" none expected)
		note        string
		record      bool
		reasonMatch string
	}{
		{"ip4.test", "192.0.2.5", Pass, 0, 0, "", "", true, "matched ip"},
		{"ip4.test", "198.51.100.7", Fail, 0, 0, "", "", true, "matched all"},
		{"IP4.test.", "::ffff:192.0.2.5", Pass, 0, 0, "", "", true, ""},
		{"ip6.test", "2001:db8::1", Pass, 0, 0, "", "", true, ""},
		{"ip6.test", "2001:db9::1", SoftFail, 0, 0, "", "", true, ""},
		{"include.test", "203.0.113.9", Pass, 1, 0, "", "", true, ""},
		{"include.test", "198.51.100.7", Neutral, 1, 0, "", "", true, ""},
		{"a.test", "192.0.2.10", Pass, 1, 0, "", "", true, "matched a"},
		{"a.test", "2001:db8::10", Fail, 1, 1, "", "", true, ""}, // a.test has no AAAA: a void lookup
		{"mx.test", "192.0.2.20", Pass, 1, 0, "", "", true, "matched mx"},
		{"mx.test", "192.0.2.21", Fail, 1, 0, "", "", true, ""},
		{"redirect.test", "192.0.2.5", Pass, 1, 0, "", "", true, ""},
		{"redirect.test", "198.51.100.7", Fail, 1, 0, "", "", true, ""},
		{"macro.test", "192.0.2.30", Pass, 1, 0, "", "macros", true, "matched exists"},
		{"macro.test", "192.0.2.31", Fail, 1, 0, "", "macros", true, ""},
		{"many.test", "192.0.2.5", PermError, 11, 0, "11 DNS lookups", "", true, "lookup limit reached"},
		{"ten.test", "192.0.2.5", Pass, 10, 0, "", "", true, "matched ip"},
		{"ten.test", "198.51.100.7", Fail, 10, 0, "", "", true, "matched all"},
		{"void.test", "192.0.2.40", PermError, 3, 3, "3 void lookups", "", true, "void lookup limit reached"},
		{"void2.test", "192.0.2.40", Pass, 2, 2, "", "", true, "matched ip"},
		{"dmacro.test", "192.0.2.50", Pass, 1, 0, "", "macros", true, ""},
		{"dmacro.test", "192.0.2.51", Fail, 1, 0, "", "macros", true, ""},
		{"nospf.test", "192.0.2.5", None, 0, 0, "no SPF record", "", false, ""},
		{"nx.test", "192.0.2.5", None, 0, 0, "nx.test does not exist (NXDOMAIN)", "", false, ""},
		{"twospf.test", "192.0.2.5", PermError, 0, 0, "more than one SPF record", "", false, ""},
		{"servfail.test", "192.0.2.5", TempError, 0, 0, "", "", false, "SERVFAIL"},
		{"badinc.test", "192.0.2.5", PermError, 1, 1, "nothing.test has no SPF record", "", true, ""},
		{"loop.test", "192.0.2.5", PermError, 2, 0, "loop", "", true, ""},
		{"diamond.test", "192.0.2.60", Pass, 6, 0, "", "", true, ""},
		{"diamond.test", "192.0.2.61", Fail, 6, 0, "", "", true, ""}, // the whole tree; d is included twice: counted twice
		{"ptr.test", "192.0.2.5", Fail, 1, 0, "ptr mechanism", "", true, ""},
		// RFC 7208 §4.6: a syntax error anywhere is a permerror, even for an
		// address that an earlier term matches.
		{"syntax.test", "192.0.2.5", PermError, 0, 0, `"bogus:x" is not a mechanism`, "", true, "syntax error"},
		{"badip.test", "192.0.2.5", PermError, 0, 0, `"ip4:300.1.1.1": not an address`, "", true, "syntax error"},
	}
	for _, tt := range tests {
		t.Run(tt.domain+"/"+tt.ip, func(t *testing.T) {
			s := CheckSPF(ctx, c, tt.domain, netip.MustParseAddr(tt.ip))
			if s.Result != tt.want {
				t.Fatalf("result = %s (%s), want %s", s.Result, s.Reason, tt.want)
			}
			if s.Lookups != tt.lookups || s.VoidLookups != tt.void {
				t.Errorf("lookups = %d, void = %d; want %d, %d (problems %q)", s.Lookups, s.VoidLookups, tt.lookups, tt.void, s.Problems)
			}
			if (s.Record != "") != tt.record {
				t.Errorf("record = %q", s.Record)
			}
			if s.Record != "" && s.Bytes != len(s.Record) {
				t.Errorf("bytes = %d for %q", s.Bytes, s.Record)
			}
			if s.LookupLimit != 10 || s.VoidLimit != 2 {
				t.Errorf("limits = %d/%d", s.LookupLimit, s.VoidLimit)
			}
			if tt.problem == "" && len(s.Problems) > 0 {
				t.Errorf("unexpected problems %q", s.Problems)
			}
			if tt.problem != "" && !containsSub(s.Problems, tt.problem) {
				t.Errorf("problems %q lack %q", s.Problems, tt.problem)
			}
			if tt.note != "" && !containsSub(s.Notes, tt.note) {
				t.Errorf("notes %q lack %q", s.Notes, tt.note)
			}
			if !strings.Contains(s.Reason, tt.reasonMatch) {
				t.Errorf("reason %q lacks %q", s.Reason, tt.reasonMatch)
			}
			if s.IP != netip.MustParseAddr(tt.ip).Unmap().String() {
				t.Errorf("ip = %s", s.IP)
			}
		})
	}
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestSuggest(t *testing.T) {
	c, _ := setup(t)
	ctx := context.Background()
	old := netip.MustParseAddr("192.0.2.5")
	tests := []struct {
		domain, add string
		want        string // the record to publish ("" for no suggestion)
		warn        string
	}{
		{"ip4.test", "198.51.100.7/32", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7 -all", ""},
		{"ip4.test", "198.51.100.0/28", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/28 -all", ""},
		{"ip4.test", "198.51.100.9/28", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/28 -all", ""},
		{"ip6.test", "2001:db9::1/128", "v=spf1 ip6:2001:db8::/32 ip6:2001:db9::1 ~all", ""},
		{"ip6.test", "2001:db9::/48", "v=spf1 ip6:2001:db8::/32 ip6:2001:db9::/48 ~all", ""},
		{"include.test", "198.51.100.7/32", "v=spf1 include:_spf.provider.test ip4:198.51.100.7 ?all", ""},
		{"redirect.test", "198.51.100.7/32", "v=spf1 ip4:198.51.100.7 redirect=ip4.test", ""},
		{"noall.test", "198.51.100.7/32", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7", ""},
		{"deny.test", "198.51.100.7/32", "v=spf1 ip4:198.51.100.7 -ip4:198.51.100.7 ip4:192.0.2.0/24 -all", ""},
		{"nospf.test", "198.51.100.7/32", "v=spf1 ip4:192.0.2.5 ip4:198.51.100.7 ~all", "has no SPF record"},
		{"nx.test", "198.51.100.7/32", "v=spf1 ip4:192.0.2.5 ip4:198.51.100.7 ~all", "nx.test does not exist in the DNS (NXDOMAIN)"},
		{"many.test", "198.51.100.7/32", "v=spf1 include:i1.many.test include:i2.many.test include:i3.many.test include:i4.many.test include:i5.many.test include:i6.many.test include:i7.many.test include:i8.many.test include:i9.many.test include:i10.many.test include:i11.many.test ip4:192.0.2.0/24 ip4:198.51.100.7 -all", "11 DNS lookups"},
		{"ip4.test", "192.0.2.9/32", "", ""},         // already passes
		{"servfail.test", "198.51.100.7/32", "", ""}, // could not read the record
		{"twospf.test", "198.51.100.7/32", "", ""},   // two records: merge them first
	}
	for _, tt := range tests {
		t.Run(tt.domain+"/"+tt.add, func(t *testing.T) {
			p := netip.MustParsePrefix(tt.add)
			cur := CheckSPF(ctx, c, tt.domain, p.Addr())
			sg := Suggest(ctx, c, cur, p, old)
			if tt.want == "" {
				if sg != nil {
					t.Fatalf("suggestion %+v, want none", sg)
				}
				return
			}
			if sg == nil {
				t.Fatalf("no suggestion for %s (%s)", tt.domain, cur.Result)
			}
			if sg.Record != tt.want {
				t.Errorf("record\n got %q\nwant %q", sg.Record, tt.want)
			}
			if sg.Bytes != len(sg.Record) {
				t.Errorf("bytes = %d", sg.Bytes)
			}
			if tt.warn == "" && len(sg.Warnings) > 0 {
				t.Errorf("warnings %q", sg.Warnings)
			}
			if tt.warn != "" && !containsSub(sg.Warnings, tt.warn) {
				t.Errorf("warnings %q lack %q", sg.Warnings, tt.warn)
			}
			// The suggestion must pass for the new address, unless the
			// record is broken beyond the added term.
			wantVerified := Pass
			if tt.domain == "many.test" {
				wantVerified = PermError
			}
			if sg.Verified != wantVerified {
				t.Errorf("verified = %s, want %s", sg.Verified, wantVerified)
			}
			// Independently: the library evaluates the suggested record
			// served by DNS and gives pass for the last address of the range.
			if wantVerified == Pass {
				last := lastAddr(p)
				r := &resolver{c: c.Resolver(), v6: last.Is6(), override: map[string]string{tt.domain: sg.Record}}
				if ev := checkSPF(ctx, r, tt.domain, last); ev.Result != Pass {
					t.Errorf("%s against the suggestion: %s", last, ev.Result)
				}
				// and the old address, authorised before, still is.
				if cur.Record != "" {
					r.v6 = old.Is6()
					before := CheckSPF(ctx, c, tt.domain, old)
					if ev := checkSPF(ctx, r, tt.domain, old); ev.Result != before.Result {
						t.Errorf("old address %s: %s before, %s with the suggestion", old, before.Result, ev.Result)
					}
				}
			}
		})
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	for i := range a {
		for b := 0; b < 8; b++ {
			if i*8+b >= bits {
				a[i] |= 0x80 >> b
			}
		}
	}
	out, _ := netip.AddrFromSlice(a)
	return out
}

func TestSuggestSize(t *testing.T) {
	c, _ := setup(t)
	ctx := context.Background()
	p := netip.MustParsePrefix("198.51.100.7/32")
	cur := CheckSPF(ctx, c, "big.test", p.Addr())
	sg := Suggest(ctx, c, cur, p, netip.Addr{})
	if sg == nil || sg.Verified != Pass {
		t.Fatalf("suggestion %+v", sg)
	}
	if sg.Bytes <= MaxRecordBytes || !containsSub(sg.Warnings, "over 450") || !containsSub(sg.Warnings, "255 characters") {
		t.Errorf("bytes %d, warnings %q", sg.Bytes, sg.Warnings)
	}
}

func TestAddTerm(t *testing.T) {
	tests := []struct {
		rec   string
		front bool
		want  string
	}{
		{"v=spf1 -all", false, "v=spf1 X -all"},
		{"v=spf1 mx ~all", false, "v=spf1 mx X ~all"},
		{"v=spf1 mx ?ALL", false, "v=spf1 mx X ?ALL"},
		{"v=spf1 mx all", false, "v=spf1 mx X all"},
		{"V=SPF1  mx   -all  ", false, "V=SPF1 mx X -all"},
		{"v=spf1 redirect=_spf.example.com", false, "v=spf1 X redirect=_spf.example.com"},
		{"v=spf1 redirect=_spf.example.com -all", false, "v=spf1 redirect=_spf.example.com X -all"},
		{"v=spf1 mx -all exp=explain.example.com", false, "v=spf1 mx X -all exp=explain.example.com"},
		{"v=spf1 include:allowed.example -all", false, "v=spf1 include:allowed.example X -all"},
		{"v=spf1 a:all.example.com", false, "v=spf1 a:all.example.com X"},
		{"v=spf1 mx", false, "v=spf1 mx X"},
		{"v=spf1", false, "v=spf1 X"},
		{"", false, "v=spf1 X"},
		{"v=spf1 -ip4:1.2.3.4 -all", true, "v=spf1 X -ip4:1.2.3.4 -all"},
	}
	for _, tt := range tests {
		if got := AddTerm(tt.rec, "X", tt.front); got != tt.want {
			t.Errorf("AddTerm(%q, %v) = %q, want %q", tt.rec, tt.front, got, tt.want)
		}
	}
}

// FuzzAddTerm: the added term appears once more, every original field is
// kept in order, and the record starts with the version.
func FuzzAddTerm(f *testing.F) {
	for _, s := range []string{"v=spf1 -all", "v=spf1 redirect=x", "v=spf1 a mx ~all exp=y", "", "v=spf1 =all"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, rec string, front bool) {
		const add = "ip4:198.51.100.7"
		got := AddTerm(rec, add, front)
		fields := strings.Fields(got)
		if len(fields) == 0 || !strings.EqualFold(fields[0], "v=spf1") {
			t.Fatalf("%q: no version", got)
		}
		var rest []string
		removed := false
		for _, f := range fields {
			if f == add && !removed {
				removed = true
				continue
			}
			rest = append(rest, f)
		}
		if !removed {
			t.Fatalf("%q lacks %s", got, add)
		}
		orig := strings.Fields(rec)
		if len(orig) == 0 || !strings.EqualFold(orig[0], "v=spf1") {
			orig = append([]string{"v=spf1"}, orig...)
		}
		if strings.Join(rest, " ") != strings.Join(orig, " ") {
			t.Fatalf("%q -> %q changed other fields", rec, got)
		}
	})
}

func TestCheckDMARC(t *testing.T) {
	c, _ := setup(t)
	ctx := context.Background()
	tests := []struct {
		domain, policy, org, problem string
		pct                          int
		err                          bool
	}{
		{"reject.test", "reject", "", "", 50, false},
		{"org.test", "quarantine", "", "", 100, false},
		{"mail.org.test", "reject", "org.test", "", 100, false}, // sp= of the organisational domain
		{"none.test", "none", "", "", 100, false},
		{"nodmarc.test", "", "", "no DMARC record", 0, false},
		{"two.test", "", "", "2 DMARC records", 0, false},
		{"bad.test", "", "", "invalid", 0, false},
		{"other.test", "", "", "no DMARC record", 0, false},
		{"servfail.test", "", "", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			d := CheckDMARC(ctx, c, tt.domain)
			if d.Policy != tt.policy || d.OrgDomain != tt.org || d.Percent != tt.pct || (d.Error != "") != tt.err {
				t.Errorf("%+v", d)
			}
			if tt.problem == "" && len(d.Problems) > 0 || tt.problem != "" && !containsSub(d.Problems, tt.problem) {
				t.Errorf("problems %q, want %q", d.Problems, tt.problem)
			}
			if tt.policy != "" && (d.Record == "" || !strings.HasPrefix(d.Query, "_dmarc.")) {
				t.Errorf("record %q at %q", d.Record, d.Query)
			}
		})
	}
	if d := CheckDMARC(ctx, c, "reject.test"); d.SPFAlignment != "s" || d.DKIMAlignment != "r" {
		t.Errorf("alignment %q/%q", d.SPFAlignment, d.DKIMAlignment)
	}
}

func TestEffect(t *testing.T) {
	fail := SPF{Domain: "example.test", IP: "198.51.100.7", Result: Fail}
	tests := []struct {
		d    DMARC
		s    SPF
		want string
	}{
		{DMARC{Domain: "example.test", Policy: "reject", Percent: 100}, fail, "receivers reject it unless"},
		{DMARC{Domain: "example.test", Policy: "reject", Percent: 20}, fail, "pct=20"},
		{DMARC{Domain: "example.test", Policy: "quarantine", Percent: 100}, fail, "spam"},
		{DMARC{Domain: "example.test", Policy: "none", Percent: 100}, fail, "only report"},
		{DMARC{Domain: "example.test"}, fail, "own rules"},
		{DMARC{Domain: "example.test", Error: "x"}, fail, "could not be read"},
		{DMARC{Domain: "example.test", Policy: "reject"}, SPF{Domain: "example.test", IP: "198.51.100.7", Result: Pass}, "DMARC passes through SPF"},
	}
	for _, tt := range tests {
		got := Effect(tt.d, tt.s)
		if !strings.Contains(got, tt.want) || !strings.Contains(got, "DKIM is not bound to the IP") {
			t.Errorf("Effect = %q, want %q", got, tt.want)
		}
	}
}

func TestSyntaxError(t *testing.T) {
	for _, tt := range []struct {
		rec, want string // want: substring of the error, "" for valid
	}{
		{"v=spf1 -all", ""},
		{"v=spf1 a/24 mx:mx.example/24//64 A:Mail.Example a//64 ptr ?all", ""},
		{"v=spf1 exists:%{i}._ip.%{d} include:_spf.%{d2} -all", ""},
		{"v=spf1 ip4:192.0.2.1 IP4:192.0.2.0/24 ip6:2001:db8::/32 ip6:::1 ~all", ""},
		{"v=spf1 redirect=_spf.example.com exp=explain.%{d} unknown-mod=x", ""},
		{"v=spf1 ip4:192.0.2.0/24 bogus -all", "not a mechanism"},
		{"v=spf1 ip4:2001:db8::1 -all", "family"},
		{"v=spf1 ip6:192.0.2.1 -all", "family"},
		{"v=spf1 ip4 -all", "needs an address"},
		{"v=spf1 ip4:192.0.2.0/33 -all", "not an address or network"},
		{"v=spf1 include: -all", "needs a domain"},
		{"v=spf1 all:x", "takes no argument"},
		{"v=spf1 redirect=a.example redirect=b.example", "may appear once"},
		{"v=spf1 redirect=", "needs one domain"},
	} {
		got := syntaxError(tt.rec)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("syntaxError(%q) = %q, want %q", tt.rec, got, tt.want)
		}
	}
}
