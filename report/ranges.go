package report

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// maxRangeParts caps the runs AddrRanges spells out before "…".
const maxRangeParts = 6

// AddrRanges names a set of addresses compactly for a sentence: sorted in
// numeric order, duplicates dropped, consecutive addresses collapsed into
// runs ("127.0.0.3–127.0.0.15 (13 addresses)"), at most a few runs before
// "… (N addresses in all)". Strings that are not addresses (e.g. domains)
// follow, in the order given. Only the addresses given appear: a network or
// broadcast address of a CIDR is named only when it was itself checked.
func AddrRanges(items []string) string {
	var addrs []netip.Addr
	var other []string
	for _, s := range items {
		if a, err := netip.ParseAddr(s); err == nil {
			addrs = append(addrs, a.Unmap())
		} else if s != "" && !slices.Contains(other, s) {
			other = append(other, s)
		}
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	addrs = slices.Compact(addrs)
	var parts []string
	total := len(addrs) + len(other)
	for i := 0; i < len(addrs); {
		j := i
		for j+1 < len(addrs) && addrs[j].Next() == addrs[j+1] {
			j++
		}
		switch n := j - i + 1; {
		case n == 1:
			parts = append(parts, addrs[i].String())
		case n == 2:
			parts = append(parts, addrs[i].String(), addrs[j].String())
		default:
			parts = append(parts, fmt.Sprintf("%s–%s (%d addresses)", addrs[i], addrs[j], n))
		}
		i = j + 1
	}
	parts = append(parts, other...)
	if len(parts) > maxRangeParts {
		parts = append(parts[:maxRangeParts-1], fmt.Sprintf("… (%d addresses in all)", total))
	}
	return joinList(parts)
}

// joinList joins "a", "a and b", "a, b and c"; a trailing "… (N in all)"
// is joined with a comma.
func joinList(s []string) string {
	switch {
	case len(s) == 0:
		return ""
	case len(s) == 1:
		return s[0]
	case strings.HasPrefix(s[len(s)-1], "…"):
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// AddrCount is "1 address" or "N addresses".
func AddrCount(n int) string {
	if n == 1 {
		return "1 address"
	}
	return fmt.Sprintf("%d addresses", n)
}
