package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// NameServer is one authoritative server of a zone: its name (for reports)
// and the address queries go to.
type NameServer struct {
	Name string // e.g. "a.gns.example", without the trailing dot
	Addr string // host:port
}

// Direct asks a zone's authoritative nameservers itself instead of going
// through a recursive resolver: what a mail server's own resolver would do,
// for when the configured resolver is refused by a DNSBL (a public resolver
// answered with Spamhaus 127.255.255.254, REFUSED, or NXDOMAIN for the test
// entry).
//
// Queries go out with RD clear (RFC 1035 §4.1.1: no recursion is asked for,
// the servers answer from their own zone only), over UDP with a TCP retry
// when the answer is truncated (RFC 1035 §4.2.1, RFC 7766 §5), and each
// query starts at the next server in turn, so the load is spread over the
// zone's nameservers. Retries after a timeout, a network error, or an answer
// saying the server cannot answer for the zone (SERVFAIL, REFUSED, NOTIMP,
// a referral) move on to the next server. Direct is safe for concurrent use.
type Direct struct {
	Servers   []NameServer
	Timeout   time.Duration // per attempt; DefaultTimeout when zero
	Retries   int           // extra attempts after a timeout or network error
	LocalAddr netip.Addr    // optional source address

	next     atomic.Uint64
	mu       sync.Mutex
	answered map[string]int // server name → answers received
}

var _ Exchanger = (*Direct)(nil)

// NewDirect returns a Direct client for servers.
func NewDirect(servers []NameServer, timeout time.Duration, retries int) (*Direct, error) {
	if len(servers) == 0 {
		return nil, errors.New("no authoritative nameserver given")
	}
	return &Direct{Servers: append([]NameServer(nil), servers...), Timeout: timeout, Retries: retries}, nil
}

// Exchange sends a copy of m, with recursion not desired, to the zone's
// servers in turn and returns the first answer (whatever its Rcode), or an
// *Error when no server answered. m itself is not modified.
func (d *Direct) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	resp, _, err := d.ExchangeFrom(ctx, m)
	return resp, err
}

// ExchangeFrom is Exchange that also returns the server that answered.
func (d *Direct) ExchangeFrom(ctx context.Context, m *dns.Msg) (*dns.Msg, NameServer, error) {
	if len(d.Servers) == 0 {
		return nil, NameServer{}, errors.New("direct dns client has no servers")
	}
	q := m.Copy()
	q.RecursionDesired = false
	if q.IsEdns0() == nil {
		q.SetEdns0(udpSize, false)
	}
	name := "?"
	if len(q.Question) > 0 {
		name = q.Question[0].Name
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	retries := max(d.Retries, 0)
	start := int(d.next.Add(1) - 1)
	var lastErr error
	allTimeouts := true
	var ns NameServer
	var lame *dns.Msg // the last answer of a server that could not answer
	var lameNS NameServer
	for attempt := 0; attempt <= retries; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, ns, &Error{Name: name, Server: ns.Addr, Err: err}
		}
		ns = d.Servers[(start+attempt)%len(d.Servers)]
		q.Id = dns.Id()
		resp, err := d.once(ctx, q, ns.Addr, "udp", timeout)
		if err == nil && resp.Truncated {
			// RFC 7766 §5: a truncated UDP answer is retried over TCP.
			resp, err = d.once(ctx, q, ns.Addr, "tcp", timeout)
		}
		if err == nil && attempt < retries && cannotAnswer(resp) {
			// A lame or failing server (SERVFAIL, REFUSED, NOTIMP, or a
			// referral): a resolver tries the zone's next server (RFC 1034
			// §5.3.3, RFC 4697 §2.1 and §2.5) instead of taking its word.
			lame, lameNS = resp, ns
			lastErr = fmt.Errorf("%s (%s): %s", ns.Name, ns.Addr, rcodeOrReferral(resp))
			allTimeouts = false
			continue
		}
		if err == nil {
			d.mu.Lock()
			if d.answered == nil {
				d.answered = map[string]int{}
			}
			d.answered[ns.Name]++
			d.mu.Unlock()
			return resp, ns, nil
		}
		lastErr = fmt.Errorf("%s (%s): %w", ns.Name, ns.Addr, err)
		if !IsTimeout(err) {
			allTimeouts = false
		}
		if ctx.Err() != nil {
			break
		}
	}
	if lame != nil && ctx.Err() == nil {
		// The other servers tried did not answer at all: what the lame one
		// said is the best answer there is (e.g. REFUSED from every server).
		return lame, lameNS, nil
	}
	return nil, ns, &Error{Name: name, Server: ns.Addr, Timeout: allTimeouts && ctx.Err() == nil, Err: lastErr}
}

// cannotAnswer reports whether resp says the server cannot answer for the
// zone, so another of its servers should be asked: SERVFAIL, REFUSED or
// NOTIMP, or a referral (the server is not authoritative).
func cannotAnswer(resp *dns.Msg) bool {
	switch resp.Rcode {
	case dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeNotImplemented:
		return true
	}
	return Referral(resp)
}

func rcodeOrReferral(resp *dns.Msg) string {
	if resp.Rcode != dns.RcodeSuccess {
		return dns.RcodeToString[resp.Rcode]
	}
	return "a referral, not an answer"
}

func (d *Direct) once(ctx context.Context, m *dns.Msg, server, network string, timeout time.Duration) (*dns.Msg, error) {
	dc := newDNSClient(network, timeout, d.LocalAddr)
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, _, err := dc.ExchangeContext(actx, m, server)
	if err == nil && !sameQuestion(m, resp) {
		err = fmt.Errorf("response for another question (%v)", resp.Question)
	}
	return resp, err
}

// Answered returns the names of the servers that answered at least once,
// most answers first (ties by name).
func (d *Direct) Answered() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.answered))
	for n := range d.answered {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		if d.answered[out[i]] != d.answered[out[j]] {
			return d.answered[out[i]] > d.answered[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

// Referral reports whether resp is a referral rather than an answer: no
// answer records, no error, and NS records for a name below the question's
// zone cut in the authority section (RFC 1034 §4.3.2 step 3b). A server
// that refers us on is not authoritative for the name.
func Referral(resp *dns.Msg) bool {
	if resp == nil || resp.Rcode != dns.RcodeSuccess || len(resp.Answer) > 0 || resp.Authoritative {
		return false
	}
	for _, rr := range resp.Ns {
		if rr.Header().Rrtype == dns.TypeNS {
			return true
		}
	}
	return false
}

// NameServerName trims the trailing dot of an NS target for display.
func NameServerName(target string) string { return strings.TrimSuffix(strings.ToLower(target), ".") }
