package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
)

// Exchanger sends one DNS query and returns the response whatever its Rcode,
// or an error when no answer could be had. Timeouts, retries and the TCP
// retry on truncation are its job. *Client implements it; tests use fakes.
// Every part of blprobe that asks DNS takes an Exchanger.
type Exchanger interface {
	Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error)
}

var _ Exchanger = (*Resolver)(nil)

// maxCNAMEHops bounds a CNAME chain followed by the Lookup helpers.
const maxCNAMEHops = 8

// Resolver is blprobe's one lookup layer: A/AAAA, MX, PTR and TXT through an
// Exchanger. It follows CNAME chains the recursive resolver did not follow,
// tells NXDOMAIN (an error, IsNXDomain) from NODATA (no records, no error),
// coalesces concurrent identical lookups, and — when memoizing — remembers
// definite answers (NOERROR, NXDOMAIN) but never SERVFAIL, REFUSED or a
// timeout, so that a later lookup asks again. It is safe for concurrent use.
type Resolver struct {
	ex   Exchanger
	memo bool

	mu    sync.Mutex
	cache map[memoKey]memoEntry
	sf    singleflight.Group
}

type memoKey struct {
	name  string
	qtype uint16
}

type memoEntry struct {
	rrs []dns.RR
	err error
}

// NewResolver returns a Resolver over ex; memo makes it remember definite
// answers for its lifetime.
func NewResolver(ex Exchanger, memo bool) *Resolver {
	return &Resolver{ex: ex, memo: memo}
}

// Resolve returns the Resolver to use with ex: ex itself when it is one, the
// shared Resolver of a *Client (so its memo serves every caller), or a new
// Resolver without memo.
func Resolve(ex Exchanger) *Resolver {
	switch v := ex.(type) {
	case *Resolver:
		return v
	case *Client:
		return v.Resolver()
	}
	return NewResolver(ex, false)
}

// Resolver returns the client's Resolver (memoizing when c.Memo is set when
// it is first called).
func (c *Client) Resolver() *Resolver {
	c.resOnce.Do(func() { c.res = NewResolver(c, c.Memo) })
	return c.res
}

// Exchange passes m to the underlying Exchanger, unmemoized.
func (r *Resolver) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	return r.ex.Exchange(ctx, m)
}

// RcodeError is returned by the Lookup helpers for an answer whose Rcode is
// not NOERROR.
type RcodeError struct {
	Name  string
	Rcode int
}

func (e *RcodeError) Error() string {
	rc, ok := dns.RcodeToString[e.Rcode]
	if !ok {
		rc = fmt.Sprintf("rcode %d", e.Rcode)
	}
	if e.Rcode == dns.RcodeNameError {
		return fmt.Sprintf("%s does not exist (NXDOMAIN)", strings.TrimSuffix(e.Name, "."))
	}
	return fmt.Sprintf("dns query for %s: %s", e.Name, rc)
}

// IsNXDomain reports whether err is an NXDOMAIN answer.
func IsNXDomain(err error) bool {
	var re *RcodeError
	return errors.As(err, &re) && re.Rcode == dns.RcodeNameError
}

// definite reports whether an outcome may be remembered: an answer (NOERROR)
// or a name that does not exist. Server failures and timeouts may be
// transient (RFC 2308 §7 allows caching them only briefly).
func definite(err error) bool {
	var re *RcodeError
	return err == nil || errors.As(err, &re) && re.Rcode == dns.RcodeNameError
}

// lookup returns the records of type qtype at the end of name's CNAME chain,
// or an error for a transport failure or a non-NOERROR rcode. NOERROR with
// no records (NODATA) gives (nil, nil).
func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	key := memoKey{strings.ToLower(dns.Fqdn(name)), qtype}
	if r.memo {
		r.mu.Lock()
		e, ok := r.cache[key]
		r.mu.Unlock()
		if ok {
			return e.rrs, e.err
		}
	}
	sfKey := key.name + "/" + dns.TypeToString[qtype]
	v, err, _ := r.sf.Do(sfKey, func() (any, error) {
		rrs, err := r.chase(ctx, name, qtype)
		if r.memo && definite(err) {
			r.mu.Lock()
			if r.cache == nil {
				r.cache = map[memoKey]memoEntry{}
			}
			r.cache[key] = memoEntry{rrs, err}
			r.mu.Unlock()
		}
		return rrs, err
	})
	if err != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// The shared lookup belonged to a caller that gave up; this one
		// has not, so it asks for itself.
		return r.chase(ctx, name, qtype)
	}
	rrs, _ := v.([]dns.RR)
	return rrs, err
}

// chase asks for name/qtype and follows a CNAME chain (RFC 1034 §3.6.2) that
// the recursive resolver did not follow itself.
func (r *Resolver) chase(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	target := dns.Fqdn(name)
	for hop := 0; hop <= maxCNAMEHops; hop++ {
		m := new(dns.Msg)
		m.SetQuestion(target, qtype)
		m.RecursionDesired = true
		resp, err := r.ex.Exchange(ctx, m)
		if err == nil && resp == nil {
			err = &Error{Name: target, Err: errors.New("empty response")}
		}
		if err != nil {
			return nil, err
		}
		if resp.Rcode != dns.RcodeSuccess {
			return nil, &RcodeError{Name: target, Rcode: resp.Rcode}
		}
		// Walk the chain inside the answer: owner names from target on.
		owners := map[string]bool{strings.ToLower(target): true}
		end := target
		for i := 0; i <= maxCNAMEHops; i++ {
			next := ""
			for _, rr := range resp.Answer {
				if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, end) && qtype != dns.TypeCNAME {
					next = c.Target
				}
			}
			if next == "" || owners[strings.ToLower(next)] {
				break
			}
			owners[strings.ToLower(next)] = true
			end = next
		}
		var out []dns.RR
		for _, rr := range resp.Answer {
			if rr.Header().Rrtype == qtype && owners[strings.ToLower(rr.Header().Name)] {
				out = append(out, rr)
			}
		}
		if len(out) > 0 || strings.EqualFold(end, target) {
			return out, nil
		}
		target = end // the resolver stopped at a CNAME: ask for its target
	}
	return nil, &Error{Name: name, Err: fmt.Errorf("CNAME chain longer than %d", maxCNAMEHops)}
}

// LookupAddrs returns the IPv4 (v4) and/or IPv6 (v6) addresses of name,
// both families asked concurrently, without duplicates, IPv4 first. An
// IPv4-mapped AAAA record (::ffff:a.b.c.d) is returned unmapped, as the IPv4
// address a connection to it reaches.
//
// The outcomes: addresses and a nil error; no address and a nil error
// (NODATA: the name exists without such records); an NXDOMAIN error
// (IsNXDomain) when the name does not exist and no address was found; or
// another error (SERVFAIL, REFUSED, timeout) for the first family that
// failed, with the addresses of the other family, if any.
func (r *Resolver) LookupAddrs(ctx context.Context, name string, v4, v6 bool) ([]netip.Addr, error) {
	type fam struct {
		on    bool
		qtype uint16
		rrs   []dns.RR
		err   error
	}
	fams := []*fam{{on: v4, qtype: dns.TypeA}, {on: v6, qtype: dns.TypeAAAA}}
	var wg sync.WaitGroup
	for _, f := range fams {
		if f.on {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.rrs, f.err = r.lookup(ctx, name, f.qtype)
			}()
		}
	}
	wg.Wait()
	var (
		out  []netip.Addr
		seen = map[netip.Addr]bool{}
		nx   error
		fail error
	)
	for _, f := range fams {
		switch {
		case f.err == nil:
		case IsNXDomain(f.err):
			nx = f.err
		case fail == nil:
			fail = f.err
		}
		for _, rr := range f.rrs {
			var a netip.Addr
			switch v := rr.(type) {
			case *dns.A:
				a, _ = netip.AddrFromSlice(v.A.To4())
			case *dns.AAAA:
				a, _ = netip.AddrFromSlice(v.AAAA.To16())
			}
			a = a.Unmap()
			if a.IsValid() && !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	switch {
	case fail != nil:
		return out, fail
	case len(out) == 0 && nx != nil:
		return nil, nx
	}
	return out, nil
}

// LookupMX returns the MX records of name.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*dns.MX, error) {
	rrs, err := r.lookup(ctx, name, dns.TypeMX)
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
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.lookup(ctx, name, dns.TypeTXT)
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
func (r *Resolver) LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error) {
	rev, err := dns.ReverseAddr(addr.Unmap().String())
	if err != nil {
		return nil, err
	}
	rrs, err := r.lookup(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.TrimSuffix(rr.(*dns.PTR).Ptr, "."))
	}
	return out, nil
}

// LookupAddrs is c.Resolver().LookupAddrs.
func (c *Client) LookupAddrs(ctx context.Context, name string, v4, v6 bool) ([]netip.Addr, error) {
	return c.Resolver().LookupAddrs(ctx, name, v4, v6)
}

// LookupMX is c.Resolver().LookupMX.
func (c *Client) LookupMX(ctx context.Context, name string) ([]*dns.MX, error) {
	return c.Resolver().LookupMX(ctx, name)
}

// LookupTXT is c.Resolver().LookupTXT.
func (c *Client) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return c.Resolver().LookupTXT(ctx, name)
}

// LookupPTR is c.Resolver().LookupPTR.
func (c *Client) LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error) {
	return c.Resolver().LookupPTR(ctx, addr)
}
