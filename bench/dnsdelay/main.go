// Command dnsdelay is the benchmark's DNSBL server: it answers on a loopback
// UDP address from a generated zone set, delays every answer by a fixed
// latency, and counts every query it receives (health checks and TXT
// included), printing the count when it gets SIGINT or SIGTERM.
//
// The zones are bl0.bench.test … bl<N-1>.bench.test. Each answers the
// RFC 5782 §5 test entries (127.0.0.2 and ::ffff:7f00:2 listed, 127.0.0.1 and
// ::ffff:7f00:1 not), lists every IPv4 address whose last octet is -listed-octet
// (A 127.0.0.2 and a TXT reason) and answers NXDOMAIN for anything else.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "UDP `HOST:PORT` to listen on (loopback only)")
	latency := flag.Duration("latency", 20*time.Millisecond, "delay of every answer")
	zones := flag.Int("zones", 40, "number of zones bl0.bench.test … served")
	listedOctet := flag.Int("listed-octet", 7, "IPv4 addresses ending in this octet are listed (-1: none)")
	readers := flag.Int("readers", 2, "goroutines reading the socket")
	flag.Parse()

	ap, err := netip.ParseAddrPort(*addr)
	if err != nil || !ap.Addr().IsLoopback() {
		fmt.Fprintf(os.Stderr, "dnsdelay: -addr %q: want a loopback HOST:PORT\n", *addr)
		os.Exit(2)
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		fmt.Fprintf(os.Stderr, "dnsdelay: %v\n", err)
		os.Exit(1)
	}
	_ = conn.SetReadBuffer(8 << 20)
	_ = conn.SetWriteBuffer(8 << 20)
	fmt.Println(conn.LocalAddr().String()) // the script reads the port from here
	s := &server{conn: conn, latency: *latency, nzones: *zones, listed: *listedOctet}
	for i := 0; i < *readers; i++ {
		out := make(chan pending, 1<<16)
		go s.send(out)
		go s.serve(out)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	fmt.Printf("queries %d\n", s.queries.Load())
}

type server struct {
	conn    *net.UDPConn
	latency time.Duration
	nzones  int
	listed  int
	queries atomic.Int64
}

type pending struct {
	due  time.Time
	to   netip.AddrPort
	resp []byte
}

// serve reads queries and queues their answers; the delay is constant, so a
// FIFO queue per reader keeps answers in due order.
func (s *server) serve(out chan<- pending) {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		s.queries.Add(1)
		var q dns.Msg
		if q.Unpack(buf[:n]) != nil || len(q.Question) != 1 {
			continue
		}
		resp := s.answer(&q)
		b, err := resp.Pack()
		if err != nil {
			continue
		}
		out <- pending{time.Now().Add(s.latency), from, b}
	}
}

func (s *server) send(in <-chan pending) {
	for p := range in {
		if d := time.Until(p.due); d > 0 {
			time.Sleep(d)
		}
		_, _ = s.conn.WriteToUDPAddrPort(p.resp, p.to)
	}
}

// answer looks the question up in the generated zones.
func (s *server) answer(q *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	qq := q.Question[0]
	name := strings.ToLower(qq.Name)
	rest, ok := strings.CutSuffix(name, ".bench.test.")
	i := strings.LastIndexByte(rest, '.')
	zone := -1
	if ok && i > 0 && strings.HasPrefix(rest[i+1:], "bl") {
		if _, err := fmt.Sscanf(rest[i+3:], "%d", &zone); err != nil || zone >= s.nzones || fmt.Sprint(zone) != rest[i+3:] {
			zone = -1
		}
	}
	if zone < 0 {
		m.Rcode = dns.RcodeRefused
		return m
	}
	if !s.listedName(rest[:i]) {
		m.Rcode = dns.RcodeNameError
		return m
	}
	hdr := dns.RR_Header{Name: qq.Name, Class: dns.ClassINET, Ttl: 300}
	switch qq.Qtype {
	case dns.TypeA:
		hdr.Rrtype = dns.TypeA
		m.Answer = []dns.RR{&dns.A{Hdr: hdr, A: net.IPv4(127, 0, 0, 2)}}
	case dns.TypeTXT:
		hdr.Rrtype = dns.TypeTXT
		m.Answer = []dns.RR{&dns.TXT{Hdr: hdr, Txt: []string{"listed for the benchmark"}}}
	}
	return m
}

// listedName reports whether the reversed-address part of a query is listed:
// the test entries, and IPv4 addresses whose last octet is s.listed.
func (s *server) listedName(rev string) bool {
	if rev == "2.0.0.127" || rev == "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0" {
		return true
	}
	first, _, ok := strings.Cut(rev, ".")
	return ok && strings.Count(rev, ".") == 3 && s.listed >= 0 && first == fmt.Sprint(s.listed) && rev != "1.0.0.127"
}
