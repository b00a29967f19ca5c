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
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/logctx"
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

	// Memo, when set, makes the Lookup helpers (not Exchange/Query)
	// remember definite answers for the client's lifetime, so that a run
	// asks once for a name it needs many times (e.g. the HELO name, checked
	// against every address of a CIDR). See Resolver.
	Memo bool

	resOnce sync.Once
	res     *Resolver
}

var _ Exchanger = (*Client)(nil)

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
	if h, _, err := net.SplitHostPort(s); (err == nil && dottedNumbers(h) && !isAddr(h)) || dottedNumbers(s) {
		// 999.1.1.1 is a mistyped address, never a host name to look up
		// (RFC 1123 §2.1: a host name is never all-numeric dotted quads).
		return "", fmt.Errorf("invalid resolver %q: not an IPv4 address (want HOST[:PORT])", s)
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

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// dottedNumbers reports whether s has the shape of an IPv4 address: digits
// and dots only, with a dot.
func dottedNumbers(s string) bool {
	return s != "" && strings.Contains(s, ".") && strings.Trim(s, "0123456789.") == ""
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
	if !logctx.Enabled(ctx, slog.LevelDebug) {
		return c.exchange(ctx, m)
	}
	start := time.Now()
	resp, err := c.exchange(ctx, m)
	LogExchange(ctx, m, resp, err, time.Since(start))
	return resp, err
}

// LogExchange logs one DNS exchange at debug level on the logger of ctx
// (internal/logctx): question, rcode, the first answer records, RTT. Every
// transport calls it, so --debug shows each exchange whichever carried it.
func LogExchange(ctx context.Context, m, resp *dns.Msg, err error, rtt time.Duration) {
	if !logctx.Enabled(ctx, slog.LevelDebug) {
		return
	}
	var attrs []slog.Attr
	if len(m.Question) > 0 {
		q := m.Question[0]
		attrs = append(attrs, slog.String("name", q.Name), slog.String("type", dns.TypeToString[q.Qtype]))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	} else {
		attrs = append(attrs, slog.String("rcode", dns.RcodeToString[resp.Rcode]), slog.Int("answers", len(resp.Answer)))
		var rrs []string
		for i, rr := range resp.Answer {
			if i == 8 {
				rrs = append(rrs, "…")
				break
			}
			rrs = append(rrs, strings.ReplaceAll(rr.String(), "\t", " "))
		}
		if len(rrs) > 0 {
			attrs = append(attrs, slog.Any("answer", rrs))
		}
	}
	attrs = append(attrs, slog.Duration("rtt", rtt))
	logctx.From(ctx).LogAttrs(ctx, slog.LevelDebug, "dns exchange", attrs...)
}

func (c *Client) exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
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
	addedEDNS := false
	if m.IsEdns0() == nil {
		m.SetEdns0(udpSize, false)
		addedEDNS = true
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
		resp, err := c.exchangeUDPTCP(ctx, m, server, timeout)
		if err == nil && addedEDNS && resp.Rcode == dns.RcodeFormatError && resp.IsEdns0() == nil {
			// RFC 6891 §7: a responder that does not implement EDNS answers
			// FORMERR without an OPT record; the query is repeated without
			// EDNS. Only the OPT record we added is removed.
			plain := m.Copy()
			plain.Extra = withoutOPT(plain.Extra)
			plain.Id = dns.Id()
			resp, err = c.exchangeUDPTCP(ctx, plain, server, timeout)
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

// exchangeUDPTCP asks server over UDP, then over TCP when the UDP answer is
// truncated (RFC 7766 §5).
func (c *Client) exchangeUDPTCP(ctx context.Context, m *dns.Msg, server string, timeout time.Duration) (*dns.Msg, error) {
	resp, err := c.exchangeOnce(ctx, m, server, "udp", timeout)
	if err == nil && resp.Truncated {
		resp, err = c.exchangeOnce(ctx, m, server, "tcp", timeout)
	}
	return resp, err
}

func withoutOPT(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

// newDNSClient returns a miekg/dns client for network ("udp" or "tcp")
// that binds local when it is valid.
func newDNSClient(network string, timeout time.Duration, local netip.Addr) *dns.Client {
	dc := &dns.Client{Net: network, Timeout: timeout, UDPSize: udpSize}
	if local.IsValid() {
		if network == "tcp" {
			dc.Dialer = &net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: local.AsSlice()}}
		} else {
			dc.Dialer = &net.Dialer{Timeout: timeout, LocalAddr: &net.UDPAddr{IP: local.AsSlice()}}
		}
	}
	return dc
}

func (c *Client) exchangeOnce(ctx context.Context, m *dns.Msg, server, network string, timeout time.Duration) (*dns.Msg, error) {
	dc := newDNSClient(network, timeout, c.LocalAddr)
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

// Close releases the pooled (idle) sockets. The client stays usable: a later
// query opens new ones.
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
