// Zones that failed their RFC 5782 test entries or answered through a public resolver.

package check

import (
	"fmt"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/report"
)

// zoneHealth reports zones that failed their RFC 5782 §5 test entries,
// blaming a public resolver when one is in use (Spamhaus answers queries
// through public resolvers with an error code or NXDOMAIN,
// https://www.spamhaus.org/news/article/788/).
func (a *analysis) zoneHealth() {
	if a.r.DNSBL == nil {
		return
	}
	public := ""
	for _, s := range a.r.Resolvers {
		if n := dnsclient.PublicResolver(s); n != "" {
			public = n + " (" + s + ")"
			break
		}
	}
	if public == "" {
		for _, w := range a.r.Warnings {
			if strings.Contains(strings.ToLower(w), "public resolver") {
				public = "a public resolver"
				break
			}
		}
	}
	if _, ok := report.ResolverRefusal(a.r); ok {
		a.stepAt(prioCause, "use your own recursive resolver (e.g. unbound on this host, --resolver 127.0.0.1): the resolver in use refuses DNSBL queries, so no list could be checked")
		return
	}
	for _, h := range a.r.DNSBL.Zones {
		if h.Health != dnsbl.HealthUnhealthy {
			continue
		}
		var failed []string
		for _, e := range h.Evidence {
			if e.OK {
				continue
			}
			got := e.Rcode
			if len(e.Codes) > 0 {
				got = strings.Join(e.Codes, ",")
			}
			if e.Error != "" {
				got = e.Error
			}
			failed = append(failed, fmt.Sprintf("%s expected %s, got %s", e.Query, strings.ReplaceAll(e.Expect, "_", " "), got))
		}
		ev := map[string]string{"zone": h.Zone, "problem": h.Problem, "test_entries": strings.Join(failed, "; ")}
		msg := fmt.Sprintf("%s failed its RFC 5782 test entries", h.Zone)
		if h.Problem != "" {
			msg += " (" + h.Problem + ")"
		}
		if public != "" {
			ev["resolver"] = public
			a.add(KindZoneUnhealthy, SevProblem, msg+"; a public resolver is in use ("+public+"), which many DNSBLs refuse or answer falsely: its results were not used", ev)
			a.stepAt(prioHealth, "use a local recursive resolver (e.g. unbound) instead of a public one: Spamhaus and other DNSBLs block or mislead public resolvers")
		} else {
			a.add(KindZoneUnhealthy, SevWarning, msg+": the zone may be dead, wildcarded or blocking your resolver, so its results were not used", ev)
			a.stepAt(prioHealth, fmt.Sprintf("stop using %s or check your resolver: it failed its RFC 5782 test entries", h.Zone))
		}
	}
}
