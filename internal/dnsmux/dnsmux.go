// Package dnsmux is a multiplexed UDP DNS transport for bulk lookups such as
// DNSBL range scans: the queries in flight share a few sockets per server,
// answers are matched to queries by ID and question, and a reader per
// socket takes answers in batches (recvmmsg on Linux) and concurrent senders
// combine their queries into batches (sendmmsg). A scan then costs about one system call per batch of queries
// and one per batch of answers, instead of a write per query and a read
// that first finds nothing (EAGAIN) and parks.
//
// Each socket serves at most MaxUses queries before a new one (a new random
// source port) replaces it, and every answer must match a pending query's ID
// and question (RFC 5452 §9.1 measures against forged answers). Truncated
// answers are retried through the fallback exchanger (TCP, RFC 7766 §5).
package dnsmux

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/logctx"
)

// Exchanger is the lookup layer's interface.
type Exchanger = dnsclient.Exchanger

var _ dnsclient.Exchanger = (*Client)(nil)

// Defaults.
const (
	// MaxUses is how many queries a socket sends before it is replaced.
	MaxUses = 2000
	// udpSize is the EDNS0 buffer size advertised (DNS flag day 2020).
	udpSize = 1232
	// batch is how many answers one read takes at most.
	batch = 64
	// maxPending is how many queries one socket has in flight at most;
	// beyond, another socket is opened (its own receive buffer and reader).
	maxPending = 128
)

// Client is a multiplexed UDP exchanger. It is safe for concurrent use;
// Close releases its sockets.
type Client struct {
	servers  []netip.AddrPort
	timeout  time.Duration
	retries  int
	fallback Exchanger

	mu    sync.Mutex
	socks map[netip.AddrPort][]*sock // open sockets per server
}

// New returns a client for the servers, timeout and retries of dc, which
// also answers what UDP cannot (truncated answers go to dc over TCP).
// Servers that are not IP:port are refused.
func New(dc *dnsclient.Client) (*Client, error) {
	c := &Client{timeout: dc.Timeout, retries: dc.Retries, fallback: dc, socks: map[netip.AddrPort][]*sock{}}
	if c.timeout <= 0 {
		c.timeout = dnsclient.DefaultTimeout
	}
	c.retries = max(c.retries, 0)
	for _, s := range dc.Servers {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return nil, fmt.Errorf("dnsmux: server %q: want IP:port", s)
		}
		c.servers = append(c.servers, ap)
	}
	if len(c.servers) == 0 {
		return nil, errors.New("dnsmux: no DNS server")
	}
	return c, nil
}

// sock is one UDP socket connected to a server, with its pending queries.
type sock struct {
	conn    *net.UDPConn
	mu      sync.Mutex
	pending map[uint16]*call
	uses    int
	retired bool // no new queries; closed when the last pending one ends
	closed  bool

	wmu      sync.Mutex
	wq       [][]byte // queries waiting to be sent
	writing  bool     // a sender is draining wq
	writeAll func([]ipv4.Message, int) (int, error)
	msgs     []ipv4.Message
}

// send sends a packed query. Whoever finds no send in progress sends the
// whole queue, including queries queued meanwhile by others, in batches
// (sendmmsg on Linux): one system call for many queries under load, no
// extra goroutine or wake-up when queries are few.
func (s *sock) send(b []byte) {
	s.wmu.Lock()
	s.wq = append(s.wq, b)
	if s.writing {
		s.wmu.Unlock()
		return
	}
	s.writing = true
	for len(s.wq) > 0 {
		q := s.wq
		s.wq = nil
		s.wmu.Unlock()
		for len(q) > 0 {
			n := min(len(q), batch)
			for i := range n {
				s.msgs[i].Buffers = [][]byte{q[i]}
			}
			sent, err := s.writeAll(s.msgs[:n], 0)
			if err != nil {
				if errors.Is(err, syscall.ECONNREFUSED) {
					s.fail(err) // an earlier packet met a closed port
				}
				sent = max(sent, 1) // a refused packet is dropped: its query fails or times out
			}
			q = q[sent:]
		}
		s.wmu.Lock()
	}
	s.writing = false
	s.wmu.Unlock()
}

// newSock wraps a UDP socket connected to a server.
func newSock(conn *net.UDPConn, v4 bool) *sock {
	s := &sock{conn: conn, pending: map[uint16]*call{}, msgs: make([]ipv4.Message, batch)}
	if v4 {
		s.writeAll = ipv4.NewPacketConn(conn).WriteBatch
	} else {
		p := ipv6.NewPacketConn(conn)
		s.writeAll = func(ms []ipv4.Message, f int) (int, error) { return p.WriteBatch(ms, f) }
	}
	return s
}

type call struct {
	q  dns.Question
	ch chan answer // buffered: the reader never blocks
	// bad is why the last packet with the query's ID was no DNS answer
	// (guarded by the socket's mu). Such a packet is discarded, not taken
	// as the answer: the real one may still come (RFC 5452 §9.1), and a
	// query that gets nothing else fails with it instead of a timeout.
	bad error
}

// answer is a response, or why the socket cannot get one (ICMP refused).
type answer struct {
	msg *dns.Msg
	err error
}

var errTimeout = errors.New("i/o timeout")

// Exchange sends m (its ID is set here) and returns the answer, whatever
// its rcode, or a *dnsclient.Error when no server answered. With a debug
// logger in ctx (internal/logctx) the exchange is logged.
func (c *Client) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	if !logctx.Enabled(ctx, slog.LevelDebug) {
		return c.exchange(ctx, m) // the scan's hot path: no clock, no attributes
	}
	start := time.Now()
	resp, err := c.exchange(ctx, m)
	dnsclient.LogExchange(ctx, m, resp, err, time.Since(start))
	return resp, err
}

func (c *Client) exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	if len(m.Question) != 1 {
		return c.fallback.Exchange(ctx, m)
	}
	added := false
	if m.IsEdns0() == nil {
		m.SetEdns0(udpSize, false)
		added = true
	}
	name := m.Question[0].Name
	var lastErr error
	allTimeouts := true
	server := ""
	for attempt := 0; attempt <= c.retries; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, &dnsclient.Error{Name: name, Server: server, Err: err}
		}
		ap := c.servers[attempt%len(c.servers)]
		server = ap.String()
		resp, err := c.once(ctx, ap, m)
		if err == nil && resp.Truncated {
			return c.fallback.Exchange(ctx, m) // RFC 7766 §5: TCP
		}
		if err == nil && added && resp.Rcode == dns.RcodeFormatError && resp.IsEdns0() == nil {
			// RFC 6891 §7: a server without EDNS; the fallback client
			// repeats the query without it.
			plain := m.Copy()
			var extra []dns.RR
			for _, rr := range plain.Extra {
				if rr.Header().Rrtype != dns.TypeOPT {
					extra = append(extra, rr)
				}
			}
			plain.Extra = extra
			return c.fallback.Exchange(ctx, plain)
		}
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if !errors.Is(err, errTimeout) {
			allTimeouts = false
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, &dnsclient.Error{Name: name, Server: server, Timeout: allTimeouts && ctx.Err() == nil, Err: lastErr}
}

// once sends m to one server and waits for its answer.
func (c *Client) once(ctx context.Context, ap netip.AddrPort, m *dns.Msg) (*dns.Msg, error) {
	s, id, cl, err := c.register(ap, m.Question[0])
	if err != nil {
		return nil, err
	}
	defer c.unregister(s, id)
	m.Id = id
	buf, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("packing query: %w", err)
	}
	s.send(buf)
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case a := <-cl.ch:
		return a.msg, a.err
	case <-t.C:
		s.mu.Lock()
		bad := cl.bad
		s.mu.Unlock()
		if bad != nil {
			return nil, bad
		}
		return nil, errTimeout
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// register picks the server's current socket (opening a new one when
// needed) and a random free query ID on it.
func (c *Client) register(ap netip.AddrPort, q dns.Question) (*sock, uint16, *call, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s *sock
	open := c.socks[ap][:0]
	for _, x := range c.socks[ap] {
		x.mu.Lock()
		if x.retired {
			x.mu.Unlock()
			continue
		}
		open = append(open, x)
		if s == nil && len(x.pending) < maxPending {
			s = x // stays locked
			continue
		}
		x.mu.Unlock()
	}
	c.socks[ap] = open
	if s == nil {
		conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ap))
		if err != nil {
			return nil, 0, nil, err
		}
		_ = conn.SetReadBuffer(1 << 20)
		s = newSock(conn, ap.Addr().Is4())
		c.socks[ap] = append(c.socks[ap], s)
		go s.read(ap.Addr().Is4())
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	s.uses++
	if s.uses >= MaxUses {
		s.retired = true
	}
	cl := &call{q: q, ch: make(chan answer, 1)}
	for {
		id := uint16(rand.Uint32()) // ChaCha8, seeded by the OS: unpredictable IDs (RFC 5452 §4.3)
		if _, busy := s.pending[id]; !busy {
			s.pending[id] = cl
			return s, id, cl, nil
		}
	}
}

// unregister forgets a query. A socket is closed when its last pending
// query ends (after MaxUses, or when the client goes idle), so no socket
// or reader outlives a run.
func (c *Client) unregister(s *sock, id uint16) {
	s.mu.Lock()
	delete(s.pending, id)
	done := len(s.pending) == 0 && !s.closed
	if done {
		s.retired, s.closed = true, true
	}
	s.mu.Unlock()
	if done {
		s.conn.Close() // ends the reader
	}
}

// read delivers answers to pending queries until the socket is closed.
func (s *sock) read(v4 bool) {
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, udpSize+512)}
	}
	var readBatch func([]ipv4.Message, int) (int, error)
	if v4 {
		readBatch = ipv4.NewPacketConn(s.conn).ReadBatch
	} else {
		p := ipv6.NewPacketConn(s.conn)
		readBatch = func(ms []ipv4.Message, f int) (int, error) { return p.ReadBatch(ms, f) }
	}
	for {
		n, err := readBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				s.fail(err) // ICMP port unreachable: nothing listens there
				continue
			}
			time.Sleep(time.Millisecond) // never spin on a persistent error
			continue
		}
		for _, msg := range msgs[:n] {
			s.deliver(msg.Buffers[0][:msg.N])
		}
	}
}

// fail ends every pending query with err.
func (s *sock) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cl := range s.pending {
		select {
		case cl.ch <- answer{err: err}:
		default:
		}
	}
}

// deliver hands an answer to the query with its ID and question.
func (s *sock) deliver(b []byte) {
	if len(b) < 12 {
		return
	}
	id := binary.BigEndian.Uint16(b)
	s.mu.Lock()
	cl := s.pending[id]
	s.mu.Unlock()
	if cl == nil {
		return // late or stray
	}
	resp := new(dns.Msg)
	var bad error
	switch err := resp.Unpack(b); {
	case err != nil:
		bad = fmt.Errorf("malformed answer: %w", err)
	case !resp.Response:
		bad = errors.New("malformed answer: the QR bit is not set")
	}
	if bad != nil {
		s.mu.Lock()
		cl.bad = bad
		s.mu.Unlock()
		return
	}
	if len(resp.Question) != 1 {
		return
	}
	q := resp.Question[0]
	if q.Qtype != cl.q.Qtype || q.Qclass != cl.q.Qclass || !strings.EqualFold(q.Name, cl.q.Name) {
		return // a forged or confused answer: keep waiting for the real one
	}
	select {
	case cl.ch <- answer{msg: resp}:
	default:
	}
}

// Close closes every socket now; pending queries time out. Sockets also
// close by themselves when no query is pending.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ap, l := range c.socks {
		for _, s := range l {
			s.mu.Lock()
			if !s.closed {
				s.retired, s.closed = true, true
				s.conn.Close()
			}
			s.mu.Unlock()
		}
		delete(c.socks, ap)
	}
}
