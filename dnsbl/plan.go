package dnsbl

import (
	"context"
	"fmt"
	"math/big"
	"net/netip"
	"sort"
	"sync"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"golang.org/x/sync/errgroup"
)

// Plan is the validated work of a run: the zones and the de-duplicated
// units (addresses, /64 networks, domains) to query. Units are generated on
// the fly from the targets, never stored as a list.
type Plan struct {
	zones      []*zoneRT
	z4, z6, zd []int // indices of the zones applying to IPv4, IPv6, domain units
	sources    []source

	explicit map[netip.Addr]int   // single address → first source
	prefixes map[netip.Prefix]int // multi-unit prefix → first source
	hosts    map[string]int       // hostname → first source
	lens4    []int                // distinct lengths of multi-unit IPv4 prefixes
	lens6    []int                // same for IPv6 (< 64)
	n4, n6   int                  // unique IPv4 / IPv6 units
	nd       int                  // unique domains
	pairs    int                  // results of the run
}

type source struct {
	input  string
	prefix netip.Prefix // multi-unit prefix, or invalid
	addrs  []netip.Addr // single addresses (one, or a hostname's addresses)
	host   string
}

// Addresses is the number of distinct IPv4 addresses and IPv6 units to check.
func (p *Plan) Addresses() int { return p.n4 + p.n6 }

// Addrs returns the distinct addresses the plan checks, in target order:
// every address of an IPv4 CIDR, the network address of each /64 of an
// IPv6 prefix, the addresses of hostname targets.
func (p *Plan) Addrs() []netip.Addr {
	out := make([]netip.Addr, 0, p.Addresses())
	p.walk(func(_ *source, a netip.Addr, host string) bool {
		if host == "" {
			out = append(out, a)
		}
		return true
	})
	return out
}

// FamilyPlan is what a plan checks for one IP family.
type FamilyPlan struct {
	// Units is the number of distinct addresses (IPv6: /64 units) of the
	// family to check, whether or not any zone of the plan applies to them.
	Units int
	// NotApplicable names the address zones of the selection that publish
	// no data for the family (an ip4 zone for IPv6, an ip6 zone for IPv4),
	// in selection order. A run does not query or health-check them when no
	// address of their own family is checked, so only the plan knows them.
	NotApplicable []string
}

// Families is what the plan checks per family: the IPv4 addresses and the
// IPv6 units, and the selected zones that do not apply to each.
func (p *Plan) Families() (ipv4, ipv6 FamilyPlan) {
	ipv4, ipv6 = FamilyPlan{Units: p.n4, NotApplicable: []string{}}, FamilyPlan{Units: p.n6, NotApplicable: []string{}}
	for _, z := range p.zones {
		switch z.z.Kind {
		case KindIP4:
			ipv6.NotApplicable = append(ipv6.NotApplicable, z.z.Zone)
		case KindIP6:
			ipv4.NotApplicable = append(ipv4.NotApplicable, z.z.Zone)
		}
	}
	return ipv4, ipv6
}

// Domains is the number of distinct hostnames checked against domain zones.
func (p *Plan) Domains() int { return p.nd }

// Pairs is the number of (address or domain, zone) results the run yields.
func (p *Plan) Pairs() int { return p.pairs }

// Zones returns the zones of the plan (as selected, before any DQS switch).
func (p *Plan) Zones() []Zone {
	out := make([]Zone, len(p.zones))
	for i, z := range p.zones {
		out[i] = z.z.clone()
	}
	return out
}

// Plan validates zones, resolves hostname targets (all A and AAAA, through
// the Options.Resolver), expands CIDRs and refuses more than MaxAddresses
// units before anything is queried. Errors here are input errors
// (*TargetError for a bad target) or resolution failures naming the host.
//
// IPv4 CIDRs expand to every address. IPv6 prefixes are checked per /64:
// IPv6 DNSBLs list and evaluate at /64 granularity because end users get a
// /64 or larger and per-/128 enumeration is impossible, so a /48 gives 65536
// queries (one per /64 network address) and a /64 or longer prefix gives one
// query, for its network address.
func (c *Checker) Plan(ctx context.Context, targets []Target, zones []Zone) (*Plan, error) {
	p := &Plan{explicit: map[netip.Addr]int{}, prefixes: map[netip.Prefix]int{}, hosts: map[string]int{}}
	seenZone := map[string]bool{}
	for _, z := range zones {
		zr, err := c.compileZone(z)
		if err != nil {
			return nil, err
		}
		if seenZone[zr.z.Zone] {
			continue
		}
		seenZone[zr.z.Zone] = true
		i := len(p.zones)
		p.zones = append(p.zones, zr)
		switch zr.z.Kind {
		case KindIP4:
			p.z4 = append(p.z4, i)
		case KindIP6:
			p.z6 = append(p.z6, i)
		case KindIP46:
			p.z4 = append(p.z4, i)
			p.z6 = append(p.z6, i)
		case KindDomain:
			p.zd = append(p.zd, i)
		}
	}
	needAddrs := len(p.z4)+len(p.z6) > 0
	max := c.opts.MaxAddresses

	p.sources = make([]source, len(targets))
	var resolve []int
	for i, t := range targets {
		s := source{input: t.Input}
		switch {
		case t.Addr.IsValid():
			s.addrs = []netip.Addr{t.Addr}
		case t.Prefix.IsValid():
			pf := t.Prefix.Masked()
			bits, unitBits := pf.Bits(), 32
			if pf.Addr().Is6() {
				unitBits = 64
			}
			if bits >= unitBits {
				s.addrs = []netip.Addr{pf.Addr()}
				break
			}
			n := new(big.Int).Lsh(big.NewInt(1), uint(unitBits-bits))
			if n.Cmp(big.NewInt(int64(max))) > 0 {
				what := "addresses"
				if unitBits == 64 {
					what = "/64 networks"
				}
				return nil, &TargetError{Token: t.Input, Reason: fmt.Sprintf("%s expands to %s %s, more than --max-addresses %d", t.Input, n, what, max)}
			}
			s.prefix = pf
		case t.Host != "":
			s.host = t.Host
			if needAddrs {
				resolve = append(resolve, i)
			}
		default:
			return nil, &TargetError{Token: t.Input, Reason: wantTarget}
		}
		p.sources[i] = s
	}
	if err := c.resolveHosts(ctx, p.sources, resolve); err != nil {
		return nil, err
	}

	// First owner of every single address, prefix and host.
	l4, l6 := map[int]bool{}, map[int]bool{}
	for i, s := range p.sources {
		for _, a := range s.addrs {
			if _, ok := p.explicit[a]; !ok {
				p.explicit[a] = i
			}
		}
		if s.prefix.IsValid() {
			if _, ok := p.prefixes[s.prefix]; !ok {
				p.prefixes[s.prefix] = i
			}
			if s.prefix.Addr().Is4() {
				l4[s.prefix.Bits()] = true
			} else {
				l6[s.prefix.Bits()] = true
			}
		}
		if s.host != "" {
			if _, ok := p.hosts[s.host]; !ok {
				p.hosts[s.host] = i
			}
		}
	}
	p.lens4, p.lens6 = sortedKeys(l4), sortedKeys(l6)

	// Count unique units, stopping as soon as the cap is exceeded.
	var over bool
	p.walk(func(_ *source, a netip.Addr, host string) bool {
		switch {
		case host != "":
			p.nd++
		case a.Is4():
			p.n4++
		default:
			p.n6++
		}
		if needAddrs && p.n4+p.n6 > max {
			over = true
			return false
		}
		return true
	})
	if over {
		return nil, &TargetError{whole: true, Reason: fmt.Sprintf("the targets expand to more than %d distinct addresses, more than --max-addresses %d", max, max)}
	}
	p.pairs = p.n4*len(p.z4) + p.n6*len(p.z6) + p.nd*len(p.zd)
	return p, nil
}

func sortedKeys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// walk calls fn for every unique unit in target order (first target wins);
// fn returns false to stop.
func (p *Plan) walk(fn func(s *source, a netip.Addr, host string) bool) {
	for j := range p.sources {
		s := &p.sources[j]
		if s.prefix.IsValid() && !p.covered(j, s.prefix) {
			if !p.eachUnit(s.prefix, func(a netip.Addr) bool {
				if p.owner(a) == j {
					return fn(s, a, "")
				}
				return true
			}) {
				return
			}
		}
		for _, a := range s.addrs {
			if p.owner(a) == j && !fn(s, a, "") {
				return
			}
		}
		if s.host != "" && p.hosts[s.host] == j && !fn(s, netip.Addr{}, s.host) {
			return
		}
	}
}

// covered reports whether an earlier source's prefix contains pf entirely.
func (p *Plan) covered(j int, pf netip.Prefix) bool {
	lens := p.lens4
	if pf.Addr().Is6() {
		lens = p.lens6
	}
	for _, l := range lens {
		if l > pf.Bits() {
			break
		}
		outer, _ := pf.Addr().Prefix(l)
		if i, ok := p.prefixes[outer]; ok && i < j {
			return true
		}
	}
	return false
}

// owner returns the first source that yields unit a.
func (p *Plan) owner(a netip.Addr) int {
	best := len(p.sources)
	if i, ok := p.explicit[a]; ok {
		best = i
	}
	lens := p.lens4
	if a.Is6() {
		lens = p.lens6
		if n, _ := a.Prefix(64); n.Addr() != a {
			return best // only /64 network addresses come from IPv6 prefixes
		}
	}
	for _, l := range lens {
		outer, _ := a.Prefix(l)
		if i, ok := p.prefixes[outer]; ok && i < best {
			best = i
		}
	}
	return best
}

// eachUnit calls fn for every address of an IPv4 prefix, or every /64
// network address of an IPv6 prefix shorter than /64, in order.
func (p *Plan) eachUnit(pf netip.Prefix, fn func(netip.Addr) bool) bool {
	if pf.Addr().Is4() {
		a4 := pf.Addr().As4()
		base := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8 | uint32(a4[3])
		n := uint64(1) << (32 - pf.Bits())
		for k := uint64(0); k < n; k++ {
			v := base + uint32(k)
			if !fn(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})) {
				return false
			}
		}
		return true
	}
	a16 := pf.Addr().As16()
	var hi uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(a16[i])
	}
	n := uint64(1) << (64 - pf.Bits()) // Plan caps the size, so bits > 0 here
	for k := uint64(0); k < n; k++ {
		v := hi + k
		var b [16]byte
		for i := 0; i < 8; i++ {
			b[i] = byte(v >> (56 - 8*i))
		}
		if !fn(netip.AddrFrom16(b)) {
			return false
		}
	}
	return true
}

// maxHostAddrs bounds the addresses kept per hostname.
const maxHostAddrs = 256

// resolveHosts fills the addresses of the hostname sources idx.
func (c *Checker) resolveHosts(ctx context.Context, srcs []source, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	var mu sync.Mutex
	for _, i := range idx {
		s := &srcs[i]
		g.Go(func() error {
			addrs, err := c.resolveHost(gctx, s.host, s.input)
			if err != nil {
				return err
			}
			mu.Lock()
			s.addrs = addrs
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// resolveHost returns the addresses of a hostname target (at most
// maxHostAddrs) through the shared lookup layer.
func (c *Checker) resolveHost(ctx context.Context, host, input string) ([]netip.Addr, error) {
	addrs, err := dnsclient.Resolve(c.opts.Resolver).LookupAddrs(ctx, host, true, true)
	switch {
	case err != nil && dnsclient.IsNXDomain(err):
		return nil, &TargetError{Token: input, Reason: "hostname does not exist (NXDOMAIN)"}
	case err != nil:
		return nil, fmt.Errorf("resolving target %q: %w", input, err)
	case len(addrs) == 0:
		return nil, &TargetError{Token: input, Reason: "hostname has no A or AAAA record"}
	case len(addrs) > maxHostAddrs:
		addrs = addrs[:maxHostAddrs]
	}
	return addrs, nil
}
