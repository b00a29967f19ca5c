package rdns

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/dnstest"
)

func TestGeneric(t *testing.T) {
	tests := []struct {
		ip, ptr string
		want    bool
		why     string // substring of the reason
	}{
		// Real-looking ISP and cloud PTRs.
		{"73.12.34.56", "c-73-12-34-56.hsd1.ca.comcast.net", true, "embeds the IP"},
		{"71.190.12.34", "pool-71-190-12-34.nycmny.fios.verizon.net", true, "embeds the IP"},
		{"68.100.20.30", "ip68-100-20-30.ri.ri.cox.net", true, "embeds the IP"},
		{"86.123.45.67", "host86-123-45-67.range86-123.btcentralplus.com", true, "embeds the IP"},
		{"94.64.12.34", "ppp-94-64-12-34.home.otenet.gr", true, "embeds the IP"},
		{"88.65.12.34", "dslb-088-065-012-034.088.065.pools.vodafone-ip.de", true, "embeds the IP"},
		{"93.197.161.178", "p5dc5a1b2.dip0.t-ipconnect.de", true, "hex"},
		{"98.27.12.34", "cpe-98-27-12-34.neo.res.rr.com", true, "embeds the IP"},
		{"54.12.34.56", "ec2-54-12-34-56.compute-1.amazonaws.com", true, "embeds the IP"},
		{"78.46.12.34", "static.34.12.46.78.clients.your-server.de", true, "reversed"},
		{"34.120.1.2", "2.1.120.34.bc.googleusercontent.com", true, "reversed"},
		{"203.0.113.7", "203000113007.example.net", true, "run together"},
		{"203.0.113.7", "h7113000203.example.net", false, ""}, // digits in a different order
		{"203.0.113.7", "x-0-113-7.example.net", true, "last three octets"},
		{"203.0.113.7", "7.113.0.mail.example.net", true, "octets of the IP address, reversed"},
		{"203.0.113.7", "dynamic.example.net", true, `"dynamic"`},
		{"192.0.2.55", "dyn-55.pool.example.net", true, `"dyn"`},
		{"198.51.100.20", "customer.example.com.example.org", true, `"customer"`},
		{"198.51.100.20", "mail.static-ip.example.com", true, `"static-ip"`},
		{"198.51.100.20", "dialup-12.example.com", true, `"dialup"`},
		{"198.51.100.20", "unassigned.example.co.uk", true, `"unassigned"`},
		{"198.51.100.20", "adsl.example.co.uk", true, `"adsl"`},
		{"198.51.100.20", "dhcp123.example.net", true, `"dhcp"`},
		{"2001:db8::7", "2001-db8--7.dyn.example.net", true, "IPv6"},
		{"2001:db8::7", "20010db8000000000000000000000007.example.net", true, "hex"},
		{"2001:db8::7", "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.example.net", true, "reversed nibbles"},
		{"::ffff:203.0.113.7", "203-0-113-7.example.net", true, "embeds the IP"},
		// Legitimate mail server names, including traps for naive substring matching.
		{"203.0.113.7", "mail.dslab.org", false, ""},
		{"203.0.113.7", "mail.example.com", false, ""},
		{"203.0.113.7", "mx1.poolside.com", false, ""},
		{"203.0.113.7", "smtp.cable-net.de", false, ""},
		{"203.0.113.7", "mail.dsl-provider.co.uk", false, ""},
		{"203.0.113.7", "out.dynamics365.example.com", false, ""},
		{"203.0.113.7", "clientmail.example.org", false, ""},
		{"203.0.113.7", "smtp2.customerservice.example.com", false, ""},
		{"203.0.113.7", "mail203.example.com", false, ""},
		{"203.0.113.7", "mx-113.example.net", false, ""},
		{"203.0.113.7", "static.example.com", false, ""},
		{"203.0.113.7", "host-1-2-3-4.example.net", false, ""},
		{"54.240.27.123", "a27-123.smtp-out.amazonses.com", false, ""},
		{"209.85.208.41", "mail-ed1-f41.google.com", false, ""},
		{"2001:db8::7", "mail.example.com", false, ""},
		{"2001:db8::7", "2001-db8--8.example.net", false, ""},
		{"203.0.113.7", "", false, ""},
		{"203.0.113.7", "example.com", false, ""},
	}
	for _, tt := range tests {
		got, why := Generic(tt.ptr, netip.MustParseAddr(tt.ip))
		if got != tt.want || !strings.Contains(why, tt.why) || (got && why == "") {
			t.Errorf("Generic(%q, %s) = %v, %q; want %v, %q", tt.ptr, tt.ip, got, why, tt.want, tt.why)
		}
	}
}

func FuzzGeneric(f *testing.F) {
	for _, s := range []string{"c-73-12-34-56.hsd1.ca.comcast.net", "mail.dslab.org", "p5dc5a1b2.dip0.t-ipconnect.de", "2001-db8--7.x.y", "..", "-", "0000000000000"} {
		f.Add(s, "203.0.113.7")
		f.Add(s, "2001:db8::7")
	}
	f.Fuzz(func(t *testing.T, ptr, ipS string) {
		ip, _ := netip.ParseAddr(ipS)
		g1, w1 := Generic(ptr, ip)
		g2, w2 := Generic(ptr, ip)
		if g1 != g2 || w1 != w2 {
			t.Fatalf("not deterministic")
		}
		if g1 == (w1 == "") {
			t.Fatalf("Generic(%q, %v) = %v with reason %q", ptr, ip, g1, w1)
		}
		// Any valid IPv4 address embedded dashed under a dyn label is generic.
		if ip.Is4() {
			o := ip.As4()
			name := strings.Join([]string{itoa(o[0]), itoa(o[1]), itoa(o[2]), itoa(o[3])}, "-") + ".example.net"
			if g, _ := Generic(name, ip); !g {
				t.Fatalf("Generic(%q, %v) = false", name, ip)
			}
		}
	})
}

func itoa(b byte) string { return strconv.Itoa(int(b)) }

const zone = `
7.113.0.203.in-addr.arpa. 60 IN PTR mail.example.com.
mail.example.com. 60 IN A 203.0.113.7
mail.example.com. 60 IN AAAA 2001:db8::25
9.113.0.203.in-addr.arpa. 60 IN PTR other.example.com.
other.example.com. 60 IN A 203.0.113.99
10.113.0.203.in-addr.arpa. 60 IN PTR a.example.com.
10.113.0.203.in-addr.arpa. 60 IN PTR b.example.com.
b.example.com. 60 IN A 203.0.113.10
11.113.0.203.in-addr.arpa. 60 IN PTR 203-0-113-11.dyn.example.net.
203-0-113-11.dyn.example.net. 60 IN A 203.0.113.11
12.113.0.203.in-addr.arpa. 60 IN PTR gone.example.com.
13.113.0.203.in-addr.arpa. 60 IN PTR broken.example.org.
5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 60 IN PTR mail.example.com.
`

func TestCheck(t *testing.T) {
	s := dnstest.Start(t, zone)
	s.Handle("broken.example.org", dnstest.Rcode(dns.RcodeServerFailure))
	s.Handle("14.113.0.203.in-addr.arpa", dnstest.Rcode(dns.RcodeServerFailure))
	s.Handle("15.113.0.203.in-addr.arpa", dnstest.Drop())
	s.Handle("slow.example.com", dnstest.Drop())
	c := &dnsclient.Client{Servers: []string{s.Addr}, Timeout: 150 * time.Millisecond}
	tests := []struct {
		name, ip, helo string
		ptr            []string
		fcrdns         bool
		generic        bool
		err            string   // substring of Error, "" for none
		problems       []string // substrings, one per problem, in order
	}{
		{"ok", "203.0.113.7", "mail.example.com", []string{"mail.example.com"}, true, false, "", nil},
		{"ok v6", "2001:db8::25", "mail.example.com", []string{"mail.example.com"}, true, false, "", nil},
		{"missing", "203.0.113.8", "", []string{}, false, false, "", []string{"no PTR record for 203.0.113.8: Gmail rejects with 5.7.25"}},
		{"not confirmed", "203.0.113.9", "", []string{"other.example.com"}, false, false, "",
			[]string{"PTR name other.example.com does not resolve back to 203.0.113.9 (not forward-confirmed)"}},
		{"forward nxdomain", "203.0.113.12", "", []string{"gone.example.com"}, false, false, "",
			[]string{"PTR name gone.example.com does not resolve back to 203.0.113.12 (not forward-confirmed)"}},
		{"multiple", "203.0.113.10", "", []string{"a.example.com", "b.example.com"}, true, false, "",
			[]string{"203.0.113.10 has 2 PTR records (a.example.com, b.example.com)"}},
		{"generic", "203.0.113.11", "", []string{"203-0-113-11.dyn.example.net"}, true, true, "",
			[]string{"PTR 203-0-113-11.dyn.example.net looks generic/dynamic (embeds the IP address 203.0.113.11): policy lists such as Spamhaus PBL and SpamRATS Dyna target these"}},
		{"helo mismatch", "203.0.113.7", "other.example.com", []string{"mail.example.com"}, true, false, "",
			[]string{"HELO name other.example.com does not resolve to the IP 203.0.113.7 (it resolves to 203.0.113.99)", "HELO name other.example.com does not match the PTR name"}},
		{"helo nxdomain", "203.0.113.7", "nowhere.example.com", []string{"mail.example.com"}, true, false, "",
			[]string{"HELO name nowhere.example.com does not resolve to the IP 203.0.113.7 (it has no address)", "does not match"}},
		{"helo not fqdn", "203.0.113.7", "localhost", []string{"mail.example.com"}, true, false, "",
			[]string{"HELO name localhost is not fully qualified"}},
		{"helo literal ok", "203.0.113.7", "[203.0.113.7]", []string{"mail.example.com"}, true, false, "",
			[]string{"is an address literal: it is allowed"}},
		{"helo literal other", "203.0.113.7", "[192.0.2.1]", []string{"mail.example.com"}, true, false, "",
			[]string{"HELO [192.0.2.1] is an address literal that is not 203.0.113.7"}},
		{"helo timeout", "203.0.113.7", "slow.example.com", []string{"mail.example.com"}, true, false, "resolving HELO name slow.example.com failed", []string{"does not match"}},
		{"ptr servfail", "203.0.113.14", "", []string{}, false, false, "PTR lookup for 203.0.113.14 failed", nil},
		{"ptr timeout", "203.0.113.15", "", []string{}, false, false, "timed out", nil},
		{"forward servfail", "203.0.113.13", "", []string{"broken.example.org"}, false, false, "forward lookup of PTR name broken.example.org failed", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(context.Background(), c, netip.MustParseAddr(tt.ip), tt.helo)
			if r.IP != tt.ip || strings.Join(r.PTR, ",") != strings.Join(tt.ptr, ",") || r.ForwardConfirmed != tt.fcrdns || r.Generic != tt.generic {
				t.Errorf("got %+v", r)
			}
			if (tt.err == "") != (r.Error == "") || !strings.Contains(r.Error, tt.err) {
				t.Errorf("error = %q, want %q", r.Error, tt.err)
			}
			if len(r.Problems) != len(tt.problems) {
				t.Fatalf("problems = %q, want %q", r.Problems, tt.problems)
			}
			for i, p := range tt.problems {
				if !strings.Contains(r.Problems[i], p) {
					t.Errorf("problem %d = %q, want %q", i, r.Problems[i], p)
				}
			}
			if (tt.helo != "") != (r.HELO != nil) {
				t.Errorf("helo = %+v", r.HELO)
			}
		})
	}
}

func TestCheckHELODetails(t *testing.T) {
	s := dnstest.Start(t, zone)
	c := &dnsclient.Client{Servers: []string{s.Addr}, Timeout: time.Second}
	r := Check(context.Background(), c, netip.MustParseAddr("203.0.113.7"), "Mail.Example.com.")
	h := r.HELO
	if h == nil || !h.FQDN || !h.ResolvesToIP || !h.MatchesPTR || strings.Join(h.Resolves, ",") != "203.0.113.7,2001:db8::25" {
		t.Fatalf("helo = %+v", h)
	}
	if got := r.Forward["mail.example.com"]; len(got) != 1 || got[0] != "203.0.113.7" {
		t.Errorf("forward = %v", r.Forward)
	}
}

func TestIsFQDN(t *testing.T) {
	for n, want := range map[string]bool{
		"mail.example.com": true, "a.b": true, "localhost": false, "203.0.113.7": false,
		"mail..example.com": false, "-mail.example.com": false, "mail.example.123": false,
		"mail_1.example.com": false, "": false,
	} {
		if got := isFQDN(n); got != want {
			t.Errorf("isFQDN(%q) = %v", n, got)
		}
	}
}
