package rdns

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// genericWords are labels or words that mark ISP-assigned, dynamic or
// customer address space in PTR names. They are matched as whole words
// (split on dots, dashes, underscores and letter/digit changes), so
// "mail.dslab.org" does not match "dsl".
var genericWords = map[string]bool{
	"dynamic": true, "dyn": true, "dynip": true, "dhcp": true, "pool": true, "pools": true,
	"dsl": true, "adsl": true, "vdsl": true, "xdsl": true, "sdsl": true, "dslam": true,
	"cable": true, "cablemodem": true, "ppp": true, "pppoe": true, "dial": true, "dialup": true,
	"dialin": true, "client": true, "clients": true, "broadband": true, "bb": true,
	"customer": true, "customers": true, "cust": true, "cpe": true, "residential": true,
	"subscriber": true, "unassigned": true, "ftth": true, "fttx": true, "gprs": true,
	"nat": true, "dip": true, "hsd": true, "wireless": true,
}

// genericPairs are two-word phrases that are generic only together.
var genericPairs = map[string]bool{"static-ip": true, "static-host": true, "ip-static": true}

// twoLevelSLDs are second-level labels under which registered domains
// sit one level lower (example.co.uk).
var twoLevelSLDs = map[string]bool{"co": true, "com": true, "net": true, "org": true, "ac": true, "gov": true, "edu": true, "ne": true, "or": true, "gr": true, "ad": true}

// Generic reports whether ptr looks like a generic/dynamic PTR of ip: it
// embeds the address (dotted, dashed, zero-padded, run together, reversed or
// in hex) or contains a word such as dynamic, dsl, pool, dhcp, cable, ppp,
// client or customer in its host part. The second result says why.
func Generic(ptr string, ip netip.Addr) (bool, string) {
	name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(ptr), "."))
	if name == "" || len(name) > 255 {
		return false, ""
	}
	ip = ip.Unmap()
	if ip.IsValid() {
		if why := embedsIP(name, ip); why != "" {
			return true, why
		}
	}
	host := hostPart(name)
	words := splitWords(host)
	for i, w := range words {
		if genericWords[w] {
			return true, fmt.Sprintf("contains the word %q", w)
		}
		if i+1 < len(words) && genericPairs[w+"-"+words[i+1]] {
			return true, fmt.Sprintf("contains %q", w+"-"+words[i+1])
		}
	}
	return false, ""
}

// hostPart strips the registered domain (the last two labels, three under
// co.uk-like suffixes) so that a company called "dsl-telecom.de" does not
// make every PTR in its domain generic.
func hostPart(name string) string {
	labels := strings.Split(name, ".")
	n := 2
	if len(labels) >= 3 && len(labels[len(labels)-1]) == 2 && twoLevelSLDs[labels[len(labels)-2]] {
		n = 3
	}
	if len(labels) <= n {
		return ""
	}
	return strings.Join(labels[:len(labels)-n], ".")
}

// splitWords splits on every non-alphanumeric character and at every change
// between letters and digits: "dip0" → dip, 0; "ppp-94" → ppp, 94.
func splitWords(s string) []string {
	var out []string
	start := -1
	kind := 0 // 1 letter, 2 digit
	for i := 0; i <= len(s); i++ {
		k := 0
		if i < len(s) {
			switch c := s[i]; {
			case c >= 'a' && c <= 'z':
				k = 1
			case c >= '0' && c <= '9':
				k = 2
			}
		}
		if k != kind {
			if start >= 0 && kind != 0 {
				out = append(out, s[start:i])
			}
			start, kind = i, k
		}
	}
	return out
}

// embedsIP returns why name embeds ip, or "".
func embedsIP(name string, ip netip.Addr) string {
	if ip.Is4() {
		return embedsIPv4(name, ip)
	}
	return embedsIPv6(name, ip)
}

func embedsIPv4(name string, ip netip.Addr) string {
	o := ip.As4()
	// Decimal runs anywhere in the name: 203-0-113-7, 203.0.113.7,
	// ip203-0-113-7, 007.113.000.203, host203-0-113-7.range203-0.
	var runs []int
	for _, w := range splitWords(name) {
		if w[0] >= '0' && w[0] <= '9' {
			if len(w) <= 3 {
				v, _ := strconv.Atoi(w)
				runs = append(runs, v)
			} else {
				runs = append(runs, -1)
				// Run together: 203000113007 or 2030113 7.
				if w == fmt.Sprintf("%03d%03d%03d%03d", o[0], o[1], o[2], o[3]) || w == fmt.Sprintf("%d%d%d%d", o[0], o[1], o[2], o[3]) {
					return fmt.Sprintf("embeds the IP address run together (%s)", w)
				}
				if w == fmt.Sprintf("%03d%03d%03d%03d", o[3], o[2], o[1], o[0]) || w == fmt.Sprintf("%d%d%d%d", o[3], o[2], o[1], o[0]) {
					return fmt.Sprintf("embeds the IP address reversed and run together (%s)", w)
				}
			}
		} else {
			runs = append(runs, -1)
		}
	}
	fwd := []int{int(o[0]), int(o[1]), int(o[2]), int(o[3])}
	rev := []int{int(o[3]), int(o[2]), int(o[1]), int(o[0])}
	if hasSeq(runs, fwd) {
		return "embeds the IP address " + ip.String()
	}
	if hasSeq(runs, rev) {
		return "embeds the IP address reversed"
	}
	// The last three octets are enough: adsl-113-7-... is rare, but
	// 0-113-7.pool or x.0.113.7 are common.
	if hasSeq(runs, fwd[1:]) {
		return "embeds the last three octets of the IP address"
	}
	if hasSeq(runs, rev[:3]) {
		return "embeds the last three octets of the IP address, reversed"
	}
	// Hex: p5dc5a1b2.dip0.t-ipconnect.de is 93.197.161.178.
	hx := hex.EncodeToString(o[:])
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
		if strings.Contains(w, hx) {
			return fmt.Sprintf("embeds the IP address in hex (%s)", hx)
		}
	}
	return ""
}

func hasSeq(runs, seq []int) bool {
	for i := 0; i+len(seq) <= len(runs); i++ {
		ok := true
		for j, v := range seq {
			if runs[i+j] != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func embedsIPv6(name string, ip netip.Addr) string {
	b := ip.As16()
	full := hex.EncodeToString(b[:])
	squashed := strings.NewReplacer(".", "", "-", "", "_", "").Replace(name)
	if strings.Contains(squashed, full) {
		return "embeds the IPv6 address in hex"
	}
	rev := []byte(full)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if strings.Contains(squashed, string(rev)) {
		return "embeds the IPv6 address as reversed nibbles"
	}
	// Labels like 2001-db8--7 or 2001-0db8-0000-...-0007.
	for _, l := range strings.Split(name, ".") {
		if strings.Count(l, "-") < 2 {
			continue
		}
		cand := strings.ReplaceAll(l, "-", ":")
		for _, pre := range []string{"", "ip", "ip6", "ipv6", "host"} {
			if a, err := netip.ParseAddr(strings.TrimPrefix(cand, pre+":")); err == nil && a == ip {
				return "embeds the IPv6 address " + ip.String()
			}
			if a, err := netip.ParseAddr(strings.TrimPrefix(cand, pre)); err == nil && a == ip {
				return "embeds the IPv6 address " + ip.String()
			}
		}
	}
	return ""
}
