package mailauth

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/dnsclient"
)

// resolver implements spf.DNSResolver over the lookup layer (dnsclient.Resolver). The SPF
// library tells failures apart by *net.DNSError: IsNotFound (NXDOMAIN) is a
// void lookup or "no record", anything else that failed (SERVFAIL, REFUSED,
// timeout) is temporary, which RFC 7208 §4.4 and §5 turn into temperror.
type resolver struct {
	c *dnsclient.Resolver
	// v6 selects the address family of A/AAAA lookups: RFC 7208 §5.3 and §5.4
	// look up the type appropriate for the connection (A for IPv4, AAAA for IPv6).
	v6 bool
	// override replaces the published TXT records of a name (lower case,
	// no trailing dot) with one record: how a suggested record is evaluated
	// before it is published.
	override map[string]string
}

func normName(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }

func dnsError(name string, err error) error {
	if err == nil {
		return nil
	}
	if dnsclient.IsNXDomain(err) {
		return &net.DNSError{Err: "no such host (NXDOMAIN)", Name: name, IsNotFound: true}
	}
	return &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true, IsTimeout: dnsclient.IsTimeout(err)}
}

func (r *resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if rec, ok := r.override[normName(name)]; ok {
		return []string{rec}, nil
	}
	txt, err := r.c.LookupTXT(ctx, name)
	return txt, dnsError(name, err)
}

func (r *resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := r.c.LookupMX(ctx, name)
	if err != nil {
		return nil, dnsError(name, err)
	}
	out := make([]*net.MX, 0, len(mxs))
	for _, mx := range mxs {
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	return out, nil
}

func (r *resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	addrs, err := r.c.LookupAddrs(ctx, host, !r.v6, r.v6)
	if err != nil {
		return nil, dnsError(host, err)
	}
	out := make([]net.IPAddr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, net.IPAddr{IP: a.AsSlice()})
	}
	return out, nil
}

func (r *resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "invalid address", Name: addr}
	}
	names, err := r.c.LookupPTR(ctx, a)
	if err != nil {
		return nil, dnsError(addr, err)
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = dns.Fqdn(n)
	}
	return out, nil
}
