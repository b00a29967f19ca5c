package main

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/report"
)

// refusedWorld: a parent zone delegating bl.test (NS + glue) to an
// authoritative server on 127.0.0.91, seen through a public-style resolver
// that answers every name under bl.test with refuse. The listed address has
// a TXT reason too large for UDP.
func refusedWorld(t *testing.T, refuse dnstest.Behavior) (resolver, port string, auth *dnstest.Server) {
	t.Helper()
	txt := strings.Repeat(`"`+strings.Repeat("r", 240)+`" `, 6)
	auth = dnstest.StartOn(t, "127.0.0.91", healthy("bl.test")+listed("192.0.2.7", "bl.test", "", "127.0.0.2")+
		dnsbl.QueryName(netip.MustParseAddr("192.0.2.7"), "bl.test")+". 60 IN TXT "+txt+"\n")
	res := dnstest.Start(t, "bl.test. 60 IN NS ns1.bl.test.\nns1.bl.test. 60 IN A 127.0.0.91\n")
	res.Handle("bl.test", res.Refusing(refuse, "bl.test", "ns1.bl.test"))
	return res.Addr, strconv.Itoa(auth.Port()), auth
}

// The acceptance test: through a resolver that gets Spamhaus's
// 127.255.255.254 (or REFUSED), --direct never leaves the zone unhealthy as
// before; auto makes it healthy, the listing comes back through the
// authoritative server, and the report says direct:<ns>.
func TestDirectCLI(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse dnstest.Behavior
		health dnsbl.Health    // with --direct never, as before this feature
		kind   dnsbl.ErrorKind // of the results then
	}{
		{"127.255.255.254", dnstest.Wildcard("127.255.255.254"), dnsbl.HealthUnhealthy, dnsbl.ErrZoneUnhealthy},
		{"REFUSED", dnstest.Rcode(dns.RcodeRefused), dnsbl.HealthUnknown, dnsbl.ErrRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resolver, port, auth := refusedWorld(t, tc.refuse)
			args := []string{"dnsbl", "--resolver", resolver, "--direct-port", port, "--zone", "bl.test", "192.0.2.7", "192.0.2.8"}

			r, res := jsonReport(t, append(args, "--direct", "never")...)
			if res.code != report.ExitInconclusive {
				t.Errorf("never: exit %d, want 3", res.code)
			}
			z := r.DNSBL.Zones[0]
			if z.Health != tc.health || z.Path != dnsbl.PathResolver || r.DNSBL.Results[0].ErrorKind != tc.kind {
				t.Errorf("never: zone %+v results %+v", z, r.DNSBL.Results)
			}
			if n := auth.Queries.Load(); n != 0 {
				t.Errorf("never: the authoritative server got %d queries", n)
			}

			r, res = jsonReport(t, args...) // --direct auto is the default
			if res.code != report.ExitProblem {
				t.Errorf("auto: exit %d, want 1 (listed)\n%s", res.code, res.stderr)
			}
			z = r.DNSBL.Zones[0]
			if z.Health != dnsbl.HealthHealthy || z.Path != "direct:ns1.bl.test" {
				t.Errorf("auto: zone %+v", z)
			}
			var listedRes, clean bool
			for _, x := range r.DNSBL.Results {
				listedRes = listedRes || (x.IP == "192.0.2.7" && x.Status == dnsbl.StatusListed && strings.HasPrefix(x.Reason, "rrrr"))
				clean = clean || (x.IP == "192.0.2.8" && x.Status == dnsbl.StatusClean)
			}
			if !listedRes || !clean {
				t.Errorf("auto: results %+v", r.DNSBL.Results)
			}
			if !strings.Contains(strings.Join(r.Warnings, "\n"), "bl.test via ns1.bl.test") {
				t.Errorf("auto: warnings %q do not say which path answered", r.Warnings)
			}
		})
	}
}

// zones test shows the path in its health report; a bad --direct is a usage
// error.
func TestDirectCLIZonesTestAndUsage(t *testing.T) {
	resolver, port, _ := refusedWorld(t, dnstest.Wildcard("127.255.255.254"))
	res := runCLI(t, "", "zones", "test", "--resolver", resolver, "--direct-port", port, "--zone", "bl.test")
	if res.code != 0 || !strings.Contains(res.stdout, "asked at its own nameservers: direct:ns1.bl.test") {
		t.Errorf("exit %d\n%s", res.code, res.stdout)
	}
	for _, bad := range [][]string{{"--direct", "sometimes"}, {"--direct-port", "70000"}} {
		res := runCLI(t, "", append([]string{"dnsbl", "--resolver", resolver, "--zone", "bl.test"}, append(bad, "192.0.2.1")...)...)
		if res.code != report.ExitUsage {
			t.Errorf("%v: exit %d, stderr %q", bad, res.code, res.stderr)
		}
	}
}
