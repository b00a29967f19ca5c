package dnsbl

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
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
		return nil, fmt.Errorf("parsing catalogue (want a JSON array of zone objects): %w", err)
	}
	seen := map[string]int{}
	for i := range zones {
		z := &zones[i]
		z.Zone = normZone(z.Zone)
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
			if _, err := parseCodeKey(k); err != nil {
				return err
			}
		}
	}
	for _, k := range z.PolicyCodes {
		if _, err := parseCodeKey(k); err != nil {
			return fmt.Errorf("policy_codes: %w", err)
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
	if z.DelistURL != "" {
		u, err := url.Parse(z.DelistURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("delist_url %q: want an http or https URL", z.DelistURL)
		}
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
// error range of Spamhaus and the mirrors and resellers of its data (FACTS
// §2): an unknown zone answering 127.255.255.254 is refusing the resolver, and
// reporting that as "listed" would be a false positive.
func Generic(name string) Zone {
	z := normZone(name)
	return Zone{Zone: z, Name: z, Kind: KindIP46, Type: TypeBlock,
		ErrorCodes: map[string]string{"127.255.255.0/24": "error answer (127.255.255.x, the Spamhaus convention): not a listing"}}
}

// Select picks zones from catalog: no names gives the Default entries; a
// name found in the catalogue (case-insensitive, trailing dot ignored) gives
// that entry; any other name gives Generic(name). Duplicates are dropped.
func Select(catalog []Zone, names []string) []Zone {
	var out []Zone
	if len(names) == 0 {
		for _, z := range catalog {
			if z.Default {
				out = append(out, z.clone())
			}
		}
		return out
	}
	seen := map[string]bool{}
	for _, n := range names {
		key := normZone(n)
		if seen[key] {
			continue
		}
		seen[key] = true
		found := false
		for _, z := range catalog {
			if normZone(z.Zone) == key {
				out = append(out, z.clone())
				found = true
				break
			}
		}
		if !found {
			out = append(out, Generic(key))
		}
	}
	return out
}
