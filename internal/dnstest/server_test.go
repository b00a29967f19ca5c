package dnstest

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// An answer of thousands of records is sent compressed, so it fits in one
// TCP message (uncompressed it would exceed 64 KiB and never be sent), and
// UDP gets it truncated.
func TestLargeAnswerOverTCP(t *testing.T) {
	s := Start(t, "")
	s.Handle("many.test", func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		for i := 0; i < 3000; i++ {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: net.IPv4(127, 0, byte(i/250), byte(2+i%250))})
		}
		return m
	})
	for _, tc := range []struct {
		net       string
		n         int
		truncated bool
	}{{"tcp", 3000, false}, {"udp", -1, true}} {
		m := new(dns.Msg)
		m.SetQuestion("20.0.0.127.many.test.", dns.TypeA)
		r, _, err := (&dns.Client{Net: tc.net, Timeout: 2 * time.Second}).Exchange(m, s.Addr)
		if err != nil {
			t.Fatalf("%s: %v", tc.net, err)
		}
		if r.Truncated != tc.truncated || (tc.n >= 0 && len(r.Answer) != tc.n) {
			t.Errorf("%s: %d answers, truncated %v", tc.net, len(r.Answer), r.Truncated)
		}
	}
}
