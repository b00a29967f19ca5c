package smtpcheck

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/dnsclient"
)

// Caps on what DNS can make a run do: a hostile or broken zone can answer
// thousands of MX records or addresses (over TCP), and each would cost a DNS
// lookup or a probe of up to ConnectTimeout. Real mail hosts stay far below
// (an MTA tries fewer still: Postfix smtp_mx_address_limit is 5). What is cut
// is said in the domain's or the MX's error, never dropped silently.
const (
	// MaxMXHosts caps the MX hosts of one domain resolved and probed (the
	// most preferred ones).
	MaxMXHosts = 16
	// MaxHostAddrs caps the addresses probed per mail host.
	MaxHostAddrs = 16
)

const nullMXMessage = "null MX: the domain accepts no mail"

// ResolveDomain finds the mail hosts of domain by the rules of RFC 5321 §5.1
// and RFC 7505 and returns them with one not-yet-probed entry (status
// not_done) per address. No probe is made.
func ResolveDomain(ctx context.Context, domain string, opts Options) Domain {
	opts = opts.withDefaults()
	name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	d := Domain{Domain: name, Status: DomainOK, MX: []MX{}}
	if _, ok := dns.IsDomainName(name); !ok || name == "" || strings.ContainsAny(name, " /@\\") {
		d.Status, d.Error = DomainError, fmt.Sprintf("%q is not a valid domain name", domain)
		return d
	}
	if opts.Resolver == nil {
		d.Status, d.Error = DomainError, fmt.Sprintf("resolving MX of %s: no DNS resolver configured", name)
		return d
	}
	mxs, err := dnsclient.Resolve(opts.Resolver).LookupMX(ctx, name)
	var rcErr *dnsclient.RcodeError
	switch {
	case err != nil && ctx.Err() != nil:
		d.Status, d.Error = DomainError, fmt.Sprintf("not done: the run was interrupted before the MX of %s were resolved", name)
		return d
	case dnsclient.IsNXDomain(err):
		d.Status, d.Error = DomainError, fmt.Sprintf("domain %s does not exist (NXDOMAIN)", name)
		return d
	case errors.As(err, &rcErr):
		d.Status, d.Error = DomainError, fmt.Sprintf("resolving MX of %s: %s", name, dns.RcodeToString[rcErr.Rcode])
		return d
	case err != nil:
		d.Status, d.Error = DomainError, fmt.Sprintf("resolving MX of %s: %v", name, err)
		return d
	}
	if len(mxs) == 0 {
		// RFC 5321 §5.1: no MX records → the domain itself is the implicit
		// MX, with preference 0.
		mx := MX{Host: name, Implicit: true, Addresses: []Probe{}}
		addrs, err := hostAddrs(ctx, opts, name)
		if err != nil {
			d.Status, d.Error = DomainError, fmt.Sprintf("%s has no MX record and its address lookup failed: %v", name, err)
			return d
		}
		if len(addrs) == 0 {
			d.Status, d.Error = DomainNoMailHost, fmt.Sprintf("%s has no MX record and no %s address: it has no mail host", name, familyWords(opts))
			return d
		}
		if len(addrs) > MaxHostAddrs {
			mx.Error = capAddrsMessage(name, len(addrs))
			addrs = addrs[:MaxHostAddrs]
		}
		for _, a := range addrs {
			mx.Addresses = append(mx.Addresses, pendingProbe(a, opts.Port))
		}
		d.MX = append(d.MX, mx)
		return d
	}
	// RFC 7505 §3: a single "MX 0 ." means the domain accepts no mail.
	if len(mxs) == 1 && mxs[0].Mx == "." {
		d.Status, d.Error = DomainNullMX, nullMXMessage
		return d
	}
	sortMX(mxs, opts.Rand)
	if len(mxs) > MaxMXHosts {
		d.Error = fmt.Sprintf("%s has %d MX records: only the %d most preferred were resolved and probed", name, len(mxs), MaxMXHosts)
		mxs = mxs[:MaxMXHosts]
	}
	withAddr := 0
	for _, rr := range mxs {
		host := strings.ToLower(strings.TrimSuffix(rr.Mx, "."))
		mx := MX{Host: host, Preference: rr.Preference, Addresses: []Probe{}}
		switch {
		case host == "":
			// A "." among other MX records is a misconfiguration (RFC 7505
			// §3 wants it alone); skip it and say so.
			mx.Host = "."
			mx.Error = "null MX target mixed with other MX records (RFC 7505 §3): ignored"
		default:
			if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
				// RFC 5321 §5.1 wants a host name; probe the literal anyway.
				mx.Error = "MX target is an IP address, not a host name (RFC 5321 §5.1); probed anyway"
				if familyAllowed(opts, ip) {
					mx.Addresses = append(mx.Addresses, pendingProbe(ip.Unmap(), opts.Port))
				}
				break
			}
			addrs, err := hostAddrs(ctx, opts, host)
			switch {
			case err != nil:
				mx.Error = fmt.Sprintf("resolving MX host %s: %v", host, err)
			case len(addrs) == 0:
				mx.Error = fmt.Sprintf("MX host %s has no %s address", host, familyWords(opts))
			case len(addrs) > MaxHostAddrs:
				mx.Error = capAddrsMessage(host, len(addrs))
				addrs = addrs[:MaxHostAddrs]
			}
			for _, a := range addrs {
				mx.Addresses = append(mx.Addresses, pendingProbe(a, opts.Port))
			}
		}
		if len(mx.Addresses) > 0 {
			withAddr++
		}
		d.MX = append(d.MX, mx)
	}
	// MX records present: never fall back to the domain's own addresses
	// (RFC 5321 §5.1), even when no MX host resolves.
	if withAddr == 0 {
		d.Status, d.Error = DomainError, d.Error+sep(d.Error)+fmt.Sprintf("none of the %d MX hosts of %s has a usable %s address", len(mxs), name, familyWords(opts))
	}
	return d
}

func capAddrsMessage(host string, n int) string {
	return fmt.Sprintf("%s has %d addresses: only the first %d were probed", host, n, MaxHostAddrs)
}

func sep(s string) string {
	if s == "" {
		return ""
	}
	return "; "
}

func pendingProbe(a netip.Addr, port int) Probe {
	return Probe{
		IP: a.String(), Port: port, Status: StatusNotDone, Class: ClassNotDone, Stage: StageConnect,
		Extensions: []string{}, TimingsMs: map[string]float64{}, Transcript: []Line{},
	}
}

func familyWords(o Options) string {
	v4, v6 := families(o)
	switch {
	case v4 && !v6:
		return "IPv4 (A)"
	case v6 && !v4:
		return "IPv6 (AAAA)"
	}
	return "A/AAAA"
}

// families returns the address families to probe: -4/-6, and the family of
// SourceIP when one is set (a bound socket cannot reach the other family).
func families(o Options) (v4, v6 bool) {
	v4, v6 = !o.IPv6Only, !o.IPv4Only
	if o.IPv4Only && o.IPv6Only {
		v4, v6 = true, true
	}
	if o.SourceIP.IsValid() {
		if o.SourceIP.Unmap().Is4() {
			v6 = false
		} else {
			v4 = false
		}
	}
	return v4, v6
}

func familyAllowed(o Options, a netip.Addr) bool {
	v4, v6 := families(o)
	if a.Unmap().Is4() {
		return v4
	}
	return v6
}

// hostAddrs returns the A and AAAA addresses of host allowed by opts. An
// NXDOMAIN or failure on one family is an error only if no address was found.
func hostAddrs(ctx context.Context, opts Options, host string) ([]netip.Addr, error) {
	v4, v6 := families(opts)
	addrs, err := dnsclient.Resolve(opts.Resolver).LookupAddrs(ctx, host, v4, v6)
	var out []netip.Addr
	for _, a := range addrs {
		if familyAllowed(opts, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 && err != nil {
		return nil, err
	}
	return out, nil
}
