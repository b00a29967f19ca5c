package egress

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/dnstest"
)

func remoteAddr(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func hdr(q dns.Question, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: q.Name, Rrtype: t, Class: q.Qclass, Ttl: 0}
}

// addrFake plays OpenDNS/Akamai: A or AAAA with the querier's address when
// the query type fits the transport family, an empty answer otherwise.
// fixed, when set, replaces the querier's address.
func addrFake(name, fixed string) dnstest.Behavior {
	return func(req *dns.Msg, remote net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		if !strings.EqualFold(q.Name, name) || q.Qclass != dns.ClassINET {
			m.Rcode = dns.RcodeNameError
			return m
		}
		ip := remoteAddr(remote)
		if fixed != "" {
			ip = netip.MustParseAddr(fixed)
		}
		switch {
		case q.Qtype == dns.TypeA && ip.Is4():
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(q, dns.TypeA), A: ip.AsSlice()})
		case q.Qtype == dns.TypeAAAA && ip.Is6():
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(q, dns.TypeAAAA), AAAA: ip.AsSlice()})
		}
		return m
	}
}

// txtFake plays Google (class IN, with an extra edns0-client-subnet TXT) or
// Cloudflare (class CH only; REFUSED for IN). classes counts the CH queries.
func txtFake(name string, class uint16, text string, chaos *atomic.Int64) dnstest.Behavior {
	return func(req *dns.Msg, remote net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		if q.Qclass == dns.ClassCHAOS && chaos != nil {
			chaos.Add(1)
		}
		if q.Qclass != class {
			m.Rcode = dns.RcodeRefused
			return m
		}
		if !strings.EqualFold(q.Name, name) || q.Qtype != dns.TypeTXT {
			m.Rcode = dns.RcodeNameError
			return m
		}
		if text == "" {
			text = remoteAddr(remote).String()
		}
		m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(q, dns.TypeTXT), Txt: []string{text}})
		if class == dns.ClassINET {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(q, dns.TypeTXT), Txt: []string{"edns0-client-subnet 192.0.2.0/24"}})
		}
		return m
	}
}

type fakes struct {
	servers map[string]*dnstest.Server
	chaos   atomic.Int64
}

// startFakes starts the four providers on ip; override replaces a provider's behaviour.
func startFakes(t *testing.T, ip string, override map[string]dnstest.Behavior) *fakes {
	t.Helper()
	f := &fakes{servers: map[string]*dnstest.Server{}}
	def := map[string]dnstest.Behavior{
		OpenDNS:    addrFake("myip.opendns.com.", ""),
		Akamai:     addrFake("whoami.akamai.net.", ""),
		Google:     txtFake("o-o.myaddr.l.google.com.", dns.ClassINET, "", nil),
		Cloudflare: txtFake("whoami.cloudflare.", dns.ClassCHAOS, "", &f.chaos),
	}
	for _, n := range sourceNames {
		s := dnstest.StartOn(t, ip, "")
		b := def[n]
		if o, ok := override[n]; ok {
			b = o
		}
		s.Handle(".", b)
		f.servers[n] = s
	}
	return f
}

func (f *fakes) sources() []Source {
	var out []Source
	for _, n := range sourceNames {
		out = append(out, Source{Name: n, Server: f.servers[n].Addr})
	}
	return out
}

func TestDetectV4Agreement(t *testing.T) {
	f := startFakes(t, "127.0.0.1", nil)
	e := Detect(context.Background(), Options{Sources: f.sources(), Timeout: time.Second, IPv4: true})
	if e.IPv4.IP != "127.0.0.1" || !e.IPv4.Agree || e.IPv4.Answered != 4 || e.IPv4.Problem != "" {
		t.Fatalf("ipv4 = %+v, answers %+v", e.IPv4, e.Answers)
	}
	if e.IPv6.Problem != "IPv6 egress not checked" {
		t.Errorf("ipv6 = %+v", e.IPv6)
	}
	if len(e.Answers) != 4 {
		t.Fatalf("answers = %+v", e.Answers)
	}
	wantQ := map[string]string{
		OpenDNS: "myip.opendns.com A", Google: "o-o.myaddr.l.google.com TXT",
		Akamai: "whoami.akamai.net A", Cloudflare: "whoami.cloudflare CH TXT",
	}
	for _, a := range e.Answers {
		if a.Query != wantQ[a.Source] || a.Family != "ipv4" || a.Error != "" || len(a.IPs) != 1 || a.IPs[0] != "127.0.0.1" || a.RTTms <= 0 {
			t.Errorf("answer %+v", a)
		}
	}
	if f.chaos.Load() == 0 {
		t.Error("cloudflare fake never saw a CH-class query")
	}
}

func TestDetectV6(t *testing.T) {
	pc, err := net.ListenPacket("udp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	pc.Close()
	f := startFakes(t, "::1", nil)
	v4 := startFakes(t, "127.0.0.1", nil)
	srcs := append(f.sources(), v4.sources()...)
	e := Detect(context.Background(), Options{Sources: srcs, Timeout: time.Second})
	if e.IPv6.IP != "::1" || !e.IPv6.Agree || e.IPv6.Answered != 4 {
		t.Errorf("ipv6 = %+v (%+v)", e.IPv6, e.Answers)
	}
	if e.IPv4.IP != "127.0.0.1" || !e.IPv4.Agree || e.IPv4.Answered != 4 {
		t.Errorf("ipv4 = %+v", e.IPv4)
	}
	// IP literals fix the family: 4 v6 servers asked over v6, 4 v4 over v4.
	if len(e.Answers) != 8 {
		t.Errorf("%d answers, want 8", len(e.Answers))
	}
	for _, a := range e.Answers {
		if lit, _ := literalHost(a.Server); lit.Is6() != (a.Family == "ipv6") {
			t.Errorf("answer %+v asked over the wrong family", a)
		}
	}
}

func TestDetectServerNames(t *testing.T) {
	f := startFakes(t, "127.0.0.1", nil)
	var zone strings.Builder
	var srcs []Source
	for _, n := range sourceNames {
		host, port, _ := net.SplitHostPort(f.servers[n].Addr)
		zone.WriteString(n + ".test. 60 IN A " + host + "\n")
		srcs = append(srcs, Source{Name: n, Server: n + ".test:" + port})
	}
	res := dnstest.Start(t, zone.String())
	rc := &dnsclient.Client{Servers: []string{res.Addr}, Timeout: time.Second}
	srcs = append(srcs, Source{Name: Akamai, Server: "missing.test:53"})
	e := Detect(context.Background(), Options{Sources: srcs, Resolver: rc, Timeout: time.Second, IPv4: true})
	if e.IPv4.IP != "127.0.0.1" || !e.IPv4.Agree || e.IPv4.Answered != 4 {
		t.Fatalf("ipv4 = %+v %+v", e.IPv4, e.Answers)
	}
	last := e.Answers[len(e.Answers)-1]
	if !strings.Contains(last.Error, "missing.test") || len(last.IPs) != 0 {
		t.Errorf("unresolvable server answer = %+v", last)
	}
	if !strings.Contains(e.Answers[0].Server, "opendns.test") || !strings.Contains(e.Answers[0].Server, "127.0.0.1") {
		t.Errorf("server = %q, want name and address", e.Answers[0].Server)
	}
	// Without a resolver a name cannot be used.
	e = Detect(context.Background(), Options{Sources: srcs[:1], Timeout: time.Second, IPv4: true})
	if e.IPv4.Answered != 0 || !strings.Contains(e.Answers[0].Error, "no resolver") {
		t.Errorf("no resolver: %+v", e.Answers)
	}
}

func TestDetectOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		override  map[string]dnstest.Behavior
		ip        string
		agree     bool
		answered  int
		problem   string
		errSource map[string]string // source → substring of its error
	}{
		{
			name:     "disagreement",
			override: map[string]dnstest.Behavior{OpenDNS: addrFake("myip.opendns.com.", "192.0.2.1")},
			answered: 4,
			problem:  "sources disagree: opendns says 192.0.2.1, google, akamai and cloudflare say 127.0.0.1",
		},
		{
			name: "none answering",
			override: map[string]dnstest.Behavior{
				OpenDNS: dnstest.Drop(), Google: dnstest.Drop(), Akamai: dnstest.Drop(), Cloudflare: dnstest.Drop(),
			},
			problem:   "no egress source answered for IPv4",
			errSource: map[string]string{OpenDNS: "timed out", Google: "timed out", Akamai: "timed out", Cloudflare: "timed out"},
		},
		{
			name: "garbage answers",
			override: map[string]dnstest.Behavior{
				Google:     txtFake("o-o.myaddr.l.google.com.", dns.ClassINET, "\x1b[31mhello", nil),
				Akamai:     addrFake("whoami.akamai.net.", "2001:db8::1"), // AAAA only: no A answer
				Cloudflare: txtFake("whoami.cloudflare.", dns.ClassCHAOS, "2001:db8::2", nil),
			},
			ip: "127.0.0.1", agree: true, answered: 1,
			errSource: map[string]string{
				Google: `not an IP address`, Akamai: "no answer", Cloudflare: "not an IPv4 address",
			},
		},
		{
			name: "servfail and class IN refused",
			override: map[string]dnstest.Behavior{
				OpenDNS:    dnstest.Rcode(dns.RcodeServerFailure),
				Cloudflare: txtFake("whoami.cloudflare.", dns.ClassINET, "", nil), // refuses CH
			},
			ip: "127.0.0.1", agree: true, answered: 2,
			errSource: map[string]string{OpenDNS: "SERVFAIL", Cloudflare: "REFUSED"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakes(t, "127.0.0.1", tt.override)
			start := time.Now()
			e := Detect(context.Background(), Options{Sources: f.sources(), Timeout: 150 * time.Millisecond, IPv4: true})
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v: sources not asked concurrently?", d)
			}
			got := e.IPv4
			if got.IP != tt.ip || got.Agree != tt.agree || got.Answered != tt.answered || !strings.HasPrefix(got.Problem, tt.problem) || (tt.problem == "") != (got.Problem == "") {
				t.Errorf("ipv4 = %+v", got)
			}
			for _, a := range e.Answers {
				want, ok := tt.errSource[a.Source]
				if ok != (a.Error != "") || !strings.Contains(a.Error, want) {
					t.Errorf("%s: error %q, want containing %q", a.Source, a.Error, want)
				}
				if strings.ContainsRune(a.Error, 0x1b) {
					t.Errorf("%s: control character in error %q", a.Source, a.Error)
				}
			}
		})
	}
}

func TestDetectFamilyNotReachable(t *testing.T) {
	srcs := []Source{{OpenDNS, "127.0.0.1:1"}}
	e := Detect(context.Background(), Options{Sources: srcs, IPv6: true, Timeout: 100 * time.Millisecond})
	if len(e.Answers) != 0 || e.IPv6.Problem != "no egress source can be asked over IPv6" {
		t.Errorf("egress = %+v", e)
	}
}

func TestDetectCanceled(t *testing.T) {
	f := startFakes(t, "127.0.0.1", map[string]dnstest.Behavior{
		OpenDNS: dnstest.Drop(), Google: dnstest.Drop(), Akamai: dnstest.Drop(), Cloudflare: dnstest.Drop(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	e := Detect(ctx, Options{Sources: f.sources(), Timeout: 5 * time.Second, Retries: 3})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Detect ignored the context: %v", d)
	}
	if e.IPv4.Answered != 0 || e.IPv4.Problem == "" {
		t.Errorf("ipv4 = %+v", e.IPv4)
	}
}

func TestParseSource(t *testing.T) {
	tests := []struct {
		in, name, server, err string
	}{
		{"opendns=127.0.0.1:5353", "opendns", "127.0.0.1:5353", ""},
		{"Google=ns1.google.com:53", "google", "ns1.google.com:53", ""},
		{"cloudflare=[::1]:53", "cloudflare", "[::1]:53", ""},
		{"akamai=192.0.2.1", "akamai", "192.0.2.1:53", ""},
		{"akamai", "", "", "want NAME=HOST:PORT"},
		{"quad9=9.9.9.9:53", "", "", `unknown source "quad9"`},
		{"opendns=", "", "", "empty resolver"},
		{"opendns=host:99999", "", "", "bad port"},
		{"opendns=a b:53", "", "", "bad host"},
	}
	for _, tt := range tests {
		s, err := ParseSource(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.in) {
				t.Errorf("ParseSource(%q) err = %v, want %q naming the value", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || s.Name != tt.name || s.Server != tt.server {
			t.Errorf("ParseSource(%q) = %+v, %v", tt.in, s, err)
		}
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in   string
		v6   bool
		want string
	}{
		{"203.0.113.7", false, "203.0.113.7"},
		{`"203.0.113.7"`, false, "203.0.113.7"},
		{" 203.0.113.7 ", false, "203.0.113.7"},
		{"::ffff:203.0.113.7", false, "203.0.113.7"},
		{"2001:db8::7", true, "2001:db8::7"},
		{"2001:db8::7", false, ""},
		{"203.0.113.7", true, ""},
		{"0.0.0.0", false, ""},
		{"224.0.0.1", false, ""},
		{"255.255.255.255", false, ""},
		{"fe80::1%eth0", true, ""},
		{"edns0-client-subnet 1.2.3.0/24", false, ""},
		{"", false, ""},
	}
	for _, tt := range tests {
		a, err := ParseAddress(tt.in, tt.v6)
		got := ""
		if err == nil {
			got = a.String()
		}
		if got != tt.want {
			t.Errorf("ParseAddress(%q, %v) = %q, %v; want %q", tt.in, tt.v6, got, err, tt.want)
		}
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"1.2.3.4", `"::1"`, "edns0-client-subnet", "\x00", "::ffff:1.2.3.4"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, v6 bool) {
		a, err := ParseAddress(s, v6)
		if err == nil && (a.Is6() != v6 || !a.IsValid()) {
			t.Fatalf("ParseAddress(%q, %v) = %v", s, v6, a)
		}
		if err != nil && len(err.Error()) > 200 {
			t.Fatalf("unbounded error %q", err)
		}
	})
}

func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"opendns=1.2.3.4:53", "google=[::1]:53", "x", "=", "akamai=h:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := ParseSource(s)
		if err == nil {
			if _, qerr := queryFor(src.Name, false); qerr != nil {
				t.Fatalf("accepted unknown source %q", src.Name)
			}
			if _, _, serr := net.SplitHostPort(src.Server); serr != nil {
				t.Fatalf("accepted server %q: %v", src.Server, serr)
			}
		}
	})
}
