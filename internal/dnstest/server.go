// Package dnstest runs an in-process DNS server on loopback for tests: records
// come from zone text (parsed with dns.NewRR), and any name suffix can be given
// a misbehaviour (timeouts, SERVFAIL, truncation, wildcard answers, delays).
package dnstest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Behavior answers a request in place of the zone data. Returning nil drops
// the query (the client times out).
type Behavior func(req *dns.Msg, remote net.Addr, tcp bool) *dns.Msg

// Server is a UDP+TCP DNS server on one loopback port.
type Server struct {
	Addr    string // "127.0.0.1:port"
	Queries atomic.Int64

	delay     atomic.Int64 // nanoseconds added before every answer
	mu        sync.RWMutex
	records   map[string][]dns.RR // key: lower-case fqdn
	behaviors map[string]Behavior // key: lower-case suffix fqdn
	udp, tcp  *dns.Server
}

// Start serves zone (RFC 1035 master-file lines, one RR per line, absolute
// names; blank lines and ';' comments ignored) on 127.0.0.1 until the test ends.
func Start(t testing.TB, zone string) *Server {
	t.Helper()
	return StartOn(t, "127.0.0.1", zone)
}

// StartOn is Start on a given loopback IP.
func StartOn(t testing.TB, ip, zone string) *Server {
	t.Helper()
	s := &Server{records: map[string][]dns.RR{}, behaviors: map[string]Behavior{}}
	s.AddZone(t, zone)
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for i := 0; i < 20; i++ { // find a port free on both UDP and TCP
		pc, err = net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	return s.serveOn(t, pc, ln)
}

// serveOn serves s's data on pc (UDP) and ln (TCP) until the test ends.
func (s *Server) serveOn(t testing.TB, pc net.PacketConn, ln net.Listener) *Server {
	s.Addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.udp.Shutdown()
	s.tcp.Shutdown()
}

// AddZone adds records from zone text.
func (s *Server) AddZone(t testing.TB, zone string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range strings.Split(zone, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("dnstest: bad record %q: %v", line, err)
		}
		k := strings.ToLower(rr.Header().Name)
		s.records[k] = append(s.records[k], rr)
	}
}

// Handle gives every name at or below suffix the behaviour b.
func (s *Server) Handle(suffix string, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behaviors[strings.ToLower(dns.Fqdn(suffix))] = b
}

// SetDelay delays every answer by d (for latency benchmarks).
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	s.Queries.Add(1)
	if d := time.Duration(s.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.RLock()
	var b Behavior
	best := -1
	for suf, bh := range s.behaviors {
		if (name == suf || strings.HasSuffix(name, "."+suf) || suf == ".") && len(suf) > best {
			b, best = bh, len(suf)
		}
	}
	s.mu.RUnlock()
	var m *dns.Msg
	if b != nil {
		m = b(req, w.RemoteAddr(), tcp)
		if m == nil {
			return // dropped: the client times out
		}
	} else {
		m = s.Lookup(req)
	}
	m.Id = req.Id
	// Compress names as real servers do: a large answer (thousands of
	// records) only fits in a 64 KiB TCP message compressed.
	m.Compress = true
	if !tcp {
		size := dns.MinMsgSize
		if o := req.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// Lookup answers req from the zone data: the records of the exact name and
// type, or its CNAME record as an authoritative server gives it (RFC 1034
// §3.6.2; the chain is not chased, so clients must follow it), NXDOMAIN when
// the name has no record of any type.
func (s *Server) Lookup(req *dns.Msg) *dns.Msg {
	q := req.Question[0]
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	s.mu.RLock()
	defer s.mu.RUnlock()
	rrs, ok := s.records[strings.ToLower(q.Name)]
	if !ok {
		m.Rcode = dns.RcodeNameError
		return m
	}
	for _, rr := range rrs {
		h := rr.Header()
		alias := h.Rrtype == dns.TypeCNAME && q.Qtype != dns.TypeCNAME
		if (h.Rrtype == q.Qtype || q.Qtype == dns.TypeANY || alias) && (h.Class == q.Qclass || q.Qclass == dns.ClassANY) {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	return m
}

// Rcode answers every query with rcode and no records.
func Rcode(rcode int) Behavior {
	return func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetRcode(req, rcode)
		return m
	}
}

// Drop never answers.
func Drop() Behavior { return func(*dns.Msg, net.Addr, bool) *dns.Msg { return nil } }

// Wildcard answers every A query with the given IPv4 addresses (a dead zone
// that lists everything, or a parked domain), and NOERROR/empty otherwise.
func Wildcard(ips ...string) Behavior {
	return func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		if q.Qtype == dns.TypeA {
			for _, ip := range ips {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip).To4()})
			}
		}
		return m
	}
}

// TruncateUDP answers UDP queries with an empty, truncated (TC) reply and TCP
// queries from the zone data of s, forcing the client to retry over TCP.
func (s *Server) TruncateUDP() Behavior {
	return func(req *dns.Msg, _ net.Addr, tcp bool) *dns.Msg {
		if tcp {
			return s.Lookup(req)
		}
		m := new(dns.Msg)
		m.SetReply(req)
		m.Truncated = true
		return m
	}
}
