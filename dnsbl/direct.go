package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/textsafe"
	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"
)

// DirectMode says when a zone is asked at its own authoritative nameservers
// instead of through the resolver.
type DirectMode string

// Direct modes (--direct).
const (
	// DirectAuto asks a zone's nameservers when its health check shows the
	// resolver is refused: an answer in the zone's refused_codes (Spamhaus
	// 127.255.255.254/.255 by default), REFUSED, or NXDOMAIN for the
	// positive test entry through a known public resolver.
	DirectAuto   DirectMode = "auto"
	DirectAlways DirectMode = "always" // every zone is asked at its nameservers
	DirectNever  DirectMode = "never"  // only the resolver is asked
)

// ParseDirectMode accepts auto, always or never; "" is auto.
func ParseDirectMode(s string) (DirectMode, error) {
	switch m := DirectMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return DirectAuto, nil
	case DirectAuto, DirectAlways, DirectNever:
		return m, nil
	}
	return "", fmt.Errorf("invalid --direct %q (accepted: auto, always, never)", s)
}

// Paths reported in ZoneHealth.Path.
const (
	PathResolver = "resolver" // the configured resolver answered
	PathDirect   = "direct"   // the zone's own nameservers; "direct:<ns>" names the one that answered most
	PathLocal    = "local"    // local list data (--zone-file): no DNS at all
)

// defaultRefused are the answers meaning "this resolver is refused" for a
// zone whose catalogue entry names none: the Spamhaus convention, also used
// by its mirrors and resellers (https://www.spamhaus.org/returnc/vol/).
var defaultRefused = []string{"127.255.255.254", "127.255.255.255"}

const (
	maxNameServers = 8  // NS names of a zone kept
	maxServerAddrs = 16 // nameserver addresses of a zone kept
	maxApexSteps   = 6  // NS lookups while walking up to the zone apex
	directRetries  = 2  // a timeout moves on to the next nameserver
)

// directPath is the exchanger of a zone switched to its nameservers. It
// refuses referrals: a server that is not authoritative for the zone is
// not an answer.
type directPath struct {
	d *dnsclient.Direct
}

func (p *directPath) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	resp, ns, err := p.d.ExchangeFrom(ctx, m)
	if err != nil {
		return nil, err
	}
	if dnsclient.Referral(resp) {
		return nil, fmt.Errorf("dns query for %s at %s: a referral, not an answer: the server is not authoritative for the zone", m.Question[0].Name, ns.Name)
	}
	return resp, nil
}

// name is the ZoneHealth.Path of the zone: direct:<the server that answered most>.
func (p *directPath) name() string {
	if a := p.d.Answered(); len(a) > 0 {
		return PathDirect + ":" + a[0]
	}
	return PathDirect + ":" + p.d.Servers[0].Name
}

// failedPath answers every query with the error that kept us from finding
// the zone's nameservers (--direct always): the health check reports it.
type failedPath struct{ err error }

var (
	_ dnsclient.Exchanger = (*directPath)(nil)
	_ dnsclient.Exchanger = failedPath{}
)

func (f failedPath) Exchange(context.Context, *dns.Msg) (*dns.Msg, error) { return nil, f.err }

// pathOf is the ZoneHealth.Path of a zone whose tests ran.
func pathOf(z *zoneRT) string {
	if z.z.Local != nil {
		return PathLocal
	}
	switch ex := z.ex.(type) {
	case nil:
		return PathResolver
	case *directPath:
		return ex.name()
	default:
		return PathDirect
	}
}

// directFirst switches every zone to its own nameservers before its test
// entries are asked (--direct always).
func (c *Checker) directFirst(ctx context.Context, zones []*zoneRT) {
	if c.opts.Direct != DirectAlways {
		return
	}
	var todo []*zoneRT
	for _, z := range zones {
		if z.ex == nil && !z.needsKey && !z.hasKey {
			todo = append(todo, z)
		}
	}
	exs := c.directPaths(ctx, todo)
	for i, z := range todo {
		z.ex = exs[i].ex
		if exs[i].err != nil {
			z.ex = failedPath{exs[i].err}
		}
	}
}

// directFallback runs after the health check (--direct auto): each zone
// whose evidence shows the resolver is refused is asked again at its own
// nameservers, with the same test entries. A zone that passes there is
// queried there for the rest of the run; one that does not keeps the
// resolver's verdict, with what its nameservers said added to the problem.
// It also records every zone's path.
func (c *Checker) directFallback(ctx context.Context, zones []*zoneRT, six []bool) {
	defer func() {
		for _, z := range zones {
			if !z.needsKey {
				z.health.Path = pathOf(z)
			}
		}
	}()
	if c.opts.Direct == DirectNever {
		for _, z := range zones {
			if z.ex == nil && !z.needsKey && !z.hasKey && c.refused(z) {
				note := "; the resolver looks refused, and the zone's own nameservers were not asked (--direct never)"
				z.health.Problem += note
				z.errText += note
			}
		}
	}
	if c.opts.Direct != DirectAuto || ctx.Err() != nil {
		return
	}
	var cand []*zoneRT
	var csix []bool
	for i, z := range zones {
		if z.ex == nil && !z.needsKey && !z.hasKey && c.refused(z) {
			cand, csix = append(cand, z), append(csix, six[i])
		}
	}
	if len(cand) == 0 {
		return
	}
	exs := c.directPaths(ctx, cand)
	type saved struct {
		health  ZoneHealth
		kind    ErrorKind
		errText string
	}
	var retry []*zoneRT
	var rsix []bool
	var before []saved
	for i, z := range cand {
		if exs[i].err != nil {
			note := "; asking the zone's own nameservers instead failed: " + c.scrub(textsafe.Clean(exs[i].err.Error()))
			z.health.Problem += note
			z.errText += note
			continue
		}
		before = append(before, saved{z.health, z.errKind, z.errText})
		z.ex = exs[i].ex
		retry, rsix = append(retry, z), append(rsix, csix[i])
	}
	c.checkHealth(ctx, retry, rsix)
	for i, z := range retry {
		if z.health.Health == HealthHealthy || z.health.Health == HealthNotDone {
			continue
		}
		note := fmt.Sprintf("; its own nameservers (%s) did not pass the test entries either: %s", pathOf(z), z.health.Problem)
		z.health, z.errKind, z.errText = before[i].health, before[i].kind, before[i].errText+note
		z.health.Problem += note
		z.ex = nil
	}
}

// refused reports whether a zone's test evidence shows that the resolver,
// not the zone, is the problem.
func (c *Checker) refused(z *zoneRT) bool {
	if z.health.Health == HealthHealthy || z.health.Health == HealthNotDone {
		return false
	}
	codes := z.z.RefusedCodes
	if len(codes) == 0 {
		codes = defaultRefused
	}
	m := make(map[string]string, len(codes))
	for _, k := range codes {
		m[k] = "refused"
	}
	t, err := newCodeTable(m)
	if err != nil {
		return false // validated at load time
	}
	for _, e := range z.health.Evidence {
		if e.Rcode == "REFUSED" {
			return true
		}
		for _, code := range e.Codes {
			if a, err := netip.ParseAddr(code); err == nil {
				if _, ok := t.lookup(a); ok {
					return true
				}
			}
		}
		// Google Public DNS gets a silent NXDOMAIN from Spamhaus
		// (https://www.spamhaus.com/resource-center/successfully-accessing-spamhauss-free-block-lists-using-a-public-dns/).
		if e.Expect == "listed" && e.Rcode == "NXDOMAIN" && c.opts.PublicResolver {
			return true
		}
	}
	return false
}

type pathResult struct {
	ex  Exchanger
	err error
}

// directPaths finds the nameservers of each zone, concurrently.
func (c *Checker) directPaths(ctx context.Context, zones []*zoneRT) []pathResult {
	out := make([]pathResult, len(zones))
	var g errgroup.Group
	g.SetLimit(c.opts.Concurrency)
	for i, z := range zones {
		g.Go(func() error {
			servers, err := c.nameservers(ctx, z.query)
			if err != nil {
				out[i].err = err
				return nil
			}
			d, err := dnsclient.NewDirect(servers, c.opts.DirectTimeout, directRetries)
			if err != nil {
				out[i].err = fmt.Errorf("zone %s: %w", z.display, err)
				return nil
			}
			out[i].ex = &directPath{d: d}
			return nil
		})
	}
	g.Wait()
	return out
}

// nameservers returns the authoritative servers of zone: its NS records,
// asked of the resolver (walking up to the zone apex named by the SOA in
// the authority section when zone is not itself a delegation point, RFC
// 1034 §4.3.2 and RFC 2308 §2.2), and their addresses, from the glue in the
// same answer or asked of the resolver.
func (c *Checker) nameservers(ctx context.Context, zone string) ([]dnsclient.NameServer, error) {
	name := dns.Fqdn(strings.ToLower(zone))
	var lastErr error
	for step := 0; step < maxApexSteps && dns.CountLabel(name) >= 2; step++ {
		resp, err := c.resolverQuery(ctx, name, dns.TypeNS)
		if err != nil {
			return nil, fmt.Errorf("looking up the nameservers of %s: %w", zone, err)
		}
		switch resp.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			return nil, fmt.Errorf("looking up the nameservers of %s: %s does not exist (NXDOMAIN)", zone, strings.TrimSuffix(name, "."))
		default:
			// A name below the apex is answered by the refusing servers
			// themselves; the parent's delegation may still be known.
			lastErr = &dnsclient.RcodeError{Name: name, Rcode: resp.Rcode}
			i, _ := dns.NextLabel(name, 0)
			name = name[i:]
			continue
		}
		var names []string
		seen := map[string]bool{}
		for _, rr := range resp.Answer {
			ns, ok := rr.(*dns.NS)
			if !ok || !strings.EqualFold(ns.Hdr.Name, name) || len(names) >= maxNameServers {
				continue
			}
			if n := strings.ToLower(dns.Fqdn(ns.Ns)); !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			sort.Strings(names)
			return c.nameserverAddrs(ctx, zone, names, resp.Extra)
		}
		next := ""
		for _, rr := range resp.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				apex := strings.ToLower(soa.Hdr.Name)
				if apex != name && dns.IsSubDomain(apex, name) {
					next = apex
				}
			}
		}
		if next == "" {
			i, _ := dns.NextLabel(name, 0)
			next = name[i:]
		}
		name = next
	}
	if lastErr != nil {
		return nil, fmt.Errorf("looking up the nameservers of %s: no NS records found: %w", zone, lastErr)
	}
	return nil, fmt.Errorf("looking up the nameservers of %s: no NS records found", zone)
}

// nameserverAddrs resolves the NS names to host:port addresses: glue first,
// else A and AAAA through the resolver. A name that does not resolve is
// skipped; none resolving is an error.
func (c *Checker) nameserverAddrs(ctx context.Context, zone string, names []string, extra []dns.RR) ([]dnsclient.NameServer, error) {
	port := uint16(53)
	if c.opts.DirectPort > 0 {
		port = uint16(c.opts.DirectPort)
	}
	glue := map[string][]netip.Addr{}
	for _, rr := range extra {
		n := strings.ToLower(rr.Header().Name)
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
				glue[n] = append(glue[n], a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA.To16()); ok && !a.Is4In6() {
				glue[n] = append(glue[n], a)
			}
		}
	}
	var out []dnsclient.NameServer
	var lastErr error
	for _, n := range names {
		addrs := glue[n]
		if len(addrs) == 0 {
			found, err := dnsclient.Resolve(c.opts.Resolver).LookupAddrs(ctx, n, true, true)
			if err != nil {
				lastErr = err
			}
			addrs = found
		}
		for _, a := range addrs {
			if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || len(out) >= maxServerAddrs {
				continue
			}
			out = append(out, dnsclient.NameServer{Name: dnsclient.NameServerName(n), Addr: netip.AddrPortFrom(a, port).String()})
		}
	}
	// IPv4 first, and only: a host without IPv6 routing would spend a
	// timeout on every query that starts at an IPv6 address. IPv6 addresses
	// are used when the nameservers have no IPv4 address.
	var v4 []dnsclient.NameServer
	for _, ns := range out {
		if ap, err := netip.ParseAddrPort(ns.Addr); err == nil && ap.Addr().Is4() {
			v4 = append(v4, ns)
		}
	}
	if len(v4) > 0 {
		out = v4
	}
	if len(out) == 0 {
		if lastErr == nil {
			lastErr = errors.New("no address")
		}
		return nil, fmt.Errorf("the nameservers of %s (%s) have no usable address: %w", zone, strings.Join(names, ", "), lastErr)
	}
	return out, nil
}

// resolverQuery asks the resolver (recursion desired) for name/qtype.
func (c *Checker) resolverQuery(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	resp, err := c.opts.Resolver.Exchange(ctx, m)
	if err == nil && resp == nil {
		err = fmt.Errorf("dns query for %s: no response", name)
	}
	return resp, err
}
