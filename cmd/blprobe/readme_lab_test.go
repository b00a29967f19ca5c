package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/internal/smtptest"
)

// TestREADMELab serves the loopback lab that the README samples are run
// against, for BLPROBE_README_LAB (a duration, e.g. 10m), then ends. It
// uses fixed ports, so run it in a network namespace of its own (a fresh
// loopback, shared with nobody):
//
//	go test -c -o /tmp/blprobe.test ./cmd/blprobe
//	unshare -n sh -c 'ip link set lo up
//	  BLPROBE_README_LAB=2m /tmp/blprobe.test -test.run READMELab & sleep 2
//	  COLUMNS=100 blprobe check --resolver 127.0.0.1:5353 --port 2525 ...'
//
// DNS on 127.0.0.1:5353 serves the default zones of the catalogue under
// their real names (their RFC 5782 test entries, 127.0.0.10 and
// 203.0.113.7 listed), dead.example (dead), the MX and PTR records of the
// samples; egress sources answer on 127.0.0.1:5301 (opendns) and :5302
// (google); scripted SMTP servers listen on 127.0.0.1:2525 (mx1, a Postfix
// that rejects 127.0.0.10 citing Spamhaus) and 127.0.0.3:2525 (mx2, Exim,
// accepts). Nothing leaves loopback.
func TestREADMELab(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("BLPROBE_README_LAB"))
	if err != nil {
		t.Skip("set BLPROBE_README_LAB=10m to serve the README lab")
	}
	var zone strings.Builder
	for _, z := range dnsbl.Select(dnsbl.Builtin(), nil) {
		code := "127.0.0.2"
		if _, ok := z.Codes[code]; !ok && z.Type == dnsbl.TypeBlock {
			for c := range z.Codes {
				if _, err := netip.ParseAddr(c); err == nil {
					code = c
					break
				}
			}
		}
		switch z.Kind {
		case dnsbl.KindDomain:
			name := z.TestName
			if name == "" {
				name = "test"
			}
			fmt.Fprintf(&zone, "%s.%s. 60 IN A %s\n", name, z.Zone, code)
		default:
			if z.Kind != dnsbl.KindIP6 {
				zone.WriteString(listed("127.0.0.2", z.Zone, "", code))
			}
			if z.Kind != dnsbl.KindIP4 {
				zone.WriteString(listed("::ffff:7f00:2", z.Zone, "", code))
			}
		}
	}
	zone.WriteString(listed("127.0.0.10", "zen.spamhaus.org", "https://www.spamhaus.org/query/ip/127.0.0.10", "127.0.0.2"))
	zone.WriteString(listed("203.0.113.7", "zen.spamhaus.org", "https://www.spamhaus.org/query/ip/203.0.113.7", "127.0.0.2", "127.0.0.11"))
	zone.WriteString(listed("203.0.113.7", "bl.spamcop.net", "Blocked - see https://www.spamcop.net/bl.shtml?203.0.113.7", "127.0.0.2"))
	zone.WriteString("example.com. 60 IN MX 10 mx1.example.com.\nexample.com. 60 IN MX 20 mx2.example.com.\n" +
		"mx1.example.com. 60 IN A 127.0.0.1\nmx2.example.com. 60 IN A 127.0.0.3\n" +
		"10.0.0.127.in-addr.arpa. 60 IN PTR mail.example.org.\nmail.example.org. 60 IN A 127.0.0.10\n" +
		"1.0.0.127.in-addr.arpa. 60 IN PTR localhost.\nlocalhost. 60 IN A 127.0.0.1\n")
	lab := dnstest.Start(t, zone.String())
	serveDNS(t, "127.0.0.1:5353", func(w dns.ResponseWriter, req *dns.Msg) { w.WriteMsg(lab.Lookup(req)) })
	egress := func(txt bool) dns.HandlerFunc {
		return func(w dns.ResponseWriter, req *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(req)
			q := req.Question[0]
			ip, _, _ := net.SplitHostPort(w.RemoteAddr().String())
			if txt && q.Qtype == dns.TypeTXT {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: q.Qclass}, Txt: []string{ip}})
			} else if !txt && q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: q.Qclass}, A: net.ParseIP(ip)})
			}
			w.WriteMsg(m)
		}
	}
	serveDNS(t, "127.0.0.1:5301", egress(false))
	serveDNS(t, "127.0.0.1:5302", egress(true))
	smtptest.Start(t, smtptest.Config{IP: "127.0.0.1", Port: 2525, Banner: "220 mx1.example.com ESMTP Postfix",
		EHLO: "250-mx1.example.com\n250-PIPELINING\n250 8BITMIME",
		Rcpt: "554 5.7.1 Service unavailable; Client host [127.0.0.10] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.10"})
	smtptest.Start(t, smtptest.Config{IP: "127.0.0.3", Port: 2525, Banner: "220 mx2.example.com ESMTP Exim",
		EHLO: "250-mx2.example.com Hello mail.example.org [127.0.0.10]\n250 8BITMIME"})
	t.Logf("README lab up for %s", d)
	time.Sleep(d)
}

// serveDNS serves h on addr over UDP and TCP until the test ends.
func serveDNS(t *testing.T, addr string, h dns.HandlerFunc) {
	t.Helper()
	for _, net := range []string{"udp", "tcp"} {
		s := &dns.Server{Addr: addr, Net: net, Handler: h}
		ready := make(chan error, 1)
		s.NotifyStartedFunc = func() { ready <- nil }
		go func() { ready <- s.ListenAndServe() }()
		if err := <-ready; err != nil {
			t.Fatalf("serving DNS on %s/%s: %v", addr, net, err)
		}
		t.Cleanup(func() { s.Shutdown() })
	}
}
