package mailauth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/blprobe/blprobe/internal/dnsclient"
)

// Suggestion is the SPF record to publish so that a new address passes.
type Suggestion struct {
	Domain string `json:"domain"`
	Add    string `json:"add"`    // the term added, e.g. "ip4:192.0.2.7"
	Record string `json:"record"` // the record to publish
	Bytes  int    `json:"bytes"`
	// Lookups and VoidLookups count the suggested record as SPF.Lookups does.
	Lookups     int `json:"lookups"`
	VoidLookups int `json:"void_lookups"`
	// Verified is the result the SPF library gives the new address when
	// the suggested record stands in for the published one.
	Verified Result   `json:"verified"`
	Warnings []string `json:"warnings"`
}

// AddTerm returns rec with add (an ip4:/ip6: term) inserted where it takes
// effect and changes nothing else: before the "all" mechanism, or else
// before a redirect= modifier (which only applies when no term matched,
// RFC 7208 §6.1), or else at the end. With front set it goes right after
// "v=spf1", ahead of any term that could match the address first (e.g. an
// explicit "-ip4:…"). Whitespace is normalised to single spaces.
func AddTerm(rec, add string, front bool) string {
	fields := strings.Fields(rec)
	if len(fields) == 0 || !strings.EqualFold(fields[0], "v=spf1") {
		fields = append([]string{"v=spf1"}, fields...)
	}
	at := len(fields)
	if front {
		at = 1
	} else {
		for i := 1; i < len(fields); i++ {
			t := parseTerm(fields[i])
			if t.qual != 0 && t.name == "all" {
				at = i
				break
			}
			if t.qual == 0 && t.name == "redirect" && at == len(fields) {
				at = i // keep looking: an all term later wins
			}
		}
	}
	out := append([]string{}, fields[:at]...)
	out = append(out, add)
	out = append(out, fields[at:]...)
	return strings.Join(out, " ")
}

// spfTerm is the ip4:/ip6: term authorising p (a single address without
// its length).
func spfTerm(p netip.Prefix) string {
	p = p.Masked()
	mech := "ip4:"
	if p.Addr().Is6() {
		mech = "ip6:"
	}
	if p.IsSingleIP() {
		return mech + p.Addr().String()
	}
	return mech + p.String()
}

// Suggest returns the record that domain should publish so that every
// address of p passes, starting from cur (its SPF for an address of p).
// The suggestion is re-evaluated by the SPF library for p's first address
// with the record standing in for the published one; when inserting before
// "all" gives fail, softfail or neutral (an earlier term matches the address
// first), the term goes to the front; a record that is a permerror stays one
// and says so in Warnings. old, if valid, is kept authorised when the domain
// has no record yet. It returns nil when the address already passes, the
// published record could not be read (temperror), or there is more than one.
func Suggest(ctx context.Context, ex dnsclient.Exchanger, cur SPF, p netip.Prefix, old netip.Addr) *Suggestion {
	p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p)).Masked()
	if cur.Result == Pass || cur.Result == TempError {
		return nil
	}
	if cur.Record == "" && cur.Result != None {
		return nil // e.g. two SPF records: they must be merged first (RFC 7208 §4.5)
	}
	add := spfTerm(p)
	sg := &Suggestion{Domain: cur.Domain, Add: add, Warnings: []string{}}
	rec := cur.Record
	if rec == "" {
		rec = "v=spf1"
		if old.IsValid() && old.Unmap() != p.Addr() {
			rec += " " + spfTerm(netip.PrefixFrom(old.Unmap(), old.Unmap().BitLen()))
		}
		rec += " ~all"
		if cur.nxdomain {
			sg.Warnings = append(sg.Warnings, fmt.Sprintf("%s does not exist in the DNS (NXDOMAIN): check the domain's spelling first; publish this only if %s is yours and you create it", cur.Domain, cur.Domain))
		}
		sg.Warnings = append(sg.Warnings, fmt.Sprintf("%s has no SPF record: this one authorises only the addresses it lists; add every other host that sends mail for %s before publishing it", cur.Domain, cur.Domain))
	}
	r := &resolver{c: dnsclient.Resolve(ex), v6: p.Addr().Is6()}
	for _, front := range []bool{false, true} {
		sg.Record = AddTerm(rec, add, front)
		r.override = map[string]string{normName(cur.Domain): sg.Record}
		ev := checkSPF(ctx, r, cur.Domain, p.Addr())
		sg.Verified, sg.Lookups, sg.VoidLookups = ev.Result, ev.Lookups, ev.VoidLookups
		if ev.Result != Fail && ev.Result != SoftFail && ev.Result != Neutral {
			break // pass, or a record broken beyond the order of its terms
		}
	}
	sg.Bytes = len(sg.Record)
	if sg.Lookups > LookupLimit {
		sg.Warnings = append(sg.Warnings, fmt.Sprintf("the record needs %d DNS lookups, over the limit of %d (RFC 7208 §4.6.4): receivers return permerror; replace includes by the ip4:/ip6: ranges they list", sg.Lookups, LookupLimit))
	}
	if sg.VoidLookups > VoidLimit {
		sg.Warnings = append(sg.Warnings, fmt.Sprintf("the record has %d void lookups, over the limit of %d (RFC 7208 §4.6.4): remove the terms naming absent hosts", sg.VoidLookups, VoidLimit))
	}
	if sg.Bytes > MaxRecordBytes {
		sg.Warnings = append(sg.Warnings, fmt.Sprintf("the record is %d bytes, over %d (RFC 7208 §3.4): the DNS answer may not fit in UDP", sg.Bytes, MaxRecordBytes))
	}
	if sg.Bytes > 255 {
		sg.Warnings = append(sg.Warnings, "the record is longer than 255 characters: publish it as several quoted strings of at most 255 characters in one TXT record (RFC 7208 §3.3)")
	}
	if sg.Verified != Pass {
		sg.Warnings = append(sg.Warnings, fmt.Sprintf("even with %s the SPF evaluation of %s gives %s: fix the record's errors first", add, p.Addr(), sg.Verified))
	}
	return sg
}

// unmapBits is how many prefix bits an IPv4-mapped prefix loses when unmapped.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return 96
	}
	return 0
}
