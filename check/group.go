package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/report"
)

// Next-step priorities: what caused a 5xx first, then what will cause one,
// then hygiene.
const (
	prioCause   = 0 // an MX refused because of it (a cited listing, a PTR refusal, the wrong IP, port 25)
	prioListing = 1 // a listing no MX cited in this run: others may refuse for it
	prioRisk    = 2 // will cause refusals (a missing PTR, a bad HELO)
	prioCheck   = 3 // probes that gave no verdict: what to look at
	prioHealth  = 4 // hygiene: dead zones, resolver choice
)

// stepAt adds a next step with a priority; a.step adds at prioRisk.
func (a *analysis) stepAt(prio int, s string) {
	if a.prio == nil {
		a.prio = map[string]int{}
	}
	if p, ok := a.prio[s]; ok {
		if prio < p {
			a.prio[s] = prio
		}
		return
	}
	a.prio[s] = prio
	a.steps = append(a.steps, s)
}

// orderedSteps returns the steps by priority, stable within one.
func (a *analysis) orderedSteps() []string {
	out := append([]string(nil), a.steps...)
	sort.SliceStable(out, func(i, j int) bool { return a.priority(out[i]) < a.priority(out[j]) })
	return out
}

func (a *analysis) priority(s string) int {
	if p, ok := a.prio[s]; ok {
		return p
	}
	return prioRisk
}

// PTR issue kinds, in the order they are reported.
const (
	ptrNone      = "no_ptr"
	ptrNotFCrDNS = "not_fcrdns"
	ptrGeneric   = "generic"
)

func ptrKind(d report.RDNS) string {
	switch {
	case d.Error != "" && len(d.PTR) == 0:
		return ""
	case len(d.PTR) == 0:
		return ptrNone
	case !d.ForwardConfirmed && d.Error == "":
		return ptrNotFCrDNS
	case d.Generic:
		return ptrGeneric
	}
	return ""
}

// ptrSentence says what is wrong with one address's reverse DNS as a whole
// sentence ("" when nothing is).
func ptrSentence(d report.RDNS) string {
	switch ptrKind(d) {
	case ptrNone:
		return d.IP + " has no PTR record"
	case ptrNotFCrDNS:
		return fmt.Sprintf("the PTR of %s (%s) is not forward-confirmed", d.IP, strings.Join(d.PTR, ", "))
	case ptrGeneric:
		s := fmt.Sprintf("the PTR of %s (%s) looks generic", d.IP, strings.Join(d.PTR, ", "))
		if d.GenericWhy != "" {
			s += " (" + d.GenericWhy + ")"
		}
		return s
	}
	return ""
}

// ptrGroupSentence says the same of several addresses with one issue.
func ptrGroupSentence(kind string, ips []string) string {
	n := report.AddrCount(len(ips))
	r := report.AddrRanges(ips)
	switch kind {
	case ptrNone:
		return fmt.Sprintf("%s have no PTR record: %s", n, r)
	case ptrNotFCrDNS:
		return fmt.Sprintf("the PTRs of %s are not forward-confirmed: %s", n, r)
	default:
		return fmt.Sprintf("the PTRs of %s look generic: %s", n, r)
	}
}

// ptrStep is the next step for one PTR issue of one or more addresses.
func (a *analysis) ptrStep(kind string, ips []string) string {
	if len(ips) == 1 {
		ip := ips[0]
		switch kind {
		case ptrNone:
			return fmt.Sprintf("set a PTR for %s at your ISP/hosting provider: e.g. %s, and make that name resolve to %s", ip, a.exampleName(ip), ip)
		case ptrNotFCrDNS:
			return fmt.Sprintf("make the PTR name of %s resolve back to %s (an A/AAAA record), or set a PTR that does, e.g. %s", ip, ip, a.exampleName(ip))
		default:
			return fmt.Sprintf("replace the generic-looking PTR of %s with a name of your mail server (e.g. %s) that resolves back to %s", ip, a.exampleName(ip), ip)
		}
	}
	r := report.AddrRanges(ips)
	switch kind {
	case ptrNone:
		return fmt.Sprintf("set a PTR for %s at your ISP/hosting provider: a name for each (e.g. mail.example.com) that resolves back to that address", r)
	case ptrNotFCrDNS:
		return fmt.Sprintf("make the PTR names of %s resolve back to their addresses (A/AAAA records)", r)
	default:
		return fmt.Sprintf("replace the generic-looking PTRs of %s with names of your mail servers that resolve back to them", r)
	}
}

// ptrGroups groups the addresses with a PTR issue by kind, in kind order.
func (a *analysis) ptrGroups() (kinds []string, ips map[string][]string) {
	ips = map[string][]string{}
	for _, d := range a.r.RDNS {
		if k := ptrKind(d); k != "" {
			ips[k] = append(ips[k], d.IP)
		}
	}
	for _, k := range []string{ptrNone, ptrNotFCrDNS, ptrGeneric} {
		if len(ips[k]) > 0 {
			kinds = append(kinds, k)
		}
	}
	return kinds, ips
}

// rdnsFacts are the reverse-DNS facts of the summary: one sentence per
// address for a single address, counts and ranges for several.
func (a *analysis) rdnsFacts() []string {
	rs := a.r.RDNS
	if len(rs) == 0 {
		return nil
	}
	if len(rs) == 1 {
		d := rs[0]
		switch s := ptrSentence(d); {
		case s != "":
			return []string{s}
		case d.Error == report.RDNSNotDone:
			return []string{fmt.Sprintf("the reverse DNS of %s was not checked (interrupted)", d.IP)}
		case d.Error != "":
			return []string{fmt.Sprintf("the reverse DNS of %s could not be checked", d.IP)}
		case len(d.PTR) > 0:
			return []string{fmt.Sprintf("its reverse DNS (%s) is forward-confirmed", d.PTR[0])}
		}
		return nil
	}
	var out []string
	kinds, ips := a.ptrGroups()
	for _, k := range kinds {
		out = append(out, ptrGroupSentence(k, ips[k]))
	}
	var good, failed, notDone []string
	for _, d := range rs {
		switch {
		case d.Error == report.RDNSNotDone:
			notDone = append(notDone, d.IP)
		case d.Error != "" && ptrKind(d) == "":
			failed = append(failed, d.IP)
		case ptrKind(d) == "" && len(d.PTR) > 0:
			good = append(good, d.IP)
		}
	}
	if len(good) > 0 {
		out = append(out, fmt.Sprintf("%s of %d have forward-confirmed reverse DNS", report.AddrCount(len(good)), len(rs)))
	}
	if len(failed) > 0 {
		out = append(out, fmt.Sprintf("the reverse DNS of %s could not be checked: %s", report.AddrCount(len(failed)), report.AddrRanges(failed)))
	}
	if len(notDone) > 0 {
		out = append(out, fmt.Sprintf("the reverse DNS of %s was not checked (interrupted)", report.AddrCount(len(notDone))))
	}
	return out
}

// rangeDNSBLFacts is the dnsbl fact of the summary when several addresses
// were checked: "4 of 16 addresses are listed (zen.test: 4); 12 clean".
func (a *analysis) rangeDNSBLFacts() string {
	type state struct{ listed, clean, failed bool }
	st := map[string]*state{}
	var order []string
	perZone := map[string]map[string]bool{}
	var zoneOrder []string
	eachResult(a.r.DNSBL, func(res *dnsbl.Result) {
		if a.zoneType(res.Zone) != dnsbl.TypeBlock || res.ErrorKind == dnsbl.ErrNotApplicable {
			return
		}
		s, ok := st[res.IP]
		if !ok {
			s = &state{}
			st[res.IP] = s
			order = append(order, res.IP)
		}
		switch res.Status {
		case dnsbl.StatusListed:
			s.listed = true
			name := a.zoneName(res.Zone)
			if perZone[name] == nil {
				perZone[name] = map[string]bool{}
				zoneOrder = append(zoneOrder, name)
			}
			perZone[name][res.IP] = true
		case dnsbl.StatusClean:
			s.clean = true
		default:
			s.failed = true
		}
	})
	if len(order) == 0 {
		return ""
	}
	listed, clean, unchecked := 0, 0, 0
	for _, ip := range order {
		switch s := st[ip]; {
		case s.listed:
			listed++
		case s.failed:
			unchecked++
		case s.clean:
			clean++
		}
	}
	var parts []string
	if listed > 0 {
		var zs []string
		for _, z := range zoneOrder {
			zs = append(zs, fmt.Sprintf("%s: %d", z, len(perZone[z])))
		}
		verb := "are"
		if listed == 1 {
			verb = "is"
		}
		parts = append(parts, fmt.Sprintf("%d of %s %s listed (%s)", listed, report.AddrCount(len(order)), verb, strings.Join(zs, ", ")))
	} else {
		parts = append(parts, fmt.Sprintf("none of %s is listed", report.AddrCount(len(order))))
	}
	if clean > 0 {
		parts = append(parts, fmt.Sprintf("%d clean", clean))
	}
	if unchecked > 0 {
		parts = append(parts, fmt.Sprintf("%d could not be fully checked", unchecked))
	}
	return strings.Join(parts, "; ")
}

// listingGroups groups the listings on block zones per zone and codes, in
// order, for one next step each.
func (a *analysis) listingGroups() (keys []string, ips map[string][]string, first map[string]dnsbl.Result) {
	ips, first = map[string][]string{}, map[string]dnsbl.Result{}
	for _, l := range a.blockListings() {
		k := l.Zone + "|" + strings.Join(l.Codes, ",")
		if _, ok := first[k]; !ok {
			keys = append(keys, k)
			first[k] = l
		}
		if !containsStr(ips[k], l.IP) {
			ips[k] = append(ips[k], l.IP)
		}
	}
	return keys, ips, first
}

// cited reports whether a refusing probe cited zone (exactly or by provider).
func (a *analysis) cited(zone string) bool {
	for _, pr := range a.probes {
		if pr.p.CitedList == "" || !isRefusal(pr.p) {
			continue
		}
		if ex, prov := zoneMatches(pr.p.CitedList, zone); ex || prov {
			return true
		}
	}
	return false
}
