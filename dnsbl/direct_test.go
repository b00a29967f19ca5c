package dnsbl

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/miekg/dns"
)

// directWorld is a loopback DNS world: a public-style resolver holding the
// parent's delegation of bl.test (NS + glue) but refusing the zone's own
// names, and the zone's two authoritative servers on other loopback
// addresses (same port, as nameservers are all asked on one port).
type directWorld struct {
	resolver           *dnstest.Server
	auth               []*dnstest.Server
	resolverQ, authQ   *dnstest.QueryLog
	port               int
	listedV4, listedV6 string
}

// bigTXT is a reason longer than the 1232-byte EDNS buffer: its UDP answer
// is truncated and has to be fetched over TCP.
var bigTXT = func() string {
	var parts []string
	for i := 0; i < 8; i++ {
		parts = append(parts, fmt.Sprintf("%q", strings.Repeat(string(rune('a'+i)), 200)))
	}
	return strings.Join(parts, " ")
}()

func newDirectWorld(t *testing.T, refuse dnstest.Behavior, authAnswers dnstest.Behavior) *directWorld {
	t.Helper()
	w := &directWorld{resolverQ: &dnstest.QueryLog{}, authQ: &dnstest.QueryLog{}, listedV4: "192.0.2.7", listedV6: "2001:db8::7"}
	zone := testEntries("bl.test") + rec(w.listedV4, "bl.test", "", "127.0.0.2") + rec(w.listedV6, "bl.test", "v6 listed", "127.0.0.3") +
		QueryName(netip.MustParseAddr(w.listedV4), "bl.test") + ". 60 IN TXT " + bigTXT + "\n"
	a1 := dnstest.StartOn(t, "127.0.0.77", zone)
	a2 := dnstest.StartOnPort(t, "127.0.0.78", a1.Port(), zone)
	for _, a := range []*dnstest.Server{a1, a2} {
		a.Handle(".", a.Record(w.authQ, authAnswers))
	}
	w.auth, w.port = []*dnstest.Server{a1, a2}, a1.Port()
	w.resolver = dnstest.Start(t, "bl.test. 60 IN NS ns1.bl.test.\nbl.test. 60 IN NS ns2.bl.test.\n"+
		"ns1.bl.test. 60 IN A 127.0.0.77\nns2.bl.test. 60 IN A 127.0.0.78\n")
	w.resolver.Handle("bl.test", w.resolver.Record(w.resolverQ, w.resolver.Refusing(refuse, "bl.test", "ns1.bl.test", "ns2.bl.test")))
	return w
}

func (w *directWorld) checker(t *testing.T, o Options) *Checker {
	o.Resolver = client(w.resolver)
	o.DirectPort = w.port
	o.DirectTimeout = time.Second
	return mustChecker(t, o)
}

func (w *directWorld) run(t *testing.T, c *Checker, zone string, targets ...string) *Run {
	t.Helper()
	plan, err := c.Plan(context.Background(), mustTargets(t, targets...), []Zone{Generic(zone)})
	if err != nil {
		t.Fatal(err)
	}
	return c.Run(context.Background(), plan)
}

// --direct never: the refused zone is unhealthy as before, and its
// nameservers are never asked.
func TestDirectNever(t *testing.T) {
	w := newDirectWorld(t, dnstest.Wildcard("127.255.255.254"), nil)
	run := w.run(t, w.checker(t, Options{Direct: DirectNever}), "bl.test", w.listedV4)
	h := healthFor(t, run, "bl.test")
	if h.Health != HealthUnhealthy || h.Path != PathResolver || !strings.Contains(h.Problem, "127.255.255.254") || !strings.Contains(h.Problem, "not asked (--direct never)") {
		t.Errorf("health %+v", h)
	}
	if r := resultFor(t, run, w.listedV4, "bl.test"); r.Status != StatusError || r.ErrorKind != ErrZoneUnhealthy {
		t.Errorf("result %+v", r)
	}
	if q := w.authQ.All(); len(q) != 0 {
		t.Errorf("the nameservers were asked %d queries with --direct never", len(q))
	}
}

// --direct auto: whatever the refusal looks like, the zone is asked again
// at its own nameservers, passes its test entries there, and its listings
// come back through them — RD clear, only the zone's names, rotating over
// both servers, the large TXT over TCP.
func TestDirectAuto(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse dnstest.Behavior
		public bool
	}{
		{"spamhaus refusal code", dnstest.Wildcard("127.255.255.254"), false},
		{"excessive queries code", dnstest.Wildcard("127.255.255.255"), false},
		{"REFUSED", dnstest.Rcode(dns.RcodeRefused), false},
		{"NXDOMAIN through a public resolver", dnstest.Rcode(dns.RcodeNameError), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newDirectWorld(t, tc.refuse, nil)
			c := w.checker(t, Options{PublicResolver: tc.public})
			run := w.run(t, c, "bl.test", w.listedV4, w.listedV6, "192.0.2.8")
			h := healthFor(t, run, "bl.test")
			if h.Health != HealthHealthy || !strings.HasPrefix(h.Path, "direct:ns") || len(h.Evidence) != 4 {
				t.Fatalf("health %+v", h)
			}
			r := resultFor(t, run, w.listedV4, "bl.test")
			if r.Status != StatusListed || r.Codes[0] != "127.0.0.2" || !strings.HasPrefix(r.Reason, strings.Repeat("a", 200)) || len(r.Reason) != maxReason {
				t.Errorf("listed v4 result %+v", r)
			}
			if r := resultFor(t, run, w.listedV6, "bl.test"); r.Status != StatusListed || r.Codes[0] != "127.0.0.3" {
				t.Errorf("listed v6 result %+v", r)
			}
			if r := resultFor(t, run, "192.0.2.8", "bl.test"); r.Status != StatusClean {
				t.Errorf("clean result %+v", r)
			}
			tcp := false
			perServer := map[string]int{}
			for _, q := range w.authQ.All() {
				if q.RD {
					t.Errorf("query %s asked for recursion", q.Name)
				}
				if !dns.IsSubDomain("bl.test.", q.Name) {
					t.Errorf("nameserver asked about %s, outside the zone", q.Name)
				}
				tcp = tcp || (q.TCP && q.Type == dns.TypeTXT)
			}
			for i, a := range w.auth {
				perServer[fmt.Sprint(i)] = int(a.Queries.Load())
			}
			if !tcp {
				t.Error("the large TXT was not fetched over TCP")
			}
			if perServer["0"] == 0 || perServer["1"] == 0 {
				t.Errorf("queries per nameserver %v: want both asked", perServer)
			}
			for _, q := range w.resolverQ.All() {
				if q.Type == dns.TypeTXT || strings.HasPrefix(q.Name, "7.0.2.192") {
					t.Errorf("the refusing resolver was asked for a listing (%s) after the switch", q.Name)
				}
			}
		})
	}
}

// A zone that is not itself a delegation point: the NS lookup walks up to
// the apex.
func TestDirectWalksToApex(t *testing.T) {
	w := newDirectWorld(t, dnstest.Rcode(dns.RcodeRefused), nil)
	for _, a := range w.auth {
		a.AddZone(t, testEntries("all.bl.test")+rec(w.listedV4, "all.bl.test", "", "127.0.0.4"))
	}
	run := w.run(t, w.checker(t, Options{}), "all.bl.test", w.listedV4)
	if h := healthFor(t, run, "all.bl.test"); h.Health != HealthHealthy || !strings.HasPrefix(h.Path, "direct:") {
		t.Errorf("health %+v", h)
	}
	if r := resultFor(t, run, w.listedV4, "all.bl.test"); r.Status != StatusListed || r.Codes[0] != "127.0.0.4" {
		t.Errorf("result %+v", r)
	}
}

// No direct query without a sign that the resolver is refused: NXDOMAIN for
// the positive test entry through a private resolver is a dead zone.
func TestDirectNotForDeadZone(t *testing.T) {
	w := newDirectWorld(t, dnstest.Rcode(dns.RcodeNameError), nil)
	run := w.run(t, w.checker(t, Options{}), "bl.test", w.listedV4)
	if h := healthFor(t, run, "bl.test"); h.Health != HealthUnhealthy || h.Path != PathResolver {
		t.Errorf("health %+v", h)
	}
	if n := len(w.authQ.All()); n != 0 {
		t.Errorf("%d direct queries for a zone that is simply dead", n)
	}
}

// --direct always asks the nameservers from the start: the resolver is only
// asked for the NS records and nothing under the zone.
func TestDirectAlways(t *testing.T) {
	w := newDirectWorld(t, dnstest.Wildcard("127.0.0.2"), nil) // the resolver would even lie
	run := w.run(t, w.checker(t, Options{Direct: DirectAlways}), "bl.test", w.listedV4, "192.0.2.8")
	if h := healthFor(t, run, "bl.test"); h.Health != HealthHealthy || !strings.HasPrefix(h.Path, "direct:") {
		t.Errorf("health %+v", h)
	}
	if r := resultFor(t, run, "192.0.2.8", "bl.test"); r.Status != StatusClean {
		t.Errorf("result %+v", r)
	}
	for _, q := range w.resolverQ.All() {
		if q.Name != "bl.test." || q.Type != dns.TypeNS {
			t.Errorf("resolver asked %s type %d with --direct always", q.Name, q.Type)
		}
	}
}

// --direct always with no findable nameserver: the zone is unknown and says
// why; the resolver is not used instead.
func TestDirectAlwaysWithoutNS(t *testing.T) {
	w := newDirectWorld(t, dnstest.Wildcard("127.0.0.2"), nil)
	w.resolver.Handle("nons.test", dnstest.Rcode(dns.RcodeRefused))
	run := w.run(t, w.checker(t, Options{Direct: DirectAlways}), "nons.test", w.listedV4)
	h := healthFor(t, run, "nons.test")
	if h.Health != HealthUnknown || h.Path != PathDirect || !strings.Contains(h.Problem, "no NS records") {
		t.Errorf("health %+v", h)
	}
	for _, q := range w.resolverQ.All() {
		if q.Type == dns.TypeA && strings.HasSuffix(q.Name, ".nons.test.") {
			t.Errorf("the resolver was asked %s", q.Name)
		}
	}
}

// A hostile resolver naming hundreds of nameservers: a bounded number is kept.
func TestDirectManyNameservers(t *testing.T) {
	w := newDirectWorld(t, dnstest.Rcode(dns.RcodeRefused), nil)
	var b strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "many.test. 60 IN NS ns%d.many.test.\nns%d.many.test. 60 IN A 127.0.0.77\nns%d.many.test. 60 IN A 127.0.0.78\n", i, i, i)
	}
	w.resolver.AddZone(t, b.String())
	c := w.checker(t, Options{})
	servers, err := c.nameservers(context.Background(), "many.test")
	if err != nil || len(servers) != maxServerAddrs {
		t.Fatalf("%d servers (%v), want %d", len(servers), err, maxServerAddrs)
	}
}

// Nameservers with IPv4 and IPv6 addresses are asked over IPv4 only; a zone
// whose nameservers have only IPv6 addresses is asked over IPv6.
func TestDirectPrefersIPv4(t *testing.T) {
	w := newDirectWorld(t, dnstest.Rcode(dns.RcodeRefused), nil)
	w.resolver.AddZone(t, "dual.test. 60 IN NS ns.dual.test.\nns.dual.test. 60 IN A 127.0.0.77\nns.dual.test. 60 IN AAAA 2001:db8::53\n"+
		"v6only.test. 60 IN NS ns.v6only.test.\nns.v6only.test. 60 IN AAAA 2001:db8::53\n")
	c := w.checker(t, Options{})
	dual, err := c.nameservers(context.Background(), "dual.test")
	if err != nil || len(dual) != 1 || !strings.HasPrefix(dual[0].Addr, "127.0.0.77:") {
		t.Errorf("dual-stack nameservers %+v, %v", dual, err)
	}
	v6, err := c.nameservers(context.Background(), "v6only.test")
	if err != nil || len(v6) != 1 || !strings.HasPrefix(v6[0].Addr, "[2001:db8::53]:") {
		t.Errorf("IPv6-only nameservers %+v, %v", v6, err)
	}
}

// When the nameservers fail too, the resolver's verdict stands and the
// problem says what the nameservers did.
func TestDirectFails(t *testing.T) {
	t.Run("nameservers refuse too", func(t *testing.T) {
		w := newDirectWorld(t, dnstest.Wildcard("127.255.255.254"), dnstest.Wildcard("127.255.255.254"))
		run := w.run(t, w.checker(t, Options{}), "bl.test", w.listedV4)
		h := healthFor(t, run, "bl.test")
		if h.Health != HealthUnhealthy || h.Path != PathResolver || !strings.Contains(h.Problem, "did not pass the test entries either") {
			t.Errorf("health %+v", h)
		}
		if r := resultFor(t, run, w.listedV4, "bl.test"); r.Status != StatusError || !strings.Contains(r.Error, "either") {
			t.Errorf("result %+v", r)
		}
	})
	t.Run("nameservers unreachable", func(t *testing.T) {
		w := newDirectWorld(t, dnstest.Wildcard("127.255.255.254"), dnstest.Drop())
		c := w.checker(t, Options{})
		c.opts.DirectTimeout = 50 * time.Millisecond
		run := w.run(t, c, "bl.test", w.listedV4)
		if h := healthFor(t, run, "bl.test"); h.Health != HealthUnhealthy || !strings.Contains(h.Problem, "timed out") {
			t.Errorf("health %+v", h)
		}
	})
	t.Run("nameservers refer elsewhere", func(t *testing.T) {
		referral := func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
			m := new(dns.Msg)
			m.SetReply(req)
			m.Ns = []dns.RR{&dns.NS{Hdr: dns.RR_Header{Name: "bl.test.", Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 60}, Ns: "elsewhere.example."}}
			return m
		}
		w := newDirectWorld(t, dnstest.Wildcard("127.255.255.254"), referral)
		run := w.run(t, w.checker(t, Options{}), "bl.test", w.listedV4)
		if h := healthFor(t, run, "bl.test"); h.Health != HealthUnhealthy || !strings.Contains(h.Problem, "referral") {
			t.Errorf("health %+v", h)
		}
	})
	t.Run("no NS records", func(t *testing.T) {
		w := newDirectWorld(t, dnstest.Rcode(dns.RcodeRefused), nil)
		w.resolver.Handle("nons.test", dnstest.Rcode(dns.RcodeRefused))
		run := w.run(t, w.checker(t, Options{}), "nons.test", w.listedV4)
		if h := healthFor(t, run, "nons.test"); h.Health != HealthUnknown || !strings.Contains(h.Problem, "own nameservers instead failed") || !strings.Contains(h.Problem, "no NS records") {
			t.Errorf("health %+v", h)
		}
	})
}

// Direct queries go through the zone's rate limiter like resolver queries:
// with --qps 40, 2 resolver tests + 2 direct tests + 16 lookups take at least
// 19/40 s. (A lower bound only: a limiter can make a run slower, never faster.)
func TestDirectHonoursQPS(t *testing.T) {
	w := newDirectWorld(t, dnstest.Rcode(dns.RcodeRefused), nil)
	c := w.checker(t, Options{QPS: 40})
	start := time.Now()
	run := w.run(t, c, "bl.test", "198.51.100.0/28")
	if d := time.Since(start); d < 450*time.Millisecond {
		t.Errorf("20 queries at 40/s took %v", d)
	}
	if h := healthFor(t, run, "bl.test"); h.Health != HealthHealthy {
		t.Errorf("health %+v", h)
	}
}

func TestParseDirectMode(t *testing.T) {
	for in, want := range map[string]DirectMode{"": DirectAuto, "auto": DirectAuto, "ALWAYS": DirectAlways, " never ": DirectNever} {
		if got, err := ParseDirectMode(in); err != nil || got != want {
			t.Errorf("ParseDirectMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseDirectMode("sometimes"); err == nil || !strings.Contains(err.Error(), "auto, always, never") {
		t.Errorf("err = %v", err)
	}
	if _, err := New(Options{Resolver: client(dnstest.Start(t, "")), Direct: "x"}); err == nil {
		t.Error("New accepted an invalid direct mode")
	}
}
