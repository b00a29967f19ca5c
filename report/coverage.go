package report

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
)

// FamilyCoverage is how many zones applied to the addresses of one IP family.
// A zone that publishes no data for the family (a result of error kind
// not_applicable, e.g. an IPv4-only zone asked about an IPv6 address) does
// not apply.
type FamilyCoverage struct {
	Addresses     int      `json:"addresses"`      // distinct addresses of this family that were checked
	Zones         int      `json:"zones"`          // distinct zones of the run that applied to them
	NotApplicable []string `json:"not_applicable"` // zones of the run that do not answer for this family
}

// Coverage is the per-family coverage of the dnsbl section. Domain targets
// (domain zones) are not counted.
type Coverage struct {
	IPv4 FamilyCoverage `json:"ipv4"`
	IPv6 FamilyCoverage `json:"ipv6"`
}

// NewCoverage starts a coverage from what a run planned to check per family
// (dnsbl.Plan.Families): the number of addresses (IPv6: /64 units), so that
// an address no zone applied to, which has no result, still counts, and the
// selected zones that do not apply to the family, which a run leaves out of
// its zones when it checks no address of theirs (an IPv6-only run against
// IPv4-only zones). [Report.Finalize] fills in the zones that applied.
func NewCoverage(ipv4, ipv6 dnsbl.FamilyPlan) *Coverage {
	fam := func(f dnsbl.FamilyPlan) FamilyCoverage {
		return FamilyCoverage{Addresses: f.Units, NotApplicable: append([]string{}, f.NotApplicable...)}
	}
	return &Coverage{IPv4: fam(ipv4), IPv6: fam(ipv6)}
}

// coverage computes the per-family coverage of d: the addresses of each
// family (at least those of prior, the planned counts), the zones of the run
// whose kind covers the family (ip4, ip6, ip4+ip6) and those that do not,
// plus any zone a not_applicable result or prior (the plan's selection)
// names.
func coverage(d *DNSBL, prior *Coverage) *Coverage {
	type fam struct {
		addrs, applied, na map[string]bool
	}
	newFam := func() *fam { return &fam{map[string]bool{}, map[string]bool{}, map[string]bool{}} }
	v4, v6 := newFam(), newFam()
	for _, z := range d.Zones {
		switch z.Kind {
		case dnsbl.KindIP4:
			v4.applied[z.Zone], v6.na[z.Zone] = true, true
		case dnsbl.KindIP6:
			v6.applied[z.Zone], v4.na[z.Zone] = true, true
		case dnsbl.KindIP46:
			v4.applied[z.Zone], v6.applied[z.Zone] = true, true
		}
	}
	if prior != nil {
		for _, z := range prior.IPv4.NotApplicable {
			v4.na[z] = true
		}
		for _, z := range prior.IPv6.NotApplicable {
			v6.na[z] = true
		}
	}
	for _, res := range d.Results {
		a, err := netip.ParseAddr(res.IP)
		if err != nil {
			continue // a domain target
		}
		f := v4
		if !a.Unmap().Is4() {
			f = v6
		}
		f.addrs[a.Unmap().String()] = true
		if res.Status == dnsbl.StatusError && res.ErrorKind == dnsbl.ErrNotApplicable {
			f.na[res.Zone] = true
			delete(f.applied, res.Zone)
		} else if !f.na[res.Zone] {
			f.applied[res.Zone] = true
		}
	}
	out := func(f *fam, planned int) FamilyCoverage {
		na := []string{}
		for z := range f.na {
			if !f.applied[z] {
				na = append(na, z)
			}
		}
		sort.Strings(na)
		n := len(f.addrs)
		if planned > n {
			n = planned
		}
		return FamilyCoverage{Addresses: n, Zones: len(f.applied), NotApplicable: na}
	}
	var p4, p6 int
	if prior != nil {
		p4, p6 = prior.IPv4.Addresses, prior.IPv6.Addresses
	}
	return &Coverage{IPv4: out(v4, p4), IPv6: out(v6, p6)}
}

// coverageWarnings says, per family, when its addresses were checked against
// fewer zones than the run asked for.
func coverageWarnings(c *Coverage) []string {
	if c == nil {
		return nil
	}
	var ws []string
	for _, f := range []struct {
		name string
		c    FamilyCoverage
	}{{"IPv4", c.IPv4}, {"IPv6", c.IPv6}} {
		if f.c.Addresses == 0 || len(f.c.NotApplicable) == 0 {
			continue
		}
		total := f.c.Zones + len(f.c.NotApplicable)
		addrs := fmt.Sprintf("%d %s address", f.c.Addresses, f.name)
		if f.c.Addresses != 1 {
			addrs += "es"
		}
		ws = append(ws, fmt.Sprintf("%s %s checked against %d of the %d zones of this run: %s %s no %s data (not_applicable), so fewer lists cover %s",
			addrs, wasWere(f.c.Addresses), f.c.Zones, total,
			strings.Join(f.c.NotApplicable, ", "), publish(len(f.c.NotApplicable)), f.name, itThem(f.c.Addresses)))
	}
	return ws
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

func publish(n int) string {
	if n == 1 {
		return "publishes"
	}
	return "publish"
}

func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}
