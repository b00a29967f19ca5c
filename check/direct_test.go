package check

import (
	"fmt"
	"strings"
	"testing"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/report"
)

// The public-resolver warning names the fix that worked.
func TestNoteDirect(t *testing.T) {
	r := &report.Report{Warnings: []string{"resolver 8.8.8.8:53 is Google Public DNS, a public resolver: ..."},
		DNSBL: &report.DNSBL{Zones: []dnsbl.ZoneHealth{{Zone: "zen.spamhaus.org", Path: "direct:a.gns.spamhaus.org"}, {Zone: "bl.spamcop.net", Path: "resolver"}}}}
	NoteDirect(r)
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "The fix that worked here: 1 zone was answered through its own nameservers") ||
		!strings.Contains(r.Warnings[0], "zen.spamhaus.org via a.gns.spamhaus.org") {
		t.Errorf("warnings %q", r.Warnings)
	}
	r = &report.Report{DNSBL: &report.DNSBL{Zones: []dnsbl.ZoneHealth{{Zone: "a.test", Path: "direct:ns1"}, {Zone: "b.test", Path: "direct:ns2"}}}}
	NoteDirect(r)
	if len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], fmt.Sprintf("%d zones were answered through their own nameservers", 2)) {
		t.Errorf("warnings %q", r.Warnings)
	}
}
