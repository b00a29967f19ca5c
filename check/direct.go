package check

import (
	"fmt"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/report"
)

// NoteDirect says in the report which zones were answered by their own
// nameservers because the resolver was refused; a public-resolver warning
// gets the fix that worked appended.
func NoteDirect(r *report.Report) {
	if r.DNSBL == nil {
		return
	}
	var via []string
	for _, z := range r.DNSBL.Zones {
		if strings.HasPrefix(z.Path, dnsbl.PathDirect+":") {
			via = append(via, z.Zone+" via "+strings.TrimPrefix(z.Path, dnsbl.PathDirect+":"))
		}
	}
	if len(via) == 0 {
		return
	}
	what := "zones were answered through their"
	if len(via) == 1 {
		what = "zone was answered through its"
	}
	fix := fmt.Sprintf("%d %s own nameservers instead of the resolver (--direct): %s", len(via), what, strings.Join(via, ", "))
	for i, w := range r.Warnings {
		if strings.Contains(w, "a public resolver") {
			r.Warnings[i] = w + " The fix that worked here: " + fix + "."
			return
		}
	}
	r.Warnings = append(r.Warnings, fix)
}
