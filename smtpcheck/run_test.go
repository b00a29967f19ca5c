package smtpcheck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/miekg/dns"
)

func resolver(t *testing.T, zone string) (*dnsclient.Client, *dnstest.Server) {
	t.Helper()
	srv := dnstest.Start(t, zone)
	return &dnsclient.Client{Servers: []string{srv.Addr}, Timeout: 300 * time.Millisecond, Retries: 0}, srv
}

const zone = `
eq.test. 300 IN MX 10 mx-b.eq.test.
eq.test. 300 IN MX 10 mx-a.eq.test.
eq.test. 300 IN MX 10 mx-c.eq.test.
eq.test. 300 IN MX 5 mx-first.eq.test.
eq.test. 300 IN MX 20 mx-last.eq.test.
mx-a.eq.test. 300 IN A 127.0.0.11
mx-b.eq.test. 300 IN A 127.0.0.12
mx-c.eq.test. 300 IN A 127.0.0.13
mx-first.eq.test. 300 IN A 127.0.0.10
mx-last.eq.test. 300 IN A 127.0.0.14
implicit.test. 300 IN A 127.0.0.20
implicit.test. 300 IN TXT "no mx"
null.test. 300 IN MX 0 .
nohost.test. 300 IN TXT "nothing"
dual.test. 300 IN MX 10 mx.dual.test.
mx.dual.test. 300 IN A 127.0.0.30
mx.dual.test. 300 IN AAAA ::1
broken.test. 300 IN MX 10 missing.broken.test.
broken.test. 300 IN MX 20 mx.broken.test.
broken.test. 300 IN A 127.0.0.99
mx.broken.test. 300 IN A 127.0.0.31
allbroken.test. 300 IN MX 10 missing.allbroken.test.
allbroken.test. 300 IN A 127.0.0.99
cname.test. 300 IN MX 10 alias.cname.test.
real.cname.test. 300 IN A 127.0.0.32
literal.test. 300 IN MX 10 127.0.0.33.
`

func hosts(d Domain) string {
	var out []string
	for _, m := range d.MX {
		var ips []string
		for _, a := range m.Addresses {
			ips = append(ips, a.IP)
		}
		out = append(out, fmt.Sprintf("%s/%d=%s", m.Host, m.Preference, strings.Join(ips, "+")))
	}
	return strings.Join(out, " ")
}

func TestResolveDomain(t *testing.T) {
	c, srv := resolver(t, zone)
	srv.Handle("servfail.test", dnstest.Rcode(dns.RcodeServerFailure))
	// Like an authoritative server: a CNAME answers every type, unchased.
	srv.Handle("alias.cname.test", func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "real.cname.test."})
		return m
	})
	tests := []struct {
		name   string
		domain string
		mod    func(*Options)
		status DomainStatus
		hosts  string
		errSub string
	}{
		{"implicit MX", "implicit.test", nil, DomainOK, "implicit.test/0=127.0.0.20", ""},
		{"null MX", "null.test", nil, DomainNullMX, "", "null MX: the domain accepts no mail"},
		{"NXDOMAIN", "nx.test", nil, DomainError, "", "does not exist (NXDOMAIN)"},
		{"SERVFAIL", "servfail.test", nil, DomainError, "", "SERVFAIL"},
		{"no mail host", "nohost.test", nil, DomainNoMailHost, "", "no MX record and no"},
		{"A and AAAA", "dual.test", nil, DomainOK, "mx.dual.test/10=127.0.0.30+::1", ""},
		{"-4", "dual.test", func(o *Options) { o.IPv4Only = true }, DomainOK, "mx.dual.test/10=127.0.0.30", ""},
		{"-6", "dual.test", func(o *Options) { o.IPv6Only = true }, DomainOK, "mx.dual.test/10=::1", ""},
		{"MX host without address, no fallback", "broken.test", nil, DomainOK, "missing.broken.test/10= mx.broken.test/20=127.0.0.31", ""},
		{"no MX host resolves, no fallback", "allbroken.test", nil, DomainError, "missing.allbroken.test/10=", "none of the 1 MX hosts"},
		{"CNAME'd MX", "cname.test", nil, DomainOK, "alias.cname.test/10=127.0.0.32", ""},
		{"IP-literal MX", "literal.test", nil, DomainOK, "127.0.0.33/10=127.0.0.33", ""},
		{"trailing dot and case", "Implicit.TEST.", nil, DomainOK, "implicit.test/0=127.0.0.20", ""},
		{"invalid name", "a b@c", nil, DomainError, "", "not a valid domain name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Resolver: c, Rand: rand.New(rand.NewPCG(1, 2))}
			if tc.mod != nil {
				tc.mod(&o)
			}
			d := ResolveDomain(context.Background(), tc.domain, o)
			if d.Status != tc.status || hosts(d) != tc.hosts || !strings.Contains(d.Error, tc.errSub) {
				t.Errorf("got %s %q err %q, want %s %q err ~%q", d.Status, hosts(d), d.Error, tc.status, tc.hosts, tc.errSub)
			}
			for _, m := range d.MX {
				if m.Implicit != (tc.name == "implicit MX" || tc.name == "trailing dot and case") {
					t.Errorf("implicit=%v for %s", m.Implicit, m.Host)
				}
				for _, a := range m.Addresses {
					if a.Status != StatusNotDone || a.Class != ClassNotDone {
						t.Errorf("pending address %s has %s/%s", a.IP, a.Status, a.Class)
					}
				}
			}
			if tc.name == "MX host without address, no fallback" && !strings.Contains(d.MX[0].Error, "missing.broken.test") {
				t.Errorf("MX error %q", d.MX[0].Error)
			}
		})
	}
}

// Equal preferences are shuffled by the seeded Rand; lower preferences come
// first whatever the seed.
func TestResolveDomainOrder(t *testing.T) {
	c, _ := resolver(t, zone)
	seen := map[string]bool{}
	for seed := uint64(0); seed < 40; seed++ {
		o := Options{Resolver: c, Rand: rand.New(rand.NewPCG(seed, seed))}
		d := ResolveDomain(context.Background(), "eq.test", o)
		if len(d.MX) != 5 || d.MX[0].Host != "mx-first.eq.test" || d.MX[4].Host != "mx-last.eq.test" {
			t.Fatalf("seed %d: order %s", seed, hosts(d))
		}
		mid := d.MX[1].Host + d.MX[2].Host + d.MX[3].Host
		seen[mid] = true
		// Same seed, same order.
		again := ResolveDomain(context.Background(), "eq.test", Options{Resolver: c, Rand: rand.New(rand.NewPCG(seed, seed))})
		if hosts(again) != hosts(d) {
			t.Fatalf("seed %d not reproducible: %s vs %s", seed, hosts(d), hosts(again))
		}
	}
	if len(seen) < 4 {
		t.Errorf("equal preferences hardly shuffled: %d orders in 40 seeds", len(seen))
	}
}

// Run end to end: two domains whose MX records point at smtptest servers on
// 127.0.0.x sharing one port; null MX and NXDOMAIN domains still appear.
func TestRunEndToEnd(t *testing.T) {
	a := smtptest.Start(t, smtptest.Config{IP: "127.0.0.41", ReplyDelay: 20 * time.Millisecond})
	smtptest.Start(t, smtptest.Config{IP: "127.0.0.42", Port: a.Port,
		Rcpt: "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"})
	c, _ := resolver(t, `
one.test. 300 IN MX 10 mx.shared.test.
two.test. 300 IN MX 10 mx.shared.test.
two.test. 300 IN MX 20 mx.strict.test.
three.test. 300 IN MX 10 mx.shared.test.
mx.shared.test. 300 IN A 127.0.0.41
mx.strict.test. 300 IN A 127.0.0.42
null.test. 300 IN MX 0 .
`)
	var (
		pmu   sync.Mutex
		calls []int
	)
	o := testOpts(a.Port)
	o.Resolver = c
	o.Concurrency = 8
	o.Rand = rand.New(rand.NewPCG(7, 7))
	o.Progress = func(done, total int) {
		pmu.Lock()
		calls = append(calls, done*100+total)
		pmu.Unlock()
	}
	res := Run(context.Background(), []string{"one.test", "two.test", "three.test", "null.test", "nx.test"}, o)
	if len(res.Domains) != 5 {
		t.Fatalf("%d domains", len(res.Domains))
	}
	want := []struct {
		status DomainStatus
		probes string
	}{
		{DomainOK, "accepted"}, {DomainOK, "accepted,rejected"}, {DomainOK, "accepted"}, {DomainNullMX, ""}, {DomainError, ""},
	}
	for i, d := range res.Domains {
		var st []string
		for _, m := range d.MX {
			for _, p := range m.Addresses {
				st = append(st, string(p.Status))
			}
		}
		if d.Status != want[i].status || strings.Join(st, ",") != want[i].probes {
			t.Errorf("%s: %s %v, want %s %s", d.Domain, d.Status, st, want[i].status, want[i].probes)
		}
	}
	if p := res.Domains[1].MX[1].Addresses[0]; p.Class != ClassBlocklisted || p.CitedList != "zen.spamhaus.org" {
		t.Errorf("strict MX: %s %q", p.Class, p.CitedList)
	}
	// Three domains share mx.shared.test: never two connections at once.
	a.Close()
	if n := len(a.Conns()); n != 3 {
		t.Errorf("shared MX got %d connections", n)
	}
	if m := a.MaxConcurrent(); m != 1 {
		t.Errorf("shared MX saw %d concurrent connections", m)
	}
	if res.HELO != "[127.0.0.1]" || res.From != NullReversePath {
		t.Errorf("result says HELO %q from %q, want what was sent", res.HELO, res.From)
	}
	if res.Port25Blocked || len(res.Notes) != 2 || !strings.Contains(res.Notes[0], "DATA") || !strings.Contains(res.Notes[1], "address literal [127.0.0.1]") {
		t.Errorf("blocked=%v notes %q", res.Port25Blocked, res.Notes)
	}
	if len(calls) != 5 || calls[0] != 4 || calls[4] != 404 {
		t.Errorf("progress calls %v", calls)
	}
}

// Without the per-address lock the same setup does overlap: proves the
// MaxConcurrent check above can fail.
func TestServerCountsConcurrency(t *testing.T) {
	s := smtptest.Start(t, smtptest.Config{ReplyDelay: 50 * time.Millisecond})
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ProbeAddress(context.Background(), "mx.test", lo, "example.test", testOpts(s.Port))
		}()
	}
	wg.Wait()
	s.Close()
	if s.MaxConcurrent() < 2 {
		t.Errorf("MaxConcurrent %d for parallel probes", s.MaxConcurrent())
	}
}

// Port 25 blocked: a dialer that never completes (like a firewall dropping
// SYNs) makes every connect time out. A real listener cannot produce this
// deterministically on loopback (a full backlog depends on kernel settings),
// so DialContext is injected; it waits for the connect deadline and returns
// the context error, exactly what net.Dialer returns on a dropped SYN.
func TestRunPort25Blocked(t *testing.T) {
	c, _ := resolver(t, `
a.test. 300 IN MX 10 mx.a.test.
b.test. 300 IN MX 10 mx.b.test.
mx.a.test. 300 IN A 127.0.0.51
mx.b.test. 300 IN A 127.0.0.52
mx.b.test. 300 IN A 127.0.0.53
`)
	blackhole := func(ctx context.Context, network, addr string) (net.Conn, error) {
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
	o := Options{Resolver: c, Port: 25, ConnectTimeout: 200 * time.Millisecond, CommandTimeout: 200 * time.Millisecond, DialContext: blackhole}
	start := time.Now()
	res := Run(context.Background(), []string{"a.test", "b.test"}, o)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s", el)
	}
	if !res.Port25Blocked || len(res.Notes) != 2 || !strings.Contains(res.Notes[1], "outbound port 25 appears blocked") {
		t.Fatalf("blocked=%v notes %q", res.Port25Blocked, res.Notes)
	}
	for _, d := range res.Domains {
		for _, m := range d.MX {
			for _, p := range m.Addresses {
				if p.Class != ClassConnectTimeout || p.Stage != StageConnect {
					t.Errorf("%s: %s at %s", p.IP, p.Class, p.Stage)
				}
			}
		}
	}
	// One address answering (refused) breaks the uniform evidence.
	o.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, "127.0.0.53") {
			var d net.Dialer
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			p := ln.Addr().String()
			ln.Close()
			return d.DialContext(ctx, network, p)
		}
		return blackhole(ctx, network, addr)
	}
	res = Run(context.Background(), []string{"a.test", "b.test"}, o)
	if res.Port25Blocked {
		t.Errorf("port25 blocked with a refused address")
	}
	// A single timed-out address is not enough evidence.
	o.DialContext = blackhole
	res = Run(context.Background(), []string{"a.test"}, o)
	if res.Port25Blocked {
		t.Errorf("port25 blocked from one address")
	}
}

// Cancelling a run leaves every address present, unfinished ones not_done.
func TestRunCancel(t *testing.T) {
	s := smtptest.Start(t, smtptest.Config{IP: "127.0.0.61", Mode: smtptest.Silent})
	c, _ := resolver(t, `
a.test. 300 IN MX 10 mx.a.test.
mx.a.test. 300 IN A 127.0.0.61
b.test. 300 IN MX 10 mx.a.test.
`)
	o := testOpts(s.Port)
	o.CommandTimeout = 10 * time.Second
	o.Resolver = c
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(s.Conns()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	res := Run(ctx, []string{"a.test", "b.test"}, o)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s", el)
	}
	n := 0
	for _, d := range res.Domains {
		for _, m := range d.MX {
			for _, p := range m.Addresses {
				n++
				if p.Status != StatusNotDone || p.Class != ClassNotDone {
					t.Errorf("%s %s: %s/%s", d.Domain, p.IP, p.Status, p.Class)
				}
			}
		}
	}
	if n != 2 {
		t.Errorf("%d addresses reported, want 2", n)
	}
	if res.Port25Blocked {
		t.Errorf("not_done probes counted as blocked")
	}
}

// Hostile DNS cannot make a run resolve or probe without end: thousands of
// MX records or addresses (over TCP) are cut to the caps, and the report
// says so.
func TestResolveDomainCaps(t *testing.T) {
	var z strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&z, "manymx.test. 300 IN MX %d mx%02d.manymx.test.\nmx%02d.manymx.test. 300 IN A 127.0.1.%d\n", i, i, i, i+1)
	}
	c, srv := resolver(t, z.String())
	many := func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		if q.Qtype == dns.TypeA {
			for i := 0; i < 3000; i++ {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A: net.IPv4(127, 2, byte(i/250), byte(1+i%250))})
			}
		}
		return m
	}
	srv.Handle("mx.manyaddr.test", many)
	srv.AddZone(t, "manyaddr.test. 300 IN MX 10 mx.manyaddr.test.\n")
	srv.Handle("implicit-many.test", many)
	o := Options{Resolver: c}
	for _, tc := range []struct {
		domain       string
		mx, addrs    int
		domErr, mxEr string
	}{
		{"manymx.test", MaxMXHosts, 1, "has 40 MX records: only the 16 most preferred", ""},
		{"manyaddr.test", 1, MaxHostAddrs, "", "mx.manyaddr.test has 3000 addresses: only the first 16 were probed"},
		{"implicit-many.test", 1, MaxHostAddrs, "", "implicit-many.test has 3000 addresses: only the first 16"},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			d := ResolveDomain(context.Background(), tc.domain, o)
			if d.Status != DomainOK || len(d.MX) != tc.mx || !strings.Contains(d.Error, tc.domErr) {
				t.Fatalf("status %s error %q, %d MX", d.Status, d.Error, len(d.MX))
			}
			for _, mx := range d.MX {
				if len(mx.Addresses) != tc.addrs || !strings.Contains(mx.Error, tc.mxEr) {
					t.Errorf("%s: %d addresses, error %q", mx.Host, len(mx.Addresses), mx.Error)
				}
			}
			if tc.domain == "manymx.test" && (d.MX[0].Host != "mx00.manymx.test" || d.MX[15].Host != "mx15.manymx.test") {
				t.Errorf("kept %s..%s, want the most preferred", d.MX[0].Host, d.MX[15].Host)
			}
		})
	}
}

// RunFrom probes every address once from each source, resolves each domain
// once, skips addresses of the other family, and never overlaps probes of
// one address.
func TestRunFromSeveralSources(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{IP: "127.0.0.30", ReplyDelay: 20 * time.Millisecond})
	rc, dnsSrv := resolver(t, zone)
	sources := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
	before := dnsSrv.Queries.Load()
	res := RunFrom(context.Background(), []string{"dual.test"}, sources, Options{Resolver: rc, Port: srv.Port, HELO: "probe.test",
		ConnectTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second, Concurrency: 4})
	mx := res.Domains[0].MX[0]
	var got []string
	for _, p := range mx.Addresses {
		got = append(got, p.IP+" from "+p.SourceIP+" "+string(p.Status))
	}
	want := []string{"127.0.0.30 from 127.0.0.2 accepted", "127.0.0.30 from 127.0.0.3 accepted"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("probes %q, want %q (the ::1 address is not reachable from IPv4 sources)", got, want)
	}
	peers := map[string]bool{}
	for _, c := range srv.Conns() {
		peers[c.Peer.Addr().String()] = true
	}
	if !peers["127.0.0.2"] || !peers["127.0.0.3"] || srv.MaxConcurrent() != 1 {
		t.Errorf("server saw %v, max concurrent %d", peers, srv.MaxConcurrent())
	}
	if q := dnsSrv.Queries.Load() - before; q > 3 { // MX, A, AAAA of mx.dual.test
		t.Errorf("%d DNS queries: the domain must be resolved once, not once per source", q)
	}
}

// Probes of one address wait for each other without holding a concurrency
// slot: with 16 sources, the 16 serialized probes of a slow MX do not keep a
// second MX waiting, even with Concurrency 16 (previously the 16 waiting
// probes filled every slot).
func TestRunFromBusyAddressHoldsNoSlots(t *testing.T) {
	slow := smtptest.Start(t, smtptest.Config{IP: "127.0.0.50", ReplyDelay: 40 * time.Millisecond})
	other := smtptest.Start(t, smtptest.Config{IP: "127.0.0.51", Port: slow.Port})
	rc, _ := resolver(t, `
slow.test. 300 IN MX 10 mx.slow.test.
mx.slow.test. 300 IN A 127.0.0.50
other.test. 300 IN MX 10 mx.other.test.
mx.other.test. 300 IN A 127.0.0.51
`)
	var sources []netip.Addr
	for i := 1; i <= 16; i++ {
		sources = append(sources, netip.AddrFrom4([4]byte{127, 0, 1, byte(i)}))
	}
	o := testOpts(slow.Port)
	o.Resolver, o.HELO, o.Concurrency = rc, "probe.test", 16
	o.CommandTimeout = 5 * time.Second
	res := RunFrom(context.Background(), []string{"slow.test", "other.test"}, sources, o)
	slow.Close()
	other.Close()
	for _, d := range res.Domains {
		for _, p := range d.MX[0].Addresses {
			if p.Status != StatusAccepted {
				t.Errorf("%s from %s: %s %s", d.Domain, p.SourceIP, p.Status, p.Error)
			}
		}
	}
	sc, oc := slow.Conns(), other.Conns()
	if len(sc) != 16 || len(oc) != 16 || slow.MaxConcurrent() != 1 || other.MaxConcurrent() != 1 {
		t.Fatalf("connections %d and %d, max concurrent %d and %d", len(sc), len(oc), slow.MaxConcurrent(), other.MaxConcurrent())
	}
	// One probe of the slow MX takes 5 delayed replies (≥ 200 ms): the other
	// MX must be reached long before the first one ends.
	probe := sc[1].Accepted.Sub(sc[0].Accepted)
	lag := oc[0].Accepted.Sub(sc[0].Accepted)
	t.Logf("one slow probe %s; the other MX was first reached %s after the slow one", probe, lag)
	if lag > probe/2 {
		t.Errorf("the other MX waited %s (one slow probe is %s): waiting probes held the slots", lag, probe)
	}
}

func TestDefaultFromAndIsFQDN(t *testing.T) {
	tests := []struct {
		helo string
		fqdn bool
		from string
	}{
		{"mail.example.net", true, "postmaster@mail.example.net"},
		{"MX.Example.NET.", true, "postmaster@mx.example.net"},
		{"", false, "<>"},
		{"localhost", false, "<>"},
		{"[192.0.2.1]", false, "<>"},
		{"[IPv6:2001:db8::1]", false, "<>"},
		{"192.0.2.1", false, "<>"},
		{"-bad.example", false, "<>"},
		{"under_score.example", false, "<>"},
	}
	for _, tc := range tests {
		if got := IsFQDN(tc.helo); got != tc.fqdn {
			t.Errorf("IsFQDN(%q) = %v", tc.helo, got)
		}
		if got := DefaultFrom(tc.helo); got != tc.from {
			t.Errorf("DefaultFrom(%q) = %q, want %q", tc.helo, got, tc.from)
		}
	}
	if h := DefaultHELO(); h != "" && !IsFQDN(h) {
		t.Errorf("DefaultHELO() = %q: neither a FQDN nor empty", h)
	}
}

func TestRcptsFor(t *testing.T) {
	rcpts := []string{"user@Example.com", "other@example.org", "second@example.com."}
	tests := []struct {
		domain string
		want   string
	}{
		{"example.com", "user@Example.com,second@example.com."},
		{"EXAMPLE.ORG.", "other@example.org"},
		{"example.net", "postmaster@example.net"},
	}
	for _, tc := range tests {
		if got := strings.Join(RcptsFor(tc.domain, rcpts), ","); got != tc.want {
			t.Errorf("RcptsFor(%q) = %q, want %q", tc.domain, got, tc.want)
		}
	}
	if got := RcptsFor("example.com", nil); len(got) != 1 || got[0] != "postmaster@example.com" {
		t.Errorf("no rcpts: %q", got)
	}
}

// Each RCPT goes only to the MXs of its own domain (never a relay attempt);
// the result says which HELO and MAIL FROM were sent.
func TestRunRcptsPerDomainAndSentNames(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	rc, _ := resolver(t, `
one.test. 300 IN MX 10 mx.shared.test.
two.test. 300 IN MX 10 mx.shared.test.
mx.shared.test. 300 IN A 127.0.0.1
`)
	o := testOpts(srv.Port)
	o.Resolver, o.HELO = rc, "probe.example.net"
	o.Rcpts = []string{"user@one.test"}
	res := Run(context.Background(), []string{"one.test", "two.test"}, o)
	got := map[string]string{}
	for _, d := range res.Domains {
		p := d.MX[0].Addresses[0]
		var rs []string
		for _, r := range p.Rcpts {
			rs = append(rs, r.Rcpt)
		}
		got[d.Domain] = strings.Join(rs, ",")
		// The result says what each domain got, as sent.
		if strings.Join(d.Rcpts, ",") != got[d.Domain] {
			t.Errorf("%s: Domain.Rcpts %q, sent %q", d.Domain, d.Rcpts, got[d.Domain])
		}
	}
	if got["one.test"] != "user@one.test" || got["two.test"] != "postmaster@two.test" {
		t.Errorf("rcpts per domain %v", got)
	}
	srv.Close()
	for _, c := range srv.Conns() {
		if c.Commands[0] != "EHLO probe.example.net" || c.Commands[1] != "MAIL FROM:<postmaster@probe.example.net>" {
			t.Errorf("commands %q", c.Commands)
		}
	}
	if res.HELO != "probe.example.net" || res.From != "postmaster@probe.example.net" || len(res.Notes) != 1 {
		t.Errorf("result HELO %q from %q notes %q", res.HELO, res.From, res.Notes)
	}
}

// With no HELO set, the result names the address literals actually sent, or
// says that no EHLO was sent at all; it is never empty.
func TestRunSentHELOLiterals(t *testing.T) {
	tests := []struct {
		name   string
		banner string
		helo   string
		notes  int
	}{
		{"EHLO sent", "", "[127.0.0.1]", 2},
		{"refused at the banner", "554 5.7.1 No SMTP service here", "(address literal of the source address; no EHLO was sent)", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Config{Banner: tc.banner})
			rc, _ := resolver(t, "one.test. 300 IN MX 10 mx.one.test.\nmx.one.test. 300 IN A 127.0.0.1\n")
			o := testOpts(srv.Port)
			o.Resolver = rc
			res := Run(context.Background(), []string{"one.test"}, o)
			if res.HELO != tc.helo || res.From != NullReversePath || len(res.Notes) != tc.notes {
				t.Errorf("HELO %q from %q notes %q", res.HELO, res.From, res.Notes)
			}
		})
	}
}
