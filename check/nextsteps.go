// Delisting steps.

package check

import (
	"fmt"

	"github.com/blprobe/blprobe/report"
)

// listingSteps adds one delisting step per listed block zone and codes,
// naming its addresses as ranges; a listing an MX cited comes first.
func (a *analysis) listingSteps() {
	keys, ips, first := a.listingGroups()
	for _, k := range keys {
		l := first[k]
		who := report.AddrRanges(ips[k])
		name := a.zoneName(l.Zone)
		url := a.delistURL(l.Zone)
		var s string
		if a.policyOnly(l) {
			s = fmt.Sprintf("%s %s on %s (%s) by policy, not for spam: ask your ISP to set the address up as an MTA (or remove it yourself if it really is a mail server), or send through your provider's smarthost", who, isAre(len(ips[k])), name, codesText(l))
		} else {
			s = fmt.Sprintf("find and fix the cause of the %s listing of %s (%s), then request delisting", name, who, codesText(l))
		}
		if url != "" {
			s += ": " + url
		}
		prio := prioListing
		if a.cited(l.Zone) {
			prio = prioCause
		}
		a.stepAt(prio, s)
	}
}
