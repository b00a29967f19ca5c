package main

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/check"
	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

const spamhausReject = "554 5.7.1 Service unavailable; Client host [127.0.0.10] blocked using zen.test; https://www.spamhaus.org/query/ip/127.0.0.10"

// probes flattens the smtp section.
func probes(r *report.Report) []smtpcheck.Probe {
	var out []smtpcheck.Probe
	if r.SMTP == nil {
		return nil
	}
	for _, d := range r.SMTP.Domains {
		for _, mx := range d.MX {
			out = append(out, mx.Addresses...)
		}
	}
	return out
}

func correlation(r *report.Report, kind string) *report.Correlation {
	for i := range r.Correlations {
		if r.Correlations[i].Kind == kind {
			return &r.Correlations[i]
		}
	}
	return nil
}

func TestSMTPCommand(t *testing.T) {
	l := newLab(t)
	l.mx("accept.test", "127.0.0.1")
	l.mx("reject.test", "127.0.0.3")
	l.mx("grey.test", "127.0.0.4")
	l.mx("down.test", "127.0.0.5")
	l.add("null.test. 60 IN MX 0 .\n")
	acc, port := l.smtp("127.0.0.1", smtptest.Config{})
	l.smtp("127.0.0.3", smtptest.Config{Port: acc.Port, Rcpt: spamhausReject})
	l.smtp("127.0.0.4", smtptest.Config{Port: acc.Port, Rcpt: "450 4.2.0 <postmaster@grey.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/grey.test.html"})
	base := []string{"smtp", "--resolver", l.resolver(), "--port", port, "--helo", "probe.example.test", "--connect-timeout", "1s", "--command-timeout", "2s"}

	for _, tc := range []struct {
		domain string
		code   int
		status smtpcheck.Status
		class  smtpcheck.Class
		dstat  smtpcheck.DomainStatus
	}{
		{"accept.test", 0, smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, smtpcheck.DomainOK},
		{"reject.test", 1, smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, smtpcheck.DomainOK},
		{"grey.test", 3, smtpcheck.StatusTempfail, smtpcheck.ClassGreylisted, smtpcheck.DomainOK},
		{"down.test", 3, smtpcheck.StatusError, smtpcheck.ClassConnectRefused, smtpcheck.DomainOK},
		{"null.test", 3, "", "", smtpcheck.DomainNullMX}, // accepts no mail: inconclusive, never clean
		{"nxdomain.test", 3, "", "", smtpcheck.DomainError},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			r, res := jsonReport(t, append(base, tc.domain)...)
			if res.code != tc.code {
				t.Errorf("exit %d, want %d (verdict %s); stderr %s", res.code, tc.code, r.Verdict, res.stderr)
			}
			if got := r.SMTP.Domains[0].Status; got != tc.dstat {
				t.Errorf("domain status %s, want %s", got, tc.dstat)
			}
			ps := probes(r)
			if tc.status == "" {
				if len(ps) != 0 {
					t.Errorf("probes %+v, want none", ps)
				}
				return
			}
			if len(ps) != 1 || ps[0].Status != tc.status || ps[0].Class != tc.class {
				t.Fatalf("probes %+v", ps)
			}
			if tc.class == smtpcheck.ClassBlocklisted && (ps[0].CitedList != "zen.test" || ps[0].Stage != smtpcheck.StageRcpt || ps[0].Reply.Enhanced != "5.7.1") {
				t.Errorf("blocklisted probe %+v", ps[0])
			}
		})
	}

	// -v prints the transcript as a telnet session; remote text is cleaned.
	res := runCLI(t, "", append(base, "-v", "reject.test")...)
	for _, want := range []string{"C: EHLO probe.example.test", "C: RCPT TO:<postmaster@reject.test>", "S: " + spamhausReject, "C: QUIT"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("verbose text lacks %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "C: DATA") {
		t.Error("DATA in transcript")
	}
	for _, c := range acc.Conns() {
		for _, cmd := range c.Commands {
			if strings.HasPrefix(strings.ToUpper(cmd), "DATA") {
				t.Errorf("server received %q", cmd)
			}
		}
	}
}

func TestSMTPSourceIP(t *testing.T) {
	l := newLab(t)
	l.mx("example.test", "127.0.0.1")
	srv, port := l.smtp("127.0.0.1", smtptest.Config{})
	r, res := jsonReport(t, "smtp", "--resolver", l.resolver(), "--port", port, "--source-ip", "127.0.0.2", "--helo", "probe.example.test", "example.test")
	if res.code != 0 {
		t.Fatalf("exit %d %s", res.code, res.stderr)
	}
	conns := srv.Conns()
	if len(conns) != 1 || conns[0].Peer.Addr() != netip.MustParseAddr("127.0.0.2") || probes(r)[0].SourceIP != "127.0.0.2" {
		t.Errorf("server saw %+v, probe %+v", conns, probes(r))
	}
}

// fakeEgress answers like OpenDNS (A with the querier's address) or Google
// (TXT with it).
func fakeEgress(t *testing.T, txt bool, fixed string) string {
	s := dnstest.Start(t, "")
	s.Handle(".", func(req *dns.Msg, remote net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		ip := fixed
		if ip == "" {
			ip, _, _ = net.SplitHostPort(remote.String())
		}
		switch {
		case txt && q.Qtype == dns.TypeTXT:
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: q.Qclass}, Txt: []string{ip}})
		case !txt && q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: q.Qclass}, A: net.ParseIP(ip)})
		}
		return m
	})
	return s.Addr
}

func TestEgressCommand(t *testing.T) {
	l := newLab(t)
	o, g := fakeEgress(t, false, ""), fakeEgress(t, true, "")
	r, res := jsonReport(t, "egress", "-4", "--resolver", l.resolver(), "--egress-server", "opendns="+o, "--egress-server", "google="+g)
	if res.code != 0 || r.Egress.IPv4.IP != "127.0.0.1" || !r.Egress.IPv4.Agree || r.Egress.IPv4.Answered != 2 {
		t.Errorf("agree: exit %d egress %+v", res.code, r.Egress)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings %v", r.Warnings)
	}
	r, _ = jsonReport(t, "egress", "-4", "--resolver", l.resolver(), "--egress-server", "opendns="+o)
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "only one egress source") {
		t.Errorf("one source: warnings %v", r.Warnings)
	}
	bad := fakeEgress(t, true, "198.51.100.7")
	r, res = jsonReport(t, "egress", "-4", "--resolver", l.resolver(), "--egress-server", "opendns="+o, "--egress-server", "google="+bad)
	if res.code != 3 || r.Egress.IPv4.Agree || !strings.Contains(r.Egress.IPv4.Problem, "disagree") {
		t.Errorf("disagree: exit %d egress %+v", res.code, r.Egress.IPv4)
	}
}

// checkLab is a lab with one MX for example.test on 127.0.0.1.
func checkLab(t *testing.T, cfg smtptest.Config) (*lab, *smtptest.Server, []string) {
	l := newLab(t)
	l.mx("example.test", "127.0.0.1")
	srv, port := l.smtp("127.0.0.1", cfg)
	args := []string{"check", "--resolver", l.resolver(), "--port", port, "--zone", "zen.test", "--zone", "clean.test",
		"--helo", "mail.probe.test", "--connect-timeout", "1s", "--command-timeout", "2s", "--to", "example.test"}
	return l, srv, args
}

func TestCheckCleanAccepted(t *testing.T) {
	l, srv, args := checkLab(t, smtptest.Config{})
	l.ptr("127.0.0.20", "mail.probe.test", true)
	r, res := jsonReport(t, append(args, "127.0.0.20")...)
	if res.code != 0 || r.Verdict != report.VerdictClean {
		t.Fatalf("exit %d verdict %s; %v", res.code, r.Verdict, r.Warnings)
	}
	if c := srv.Conns(); len(c) != 1 || c[0].Peer.Addr().String() != "127.0.0.20" {
		t.Errorf("SMTP did not run from the checked, local IP: %+v", c)
	}
	if len(r.RDNS) != 1 || !r.RDNS[0].ForwardConfirmed || r.RDNS[0].HELO == nil || !r.RDNS[0].HELO.ResolvesToIP || !r.RDNS[0].HELO.MatchesPTR {
		t.Errorf("rdns %+v", r.RDNS)
	}
	if c := correlation(r, "echoed_ip_match"); c == nil {
		t.Errorf("no echoed_ip_match: %+v", r.Correlations)
	}
}

func TestCheckListedRejectedCorrelated(t *testing.T) {
	_, _, args := checkLab(t, smtptest.Config{Rcpt: spamhausReject})
	r, res := jsonReport(t, append(args, "127.0.0.10")...)
	if res.code != 1 || r.Verdict != report.VerdictRejected {
		t.Fatalf("exit %d verdict %s", res.code, r.Verdict)
	}
	c := correlation(r, "rejection_matches_listing")
	if c == nil || c.Evidence["zone"] != "zen.test" || !strings.Contains(c.Message, "zen.test") || c.Evidence["mx"] != "mx.example.test" {
		t.Fatalf("correlation %+v in %+v", c, r.Correlations)
	}
	if r.Summary == "" || len(r.NextSteps) == 0 {
		t.Errorf("summary %q next steps %v", r.Summary, r.NextSteps)
	}
}

func TestCheckListedButAccepted(t *testing.T) {
	_, _, args := checkLab(t, smtptest.Config{})
	r, res := jsonReport(t, append(args, "127.0.0.10")...)
	if res.code != 1 || r.Verdict != report.VerdictListed {
		t.Fatalf("exit %d verdict %s", res.code, r.Verdict)
	}
	if c := correlation(r, "listed_but_accepted"); c == nil || c.Evidence["zone"] != "zen.test" {
		t.Errorf("correlation %+v in %+v", c, r.Correlations)
	}
}

func TestCheckEchoedIPMismatch(t *testing.T) {
	_, _, args := checkLab(t, smtptest.Config{EHLO: "250-mx.test Hello [198.51.100.7]\n250 8BITMIME"})
	r, _ := jsonReport(t, append(args, "127.0.0.20")...)
	c := correlation(r, "echoed_ip_mismatch")
	if c == nil || c.Evidence["echoed_ip"] != "198.51.100.7" || !strings.Contains(c.Message, "198.51.100.7") || !strings.Contains(c.Message, "127.0.0.20") {
		t.Errorf("correlation %+v in %+v", c, r.Correlations)
	}
}

func TestCheckPTRProblems(t *testing.T) {
	l, _, args := checkLab(t, smtptest.Config{Rcpt: "550-5.7.25 [127.0.0.30] The IP address sending this message does not have a\n550 5.7.25 PTR record setup, or the corresponding forward DNS entry does not point to the sending IP."})
	l.ptr("127.0.0.30", "host-127-0-0-30.dyn.isp.test", false) // PTR that does not resolve back
	r, res := jsonReport(t, append(args, "127.0.0.30")...)
	if res.code != 1 {
		t.Errorf("exit %d", res.code)
	}
	rd := r.RDNS[0]
	if len(rd.PTR) != 1 || rd.ForwardConfirmed || !rd.Generic || len(rd.Problems) == 0 {
		t.Errorf("rdns %+v", rd)
	}
	if c := correlation(r, "ptr_rejection"); c == nil || c.Severity != "problem" {
		t.Errorf("ptr correlation %+v in %+v", c, r.Correlations)
	}
	// No PTR at all.
	r, _ = jsonReport(t, append(args, "127.0.0.20")...)
	if len(r.RDNS[0].PTR) != 0 || r.RDNS[0].ForwardConfirmed || len(r.RDNS[0].Problems) == 0 {
		t.Errorf("missing PTR: %+v", r.RDNS[0])
	}
}

func TestCheckCIDRLocalAndNonLocal(t *testing.T) {
	_, srv, args := checkLab(t, smtptest.Config{})
	local := map[netip.Addr]bool{netip.MustParseAddr("127.0.0.13"): true, netip.MustParseAddr("127.0.0.14"): true}
	isLocal = func(a netip.Addr) bool { return local[a] }
	t.Cleanup(func() { isLocal = check.CanBind })
	r, res := jsonReport(t, append(args, "127.0.0.12/30")...)
	if res.code != 0 {
		t.Errorf("exit %d: %s %v", res.code, res.stderr, r.Warnings)
	}
	if n := len(r.DNSBL.Results); n != 8 {
		t.Errorf("%d dnsbl results, want 4 addresses x 2 zones", n)
	}
	if len(r.RDNS) != 4 {
		t.Errorf("%d rdns entries", len(r.RDNS))
	}
	// SMTP ran only from the two local addresses: one domain, one MX
	// address, one probe from each.
	ps := probes(r)
	if len(r.SMTP.Domains) != 1 || len(ps) != 2 || ps[0].SourceIP != "127.0.0.13" || ps[1].SourceIP != "127.0.0.14" {
		t.Fatalf("SMTP must run from the local addresses 127.0.0.13 and .14 only: %+v", ps)
	}
	peers := map[string]bool{}
	for _, c := range srv.Conns() {
		peers[c.Peer.Addr().String()] = true
	}
	if len(peers) != 2 || !peers["127.0.0.13"] || !peers["127.0.0.14"] {
		t.Errorf("server saw %v", peers)
	}
}

func TestCheckNonLocalIP(t *testing.T) {
	_, _, args := checkLab(t, smtptest.Config{})
	r, _ := jsonReport(t, append(args, "192.0.2.10")...)
	var warned bool
	for _, w := range r.Warnings {
		warned = warned || strings.Contains(w, "not from the checked address 192.0.2.10")
	}
	if !warned || probes(r)[0].SourceIP == "192.0.2.10" {
		t.Errorf("warnings %v", r.Warnings)
	}
}

func TestCheckAuto(t *testing.T) {
	_, _, args := checkLab(t, smtptest.Config{})
	o, g := fakeEgress(t, false, ""), fakeEgress(t, true, "")
	r, res := jsonReport(t, append(args, "-4", "--egress-server", "opendns="+o, "--egress-server", "google="+g)...)
	if res.code != 0 {
		t.Errorf("exit %d: %v", res.code, r.Warnings)
	}
	if r.Egress == nil || r.Egress.IPv4.IP != "127.0.0.1" || !r.Egress.IPSource {
		t.Fatalf("egress %+v", r.Egress)
	}
	if len(r.DNSBL.Results) != 2 || r.DNSBL.Results[0].IP != "127.0.0.1" {
		t.Errorf("dnsbl %+v", r.DNSBL.Results)
	}
	// The sources disagree and no IP is given: the MX's EHLO echo decides
	// the IP, the run says so and stays inconclusive (egress failed).
	bad := fakeEgress(t, true, "198.51.100.7")
	r, res = jsonReport(t, append(args, "-4", "--egress-server", "opendns="+o, "--egress-server", "google="+bad)...)
	if res.code != 3 || r.DNSBL == nil || len(r.DNSBL.Results) != 2 || r.DNSBL.Results[0].IP != "127.0.0.1" || r.SMTP == nil {
		t.Errorf("disagree: exit %d dnsbl %v smtp %v", res.code, r.DNSBL, r.SMTP)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "sources disagree") || !strings.Contains(strings.Join(r.Warnings, "\n"), "mx.example.test") {
		t.Errorf("disagree: warnings %q do not say why and which MX echoed", r.Warnings)
	}
}

// Every (address, zone) pair asked for appears exactly once, whatever happens.
func TestCheckEveryPairReported(t *testing.T) {
	l, _, args := checkLab(t, smtptest.Config{})
	l.dns.Handle("silent.test", dnstest.Drop())
	r, _ := jsonReport(t, append(args, "--zone", "silent.test", "--timeout", "100ms", "--retries", "0", "127.0.0.16/29")...)
	seen := map[string]int{}
	for _, x := range r.DNSBL.Results {
		seen[x.IP+"|"+x.Zone]++
	}
	for i := 16; i < 24; i++ {
		for _, z := range []string{"zen.test", "clean.test", "silent.test"} {
			if k := fmt.Sprintf("127.0.0.%d|%s", i, z); seen[k] != 1 {
				t.Errorf("%s appears %d times", k, seen[k])
			}
		}
	}
}

// A hostname target is checked through its addresses, and SMTP runs from
// the one that is local.
func TestCheckHostnameTarget(t *testing.T) {
	l, srv, args := checkLab(t, smtptest.Config{})
	l.ptr("127.0.0.20", "mail.probe.test", true)
	r, res := jsonReport(t, append(args, "mail.probe.test")...)
	if res.code != 0 {
		t.Fatalf("exit %d %v", res.code, r.Warnings)
	}
	for _, x := range r.DNSBL.Results {
		if x.IP != "127.0.0.20" || x.Target != "mail.probe.test" {
			t.Errorf("result %+v", x)
		}
	}
	if c := srv.Conns(); len(c) != 1 || c[0].Peer.Addr().String() != "127.0.0.20" {
		t.Errorf("SMTP peers %+v", c)
	}
}
