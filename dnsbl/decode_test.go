package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/miekg/dns"
)

func answer(rcode int, ips ...string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion("2.0.0.127.z.example.", dns.TypeA)
	m.Rcode = rcode
	for _, ip := range ips {
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "2.0.0.127.z.example.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.ParseIP(ip)})
	}
	return m
}

func TestDecode(t *testing.T) {
	c := mustChecker(t, Options{Resolver: nopExchanger{}})
	zen := Builtin()[0]
	zr, err := c.compileZone(zen)
	if err != nil {
		t.Fatal(err)
	}
	gen, _ := c.compileZone(Generic("g.example"))
	allow, _ := c.compileZone(Zone{Zone: "wl.example", Kind: KindIP4, Type: TypeAllow, Codes: map[string]string{"127.0.0.0/16": "ok"}, ErrorCodes: map[string]string{"127.0.0.255": "blocked"}})
	tests := []struct {
		name     string
		z        *zoneRT
		msg      *dns.Msg
		status   Status
		kind     ErrorKind
		meanings string
		errSub   string
	}{
		{"nxdomain", zr, answer(dns.RcodeNameError), StatusClean, "", "", ""},
		{"nodata", zr, answer(dns.RcodeSuccess), StatusClean, "", "", ""},
		{"zen test entry", zr, answer(dns.RcodeSuccess, "127.0.0.2", "127.0.0.4", "127.0.0.10", "127.0.0.2"), StatusListed, "",
			"SBL: Spamhaus Block List (direct spam source or spam operation)|XBL: exploited host (botnet, proxy, malware)|PBL (ISP-maintained): policy, not an MTA IP; not spam evidence", ""},
		{"unknown zen code", zr, answer(dns.RcodeSuccess, "127.0.0.99"), StatusListed, "", "listed (code 127.0.0.99, not in the catalogue)", ""},
		{"public resolver", zr, answer(dns.RcodeSuccess, "127.255.255.254"), StatusError, ErrZoneErrorCode, "", "public/open resolver"},
		{"typo", zr, answer(dns.RcodeSuccess, "127.255.255.252"), StatusError, ErrZoneErrorCode, "", "typo"},
		{"other error in /24", zr, answer(dns.RcodeSuccess, "127.255.255.1"), StatusError, ErrZoneErrorCode, "", "Spamhaus error answer"},
		{"error wins over listing", zr, answer(dns.RcodeSuccess, "127.0.0.2", "127.255.255.255"), StatusError, ErrZoneErrorCode, "", "excessive"},
		{"outside 127/8", zr, answer(dns.RcodeSuccess, "127.0.0.2", "192.0.2.1"), StatusError, ErrBadAnswer, "", "192.0.2.1 outside"},
		{"servfail", zr, answer(dns.RcodeServerFailure), StatusError, ErrServfail, "", "SERVFAIL"},
		{"refused", zr, answer(dns.RcodeRefused), StatusError, ErrRefused, "", "REFUSED"},
		{"notimp", zr, answer(dns.RcodeNotImplemented), StatusError, ErrDNS, "", "NOTIMP"},
		{"generic", gen, answer(dns.RcodeSuccess, "127.0.0.3"), StatusListed, "", "listed (code 127.0.0.3)", ""},
		{"generic: any other 127/8 code is a listing", gen, answer(dns.RcodeSuccess, "127.1.2.3"), StatusListed, "", "listed (code 127.1.2.3)", ""},
		{"generic: 127.255.255.254 is an error answer", gen, answer(dns.RcodeSuccess, "127.255.255.254"), StatusError, ErrZoneErrorCode, "", "not a listing"},
		{"allow", allow, answer(dns.RcodeSuccess, "127.0.10.3"), StatusAllowed, "", "ok", ""},
		{"allow error", allow, answer(dns.RcodeSuccess, "127.0.0.255"), StatusError, ErrZoneErrorCode, "", "blocked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.z.decode(tt.msg)
			if o.status != tt.status || o.kind != tt.kind || strings.Join(o.meanings, "|") != tt.meanings || !strings.Contains(o.err, tt.errSub) {
				t.Errorf("got %+v", o)
			}
			if o.status == StatusListed && len(o.codes) != len(o.meanings) {
				t.Errorf("codes %v and meanings %v differ in length", o.codes, o.meanings)
			}
		})
	}
	// Every code is reported once, bounded.
	var many []string
	for i := 0; i < 200; i++ {
		many = append(many, "127.0.0."+string(rune('0'+i%10)))
	}
	if o := gen.decode(answer(dns.RcodeSuccess, many...)); len(o.codes) != 10 {
		t.Errorf("codes = %v", o.codes)
	}
}

type nopExchanger struct{}

func (nopExchanger) Exchange(context.Context, *dns.Msg) (*dns.Msg, error) {
	return nil, errors.New("no network in this test")
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// FuzzDecode feeds arbitrary bytes through dns.Msg.Unpack and the decoder:
// no panic, and the verdict is consistent with the codes.
func FuzzDecode(f *testing.F) {
	for _, m := range []*dns.Msg{answer(dns.RcodeSuccess, "127.0.0.2", "127.0.0.10"), answer(dns.RcodeNameError), answer(dns.RcodeSuccess, "10.0.0.1"), answer(dns.RcodeSuccess, "127.255.255.254")} {
		b, _ := m.Pack()
		f.Add(b)
	}
	c, _ := New(Options{Resolver: nopExchanger{}})
	zr, _ := c.compileZone(Builtin()[0])
	gen, _ := c.compileZone(Generic("g.example"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			return
		}
		for _, z := range []*zoneRT{zr, gen} {
			o := z.decode(m)
			if len(o.codes) > maxCodes {
				t.Fatalf("%d codes", len(o.codes))
			}
			switch o.status {
			case StatusListed, StatusAllowed:
				if len(o.codes) == 0 || len(o.codes) != len(o.meanings) {
					t.Fatalf("listing without codes: %+v", o)
				}
				for _, c := range o.codes {
					if !strings.HasPrefix(c, "127.") {
						t.Fatalf("listing with code %s", c)
					}
				}
			case StatusClean:
				if len(o.codes) != 0 {
					t.Fatalf("clean with codes %+v", o)
				}
			case StatusError:
				if o.kind == "" || o.err == "" || !utf8.ValidString(o.err) {
					t.Fatalf("error without kind or text: %+v", o)
				}
			default:
				t.Fatalf("status %q", o.status)
			}
		}
	})
}

// FuzzParseTarget checks that ParseTarget never panics, sets exactly one
// field, and returns *TargetError on one line.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::/48", "mx.example.com", "1.2.3", "127.1", "::ffff:1.2.3.4", "1.2.3.4/33", "", "a..b", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			var te *TargetError
			if !errorsAs(err, &te) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("bad error %T %q", err, err)
			}
			return
		}
		n := 0
		if tg.Addr.IsValid() {
			n++
		}
		if tg.Prefix.IsValid() {
			n++
			if tg.Prefix != tg.Prefix.Masked() {
				t.Fatalf("prefix not masked: %v", tg.Prefix)
			}
		}
		if tg.Host != "" {
			n++
			if strings.ContainsAny(tg.Host, " \t\r\n/:") {
				t.Fatalf("bad host %q", tg.Host)
			}
		}
		if n != 1 || tg.Input != s {
			t.Fatalf("target %+v for %q", tg, s)
		}
	})
}

func TestTXTText(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"Listed: see ", "https://x.test/?ip=192.0.2.1"}, "Listed: see https://x.test/?ip=192.0.2.1"},
		{[]string{`say \"hi\" \\ ok`}, `say "hi" \ ok`},
		{[]string{`\027[31mred`}, "\x1b[31mred"},
		{[]string{`caf\195\169`}, "café"},
		{[]string{`trailing\`}, `trailing\`},
		{[]string{`\999x`}, "999x"},
	} {
		if got := txtText(tc.in); got != tc.want {
			t.Errorf("txtText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDecodeCodeOrder: resolvers rotate an RRset's records, so the codes (and
// their meanings, in step) are kept in numeric address order whatever the
// answer order.
func TestDecodeCodeOrder(t *testing.T) {
	c := mustChecker(t, Options{Resolver: nopExchanger{}})
	zr, err := c.compileZone(Builtin()[0])
	if err != nil {
		t.Fatal(err)
	}
	const sbl, xbl, pbl = "SBL: Spamhaus Block List (direct spam source or spam operation)", "XBL: exploited host (botnet, proxy, malware)", "PBL (ISP-maintained): policy, not an MTA IP; not spam evidence"
	tests := []struct {
		name     string
		answer   []string
		codes    string
		meanings string
	}{
		{"in order", []string{"127.0.0.2", "127.0.0.4"}, "127.0.0.2,127.0.0.4", sbl + "|" + xbl},
		{"rotated", []string{"127.0.0.4", "127.0.0.2"}, "127.0.0.2,127.0.0.4", sbl + "|" + xbl},
		{"numeric, not text order", []string{"127.0.0.10", "127.0.0.4", "127.0.0.2"}, "127.0.0.2,127.0.0.4,127.0.0.10", sbl + "|" + xbl + "|" + pbl},
		{"duplicates", []string{"127.0.0.10", "127.0.0.2", "127.0.0.10"}, "127.0.0.2,127.0.0.10", sbl + "|" + pbl},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := zr.decode(answer(dns.RcodeSuccess, tt.answer...))
			if got := strings.Join(o.codes, ","); got != tt.codes {
				t.Errorf("codes = %s, want %s", got, tt.codes)
			}
			if got := strings.Join(o.meanings, "|"); got != tt.meanings {
				t.Errorf("meanings = %s, want %s", got, tt.meanings)
			}
		})
	}
	// Beyond maxCodes the lowest codes are kept, whatever the answer order.
	var many []string
	for i := 60; i > 0; i-- {
		many = append(many, fmt.Sprintf("127.0.1.%d", i))
	}
	o := zr.decode(answer(dns.RcodeSuccess, many...))
	if len(o.codes) != maxCodes || o.codes[0] != "127.0.1.1" || o.codes[maxCodes-1] != fmt.Sprintf("127.0.1.%d", maxCodes) {
		t.Errorf("codes = %v", o.codes)
	}
}

// TestDecodeOwnerNames: only A records of the question's name, or of the
// CNAME chain the answer gives from it, are codes; an A record of another
// name is a forged or confused answer, never a listing.
func TestDecodeOwnerNames(t *testing.T) {
	c := mustChecker(t, Options{Resolver: nopExchanger{}})
	zr, err := c.compileZone(Builtin()[0])
	if err != nil {
		t.Fatal(err)
	}
	q := "2.0.0.127.z.example."
	a := func(owner, ip string) dns.RR {
		return &dns.A{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.ParseIP(ip)}
	}
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: q, Rrtype: dns.TypeCNAME, Class: dns.ClassINET}, Target: "2.0.0.127.key.zen.dq.example."}
	for _, tc := range []struct {
		name   string
		rrs    []dns.RR
		status Status
		kind   ErrorKind
	}{
		{"own name", []dns.RR{a(q, "127.0.0.2")}, StatusListed, ""},
		{"own name, other case", []dns.RR{a(strings.ToUpper(q), "127.0.0.2")}, StatusListed, ""},
		{"through a CNAME", []dns.RR{cname, a("2.0.0.127.key.zen.dq.example.", "127.0.0.4")}, StatusListed, ""},
		{"another name only", []dns.RR{a("other.example.", "127.0.0.2")}, StatusError, ErrBadAnswer},
		{"another name beside", []dns.RR{a(q, "127.0.0.2"), a("other.example.", "127.0.0.9")}, StatusError, ErrBadAnswer},
	} {
		m := answer(dns.RcodeSuccess)
		m.Question[0].Name = q
		m.Answer = tc.rrs
		o := zr.decode(m)
		if o.status != tc.status || o.kind != tc.kind {
			t.Errorf("%s: %s/%s %q, want %s/%s", tc.name, o.status, o.kind, o.err, tc.status, tc.kind)
		}
	}
}

// TestReasonTextsOwnerNames: a TXT record of another name is no reason.
func TestReasonTextsOwnerNames(t *testing.T) {
	q := "2.0.0.127.z.example."
	m := new(dns.Msg)
	m.SetQuestion(q, dns.TypeTXT)
	txt := func(owner, s string) dns.RR {
		return &dns.TXT{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{s}}
	}
	m.Answer = []dns.RR{txt(q, "listed: see https://z.example/q"), txt("other.example.", "forged reason")}
	got := reasonTexts(m)
	if len(got) != 1 || got[0] != "listed: see https://z.example/q" {
		t.Errorf("reasons %q", got)
	}
}
