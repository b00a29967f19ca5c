package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// Hostile-world tests: in one run several zones and MX misbehave at once
// while others behave; every pair and every MX address must still be in the
// report with the right status, the run must end within a bound derived from
// the timeouts given, and text output must carry no terminal control
// characters whatever the servers sent.

// Timeouts every hostile run uses, and the flags that pass them. check runs
// its DNSBL, rDNS and SMTP parts side by side, so the large TCP answers of
// the junk zones compete with the hostile SMTP servers for a loaded 2-core
// machine (under -race too): 200 ms DNS timeouts failed there, 500 ms hold.
const (
	hDNSTimeout     = 500 * time.Millisecond
	hConnectTimeout = 500 * time.Millisecond
	hCommandTimeout = 500 * time.Millisecond
)

var hostileTimeouts = []string{"--timeout", "500ms", "--retries", "0", "--connect-timeout", "500ms", "--command-timeout", "500ms"}

// dnsAction is what the junk DNS front end does with one query.
type dnsAction int

const (
	actForward dnsAction = iota // pass it to the real test server
	actJunk                     // answer with bytes that are not a DNS message
	actTCHang                   // UDP: empty TC answer; TCP: accept, read, never answer
	actTCClose                  // UDP: empty TC answer; TCP: close without answering
)

// junkDNS is a raw UDP+TCP DNS front end on loopback: it forwards queries to
// an upstream dnstest server, except those its rule picks for misbehaviour
// that dnstest Behaviors cannot express (bytes that do not parse, a TCP
// retry that hangs or is cut).
type junkDNS struct {
	Addr     string
	upstream string
	rule     func(qname string) dnsAction

	pc net.PacketConn
	ln net.Listener
	wg sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

func startJunkDNS(t *testing.T, upstream string, rule func(qname string) dnsAction) *junkDNS {
	t.Helper()
	s := &junkDNS{upstream: upstream, rule: rule, conns: map[net.Conn]bool{}}
	var err error
	for i := 0; i < 20; i++ {
		if s.pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if s.ln, err = net.Listen("tcp", s.pc.LocalAddr().String()); err == nil {
			break
		}
		s.pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = s.pc.LocalAddr().String()
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(s.close)
	return s
}

func (s *junkDNS) close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.pc.Close()
	s.ln.Close()
	s.wg.Wait()
}

// junk is a reply that carries the query's ID (so the client reads it) and
// then claims 65535 answers it does not have, plus control bytes.
func junk(id uint16) []byte {
	b := []byte{byte(id >> 8), byte(id), 0x81, 0x80, 0, 1, 0xff, 0xff, 0, 0, 0, 0}
	return append(b, "\x1b[2J\x00\xff\xfe garbage"...)
}

func (s *junkDNS) action(m *dns.Msg) dnsAction {
	if len(m.Question) != 1 {
		return actForward
	}
	return s.rule(strings.ToLower(m.Question[0].Name))
}

func (s *junkDNS) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pkt := append([]byte(nil), buf[:n]...)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			m := new(dns.Msg)
			if m.Unpack(pkt) != nil {
				return
			}
			var out []byte
			switch s.action(m) {
			case actJunk:
				out = junk(m.Id)
			case actTCHang, actTCClose:
				r := new(dns.Msg)
				r.SetReply(m)
				r.Truncated = true
				out, _ = r.Pack()
			default:
				c := &dns.Client{Net: "udp", Timeout: 2 * time.Second, UDPSize: 65535}
				r, _, err := c.Exchange(m, s.upstream)
				if err != nil {
					return // dropped upstream: the client times out
				}
				r.Compress = true
				out, _ = r.Pack()
			}
			s.pc.WriteTo(out, from)
		}()
	}
}

func (s *junkDNS) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			s.handleTCP(c)
		}()
	}
}

func (s *junkDNS) handleTCP(c net.Conn) {
	for {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		pkt := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, pkt); err != nil {
			return
		}
		m := new(dns.Msg)
		if m.Unpack(pkt) != nil {
			return
		}
		var out []byte
		switch s.action(m) {
		case actTCClose:
			return
		case actTCHang:
			io.Copy(io.Discard, c) // until the client gives up or the test ends
			return
		case actJunk:
			out = junk(m.Id)
		default:
			cl := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
			r, _, err := cl.Exchange(m, s.upstream)
			if err != nil {
				return
			}
			r.Compress = true
			if out, err = r.Pack(); err != nil {
				return
			}
		}
		binary.BigEndian.PutUint16(l[:], uint16(len(out)))
		if _, err := c.Write(append(l[:], out...)); err != nil {
			return
		}
	}
}

// assertPrintable fails if out holds ESC, another C0 control (but newline)
// or a C1 control, raw or UTF-8 encoded.
func assertPrintable(t *testing.T, what, out string) {
	t.Helper()
	for i, r := range out {
		bad := (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f)
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(out[i:]); size == 1 {
				bad = true // invalid UTF-8 could hide a raw C1 byte
			}
		}
		if bad {
			lo, hi := max(0, i-60), min(len(out), i+60)
			t.Errorf("%s: control character %U at byte %d: %q", what, r, i, out[lo:hi])
			return
		}
	}
}

// escTXT is a 10 KB TXT record (40 strings) full of escape sequences, in
// zone-file syntax (\027 is ESC, \007 BEL, \155 a C1 CSI byte).
func escTXT() string {
	chunk := strings.Repeat(`\027[31mRED\027]0;title\007\155x`, 8) // 8 × 30 bytes on the wire
	var b strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, ` "%s%02d"`, chunk, i)
	}
	return b.String()
}

// hostileTarget is the checked address; it is a loopback address the SMTP
// probes can bind.
const hostileTarget = "127.0.0.20"

// hostileDNS builds the DNSBL side: zones that behave and zones that don't.
// It returns the lab (MX records go there) and the resolver to pass.
func hostileDNS(t *testing.T) (*lab, string) {
	l := newLab(t)
	q := func(zone string) string { return dnsbl.QueryName(netip.MustParseAddr(hostileTarget), zone) + "." }
	for _, z := range []string{"esc.test", "many.test", "junk.test", "tchang.test", "tcclose.test"} {
		l.add(healthy(z))
	}
	l.add(q("esc.test") + " 60 IN A 127.0.0.2\n" + q("esc.test") + " 60 IN TXT" + escTXT() + "\n")
	// Thousands of A records in one answer: only fits over TCP.
	l.dns.Handle(q("many.test"), func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		if req.Question[0].Qtype != dns.TypeA {
			return m
		}
		for i := 0; i < 3000; i++ {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: net.IPv4(127, 0, byte(i/250), byte(2+i%250))})
		}
		return m
	})
	// A PTR name full of escapes that resolves back to the target.
	rev, _ := dns.ReverseAddr(hostileTarget)
	l.add(rev + ` 60 IN PTR \027[31mevil\155.ptr.test.` + "\n" + `\027[31mevil\155.ptr.test. 60 IN A ` + hostileTarget + "\n")
	front := startJunkDNS(t, l.resolver(), func(name string) dnsAction {
		switch {
		case strings.HasSuffix(name, ".junk.test."):
			return actJunk // every query, so the zone's health cannot be checked
		case name == q("tchang.test"):
			return actTCHang // test entries are fine: only the pair misbehaves
		case name == q("tcclose.test"):
			return actTCClose
		}
		return actForward
	})
	return l, front.Addr
}

// zoneWant is the expected result of the target on one zone.
type zoneWant struct {
	status dnsbl.Status
	kind   dnsbl.ErrorKind
	health dnsbl.Health
}

var hostileZones = map[string]zoneWant{
	"zen.test":     {dnsbl.StatusClean, "", dnsbl.HealthHealthy},
	"clean.test":   {dnsbl.StatusClean, "", dnsbl.HealthHealthy},
	"esc.test":     {dnsbl.StatusListed, "", dnsbl.HealthHealthy},
	"many.test":    {dnsbl.StatusListed, "", dnsbl.HealthHealthy},
	"junk.test":    {dnsbl.StatusError, dnsbl.ErrDNS, dnsbl.HealthUnknown},
	"tchang.test":  {dnsbl.StatusError, dnsbl.ErrTimeout, dnsbl.HealthHealthy},
	"tcclose.test": {dnsbl.StatusError, dnsbl.ErrDNS, dnsbl.HealthHealthy},
}

func zoneArgs() []string {
	var out []string
	for _, z := range []string{"zen.test", "clean.test", "esc.test", "many.test", "junk.test", "tchang.test", "tcclose.test"} {
		out = append(out, "--zone", z)
	}
	return out
}

// checkZones asserts every (address, zone) pair appears once with the
// expected status, and the listed answers stay bounded and clean.
func checkZones(t *testing.T, r *report.Report, addrs []string) {
	t.Helper()
	if r.DNSBL == nil {
		t.Fatal("no dnsbl section")
	}
	health := map[string]dnsbl.Health{}
	for _, z := range r.DNSBL.Zones {
		health[z.Zone] = z.Health
	}
	seen := map[string]int{}
	for _, res := range r.DNSBL.Results {
		seen[res.IP+"|"+res.Zone]++
		w, ok := hostileZones[res.Zone]
		if !ok {
			t.Errorf("unexpected zone %q", res.Zone)
			continue
		}
		if res.IP != hostileTarget { // other addresses are in no zone
			if w.status != dnsbl.StatusError {
				w = zoneWant{dnsbl.StatusClean, "", w.health}
			} else if w.health == dnsbl.HealthHealthy {
				w = zoneWant{dnsbl.StatusClean, "", w.health} // only the target's query misbehaves
			}
		}
		if res.Status != w.status || res.ErrorKind != w.kind {
			t.Errorf("%s on %s: %s/%s (%s), want %s/%s", res.IP, res.Zone, res.Status, res.ErrorKind, res.Error, w.status, w.kind)
		}
		if res.Status == dnsbl.StatusError && res.Error == "" {
			t.Errorf("%s on %s: error without a message", res.IP, res.Zone)
		}
		if len(res.Codes) > 32 || len(res.Reason) > 1024 {
			t.Errorf("%s on %s: %d codes, %d-byte reason: not bounded", res.IP, res.Zone, len(res.Codes), len(res.Reason))
		}
		if res.Zone == "esc.test" && res.IP == hostileTarget && !strings.Contains(res.Reason, "RED") {
			t.Errorf("esc.test reason %q lost its text", res.Reason)
		}
		assertPrintable(t, "reason of "+res.Zone, res.Reason)
		assertPrintable(t, "error of "+res.Zone, res.Error)
	}
	for z, w := range hostileZones {
		if health[z] != w.health {
			t.Errorf("zone %s health %s, want %s", z, health[z], w.health)
		}
		for _, a := range addrs {
			if n := seen[a+"|"+z]; n != 1 {
				t.Errorf("(%s, %s) appears %d times", a, z, n)
			}
		}
	}
}

// mxWant is the expected outcome of a domain whose single MX is one server.
type mxWant struct {
	domain string
	dstat  smtpcheck.DomainStatus
	ip     string // "" when no probe is expected
	status smtpcheck.Status
	class  smtpcheck.Class
	stage  smtpcheck.Stage
	errHas string // substring of the probe (or domain/MX) error
}

// hostileSMTP starts one scripted server per behaviour, each on its own
// loopback address and the same port, and points a domain's MX at it.
func hostileSMTP(t *testing.T, l *lab) (port string, wants map[string]mxWant) {
	first, port := l.smtp("127.0.0.1", smtptest.Config{
		Banner: "220 \x1b[31mmx.ok.test\x1b[0m ESMTP \x07\x9b6n",
		EHLO:   "250-mx.ok.test Hello \x1b]0;owned\x07 [127.0.0.20]\n250 8BITMIME",
		Rcpt:   "250 2.1.5 \x1b[2J\x1b[HOk",
	})
	l.mx("ok.test", "127.0.0.1")
	wants = map[string]mxWant{"ok.test": {"ok.test", smtpcheck.DomainOK, "127.0.0.1", smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, smtpcheck.StageRcpt, ""}}
	add := func(domain, ip string, cfg smtptest.Config, w mxWant) {
		cfg.Port = first.Port
		l.smtp(ip, cfg)
		l.mx(domain, ip)
		w.domain, w.dstat, w.ip = domain, smtpcheck.DomainOK, ip
		wants[domain] = w
	}
	pe, tf, ban := smtpcheck.StatusError, smtpcheck.ClassProtocolError, smtpcheck.StageBanner
	add("endless.test", "127.0.0.2", smtptest.Config{Mode: smtptest.EndlessLine}, mxWant{status: pe, class: tf, stage: ban, errHas: "longer than"})
	add("drip.test", "127.0.0.3", smtptest.Config{Mode: smtptest.Drip, DripInterval: 20 * time.Millisecond}, mxWant{status: pe, class: tf, stage: ban, errHas: "no complete reply within"})
	add("garbage.test", "127.0.0.4", smtptest.Config{Mode: smtptest.Garbage}, mxWant{status: pe, class: tf, stage: ban, errHas: "reply code"})
	add("close.test", "127.0.0.5", smtptest.Config{Mode: smtptest.CloseOnConnect}, mxWant{status: pe, class: tf, stage: ban, errHas: "EOF"})
	add("silent.test", "127.0.0.6", smtptest.Config{Mode: smtptest.Silent}, mxWant{status: pe, class: tf, stage: ban, errHas: "no complete reply within"})
	add("endlessreply.test", "127.0.0.7", smtptest.Config{Mode: smtptest.EndlessReply}, mxWant{status: pe, class: tf, stage: ban, errHas: "more than"})
	add("refuse554.test", "127.0.0.8", smtptest.Config{Banner: "554 5.7.1 \x1b[2Jmx.refuse554.test no SMTP service for you\x1b[0m"},
		mxWant{status: smtpcheck.StatusRejected, class: smtpcheck.ClassPolicy, stage: ban})
	add("mid421.test", "127.0.0.9", smtptest.Config{Mail: "421 4.7.0 \x1b]0;pwned\x07 too many errors, closing"},
		mxWant{status: smtpcheck.StatusTempfail, class: smtpcheck.ClassTempfail, stage: smtpcheck.StageMail})
	add("tlsjunk.test", "127.0.0.10", smtptest.Config{StartTLS: true, StartTLSJunk: true}, // opportunistic: plain-text retry
		mxWant{status: smtpcheck.StatusAccepted, class: smtpcheck.ClassAccepted, stage: smtpcheck.StageRcpt})
	add("untrusted.test", "127.0.0.11", smtptest.Config{StartTLS: true}, // opportunistic: accepted, unverified
		mxWant{status: smtpcheck.StatusAccepted, class: smtpcheck.ClassAccepted, stage: smtpcheck.StageRcpt})
	add("long.test", "127.0.0.12", smtptest.Config{Rcpt: strings.Repeat("250-\x1b[1mcontinued\x1b[0m\n", 999) + "250 2.1.5 Ok"},
		mxWant{status: pe, class: tf, stage: smtpcheck.StageRcpt, errHas: "more than"})
	// Nobody listens on 127.0.0.13.
	l.mx("refused.test", "127.0.0.13")
	wants["refused.test"] = mxWant{"refused.test", smtpcheck.DomainOK, "127.0.0.13", pe, smtpcheck.ClassConnectRefused, smtpcheck.StageConnect, "refused"}
	// DNS trouble on the SMTP side.
	l.dns.Handle("servfail.test", dnstest.Rcode(dns.RcodeServerFailure))
	wants["servfail.test"] = mxWant{domain: "servfail.test", dstat: smtpcheck.DomainError, errHas: "SERVFAIL"}
	l.add("hanga.test. 60 IN MX 10 mx.hanga.test.\n")
	l.dns.Handle("mx.hanga.test", dnstest.Drop())
	wants["hanga.test"] = mxWant{domain: "hanga.test", dstat: smtpcheck.DomainError, errHas: "timed out"}
	return port, wants
}

// checkMX asserts every domain and every MX address appears with the
// expected outcome.
func checkMX(t *testing.T, r *report.Report, domains []string, wants map[string]mxWant) {
	t.Helper()
	if r.SMTP == nil {
		t.Fatal("no smtp section")
	}
	got := map[string]smtpcheck.Domain{}
	for _, d := range r.SMTP.Domains {
		if _, dup := got[d.Domain]; dup {
			t.Errorf("domain %s reported twice", d.Domain)
		}
		got[d.Domain] = d
	}
	for _, name := range domains {
		w := wants[name]
		d, ok := got[name]
		if !ok {
			t.Errorf("domain %s missing from the report", name)
			continue
		}
		if d.Status != w.dstat {
			t.Errorf("%s: domain status %s (%s), want %s", name, d.Status, d.Error, w.dstat)
		}
		if w.ip == "" {
			all := d.Error
			for _, mx := range d.MX {
				all += " | " + mx.Error
				if len(mx.Addresses) != 0 {
					t.Errorf("%s: unexpected probes %+v", name, mx.Addresses)
				}
			}
			if !strings.Contains(all, w.errHas) {
				t.Errorf("%s: errors %q lack %q", name, all, w.errHas)
			}
			continue
		}
		if len(d.MX) != 1 || len(d.MX[0].Addresses) != 1 {
			t.Errorf("%s: MX %+v, want one MX with one address", name, d.MX)
			continue
		}
		p := d.MX[0].Addresses[0]
		if p.IP != w.ip || p.Status != w.status || p.Class != w.class || p.Stage != w.stage {
			t.Errorf("%s: probe %s %s/%s/%s (%s), want %s %s/%s/%s", name, p.IP, p.Status, p.Class, p.Stage, p.Error, w.ip, w.status, w.class, w.stage)
		}
		if !strings.Contains(p.Error, w.errHas) {
			t.Errorf("%s: error %q lacks %q", name, p.Error, w.errHas)
		}
		if p.Status == smtpcheck.StatusError && p.Error == "" {
			t.Errorf("%s: error status without a message", name)
		}
		if len(p.Transcript) > 300 {
			t.Errorf("%s: %d transcript lines", name, len(p.Transcript))
		}
		for _, line := range p.Transcript {
			if len(line.Line) > 1010 {
				t.Errorf("%s: transcript line of %d bytes", name, len(line.Line))
			}
			assertPrintable(t, name+" transcript", line.Line)
		}
		assertPrintable(t, name+" error", p.Error)
		if p.Reply != nil {
			assertPrintable(t, name+" reply", strings.ReplaceAll(p.Reply.Text, "\n", " "))
		}
	}
	if len(got) != len(domains) {
		t.Errorf("%d domains reported, want %d", len(got), len(domains))
	}
}

// timed runs f and fails if it takes longer than limit.
func timed(t *testing.T, limit time.Duration, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if el := time.Since(start); el > limit {
		t.Errorf("run took %s, bound %s", el.Round(time.Millisecond), limit)
	} else {
		t.Logf("run took %s (bound %s)", el.Round(time.Millisecond), limit)
	}
}

// smtpBound is how long the SMTP part may take: MX lookup, A and AAAA of the
// MX host (each one DNS timeout), connect, and at most a few commands each
// bounded by the command timeout; times 3 for a loaded 2-core machine.
func smtpBound() time.Duration {
	return 3 * (3*hDNSTimeout + hConnectTimeout + 4*hCommandTimeout)
}

// dnsblBound: health checks then pair queries, each at most a UDP attempt
// plus a TCP retry; times 3.
func dnsblBound() time.Duration { return 3 * (2*2*hDNSTimeout + 2*hDNSTimeout) }

func TestHostileCheck(t *testing.T) {
	l, resolver := hostileDNS(t)
	port, wants := hostileSMTP(t, l)
	var domains []string
	args := []string{"check", "--resolver", resolver, "--port", port, "--helo", "mail.probe.test", "--smtp-concurrency", "16"}
	args = append(append(args, hostileTimeouts...), zoneArgs()...)
	for d := range wants {
		domains = append(domains, d)
		args = append(args, "--to", d)
	}
	args = append(args, hostileTarget)
	bound := dnsblBound() + 2*hDNSTimeout*3 + smtpBound() // + rDNS

	var r *report.Report
	var res result
	timed(t, bound, func() { r, res = jsonReport(t, args...) })
	if res.code != report.ExitProblem {
		t.Errorf("exit %d, want 1 (listed); verdict %s; stderr %s", res.code, r.Verdict, res.stderr)
	}
	checkZones(t, r, []string{hostileTarget})
	checkMX(t, r, domains, wants)
	if len(r.RDNS) != 1 {
		t.Fatalf("rdns %+v", r.RDNS)
	}
	for _, p := range r.RDNS[0].PTR {
		assertPrintable(t, "PTR", p)
	}

	for _, format := range []string{"text", "markdown"} {
		t.Run(format, func(t *testing.T) {
			var res result
			timed(t, bound, func() { res = runCLI(t, "", append(args, "--format", format, "-v")...) })
			if res.code != report.ExitProblem {
				t.Errorf("exit %d", res.code)
			}
			assertPrintable(t, format+" stdout", res.stdout)
			assertPrintable(t, format+" stderr", res.stderr)
			for _, want := range []string{"esc.test", "tchang.test", "mx.drip.test", "mx.long.test", "hanga.test", "servfail.test", "RED"} {
				if !strings.Contains(res.stdout, want) {
					t.Errorf("%s output lacks %q", format, want)
				}
			}
			if t.Failed() && len(res.stdout) < 200000 {
				t.Logf("stdout:\n%s", res.stdout)
			}
		})
	}
}

func TestHostileSMTP(t *testing.T) {
	l, resolver := hostileDNS(t)
	port, wants := hostileSMTP(t, l)
	base := append([]string{"smtp", "--resolver", resolver, "--port", port, "--helo", "mail.probe.test"}, hostileTimeouts...)
	for _, tc := range []struct {
		name    string
		args    []string
		domains []string
		code    int
		over    map[string]mxWant // expectations that differ with these flags
	}{
		{name: "hostile mix", code: report.ExitInconclusive, domains: []string{
			"ok.test", "endless.test", "drip.test", "garbage.test", "close.test", "silent.test", "endlessreply.test",
			"mid421.test", "tlsjunk.test", "untrusted.test", "long.test", "refused.test", "servfail.test", "hanga.test"}},
		{name: "554 banner among them", code: report.ExitProblem, domains: []string{"ok.test", "refuse554.test", "silent.test", "garbage.test"}},
		{name: "tls required", args: []string{"--tls", "required"}, code: report.ExitInconclusive,
			domains: []string{"untrusted.test", "ok.test", "tlsjunk.test", "drip.test"},
			over: map[string]mxWant{
				"untrusted.test": {"untrusted.test", smtpcheck.DomainOK, "127.0.0.11", smtpcheck.StatusError, smtpcheck.ClassTLSFailed, smtpcheck.StageSTARTTLS, "does not verify"},
				"ok.test":        {"ok.test", smtpcheck.DomainOK, "127.0.0.1", smtpcheck.StatusError, smtpcheck.ClassTLSFailed, smtpcheck.StageSTARTTLS, "does not offer STARTTLS"},
				"tlsjunk.test":   {"tlsjunk.test", smtpcheck.DomainOK, "127.0.0.10", smtpcheck.StatusError, smtpcheck.ClassTLSFailed, smtpcheck.StageSTARTTLS, "TLS handshake"},
			}},
		{name: "concurrency 1", args: []string{"--concurrency", "1"}, code: report.ExitInconclusive,
			domains: []string{"silent.test", "drip.test", "ok.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := map[string]mxWant{}
			for k, v := range wants {
				w[k] = v
			}
			for k, v := range tc.over {
				w[k] = v
			}
			args := append(append(append([]string{}, base...), tc.args...), tc.domains...)
			// Probes run in parallel except with --concurrency 1.
			bound := smtpBound()
			if strings.Contains(tc.name, "concurrency 1") {
				bound = 3 * (3*hDNSTimeout + time.Duration(len(tc.domains))*(hConnectTimeout+4*hCommandTimeout))
			}
			var r *report.Report
			var res result
			timed(t, bound, func() { r, res = jsonReport(t, args...) })
			if res.code != tc.code {
				t.Errorf("exit %d, want %d (verdict %s)", res.code, tc.code, r.Verdict)
			}
			checkMX(t, r, tc.domains, w)
			text := runCLI(t, "", append(args, "--format", "text", "-v")...)
			assertPrintable(t, "text stdout", text.stdout)
			assertPrintable(t, "text stderr", text.stderr)
			if text.code != tc.code {
				t.Errorf("text exit %d", text.code)
			}
		})
	}
}

func TestHostileDNSBL(t *testing.T) {
	l, resolver := hostileDNS(t)
	_ = l
	args := append([]string{"dnsbl", "--resolver", resolver}, hostileTimeouts[:4]...)
	args = append(append(args, zoneArgs()...), hostileTarget, "127.0.0.24/30", "::1")
	var r *report.Report
	var res result
	timed(t, dnsblBound(), func() { r, res = jsonReport(t, args...) })
	if res.code != report.ExitProblem {
		t.Errorf("exit %d, want 1 (listed); stderr %s", res.code, res.stderr)
	}
	checkZones(t, r, []string{hostileTarget, "127.0.0.24", "127.0.0.25", "127.0.0.26", "127.0.0.27"})
	// ::1 gets a result per zone too (zones of unknown kind are generic).
	n := 0
	for _, x := range r.DNSBL.Results {
		if x.IP == "::1" {
			n++
		}
	}
	if n != len(hostileZones) {
		t.Errorf("::1 has %d results, want %d", n, len(hostileZones))
	}
	text := runCLI(t, "", append(args, "--format", "text", "-v")...)
	assertPrintable(t, "text stdout", text.stdout)
	if !strings.Contains(text.stdout, "RED") {
		t.Errorf("text lacks the TXT reason:\n%s", text.stdout)
	}
}
