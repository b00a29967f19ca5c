package dnsbl

import (
	"net/netip"
	"strings"
)

const hexDigits = "0123456789abcdef"

// QueryName returns the DNSBL query name of addr in zone, without trailing
// dot: reversed octets for IPv4 (RFC 5782 §2.1), 32 reversed nibbles for
// IPv6 (§2.4). An IPv4-mapped IPv6 address (::ffff:7f00:2) is an IPv6 query:
// only a plain IPv4 address (Is4) uses the octet form.
func QueryName(addr netip.Addr, zone string) string {
	zone = strings.TrimSuffix(zone, ".")
	var b strings.Builder
	if addr.Is4() {
		a := addr.As4()
		b.Grow(16 + len(zone))
		for i := 3; i >= 0; i-- {
			writeUint8(&b, a[i])
			b.WriteByte('.')
		}
	} else {
		a := addr.As16()
		b.Grow(64 + len(zone))
		for i := 15; i >= 0; i-- {
			b.WriteByte(hexDigits[a[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hexDigits[a[i]>>4])
			b.WriteByte('.')
		}
	}
	b.WriteString(zone)
	return b.String()
}

func writeUint8(b *strings.Builder, v uint8) {
	if v >= 100 {
		b.WriteByte('0' + v/100)
	}
	if v >= 10 {
		b.WriteByte('0' + v/10%10)
	}
	b.WriteByte('0' + v%10)
}

// DomainQueryName returns the query name of domain in a domain zone: the
// domain as-is followed by the zone (RFC 5782 §2.3), without trailing dot.
func DomainQueryName(domain, zone string) string {
	return strings.TrimSuffix(domain, ".") + "." + strings.TrimSuffix(zone, ".")
}
