package zonefile

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
)

// add4 adds an IPv4 entry: a.b.c.d, a prefix of octets (a.b.c = a.b.c.0/24),
// either with /len, or a range of two such prefixes (rbldnsd(8), ip4set).
func (p *parser) add4(spec string, idx int32, exclude bool) error {
	lo, hi, err := parse4(spec)
	if err != nil {
		return err
	}
	if p.d.format == IP4TSet && lo != hi {
		return fmt.Errorf("%s is a range: an ip4tset holds single addresses", spec)
	}
	if p.maxRange4 > 0 && uint64(hi)-uint64(lo)+1 > p.maxRange4 {
		return nil // wider than $MAXRANGE4: ignored, as rbldnsd does
	}
	// Split [lo, hi] into CIDR blocks.
	for x := uint64(lo); x <= uint64(hi); {
		size := 32
		if x != 0 {
			size = bits.TrailingZeros32(uint32(x))
		}
		for size > 0 && x+(uint64(1)<<size)-1 > uint64(hi) {
			size--
		}
		p.put4(uint32(x), 32-size, idx, exclude)
		x += uint64(1) << size
	}
	return nil
}

func (p *parser) put4(a uint32, l int, idx int32, exclude bool) {
	m := p.d.v4[l]
	if m == nil {
		m = map[uint32]int32{}
		p.d.v4[l] = m
	}
	if _, dup := m[a]; !dup || exclude {
		m[a] = idx // the first listing of a block wins; an exclusion always does
	}
}

var errIP4 = errors.New("want an IPv4 address, prefix (a.b.c), CIDR (a.b.c.d/len) or range (a.b.c.d-e.f.g.h)")

// parse4 returns the first and last address an IPv4 entry covers.
func parse4(spec string) (lo, hi uint32, err error) {
	if a, b, ok := strings.Cut(spec, "-"); ok {
		lo, n, err := octets(a)
		if err != nil {
			return 0, 0, err
		}
		hoct, hn, err := octets(b)
		if err != nil {
			return 0, 0, err
		}
		if hn == 1 && n > 1 {
			// "127.16-31": the last boundary replaces the last octet given.
			shift := uint(32 - 8*n)
			hi = lo&^(0xff<<shift) | hoct>>24<<shift | (1<<shift - 1)
		} else {
			hi = hoct | (uint32(1)<<(32-8*hn) - 1)
			if hn == 4 {
				hi = hoct
			}
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("range %s ends before it starts", spec)
		}
		return lo, hi, nil
	}
	a, l, hasLen := strings.Cut(spec, "/")
	base, n, err := octets(a)
	if err != nil {
		return 0, 0, err
	}
	plen := 8 * n
	if hasLen {
		plen, err = strconv.Atoi(l)
		if err != nil || plen < 0 || plen > 32 || strconv.Itoa(plen) != l {
			return 0, 0, errIP4
		}
	}
	m := mask4(plen)
	return base & m, base&m | ^m, nil
}

// octets parses 1 to 4 dotted decimal octets, left-aligned.
func octets(s string) (uint32, int, error) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return 0, 0, errIP4
	}
	var v uint32
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 || len(p) > 3 || p[0] == '+' {
			return 0, 0, errIP4
		}
		v = v<<8 | uint32(n)
	}
	return v << (8 * (4 - len(parts))), len(parts), nil
}

// add6 adds an IPv6 entry: an address or prefix, compressed ("::") or with
// trailing zero words omitted (four words: a /64), with an optional /len.
func (p *parser) add6(spec string, idx int32, exclude bool) error {
	a, l, hasLen := strings.Cut(spec, "/")
	words := strings.Count(a, ":") + 1
	if !strings.Contains(a, "::") && words < 8 {
		a += strings.Repeat(":0", 8-words)
	} else {
		words = 8
	}
	ip, err := netip.ParseAddr(a)
	if err != nil || !ip.Is6() || ip.Zone() != "" {
		return fmt.Errorf("want an IPv6 address or prefix such as 2001:db8:1:2 or 2001:db8::/32")
	}
	plen := 16 * words
	if hasLen {
		plen, err = strconv.Atoi(l)
		if err != nil || plen < 0 || plen > 128 || strconv.Itoa(plen) != l {
			return errors.New("want an IPv6 prefix length 0-128")
		}
	}
	if p.d.format == IP6TSet {
		switch {
		case exclude:
			plen = 128
		case plen != 64:
			return errors.New("an ip6tset lists /64 networks (four words such as 2001:db8:1:2)")
		}
	}
	m := p.d.v6[plen]
	if m == nil {
		m = map[[16]byte]int32{}
		p.d.v6[plen] = m
	}
	key := mask6(ip.As16(), plen)
	if _, dup := m[key]; !dup || exclude {
		m[key] = idx
	}
	return nil
}

// addName adds a dnset entry: "name" (the name only), "*.name" (its
// subdomains) or ".name" (both).
func (p *parser) addName(spec string, idx int32, exclude bool) error {
	name, exact, wild := spec, true, false
	switch {
	case strings.HasPrefix(spec, "*."):
		name, exact, wild = spec[2:], false, true
	case strings.HasPrefix(spec, "."):
		name, wild = spec[1:], true
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if err := checkName(name); err != nil {
		return err
	}
	if p.d.exact == nil {
		p.d.exact, p.d.wild = map[string]int32{}, map[string]int32{}
	}
	put := func(m map[string]int32) {
		if _, dup := m[name]; !dup || exclude {
			m[name] = idx
		}
	}
	if exact {
		put(p.d.exact)
	}
	if wild {
		put(p.d.wild)
	}
	return nil
}

func checkName(s string) error {
	if s == "" || len(s) > 253 {
		return errors.New("want a domain name such as example.com, *.example.com or .example.com")
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("domain name %q has an empty or over-long label", s)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("domain name %q contains %q", s, c)
			}
		}
	}
	return nil
}
