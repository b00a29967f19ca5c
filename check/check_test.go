package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/egress"
	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// world is a loopback lab: one DNS server with two test DNSBL zones, MX and
// PTR records, and scripted SMTP servers.
type world struct {
	t   testing.TB
	dns *dnstest.Server
}

func listedRR(addr, zone string, codes ...string) string {
	name := dnsbl.QueryName(netip.MustParseAddr(addr), zone) + "."
	var b strings.Builder
	for _, c := range codes {
		fmt.Fprintf(&b, "%s 60 IN A %s\n", name, c)
	}
	return b.String()
}

func newWorld(t testing.TB) *world {
	t.Helper()
	zone := ""
	for _, z := range []string{"zen.test", "clean.test"} {
		zone += listedRR("127.0.0.2", z, "127.0.0.2") + listedRR("::ffff:7f00:2", z, "127.0.0.2")
	}
	zone += listedRR("127.0.0.10", "zen.test", "127.0.0.2")
	w := &world{t: t, dns: dnstest.Start(t, zone)}
	return w
}

// mx gives domain one MX with an SMTP server on ip and returns its port.
func (w *world) mx(domain, ip string, cfg smtptest.Config) int {
	cfg.IP = ip
	s := smtptest.Start(w.t, cfg)
	w.dns.AddZone(w.t, fmt.Sprintf("%s. 60 IN MX 10 mx.%s.\nmx.%s. 60 IN A %s\n", domain, domain, domain, ip))
	return s.Port
}

func (w *world) ptr(ip, name string) {
	rev, _ := dns.ReverseAddr(ip)
	w.dns.AddZone(w.t, fmt.Sprintf("%s 60 IN PTR %s.\n%s. 60 IN A %s\n", rev, name, name, ip))
}

// options configures a run over a new DNS client (nothing memoized).
func (w *world) options(port int, domains ...string) Options {
	cl := &dnsclient.Client{Servers: []string{w.dns.Addr}, Timeout: 500 * time.Millisecond, Memo: true}
	w.t.Cleanup(cl.Close)
	chk, err := dnsbl.New(dnsbl.Options{Resolver: cl})
	if err != nil {
		w.t.Fatal(err)
	}
	cat := dnsbl.Builtin()
	return Options{
		Domains:  domains,
		Resolver: cl,
		DNSBL:    chk,
		Zones:    dnsbl.Select(cat, []string{"zen.test", "clean.test"}),
		Catalog:  cat,
		SMTP: smtpcheck.Options{
			HELO: "mail.probe.test", Port: port, ConnectTimeout: time.Second, CommandTimeout: 2 * time.Second,
		},
	}
}

// egressSource answers the egress query of a source with ip, or with the
// querier's address when ip is "", or refuses when refuse is set.
func egressSource(t *testing.T, ip string, refuse bool) string {
	s := dnstest.Start(t, "")
	s.Handle(".", func(req *dns.Msg, remote net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		if refuse {
			m.SetRcode(req, dns.RcodeRefused)
			return m
		}
		m.SetReply(req)
		a := ip
		if a == "" {
			a, _, _ = net.SplitHostPort(remote.String())
		}
		q := req.Question[0]
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: q.Qclass}, A: net.ParseIP(a)})
		return m
	})
	return s.Addr
}

func findCorrelation(r *report.Report, kind string) *report.Correlation {
	for i := range r.Correlations {
		if r.Correlations[i].Kind == kind {
			return &r.Correlations[i]
		}
	}
	return nil
}

func TestRunGivenIP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ip      string
		verdict report.Verdict
		kind    string // a correlation that must be present
	}{
		{"clean", "127.0.0.20", report.VerdictClean, KindEchoedIPMatch},
		{"listed", "127.0.0.10", report.VerdictListed, KindListedButAccepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			port := w.mx("example.test", "127.0.0.1", smtptest.Config{})
			w.ptr(tc.ip, "mail.probe.test")
			o := w.options(port, "example.test")
			tgt, _ := dnsbl.ParseTarget(tc.ip)
			o.Targets = []dnsbl.Target{tgt}
			r, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s; problems %v warnings %v", r.Verdict, tc.verdict, r.Problems(), r.Warnings)
			}
			if r.DNSBL == nil || len(r.DNSBL.Results) != 2 || len(r.RDNS) != 1 || !r.RDNS[0].ForwardConfirmed {
				t.Errorf("dnsbl %+v rdns %+v", r.DNSBL, r.RDNS)
			}
			p := r.SMTP.Domains[0].MX[0].Addresses[0]
			if p.SourceIP != tc.ip || p.EchoedClientIP != tc.ip {
				t.Errorf("SMTP ran from %s (echo %s), want the checked local IP %s", p.SourceIP, p.EchoedClientIP, tc.ip)
			}
			if findCorrelation(r, tc.kind) == nil {
				t.Errorf("no %s correlation: %+v", tc.kind, r.Correlations)
			}
		})
	}
}

func TestRunEgressFromEcho(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sources func(t *testing.T) []egress.Source
		why     string
	}{
		{"none answered", func(t *testing.T) []egress.Source {
			return []egress.Source{{Name: egress.OpenDNS, Server: egressSource(t, "", true)}, {Name: egress.Akamai, Server: egressSource(t, "", true)}}
		}, "none answered"},
		{"sources disagree", func(t *testing.T) []egress.Source {
			return []egress.Source{{Name: egress.OpenDNS, Server: egressSource(t, "", false)}, {Name: egress.Akamai, Server: egressSource(t, "198.51.100.7", false)}}
		}, "sources disagree"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			port := w.mx("example.test", "127.0.0.1", smtptest.Config{})
			o := w.options(port, "example.test")
			o.Egress = egress.Options{Sources: tc.sources(t), IPv4: true, Timeout: 300 * time.Millisecond}
			r, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			// The MX saw 127.0.0.1: that address is checked.
			if r.DNSBL == nil || len(r.DNSBL.Results) != 2 || r.DNSBL.Results[0].IP != "127.0.0.1" {
				t.Fatalf("dnsbl %+v; warnings %v", r.DNSBL, r.Warnings)
			}
			if len(r.RDNS) != 1 || r.RDNS[0].IP != "127.0.0.1" {
				t.Errorf("rdns %+v", r.RDNS)
			}
			c := findCorrelation(r, KindEgressFromEcho)
			if c == nil || c.Evidence["ip"] != "127.0.0.1" || c.Evidence["mx"] != "mx.example.test" || c.Evidence["egress_detection"] != tc.why {
				t.Fatalf("egress_from_echo correlation %+v", c)
			}
			warn := strings.Join(r.Warnings, "\n")
			if !strings.Contains(warn, tc.why) || !strings.Contains(warn, "mx.example.test") {
				t.Errorf("warnings do not say why and which MX: %q", warn)
			}
			// The egress detection that was asked for failed: never clean.
			if r.Verdict != report.VerdictInconclusive {
				t.Errorf("verdict %s, want inconclusive", r.Verdict)
			}
		})
	}
}

func TestRunEgressUndecided(t *testing.T) {
	refused := []egress.Source{{Name: egress.OpenDNS, Server: egressSource(t, "", true)}, {Name: egress.Akamai, Server: egressSource(t, "", true)}}
	t.Run("no domain", func(t *testing.T) {
		w := newWorld(t)
		o := w.options(25)
		o.Egress = egress.Options{Sources: refused, IPv4: true}
		r, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if r.DNSBL != nil || r.SMTP != nil || r.Verdict != report.VerdictInconclusive {
			t.Errorf("dnsbl %v smtp %v verdict %s", r.DNSBL, r.SMTP, r.Verdict)
		}
		if !strings.Contains(strings.Join(r.Warnings, "\n"), "none answered") {
			t.Errorf("warnings %q", r.Warnings)
		}
	})
	t.Run("MXs echo different IPs", func(t *testing.T) {
		w := newWorld(t)
		port := w.mx("a.test", "127.0.0.1", smtptest.Config{})
		w.dns.AddZone(t, "b.test. 60 IN MX 10 mx.b.test.\nmx.b.test. 60 IN A 127.0.0.2\n")
		smtptest.Start(t, smtptest.Config{IP: "127.0.0.2", Port: port, EHLO: "250 mx.b.test Hello [198.51.100.9]"})
		o := w.options(port, "a.test", "b.test")
		o.Egress = egress.Options{Sources: refused, IPv4: true}
		r, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if r.DNSBL != nil || r.SMTP == nil || r.Verdict != report.VerdictInconclusive {
			t.Errorf("dnsbl %v smtp %v verdict %s", r.DNSBL, r.SMTP, r.Verdict)
		}
		warn := strings.Join(r.Warnings, "\n")
		if !strings.Contains(warn, "echoed different client IPs") || !strings.Contains(warn, "198.51.100.9") {
			t.Errorf("warnings %q", warn)
		}
	})
}

func TestRunInputErrors(t *testing.T) {
	w := newWorld(t)
	o := w.options(25)
	o.Zones = dnsbl.Select(dnsbl.Builtin(), []string{"dbl.spamhaus.org"})
	tgt, _ := dnsbl.ParseTarget("127.0.0.20")
	o.Targets = []dnsbl.Target{tgt}
	var ie *InputError
	if _, err := Run(context.Background(), o); !errors.As(err, &ie) {
		t.Errorf("no zone applies: err %v, want an InputError", err)
	}
	o = w.options(25)
	host, _ := dnsbl.ParseTarget("nx.test")
	o.Targets = []dnsbl.Target{host}
	if _, err := Run(context.Background(), o); !errors.As(err, &ie) {
		t.Errorf("NXDOMAIN target: err %v, want an InputError", err)
	}
	if _, err := Run(context.Background(), Options{}); err == nil {
		t.Error("no resolver: no error")
	}
}

// A cancelled run still returns a complete, interrupted report.
func TestRunInterrupted(t *testing.T) {
	w := newWorld(t)
	port := w.mx("example.test", "127.0.0.1", smtptest.Config{BannerDelay: 5 * time.Second})
	o := w.options(port, "example.test")
	tgt, _ := dnsbl.ParseTarget("127.0.0.20")
	o.Targets = []dnsbl.Target{tgt}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancelled run took %v", d)
	}
	if !r.Interrupted || r.Verdict != report.VerdictInconclusive || r.SMTP == nil {
		t.Errorf("interrupted %v verdict %s smtp %v", r.Interrupted, r.Verdict, r.SMTP)
	}
}

// The parts on their own fill only their section and finalize it.
func TestParts(t *testing.T) {
	w := newWorld(t)
	port := w.mx("example.test", "127.0.0.1", smtptest.Config{})
	ctx := context.Background()

	o := w.options(port)
	tgt, _ := dnsbl.ParseTarget("127.0.0.10")
	o.Targets = []dnsbl.Target{tgt}
	r, err := RunDNSBL(ctx, o)
	if err != nil || r.DNSBL == nil || r.SMTP != nil || r.RDNS != nil || r.Verdict != report.VerdictListed {
		t.Errorf("RunDNSBL: %v, %+v", err, r)
	}
	var ie *InputError
	if _, err := RunDNSBL(ctx, w.options(port)); !errors.As(err, &ie) {
		t.Errorf("RunDNSBL without target: %v, want an InputError", err)
	}

	o = w.options(port, "example.test")
	r, err = RunSMTP(ctx, o)
	if err != nil || r.SMTP == nil || r.DNSBL != nil || r.Verdict != report.VerdictClean {
		t.Errorf("RunSMTP: %v, verdict %s, problems %v", err, r.Verdict, r.Problems())
	}

	o = w.options(port)
	o.Egress = egress.Options{Sources: []egress.Source{{Name: egress.OpenDNS, Server: egressSource(t, "", false)}}, IPv4: true}
	r, err = RunEgress(ctx, o)
	if err != nil || r.Egress == nil || r.Egress.IPv4.IP != "127.0.0.1" || !r.Egress.IPSource {
		t.Fatalf("RunEgress: %v, %+v", err, r.Egress)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "only one egress source") {
		t.Errorf("RunEgress warnings %q", r.Warnings)
	}

	r, err = ZoneHealth(ctx, w.options(port))
	if err != nil || r.DNSBL == nil || len(r.DNSBL.Zones) != 2 || r.DNSBL.Zones[0].Health != dnsbl.HealthHealthy {
		t.Errorf("ZoneHealth: %v, %+v", err, r.DNSBL)
	}
}

// Parts selects what Run does once the IP is known (serve's dnsbl and smtp
// jobs).
func TestRunParts(t *testing.T) {
	w := newWorld(t)
	port := w.mx("example.test", "127.0.0.1", smtptest.Config{})
	tgt, _ := dnsbl.ParseTarget("127.0.0.20")

	o := w.options(port, "example.test")
	o.Targets, o.Parts = []dnsbl.Target{tgt}, PartDNSBL|PartRDNS
	r, err := Run(context.Background(), o)
	if err != nil || r.DNSBL == nil || len(r.RDNS) != 1 || r.SMTP != nil {
		t.Fatalf("DNSBL+rDNS: %v, dnsbl %v rdns %v smtp %v", err, r.DNSBL, r.RDNS, r.SMTP)
	}
	if strings.Contains(strings.Join(r.Warnings, "\n"), "SMTP confirmation was skipped") {
		t.Errorf("warnings %q: SMTP was not asked for", r.Warnings)
	}

	o = w.options(port, "example.test")
	o.Targets, o.Parts, o.DNSBL = []dnsbl.Target{tgt}, PartSMTP, nil // no DNSBL checker needed
	r, err = Run(context.Background(), o)
	if err != nil || r.DNSBL != nil || r.RDNS != nil || r.SMTP == nil {
		t.Fatalf("SMTP only: %v, dnsbl %v rdns %v smtp %v", err, r.DNSBL, r.RDNS, r.SMTP)
	}
	if p := r.SMTP.Domains[0].MX[0].Addresses[0]; p.SourceIP != "127.0.0.20" {
		t.Errorf("SMTP ran from %s, want the local target 127.0.0.20", p.SourceIP)
	}
}

// TestRunDNSBLSummaryCountsClean: the summary of a dnsbl run counts the
// clean addresses too (issue 10: "1 of 2 addresses is listed …; 1 clean"),
// for two addresses given and for a CIDR, though the report keeps only the
// results that are not clean.
func TestRunDNSBLSummaryCountsClean(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		targets []string
		want    string
	}{
		{[]string{"127.0.0.10", "127.0.0.11"}, "1 of 2 addresses is listed"},
		{[]string{"127.0.0.8/29"}, "1 of 8 addresses is listed"},
		{[]string{"127.0.0.11"}, "127.0.0.11 is not listed on any of the 2 block lists checked"},
	} {
		o := w.options(0)
		for _, s := range tc.targets {
			tgt, err := dnsbl.ParseTarget(s)
			if err != nil {
				t.Fatal(err)
			}
			o.Targets = append(o.Targets, tgt)
		}
		r, err := RunDNSBL(context.Background(), o)
		if err != nil {
			t.Fatalf("%v: %v", tc.targets, err)
		}
		if !strings.Contains(r.Summary, tc.want) {
			t.Errorf("%v: summary %q, want it to say %q", tc.targets, r.Summary, tc.want)
		}
	}
}
