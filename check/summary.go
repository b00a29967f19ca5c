// The one-paragraph summary.

package check

import (
	"fmt"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// summary writes the facts of the one-paragraph summary, without a verdict:
// report.Finalize, which alone decides the verdict, puts it in front.
func (a *analysis) summary() string {
	r := a.r
	who := joinAddrs(a.checked)
	if who == "" {
		who = "the address"
	}
	var parts []string
	// DNSBL.
	if r.DNSBL != nil {
		blockZones, checkedZones, errZones := map[string]bool{}, map[string]bool{}, map[string]bool{}
		var listedNames []string
		eachResult(r.DNSBL, func(res *dnsbl.Result) {
			if a.zoneType(res.Zone) != dnsbl.TypeBlock {
				return
			}
			blockZones[res.Zone] = true
			switch res.Status {
			case dnsbl.StatusListed, dnsbl.StatusClean:
				checkedZones[res.Zone] = true
			case dnsbl.StatusError, dnsbl.StatusNotDone:
				errZones[res.Zone] = true
			}
		})
		for _, l := range a.blockListings() {
			n := a.zoneName(l.Zone)
			if a.policyOnly(l) {
				n += " (policy)"
			}
			if !containsStr(listedNames, n) {
				listedNames = append(listedNames, n)
			}
		}
		s := ""
		if len(a.checked) > 1 {
			s = a.rangeDNSBLFacts()
		} else if len(listedNames) > 0 {
			s = fmt.Sprintf("%s is listed on %d of %d block lists (%s)", who, len(listedNames), len(blockZones), strings.Join(listedNames, ", "))
		} else if len(checkedZones) > 0 {
			s = fmt.Sprintf("%s is not listed on any of the %d block lists checked", who, len(checkedZones))
		} else if len(blockZones) > 0 {
			s = fmt.Sprintf("the block lists could not be checked for %s", who)
		}
		if s != "" {
			if n := len(errZones); n > 0 && len(checkedZones) > 0 {
				s += fmt.Sprintf(" (%d could not be checked)", n)
			}
			parts = append(parts, s)
		}
	}
	// SMTP.
	if r.SMTP != nil {
		if r.SMTP.Port25Blocked {
			parts = append(parts, "outbound port 25 is blocked by this network, so no MX could be asked")
		} else if s := a.smtpSummary(); s != "" {
			parts = append(parts, s)
		}
	}
	// rDNS.
	parts = append(parts, a.rdnsFacts()...)
	for _, c := range a.out {
		if c.Kind == KindEchoedIPMismatch {
			parts = append(parts, "an MX saw "+c.Evidence["echoed_ip"]+", so mail leaves through another address than the one checked")
			break
		}
	}
	return strings.Join(parts, "; ")
}

func (a *analysis) smtpSummary() string {
	type mxState struct{ refused, untied, accepted, failed bool }
	states := map[string]*mxState{}
	var order []string
	cited := map[string]bool{}
	var citedOrder []string
	for _, pr := range a.probes {
		k := pr.domain + "|" + pr.mx
		st, ok := states[k]
		if !ok {
			st = &mxState{}
			states[k] = st
			order = append(order, k)
		}
		switch {
		case isRefusal(pr.p) || rePTRRefusal(pr.p):
			st.refused = true
			c := pr.p.CitedList
			if c == "" {
				if in := providerInternal(pr, replyText(pr.p)); in != nil {
					c = in.name
				}
			}
			if c != "" && !cited[c] {
				cited[c] = true
				citedOrder = append(citedOrder, c)
			}
		case pr.p.Status == smtpcheck.StatusRejected:
			if _, ok := report.SenderCause(*pr.p); ok {
				st.refused = true
			} else {
				st.untied = true
			}
		case pr.p.Status == smtpcheck.StatusAccepted:
			st.accepted = true
		default:
			st.failed = true
		}
	}
	if len(order) == 0 {
		return ""
	}
	ref, untied, acc, fail := 0, 0, 0, 0
	for _, k := range order {
		switch st := states[k]; {
		case st.refused:
			ref++
		case st.untied:
			untied++
		case st.failed:
			fail++
		case st.accepted:
			acc++
		}
	}
	obj := "it" // the checked address
	if len(a.checked) == 0 {
		obj = "the probe" // the smtp command checks no address
	}
	var s []string
	if ref > 0 {
		x := fmt.Sprintf("%d of %d MX rejected %s", ref, len(order), obj)
		if len(citedOrder) > 0 {
			x += " citing " + joinAnd(citedOrder)
		}
		s = append(s, x)
	}
	if untied > 0 {
		s = append(s, fmt.Sprintf("%d of %d MX refused %s for a reason that could not be tied to the sending IP or sender", untied, len(order), obj))
	}
	if acc > 0 {
		s = append(s, fmt.Sprintf("%d of %d MX accepted at RCPT", acc, len(order)))
	}
	if fail > 0 {
		s = append(s, fmt.Sprintf("%d of %d MX could not be tested", fail, len(order)))
	}
	return strings.Join(s, ", ")
}

// eachResult calls fn with every result of d, clean ones included: when
// d.All is set (a dnsbl run), d.Results keeps only those that are not clean.
func eachResult(d *report.DNSBL, fn func(*dnsbl.Result)) {
	if d.All != nil {
		d.All.Each(func(r *dnsbl.Result) bool { fn(r); return true })
		return
	}
	for i := range d.Results {
		fn(&d.Results[i])
	}
}
