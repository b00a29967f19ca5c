package dnsbl

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/blprobe/blprobe/internal/dnstest"
)

func planUnits(p *Plan) []string {
	var out []string
	p.walk(func(s *source, a netip.Addr, host string) bool {
		if host != "" {
			out = append(out, s.input+"="+host)
		} else {
			out = append(out, s.input+"="+a.String())
		}
		return true
	})
	return out
}

func TestPlanExpansion(t *testing.T) {
	srv := dnstest.Start(t, `
mx.example.com. 60 IN A 192.0.2.5
mx.example.com. 60 IN A 192.0.2.5
mx.example.com. 60 IN AAAA 2001:db8::25
only6.example.com. 60 IN AAAA 2001:db8::26
noaddr.example.com. 60 IN TXT "x"
`)
	c := mustChecker(t, Options{Resolver: client(srv), MaxAddresses: 300})
	both := []Zone{Generic("bl.example"), {Zone: "dbl.example", Kind: KindDomain, Type: TypeBlock}}
	v4only := []Zone{{Zone: "v4.example", Kind: KindIP4, Type: TypeBlock}}
	tests := []struct {
		name    string
		targets []string
		zones   []Zone
		units   string
		pairs   int
		err     string
	}{
		{"v4 cidr", []string{"192.0.2.4/30"}, v4only, "192.0.2.4/30=192.0.2.4 192.0.2.4/30=192.0.2.5 192.0.2.4/30=192.0.2.6 192.0.2.4/30=192.0.2.7", 4, ""},
		{"v4 /32 and dup", []string{"192.0.2.9/32", "192.0.2.9"}, v4only, "192.0.2.9/32=192.0.2.9", 1, ""},
		{"nested later prefix", []string{"192.0.2.5", "192.0.2.4/31", "192.0.2.4/30", "192.0.2.6/31"}, v4only,
			"192.0.2.5=192.0.2.5 192.0.2.4/31=192.0.2.4 192.0.2.4/30=192.0.2.6 192.0.2.4/30=192.0.2.7", 4, ""},
		{"v6 /62 per /64", []string{"2001:db8:0:4::/62"}, both,
			"2001:db8:0:4::/62=2001:db8:0:4:: 2001:db8:0:4::/62=2001:db8:0:5:: 2001:db8:0:4::/62=2001:db8:0:6:: 2001:db8:0:4::/62=2001:db8:0:7::", 4, ""},
		{"v6 /64 and longer: one query", []string{"2001:db8::/64", "2001:db8::/96", "2001:db8::7/128"}, both,
			"2001:db8::/64=2001:db8:: 2001:db8::7/128=2001:db8::7", 2, ""},
		{"v6 address inside a /63 is its own unit", []string{"2001:db8::/63", "2001:db8::1", "2001:db8:0:1::"}, both,
			"2001:db8::/63=2001:db8:: 2001:db8::/63=2001:db8:0:1:: 2001:db8::1=2001:db8::1", 3, ""},
		{"mapped is v6", []string{"::ffff:192.0.2.1"}, v4only, "::ffff:192.0.2.1=::ffff:192.0.2.1", 0, ""},
		{"hostname", []string{"MX.example.com", "192.0.2.5"}, both,
			"MX.example.com=192.0.2.5 MX.example.com=2001:db8::25 MX.example.com=mx.example.com", 3, ""},
		{"hostname v4 zones only", []string{"mx.example.com"}, v4only,
			"mx.example.com=192.0.2.5 mx.example.com=2001:db8::25 mx.example.com=mx.example.com", 1, ""},
		{"hostname domain zones only: no resolution", []string{"noaddr.example.com"}, []Zone{{Zone: "dbl.example", Kind: KindDomain, Type: TypeBlock}},
			"noaddr.example.com=noaddr.example.com", 1, ""},
		{"only AAAA", []string{"only6.example.com"}, v4only, "only6.example.com=2001:db8::26 only6.example.com=only6.example.com", 0, ""},
		{"no address", []string{"noaddr.example.com"}, both, "", 0, `invalid target "noaddr.example.com": hostname has no A or AAAA record`},
		{"nxdomain", []string{"nx.example.com"}, both, "", 0, `invalid target "nx.example.com": hostname does not exist (NXDOMAIN)`},
		{"cap one target", []string{"192.0.2.0/8"}, v4only, "", 0, "192.0.2.0/8 expands to 16777216 addresses, more than --max-addresses 300"},
		{"cap v6", []string{"2001:db8::/32"}, v4only, "", 0, "2001:db8::/32 expands to 4294967296 /64 networks, more than --max-addresses 300"},
		{"cap total", []string{"192.0.2.0/24", "198.51.100.0/24"}, v4only, "", 0, "more than --max-addresses 300"},
		{"cap counts distinct", []string{"192.0.2.0/24", "192.0.2.0/24", "192.0.2.128/25"}, v4only, "", 256, ""},
		{"bad zone", []string{"192.0.2.1"}, []Zone{Generic("bad zone")}, "", 0, `zone "bad zone"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Queries.Load()
			p, err := c.Plan(context.Background(), mustTargets(t, tt.targets...), tt.zones)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				var te *TargetError
				if strings.Contains(tt.err, "max-addresses") && !errors.As(err, &te) {
					t.Errorf("cap error is not a *TargetError: %T", err)
				}
				if strings.Contains(tt.err, "max-addresses") && srv.Queries.Load() != before {
					t.Error("queries sent although the cap was exceeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.units != "" {
				if got := strings.Join(planUnits(p), " "); got != tt.units {
					t.Errorf("units:\n got %s\nwant %s", got, tt.units)
				}
			}
			if p.Pairs() != tt.pairs {
				t.Errorf("pairs = %d, want %d", p.Pairs(), tt.pairs)
			}
		})
	}
}

// Addrs lists the checked addresses in target order, before any lookup:
// CIDR members, /64 units, hostnames' addresses (not the names).
func TestPlanAddrs(t *testing.T) {
	srv := dnstest.Start(t, "mx.example.com. 60 IN A 192.0.2.5\nmx.example.com. 60 IN AAAA 2001:db8::25\n")
	c := mustChecker(t, Options{Resolver: client(srv)})
	var targets []Target
	for _, s := range []string{"192.0.2.8/31", "mx.example.com", "2001:db8:1::/63", "192.0.2.9"} {
		tg, err := ParseTarget(s)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	p, err := c.Plan(context.Background(), targets, []Zone{Generic("bl.example"), {Zone: "dbl.example", Kind: KindDomain, Type: TypeBlock}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range p.Addrs() {
		got = append(got, a.String())
	}
	want := "192.0.2.8 192.0.2.9 192.0.2.5 2001:db8::25 2001:db8:1:: 2001:db8:1:1::"
	if strings.Join(got, " ") != want {
		t.Errorf("Addrs = %s, want %s", strings.Join(got, " "), want)
	}
}

// TestPlanFamilies: per family, the units to check and the selected address
// zones that publish no data for it, whether or not any address of the
// family is checked (an IPv6-only run still names its IPv4-only zones).
func TestPlanFamilies(t *testing.T) {
	c := mustChecker(t, Options{Resolver: nopExchanger{}})
	sel := []Zone{{Zone: "a4.example", Kind: KindIP4, Type: TypeBlock}, {Zone: "b46.example", Kind: KindIP46, Type: TypeBlock},
		{Zone: "c6.example", Kind: KindIP6, Type: TypeBlock}, {Zone: "d4.example", Kind: KindIP4, Type: TypeAllow},
		{Zone: "dom.example", Kind: KindDomain, Type: TypeBlock}}
	tests := []struct {
		name             string
		targets          []string
		n4, n6           int
		notApp4, notApp6 string
	}{
		{"IPv6 only", []string{"::1"}, 0, 1, "c6.example", "a4.example,d4.example"},
		{"IPv4 only", []string{"192.0.2.1", "192.0.2.0/31"}, 2, 0, "c6.example", "a4.example,d4.example"},
		{"mixed, /63 is two units", []string{"192.0.2.1", "2001:db8::/63"}, 1, 2, "c6.example", "a4.example,d4.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := c.Plan(context.Background(), mustTargets(t, tt.targets...), sel)
			if err != nil {
				t.Fatal(err)
			}
			v4, v6 := p.Families()
			if v4.Units != tt.n4 || v6.Units != tt.n6 || strings.Join(v4.NotApplicable, ",") != tt.notApp4 || strings.Join(v6.NotApplicable, ",") != tt.notApp6 {
				t.Errorf("families %+v %+v, want %d [%s] %d [%s]", v4, v6, tt.n4, tt.notApp4, tt.n6, tt.notApp6)
			}
		})
	}
}
