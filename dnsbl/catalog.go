package dnsbl

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

//go:embed catalog.json
var catalogJSON []byte

// builtin is parsed once at init; a broken embedded file is a build bug.
var builtin = func() []Zone {
	zs, err := LoadCatalog(bytes.NewReader(catalogJSON))
	if err != nil {
		panic("dnsbl: embedded catalog.json: " + err.Error())
	}
	return zs
}()

// maxCatalogBytes bounds a user catalogue file.
const maxCatalogBytes = 4 << 20

// Builtin returns a deep copy of the built-in catalogue.
func Builtin() []Zone {
	out := make([]Zone, len(builtin))
	for i, z := range builtin {
		out[i] = z.clone()
	}
	return out
}

func (z Zone) clone() Zone {
	c := z
	c.Codes = cloneMap(z.Codes)
	c.ErrorCodes = cloneMap(z.ErrorCodes)
	c.PolicyCodes = append([]string(nil), z.PolicyCodes...)
	c.RefusedCodes = append([]string(nil), z.RefusedCodes...)
	c.TestEntries = append([]string(nil), z.TestEntries...)
	c.Sources = append([]string(nil), z.Sources...)
	return c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// LoadCatalog reads a catalogue (a JSON array of Zone) and validates every
// entry. The error names the offending entry and what is accepted.
func LoadCatalog(r io.Reader) ([]Zone, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCatalogBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading catalogue: %w", err)
	}
	if len(data) > maxCatalogBytes {
		return nil, fmt.Errorf("catalogue is larger than %d bytes", maxCatalogBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var zones []Zone
	if err := dec.Decode(&zones); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// Not Go's "cannot unmarshal object into Go value of type
			// []dnsbl.Zone": say where and what JSON type was found.
			where := te.Field
			if where == "" {
				where = "the document"
			}
			return nil, fmt.Errorf("parsing catalogue (want a JSON array of zone objects): %s is a JSON %s there (offset %d)", where, te.Value, te.Offset)
		}
		return nil, fmt.Errorf("parsing catalogue (want a JSON array of zone objects): %w", err)
	}
	seen := map[string]int{}
	for i := range zones {
		z := &zones[i]
		z.Zone = normZone(z.Zone)
		if err := normGroup(z); err != nil {
			return nil, fmt.Errorf("catalogue entry %d (%q): %w", i+1, z.Zone, err)
		}
		if err := validateZone(*z); err != nil {
			return nil, fmt.Errorf("catalogue entry %d (%q): %w", i+1, z.Zone, err)
		}
		if z.Name == "" {
			z.Name = z.Zone
		}
		if j, dup := seen[z.Zone]; dup {
			return nil, fmt.Errorf("catalogue entry %d (%q): duplicate of entry %d", i+1, z.Zone, j)
		}
		seen[z.Zone] = i + 1
	}
	return zones, nil
}

// normGroup fills Group from Default for catalogues written before groups
// existed, and keeps the two consistent.
func normGroup(z *Zone) error {
	switch z.Group {
	case "":
		z.Group = GroupAll
		if z.Default {
			z.Group = GroupDefault
		}
	case GroupDefault:
		z.Default = true
	case GroupExtended, GroupAll, GroupDead:
		if z.Default {
			return fmt.Errorf("default is true but group is %q: a default zone is in group default", z.Group)
		}
	default:
		return fmt.Errorf("group %q: want one of default, extended, all, dead", z.Group)
	}
	if z.NeedsKey && z.Default {
		return errors.New("a zone that needs a key cannot be in the default group")
	}
	return nil
}

// validateZone checks one catalogue entry (or a generic zone).
func validateZone(z Zone) error {
	if err := checkDNSName(z.Zone); err != nil {
		return fmt.Errorf("zone: %w", err)
	}
	switch z.Kind {
	case KindIP4, KindIP6, KindIP46, KindDomain:
	default:
		return fmt.Errorf("kind %q: want one of ip4, ip6, ip4+ip6, domain", z.Kind)
	}
	switch z.Type {
	case TypeBlock, TypeAllow, TypeInfo:
	default:
		return fmt.Errorf("type %q: want one of block, allow, info", z.Type)
	}
	for _, m := range []map[string]string{z.Codes, z.ErrorCodes} {
		for k := range m {
			p, err := parseCodeKey(k)
			if err != nil {
				return err
			}
			// RFC 5782 §2.1: a listing answers with an address in
			// 127.0.0.0/8; anything else is reported as bad_answer, so a code
			// outside it could never apply.
			if !loopback8.Contains(p.Addr()) || p.Bits() < loopback8.Bits() {
				return fmt.Errorf("code %q: want an address or range inside 127.0.0.0/8 (RFC 5782 §2.1)", k)
			}
		}
	}
	for _, k := range z.PolicyCodes {
		if _, err := parseCodeKey(k); err != nil {
			return fmt.Errorf("policy_codes: %w", err)
		}
	}
	for _, k := range z.RefusedCodes {
		if _, err := parseCodeKey(k); err != nil {
			return fmt.Errorf("refused_codes: %w", err)
		}
		if _, ok := z.Codes[k]; ok {
			return fmt.Errorf("refused_codes: %q is also a listing code in codes: an answer cannot be both a listing and a refusal", k)
		}
	}
	if err := checkTestEntries(z); err != nil {
		return fmt.Errorf("test_entries: %w", err)
	}
	switch z.CommercialUse {
	case "", CommercialFree, CommercialPaid, CommercialUnstated:
	default:
		return fmt.Errorf("commercial_use %q: want one of free, paid, unstated", z.CommercialUse)
	}
	if z.DailyLimit < 0 {
		return fmt.Errorf("daily_limit %d: want a positive number of queries a day, or 0 for none published", z.DailyLimit)
	}
	for _, d := range []struct{ name, v string }{{"verified", z.Verified}, {"dead_since", z.DeadSince}} {
		if d.v == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, d.v); err != nil {
			return fmt.Errorf("%s %q: want a date such as 2026-11-29", d.name, d.v)
		}
	}
	urls := append([]string{z.DelistURL, z.IPv6Source}, z.Sources...)
	for _, u := range urls {
		if u == "" {
			continue
		}
		if err := checkURL(u); err != nil {
			return err
		}
	}
	if z.DQS != "" {
		if err := checkDNSName(normZone(z.DQS)); err != nil {
			return fmt.Errorf("dqs: %w", err)
		}
	}
	if z.TestName != "" {
		if err := checkDNSName(normZone(z.TestName)); err != nil {
			return fmt.Errorf("test_name: %w", err)
		}
	}
	if z.DailyLimit < 0 {
		return fmt.Errorf("daily_limit %d: want a number of queries per day (0: no limit known)", z.DailyLimit)
	}
	return nil
}

// checkTestEntries accepts the positive test entries of z: addresses of a
// family the zone answers (IPv4, or the IPv4-mapped IPv6 form
// ::ffff:7f00:2 for IPv6, RFC 5782 §5), never the negative entry
// 127.0.0.1 / ::ffff:7f00:1, which must not be listed; for a domain zone,
// DNS names other than "invalid".
func checkTestEntries(z Zone) error {
	for _, e := range z.TestEntries {
		if z.Kind == KindDomain {
			if err := checkDNSName(normZone(e)); err != nil || normZone(e) == "invalid" {
				return fmt.Errorf("%q: want a listed test name such as \"test\" for a domain zone (RFC 5782 §5)", e)
			}
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return fmt.Errorf("%q: want an address such as 127.0.0.2 or ::ffff:7f00:2 (RFC 5782 §5)", e)
		}
		if a.Unmap() == netip.MustParseAddr("127.0.0.1") {
			return fmt.Errorf("%q is the negative test entry, which must not be listed (RFC 5782 §5)", e)
		}
		v6 := a.Is6()
		if v6 && z.Kind == KindIP4 || !v6 && z.Kind == KindIP6 {
			return fmt.Errorf("%q is an %s test entry, but the zone's kind is %s", e, map[bool]string{true: "IPv6", false: "IPv4"}[v6], z.Kind)
		}
	}
	return nil
}

// checkURL accepts an absolute http or https URL.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("URL %q: want an http or https URL", s)
	}
	return nil
}

// parseCodeKey parses a code key: an IPv4 address or an IPv4 CIDR (answers
// to DNSBL queries are A records, RFC 5782 §2.1).
func parseCodeKey(k string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(k); err == nil && a.Is4() {
		return netip.PrefixFrom(a, 32), nil
	}
	if p, err := netip.ParsePrefix(k); err == nil && p.Addr().Is4() {
		return p.Masked(), nil
	}
	return netip.Prefix{}, fmt.Errorf("code %q: want an IPv4 address such as 127.0.0.2 or a CIDR such as 127.255.255.0/24", k)
}

// normZone lower-cases a zone name and strips the trailing dot.
func normZone(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// checkDNSName accepts a DNS name (without trailing dot) of 1-63 byte labels
// of letters, digits, '-' and '_' (RFC 1035 §2.3.4 limits), at most 253 bytes,
// and not an IP address.
func checkDNSName(s string) error {
	const want = "want a DNS name such as zen.spamhaus.org"
	if s == "" {
		return fmt.Errorf("empty name: %s", want)
	}
	if len(s) > 253 {
		return fmt.Errorf("name longer than 253 bytes: %s", want)
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return fmt.Errorf("%q is an IP address: %s", s, want)
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("%q has an empty or over-long label: %s", s, want)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%q contains %q: %s", s, c, want)
			}
		}
	}
	return nil
}

// Generic returns a zone for a name that is not in the catalogue, with the
// RFC 5782 generic rules: IPv4 and IPv6 queries, a block list, and any answer
// in 127.0.0.0/8 is a listing (§2.1, §2.4) — except 127.255.255.0/24, the
// error range of Spamhaus and the mirrors and resellers of its data
// (https://www.spamhaus.org/news/article/788): an unknown zone answering 127.255.255.254 is refusing the resolver, and
// reporting that as "listed" would be a false positive.
func Generic(name string) Zone {
	z := normZone(name)
	return Zone{Zone: z, Name: z, Kind: KindIP46, Type: TypeBlock,
		ErrorCodes: map[string]string{"127.255.255.0/24": "error answer (127.255.255.x, the Spamhaus convention): not a listing"}}
}

// Select picks zones from catalog, ignoring names that Resolve refuses
// (dead zones). See Resolve.
func Select(catalog []Zone, names []string) []Zone {
	var ok []string
	for _, n := range names {
		if _, err := Resolve(catalog, []string{n}); err == nil {
			ok = append(ok, n)
		}
	}
	if len(names) > 0 && len(ok) == 0 {
		return nil
	}
	zs, _ := Resolve(catalog, ok)
	return zs
}

// Groups are the zone selections, each including the ones before it.
var Groups = []Group{GroupDefault, GroupExtended, GroupAll}

// InGroup reports whether zone z is part of selection g (groups nest:
// default ⊂ extended ⊂ all; dead zones are in none).
func InGroup(z Zone, g Group) bool {
	rank := map[Group]int{GroupDefault: 1, GroupExtended: 2, GroupAll: 3}
	zr, gr := rank[z.Group], rank[g]
	if z.Group == "" { // a zone that did not come through LoadCatalog
		zr = rank[GroupAll]
		if z.Default {
			zr = rank[GroupDefault]
		}
	}
	return zr > 0 && gr > 0 && zr <= gr
}

// Resolve picks zones from catalog. Each name may be a comma-separated list
// of group names (default, extended, all) and zone names. No names gives
// the default group. A zone name found in the catalogue (case-insensitive,
// trailing dot ignored) gives that entry; any other name gives Generic(name)
// when it is a DNS name of at least two labels, and an error otherwise (a
// mistyped group such as "extendd" must not be queried as a zone).
// A dead zone is an error naming when it stopped and the source. Duplicates
// are dropped; catalogue order is kept within a group.
func Resolve(catalog []Zone, names []string) ([]Zone, error) {
	var specs []string
	for _, n := range names {
		for _, p := range strings.Split(n, ",") {
			if p = strings.TrimSpace(p); p != "" {
				specs = append(specs, p)
			}
		}
	}
	if len(specs) == 0 {
		specs = []string{string(GroupDefault)}
	}
	var out []Zone
	seen := map[string]bool{}
	add := func(z Zone) {
		k := normZone(z.Zone)
		if !seen[k] {
			seen[k] = true
			out = append(out, z.clone())
		}
	}
	for _, spec := range specs {
		key := normZone(spec)
		if g := Group(key); g == GroupDefault || g == GroupExtended || g == GroupAll {
			for _, z := range catalog {
				if InGroup(z, g) {
					add(z)
				}
			}
			continue
		}
		found := false
		for _, z := range catalog {
			if z.Group == GroupDead && deadName(z.Zone, key) {
				src := ""
				if len(z.Sources) > 0 {
					src = " (" + z.Sources[0] + ")"
				}
				return nil, fmt.Errorf("zone %s is dead: %s stopped on %s%s; it is never queried", key, z.Name, z.DeadSince, src)
			}
			if normZone(z.Zone) != key {
				continue
			}
			found = true
			if z.Group == GroupDead {
				src := ""
				if len(z.Sources) > 0 {
					src = " (" + z.Sources[0] + ")"
				}
				return nil, fmt.Errorf("zone %s is dead since %s%s and is never queried", z.Zone, z.DeadSince, src)
			}
			add(z)
			break
		}
		if !found {
			if err := checkZoneName(key); err != nil {
				return nil, err
			}
			add(Generic(key))
		}
	}
	return out, nil
}

// checkZoneName refuses a name that is neither a group nor usable as a
// zone: a DNSBL zone is a domain under a registered domain, never a single
// label, so "extendd" or "nope" is a mistyped group, not a zone to query.
func checkZoneName(name string) error {
	const want = "want default, extended, all or a DNS zone such as zen.spamhaus.org"
	if err := checkDNSName(name); err != nil {
		return fmt.Errorf("invalid zone %q (%s)", name, want)
	}
	if !strings.Contains(name, ".") {
		return fmt.Errorf("unknown zone group %q: not a group, and a single label is no DNSBL zone (%s)", name, want)
	}
	return nil
}

// deadName reports whether name is the dead zone or another zone of the same
// operator's domain (dnsbl.sorbs.net covers every *.sorbs.net list).
func deadName(dead, name string) bool {
	dead = normZone(dead)
	if name == dead {
		return true
	}
	if i := strings.IndexByte(dead, '.'); i >= 0 && strings.Count(dead[i+1:], ".") >= 1 {
		return strings.HasSuffix(name, dead[i:])
	}
	return false
}
