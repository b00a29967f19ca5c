// Package dnsclient is the DNS client that every part of blprobe shares: DNSBL
// queries, MX and address lookups for SMTP, PTR checks and egress detection.
//
// It speaks to explicit servers (never the Go resolver), so that tests and
// labs can point it at a loopback server with --resolver, and so that callers
// see the real response code: NXDOMAIN ("not listed") must never be confused
// with SERVFAIL, REFUSED or a timeout ("could not check").
package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Defaults used when a Client field is zero.
const (
	DefaultTimeout = 2 * time.Second
	DefaultRetries = 2
	// udpSize is the EDNS0 buffer size advertised; 1232 avoids fragmentation
	// (DNS flag day 2020).
	udpSize = 1232
)

// Client sends DNS queries to a fixed list of servers, with a timeout per
// attempt, retries across servers and a TCP retry when a UDP answer is
// truncated (RFC 1035 §4.2.1, RFC 7766 §5).
type Client struct {
	// Servers are "host:port" addresses, tried in turn on each retry.
	Servers []string
	// Timeout bounds one attempt (one server, one transport).
	Timeout time.Duration
	// Retries is the number of extra attempts after the first one fails
	// with a timeout or a network error. Answers (even SERVFAIL) are final.
	Retries int
	// LocalAddr, if set, is the source address of outgoing queries.
	LocalAddr netip.Addr

	// Idle UDP sockets, reused for later queries to the same server: opening
	// a socket per query costs more than the query itself at DNSBL-scan
	// rates. A reused socket skips stray replies by ID (miekg/dns) and we
	// also check the question; each socket serves at most maxUses queries,
	// so source ports keep changing.
	mu   sync.Mutex
	idle map[string][]*pooledConn

	// Memo, when set, remembers the answers of the Lookup helpers (not of
	// Exchange/Query) for the client's lifetime, so that a run asks once for
	// a name it needs many times (e.g. the HELO name, checked against every
	// address of a CIDR). Transport errors are not remembered.
	Memo   bool
	memoMu sync.Mutex
	memo   map[memoKey]memoEntry
}

type memoKey struct {
	name  string
	qtype uint16
}

type memoEntry struct {
	rrs []dns.RR
	err error
}

type pooledConn struct {
	*dns.Conn
	uses int
}

const (
	maxIdlePerServer = 512
	maxUses          = 100
)

// Error is a transport-level failure: no answer could be had.
type Error struct {
	Name    string // query name
	Server  string // last server tried
	Timeout bool   // every attempt timed out
	Err     error
}

func (e *Error) Error() string {
	what := "failed"
	if e.Timeout {
		what = "timed out"
	}
	if e.Server == "" {
		return fmt.Sprintf("dns query for %s %s: %v", e.Name, what, e.Err)
	}
	return fmt.Sprintf("dns query for %s at %s %s: %v", e.Name, e.Server, what, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// IsTimeout reports whether err is (or wraps) a DNS timeout.
func IsTimeout(err error) bool {
	var de *Error
	if errors.As(err, &de) {
		return de.Timeout
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// New returns a client for servers (host or host:port; port 53 is added when
// missing). It fails on a server that is not a valid address.
func New(servers []string, timeout time.Duration, retries int) (*Client, error) {
	c := &Client{Timeout: timeout, Retries: retries}
	for _, s := range servers {
		hp, err := NormalizeServer(s)
		if err != nil {
			return nil, err
		}
		c.Servers = append(c.Servers, hp)
	}
	if len(c.Servers) == 0 {
		return nil, errors.New("no DNS resolver given")
	}
	return c, nil
}

// NormalizeServer turns "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:53" or
// "localhost:5353" into a host:port string.
func NormalizeServer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty resolver address (want HOST[:PORT])")
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if strings.ContainsAny(s, " /@") {
			return "", fmt.Errorf("invalid resolver %q (want HOST[:PORT])", s)
		}
		return net.JoinHostPort(s, "53"), nil
	}
	if host == "" {
		return "", fmt.Errorf("invalid resolver %q: missing host (want HOST[:PORT])", s)
	}
	var p uint16
	if _, err := fmt.Sscanf(port, "%d", &p); err != nil || p == 0 || fmt.Sprint(p) != port {
		return "", fmt.Errorf("invalid resolver %q: bad port %q (want HOST[:PORT])", s, port)
	}
	return net.JoinHostPort(host, port), nil
}

// SystemServers reads the nameservers from a resolv.conf file
// (normally /etc/resolv.conf).
func SystemServers(path string) ([]string, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("reading resolvers: %w", err)
	}
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading resolvers from %s: %w", path, err)
	}
	var out []string
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no nameserver in %s", path)
	}
	return out, nil
}

// Exchange sends m and returns the response (whatever its Rcode) or an
// *Error when no server answered. The query ID is set here.
func (c *Client) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	if len(c.Servers) == 0 {
		return nil, errors.New("dns client has no servers")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	retries := c.Retries
	if retries < 0 {
		retries = 0
	}
	name := "?"
	if len(m.Question) > 0 {
		name = m.Question[0].Name
	}
	if m.IsEdns0() == nil {
		m.SetEdns0(udpSize, false)
	}
	var lastErr error
	allTimeouts := true
	server := ""
	for attempt := 0; attempt <= retries; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, &Error{Name: name, Server: server, Err: err}
		}
		server = c.Servers[attempt%len(c.Servers)]
		m.Id = dns.Id()
		resp, err := c.exchangeOnce(ctx, m, server, "udp", timeout)
		if err == nil && resp.Truncated {
			// RFC 7766 §5: a truncated UDP answer is retried over TCP.
			resp, err = c.exchangeOnce(ctx, m, server, "tcp", timeout)
		}
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if !IsTimeout(err) {
			allTimeouts = false
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, &Error{Name: name, Server: server, Timeout: allTimeouts && ctx.Err() == nil, Err: lastErr}
}

func (c *Client) exchangeOnce(ctx context.Context, m *dns.Msg, server, network string, timeout time.Duration) (*dns.Msg, error) {
	dc := &dns.Client{Net: network, Timeout: timeout, UDPSize: udpSize}
	if c.LocalAddr.IsValid() {
		if network == "tcp" {
			dc.Dialer = &net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: c.LocalAddr.AsSlice()}}
		} else {
			dc.Dialer = &net.Dialer{Timeout: timeout, LocalAddr: &net.UDPAddr{IP: c.LocalAddr.AsSlice()}}
		}
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn := c.getIdle(server, network)
	if conn == nil {
		co, err := dc.DialContext(actx, server)
		if err != nil {
			return nil, err
		}
		conn = &pooledConn{Conn: co}
	}
	resp, _, err := dc.ExchangeWithConnContext(actx, m, conn.Conn)
	if err == nil && !sameQuestion(m, resp) {
		err = fmt.Errorf("response for another question (%v)", resp.Question)
	}
	if err != nil {
		conn.Close() // its state is unknown: a late reply may still arrive
		return nil, err
	}
	c.putIdle(server, network, conn)
	return resp, nil
}

func sameQuestion(q, r *dns.Msg) bool {
	if r.Id != q.Id || len(r.Question) != len(q.Question) {
		return false
	}
	for i := range q.Question {
		a, b := q.Question[i], r.Question[i]
		if a.Qtype != b.Qtype || a.Qclass != b.Qclass || !strings.EqualFold(a.Name, b.Name) {
			return false
		}
	}
	return true
}

// getIdle returns an idle UDP socket to server, or nil. TCP is not pooled:
// it is only the fallback for truncated answers.
func (c *Client) getIdle(server, network string) *pooledConn {
	if network != "udp" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.idle[server]
	if len(l) == 0 {
		return nil
	}
	conn := l[len(l)-1]
	c.idle[server] = l[:len(l)-1]
	return conn
}

func (c *Client) putIdle(server, network string, conn *pooledConn) {
	conn.uses++
	if network != "udp" || conn.uses >= maxUses {
		conn.Close()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle == nil {
		c.idle = map[string][]*pooledConn{}
	}
	if len(c.idle[server]) >= maxIdlePerServer {
		conn.Close()
		return
	}
	c.idle[server] = append(c.idle[server], conn)
}

// Close releases the idle sockets. The client stays usable.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.idle {
		for _, conn := range l {
			conn.Close()
		}
	}
	c.idle = nil
}

// Query builds a recursive query for name/qtype (class IN) and exchanges it.
func (c *Client) Query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	return c.Exchange(ctx, m)
}

// RcodeError is returned by the Lookup helpers for an answer whose Rcode is
// not NOERROR.
type RcodeError struct {
	Name  string
	Rcode int
}

func (e *RcodeError) Error() string {
	return fmt.Sprintf("dns query for %s: %s", e.Name, dns.RcodeToString[e.Rcode])
}

// IsNXDomain reports whether err is an NXDOMAIN answer.
func IsNXDomain(err error) bool {
	var re *RcodeError
	return errors.As(err, &re) && re.Rcode == dns.RcodeNameError
}

// lookup returns the answer RRs of type qtype, or an error for a transport
// failure or a non-NOERROR rcode. NOERROR with no records gives (nil, nil).
func (c *Client) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	key := memoKey{strings.ToLower(dns.Fqdn(name)), qtype}
	if c.Memo {
		c.memoMu.Lock()
		e, ok := c.memo[key]
		c.memoMu.Unlock()
		if ok {
			return e.rrs, e.err
		}
	}
	rrs, err := c.lookupNoMemo(ctx, name, qtype)
	var re *RcodeError
	if c.Memo && (err == nil || errors.As(err, &re)) {
		c.memoMu.Lock()
		if c.memo == nil {
			c.memo = map[memoKey]memoEntry{}
		}
		c.memo[key] = memoEntry{rrs, err}
		c.memoMu.Unlock()
	}
	return rrs, err
}

func (c *Client) lookupNoMemo(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	resp, err := c.Query(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	if resp.Rcode != dns.RcodeSuccess {
		return nil, &RcodeError{Name: name, Rcode: resp.Rcode}
	}
	var out []dns.RR
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, rr)
		}
	}
	return out, nil
}

// LookupAddrs returns the A and/or AAAA addresses of name.
// NXDOMAIN is an error (IsNXDomain); an empty answer is not.
func (c *Client) LookupAddrs(ctx context.Context, name string, v4, v6 bool) ([]netip.Addr, error) {
	var out []netip.Addr
	if v4 {
		rrs, err := c.lookup(ctx, name, dns.TypeA)
		if err != nil {
			return nil, err
		}
		for _, rr := range rrs {
			if a, ok := netip.AddrFromSlice(rr.(*dns.A).A.To4()); ok {
				out = append(out, a)
			}
		}
	}
	if v6 {
		rrs, err := c.lookup(ctx, name, dns.TypeAAAA)
		if err != nil {
			if v4 && IsNXDomain(err) && len(out) == 0 {
				return nil, err
			}
			if !IsNXDomain(err) {
				return out, err
			}
		}
		for _, rr := range rrs {
			if a, ok := netip.AddrFromSlice(rr.(*dns.AAAA).AAAA.To16()); ok {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// LookupMX returns the MX records of name.
func (c *Client) LookupMX(ctx context.Context, name string) ([]*dns.MX, error) {
	rrs, err := c.lookup(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]*dns.MX, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.(*dns.MX))
	}
	return out, nil
}

// LookupTXT returns the TXT strings of name, each record's strings joined.
func (c *Client) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := c.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out, nil
}

// LookupPTR returns the PTR names of addr (without the trailing dot).
func (c *Client) LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error) {
	rev, err := dns.ReverseAddr(addr.Unmap().String())
	if err != nil {
		return nil, err
	}
	rrs, err := c.lookup(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.TrimSuffix(rr.(*dns.PTR).Ptr, "."))
	}
	return out, nil
}
