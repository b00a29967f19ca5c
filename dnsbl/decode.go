package dnsbl

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// maxCodes bounds the distinct A records kept from one answer (a hostile
// server can send thousands over TCP); the lowest are kept.
const maxCodes = 32

var loopback8 = netip.MustParsePrefix("127.0.0.0/8")

type codeRange struct {
	p       netip.Prefix
	meaning string
}

// codeTable maps answer codes (exact IPs or CIDRs) to meanings.
type codeTable struct {
	exact map[netip.Addr]string
	cidrs []codeRange // longest prefix first
}

func newCodeTable(m map[string]string) (codeTable, error) {
	t := codeTable{exact: map[netip.Addr]string{}}
	for k, v := range m {
		p, err := parseCodeKey(k)
		if err != nil {
			return t, err
		}
		if p.Bits() == 32 {
			t.exact[p.Addr()] = v
		} else {
			t.cidrs = append(t.cidrs, codeRange{p, v})
		}
	}
	sort.Slice(t.cidrs, func(i, j int) bool {
		if t.cidrs[i].p.Bits() != t.cidrs[j].p.Bits() {
			return t.cidrs[i].p.Bits() > t.cidrs[j].p.Bits()
		}
		return t.cidrs[i].p.Addr().Less(t.cidrs[j].p.Addr())
	})
	return t, nil
}

// lookup returns the meaning of code (exact entries before CIDRs, longer
// CIDRs before shorter ones).
func (t codeTable) lookup(a netip.Addr) (string, bool) {
	if m, ok := t.exact[a]; ok {
		return m, true
	}
	for _, c := range t.cidrs {
		if c.p.Contains(a) {
			return c.meaning, true
		}
	}
	return "", false
}

func (t codeTable) empty() bool { return len(t.exact) == 0 && len(t.cidrs) == 0 }

// outcome is a decoded answer.
type outcome struct {
	status   Status
	kind     ErrorKind
	err      string
	rcode    string
	codes    []string
	meanings []string
}

// decode interprets the answer to an A query against zone z.
//
// Rules (RFC 5782 §2.1 and §5, and the error answers documented by the
// operators, e.g. https://www.spamhaus.org/news/article/788):
//   - NXDOMAIN: not listed (§2.1) → clean.
//   - NOERROR without any A record (NODATA): clean. §2.1 says every entry
//     MUST have an A record, so a name without one is not a listing; a
//     resolver that answers NODATA for everything is caught by the health
//     check, whose positive test entry must answer an A record.
//   - any A outside 127.0.0.0/8 → error/bad_answer (tampering, parked domain).
//   - any A in the zone's error codes → error/zone_error_code (never a listing).
//   - otherwise listed (allowed on an allow list), with every code, in
//     numeric order (see sortedCodes).
//   - SERVFAIL, REFUSED → their error kinds; other rcodes → dns_error.
func (z *zoneRT) decode(resp *dns.Msg) outcome {
	var addrs []netip.Addr
	if resp.Rcode == dns.RcodeSuccess {
		owners := answerOwners(resp)
		for _, rr := range resp.Answer {
			a, ok := rr.(*dns.A)
			if !ok {
				continue
			}
			if owners != nil && !owners[strings.ToLower(a.Hdr.Name)] {
				return outcome{rcode: rcodeName(resp.Rcode), status: StatusError, kind: ErrBadAnswer,
					err: fmt.Sprintf("answer has an A record of %s, not of the name asked: a forged or confused answer, not a listing", strings.TrimSuffix(a.Hdr.Name, "."))}
			}
			ip, ok := netip.AddrFromSlice(a.A)
			if !ok {
				continue
			}
			addrs = append(addrs, ip.Unmap())
		}
	}
	return z.decodeAddrs(resp.Rcode, addrs)
}

// maxChain bounds the CNAME links followed inside one answer (a hostile
// answer can hold thousands of records).
const maxChain = 8

// answerOwners returns the names whose A records answer resp's question
// (lower-cased): the name asked and the CNAME chain from it that the answer
// holds (RFC 1034 §3.6.2); nil when resp has no question to check against.
func answerOwners(resp *dns.Msg) map[string]bool {
	if len(resp.Question) != 1 {
		return nil
	}
	owners := map[string]bool{strings.ToLower(resp.Question[0].Name): true}
	for hop := 0; hop < maxChain; hop++ { // each pass follows one more link
		grew := false
		for _, rr := range resp.Answer {
			if c, ok := rr.(*dns.CNAME); ok && owners[strings.ToLower(c.Hdr.Name)] && !owners[strings.ToLower(c.Target)] {
				owners[strings.ToLower(c.Target)] = true
				grew = true
			}
		}
		if !grew {
			break
		}
	}
	return owners
}

// sortedCodes returns the distinct addresses of addrs in numeric order, at
// most maxCodes of them (the lowest). Resolvers rotate the records of an
// RRset (RFC 2181 §5: an RRset has no order; BIND rrset-order cyclic), so
// answer order would make the same listing print differently on every run.
func sortedCodes(addrs []netip.Addr) []netip.Addr {
	out := slices.Clone(addrs)
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	out = slices.Compact(out)
	if len(out) > maxCodes {
		out = out[:maxCodes]
	}
	return out
}

// decodeAddrs interprets an rcode and the distinct A records of an answer
// (from DNS or from local zone data), with the rules of decode.
func (z *zoneRT) decodeAddrs(rcode int, addrs []netip.Addr) outcome {
	o := outcome{rcode: rcodeName(rcode)}
	switch rcode {
	case dns.RcodeNameError:
		o.status = StatusClean
		return o
	case dns.RcodeSuccess:
	case dns.RcodeServerFailure:
		o.status, o.kind, o.err = StatusError, ErrServfail, "SERVFAIL: the resolver or the zone's servers failed"
		return o
	case dns.RcodeRefused:
		o.status, o.kind, o.err = StatusError, ErrRefused, "REFUSED: the resolver or the zone refused the query"
		return o
	default:
		o.status, o.kind, o.err = StatusError, ErrDNS, "unexpected DNS response code "+o.rcode
		return o
	}
	addrs = sortedCodes(addrs)
	if len(addrs) == 0 {
		o.status = StatusClean
		return o
	}
	o.codes = make([]string, len(addrs))
	for i, a := range addrs {
		o.codes[i] = a.String()
	}
	var outside, errs []string
	for i, a := range addrs {
		if !a.Is4() || !loopback8.Contains(a) {
			outside = append(outside, o.codes[i])
			continue
		}
		if m, ok := z.errCodes.lookup(a); ok {
			errs = append(errs, o.codes[i]+": "+m)
		}
	}
	switch {
	case len(outside) > 0:
		o.status, o.kind = StatusError, ErrBadAnswer
		o.err = fmt.Sprintf("answer %s outside 127.0.0.0/8: resolver tampering or a parked domain, not a listing", strings.Join(outside, ", "))
		return o
	case len(errs) > 0:
		o.status, o.kind = StatusError, ErrZoneErrorCode
		o.err = "zone error code " + strings.Join(errs, "; ")
		return o
	}
	o.meanings = make([]string, len(addrs))
	for i, a := range addrs {
		o.meanings[i] = z.meaning(a, o.codes[i])
	}
	o.status = StatusListed
	if z.z.Type == TypeAllow {
		o.status = StatusAllowed
	}
	return o
}

// meaning explains one listing code.
func (z *zoneRT) meaning(a netip.Addr, code string) string {
	if m, ok := z.codes.lookup(a); ok {
		return m
	}
	if z.codes.empty() {
		return "listed (code " + code + ")"
	}
	return "listed (code " + code + ", not in the catalogue)"
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}
