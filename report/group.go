package report

import (
	"fmt"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
)

// RDNSNotDone is the Error of a reverse-DNS entry that the run was
// interrupted before it finished: it counts as not_done, once per run, not
// as one failure per address.
const RDNSNotDone = "not_done: the run was interrupted before this check finished"

// maxSingles is how many similar problems are listed one by one before they
// are grouped into one line naming the addresses as ranges.
const maxSingles = 3

// rdnsProblems is the reverse-DNS part of [Report.Problems]: unfinished
// checks once, failures one by one or, for many addresses, grouped.
func rdnsProblems(rs []RDNS) []Problem {
	var notDone, failed []string
	example := ""
	for _, d := range rs {
		switch {
		case d.Error == RDNSNotDone:
			notDone = append(notDone, d.IP)
		case d.Error != "":
			failed = append(failed, d.IP)
			if example == "" {
				example = d.Error
			}
		}
	}
	var out []Problem
	if len(failed) > maxSingles {
		out = append(out, Problem{VerdictInconclusive, fmt.Sprintf("the reverse DNS of %s could not be checked (%s), e.g.: %s", AddrCount(len(failed)), AddrRanges(failed), example)})
	} else {
		for _, d := range rs {
			if d.Error != "" && d.Error != RDNSNotDone {
				out = append(out, Problem{VerdictInconclusive, fmt.Sprintf("the reverse DNS of %s could not be checked: %s", d.IP, d.Error)})
			}
		}
	}
	if len(notDone) > 0 {
		out = append(out, Problem{VerdictInconclusive, fmt.Sprintf("reverse DNS: %s not done (interrupted): %s", AddrCount(len(notDone)), AddrRanges(notDone))})
	}
	return out
}

// ResolverRefusal returns one diagnosis when the resolver answered REFUSED
// for every zone of the run, e.g. "your resolver refuses DNSBL queries
// (REFUSED from 127.0.53.53 for 10 of 10 zones): use your own recursive
// resolver". Then the zones are not at fault and one line says so.
func ResolverRefusal(r *Report) (string, bool) {
	if r == nil || r.DNSBL == nil || len(r.DNSBL.Zones) == 0 {
		return "", false
	}
	refused := refusedZones(r.DNSBL)
	if len(refused) < len(r.DNSBL.Zones) {
		return "", false
	}
	from := strings.Join(r.Resolvers, ", ")
	if from == "" {
		from = "the resolver"
	}
	return fmt.Sprintf("your resolver refuses DNSBL queries (REFUSED from %s for %d of %d zones): use your own recursive resolver",
		from, len(refused), len(r.DNSBL.Zones)), true
}

// refusedZones is the set of unhealthy/unknown zones whose test entries or
// lookups were answered REFUSED.
func refusedZones(d *DNSBL) map[string]bool {
	out := map[string]bool{}
	for _, z := range d.Zones {
		if z.Health == dnsbl.HealthHealthy || z.Health == dnsbl.HealthNotDone {
			continue
		}
		for _, e := range z.Evidence {
			if e.Rcode == "REFUSED" || strings.Contains(e.Error, "REFUSED") {
				out[z.Zone] = true
			}
		}
	}
	for _, res := range d.Results {
		if res.ErrorKind == dnsbl.ErrRefused {
			out[res.Zone] = true
		}
	}
	return out
}

// dnsblProblems is the dnsbl part of [Report.Problems]. Each fact is said
// once: listings (grouped per zone and codes when many addresses share
// them); one line per zone that could not be used, whose lookups it covers
// (zoneLine gives its wording, e.g. from a correlation); the lookups of
// healthy zones that failed, grouped per zone and error kind; or, when the
// resolver refused every zone, one diagnosis instead of all of those.
func dnsblProblems(r *Report, zoneLine map[string]string) (lst, inc []Problem) {
	d := r.DNSBL
	types := zoneTypes(d)
	health := map[string]dnsbl.ZoneHealth{}
	for _, z := range d.Zones {
		health[z.Zone] = z
	}
	refusal, allRefused := ResolverRefusal(r)
	type lkey struct{ zone, codes string }
	listed := map[lkey][]string{}
	firstListed := map[lkey]dnsbl.Result{}
	var lorder []lkey
	type ekey struct {
		zone string
		kind dnsbl.ErrorKind
	}
	errs := map[ekey]int{}
	example := map[ekey]string{}
	var order []ekey
	for _, res := range d.Results {
		switch res.Status {
		case dnsbl.StatusListed:
			// Only hits on block zones count (allow/info never do); a zone
			// missing from the health list is treated as a block list.
			if t, ok := types[res.Zone]; !ok || t == dnsbl.TypeBlock {
				k := lkey{res.Zone, strings.Join(res.Codes, ",")}
				if _, ok := listed[k]; !ok {
					lorder = append(lorder, k)
					firstListed[k] = res
				}
				listed[k] = append(listed[k], res.IP)
			}
		case dnsbl.StatusError, dnsbl.StatusNotDone:
			k := ekey{res.Zone, res.ErrorKind}
			if res.Status == dnsbl.StatusNotDone {
				k.kind = "not_done"
			} else if res.ErrorKind == dnsbl.ErrNotApplicable {
				continue // e.g. an IPv6 address against an IPv4-only zone: nothing to check
			}
			if h, ok := health[res.Zone]; ok && h.Health != dnsbl.HealthHealthy && h.Health != dnsbl.HealthNotDone && k.kind != "not_done" {
				continue // the zone's own line below covers its lookups
			}
			if errs[k] == 0 {
				order = append(order, k)
				example[k] = res.Error
			}
			errs[k]++
		}
	}
	for _, k := range lorder {
		ips := listed[k]
		if len(ips) > maxSingles {
			res := firstListed[k]
			msg := fmt.Sprintf("%s are listed in %s", AddrRanges(ips), res.Zone)
			if len(res.Codes) > 0 {
				msg += ": " + codesWithMeanings(res)
			}
			lst = append(lst, Problem{VerdictListed, msg})
			continue
		}
		for _, res := range d.Results {
			if res.Status == dnsbl.StatusListed && res.Zone == k.zone && strings.Join(res.Codes, ",") == k.codes {
				lst = append(lst, Problem{VerdictListed, listedLine(res)})
			}
		}
	}
	if allRefused {
		inc = append(inc, Problem{VerdictInconclusive, refusal})
	}
	for _, k := range order {
		n := errs[k]
		var msg string
		if k.kind == "not_done" {
			msg = fmt.Sprintf("%s: %s not done (interrupted)", k.zone, plural(n, "lookup"))
		} else {
			msg = fmt.Sprintf("%s: %s could not be checked (%s)", k.zone, plural(n, "lookup"), orDash(string(k.kind)))
			if example[k] != "" {
				msg += ": " + example[k]
			}
		}
		inc = append(inc, Problem{VerdictInconclusive, msg})
	}
	if allRefused {
		return lst, inc
	}
	for _, z := range d.Zones {
		if z.Health == dnsbl.HealthHealthy {
			continue
		}
		msg := zoneLine[z.Zone]
		if msg == "" {
			msg = fmt.Sprintf("zone %s is %s", z.Zone, z.Health)
			if z.Problem != "" {
				msg += ": " + z.Problem
			}
			if z.Health != dnsbl.HealthNotDone {
				msg += "; its results were not used"
			}
		}
		inc = append(inc, Problem{VerdictInconclusive, msg})
	}
	return lst, inc
}
