// Delisting steps.

package check

import (
	"fmt"
)

// listingSteps adds a delisting step per listed block zone.
func (a *analysis) listingSteps() {
	seen := map[string]bool{}
	for _, l := range a.blockListings() {
		k := l.Zone + "|" + l.IP
		if seen[k] {
			continue
		}
		seen[k] = true
		name := a.zoneName(l.Zone)
		url := a.delistURL(l.Zone)
		var s string
		if a.policyOnly(l) {
			s = fmt.Sprintf("%s is on %s (%s) by policy, not for spam: PBL listing is policy, not spam; ask your ISP to set the IP up as an MTA (or remove it yourself if it really is a mail server), or send through your provider's smarthost", l.IP, name, codesText(l))
		} else {
			s = fmt.Sprintf("find and fix the cause of the %s listing of %s (%s), then request delisting", name, l.IP, codesText(l))
		}
		if url != "" {
			s += ": " + url
		}
		a.step(s)
	}
}
