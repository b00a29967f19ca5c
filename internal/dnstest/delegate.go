package dnstest

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// StartOnPort is StartOn on a fixed port: a zone's nameservers on several
// loopback addresses share one port, since queries to nameservers all go to
// the same port.
func StartOnPort(t testing.TB, ip string, port int, zone string) *Server {
	t.Helper()
	s := &Server{records: map[string][]dns.RR{}, behaviors: map[string]Behavior{}}
	s.AddZone(t, zone)
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		t.Fatalf("dnstest: %v", err)
	}
	return s.serveOn(t, pc, ln)
}

// Port returns the port s listens on.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// LookupWithGlue is Lookup that also puts the addresses the zone data holds
// for the NS targets of the answer in the additional section, as a parent
// zone's delegation carries glue (RFC 1034 §4.2.1).
func (s *Server) LookupWithGlue(req *dns.Msg) *dns.Msg {
	m := s.Lookup(req)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, rr := range m.Answer {
		ns, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		for _, g := range s.records[strings.ToLower(ns.Ns)] {
			if t := g.Header().Rrtype; t == dns.TypeA || t == dns.TypeAAAA {
				m.Extra = append(m.Extra, dns.Copy(g))
			}
		}
	}
	return m
}

// Refusing answers like a public recursive resolver that a DNSBL refuses:
// the names in pass (the zone apex, its nameservers' names) are answered
// from the zone data (with glue), every other name under the zone gets
// refuse's answer — e.g. Rcode(dns.RcodeRefused), or Wildcard
// ("127.255.255.254"), Spamhaus's answer to public resolvers. Install it
// with s.Handle(zone, ...).
func (s *Server) Refusing(refuse Behavior, pass ...string) Behavior {
	keep := map[string]bool{}
	for _, p := range pass {
		keep[strings.ToLower(dns.Fqdn(p))] = true
	}
	return func(req *dns.Msg, remote net.Addr, tcp bool) *dns.Msg {
		if keep[strings.ToLower(req.Question[0].Name)] {
			return s.LookupWithGlue(req)
		}
		return refuse(req, remote, tcp)
	}
}

// Query is one query a server received.
type Query struct {
	Name string // lower-case, fully qualified
	Type uint16
	RD   bool // recursion desired
	TCP  bool
}

// QueryLog collects the queries of Record.
type QueryLog struct {
	mu sync.Mutex
	q  []Query
}

// All returns a copy of the queries so far.
func (l *QueryLog) All() []Query {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Query(nil), l.q...)
}

// Record logs every query to log, then answers with b (nil: from the zone
// data, Lookup).
func (s *Server) Record(log *QueryLog, b Behavior) Behavior {
	return func(req *dns.Msg, remote net.Addr, tcp bool) *dns.Msg {
		q := req.Question[0]
		log.mu.Lock()
		log.q = append(log.q, Query{Name: strings.ToLower(q.Name), Type: q.Qtype, RD: req.RecursionDesired, TCP: tcp})
		log.mu.Unlock()
		if b == nil {
			return s.Lookup(req)
		}
		return b(req, remote, tcp)
	}
}
