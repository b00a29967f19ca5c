package report

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/dnstest"
)

// TestCoverageFromPlan runs real dnsbl plans on loopback zones, builds the
// dnsbl section as the CLI does (NewCoverage(plan.Families())), and checks
// that every family checked against fewer zones than the selection asked for
// gets the coverage warning naming the zones that did not apply, also when
// the run checked no address of the other family (it then neither queries
// nor health-checks those zones).
func TestCoverageFromPlan(t *testing.T) {
	var zoneText strings.Builder
	entry := func(addr, zone string) {
		fmt.Fprintf(&zoneText, "%s. 60 IN A 127.0.0.2\n", dnsbl.QueryName(netip.MustParseAddr(addr), zone))
	}
	for _, z := range []string{"a4.test", "b4.test", "c46.test", "d6.test"} {
		entry("127.0.0.2", z)
		entry("::ffff:7f00:2", z)
	}
	srv := dnstest.Start(t, zoneText.String())
	c, err := dnsbl.New(dnsbl.Options{Resolver: &dnsclient.Client{Servers: []string{srv.Addr}, Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	sel := []dnsbl.Zone{
		{Zone: "a4.test", Name: "A4", Kind: dnsbl.KindIP4, Type: dnsbl.TypeBlock},
		{Zone: "b4.test", Name: "B4", Kind: dnsbl.KindIP4, Type: dnsbl.TypeBlock},
		{Zone: "c46.test", Name: "C46", Kind: dnsbl.KindIP46, Type: dnsbl.TypeBlock},
		{Zone: "d6.test", Name: "D6", Kind: dnsbl.KindIP6, Type: dnsbl.TypeBlock},
	}
	tests := []struct {
		name     string
		zones    []dnsbl.Zone
		targets  []string
		warnings []string // substrings, one per expected coverage warning
	}{
		{"IPv6 only", sel, []string{"::1"},
			[]string{"1 IPv6 address was checked against 2 of the 4 zones of this run: a4.test, b4.test publish no IPv6 data"}},
		{"IPv4 only", sel, []string{"127.0.0.20"},
			[]string{"1 IPv4 address was checked against 3 of the 4 zones of this run: d6.test publishes no IPv4 data"}},
		{"mixed", sel, []string{"127.0.0.20", "::1", "2001:db8:1::/63"}, []string{
			"1 IPv4 address was checked against 3 of the 4 zones of this run: d6.test publishes no IPv4 data",
			"3 IPv6 addresses were checked against 2 of the 4 zones of this run: a4.test, b4.test publish no IPv6 data"}},
		{"IPv6 only, every zone applies", sel[2:], []string{"::1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var targets []dnsbl.Target
			for _, s := range tt.targets {
				tg, err := dnsbl.ParseTarget(s)
				if err != nil {
					t.Fatal(err)
				}
				targets = append(targets, tg)
			}
			plan, err := c.Plan(context.Background(), targets, tt.zones)
			if err != nil {
				t.Fatal(err)
			}
			run := c.Run(context.Background(), plan)
			r := New(Tool{Name: "blprobe", Version: "test"}, []string{"blprobe", "dnsbl"}, "")
			r.DNSBL = &DNSBL{Zones: run.Zones, Results: run.Results, Coverage: NewCoverage(plan.Families())}
			r.Finalize()
			var cov []string
			for _, w := range r.Warnings {
				if strings.Contains(w, "zones of this run") {
					cov = append(cov, w)
				}
			}
			if len(cov) != len(tt.warnings) {
				t.Fatalf("coverage warnings %q, want %d", cov, len(tt.warnings))
			}
			for i, w := range tt.warnings {
				if !strings.Contains(cov[i], w) {
					t.Errorf("warning %q lacks %q", cov[i], w)
				}
			}
			if r.Verdict != VerdictClean {
				t.Errorf("verdict %s, problems %+v (a zone that does not apply is no failure)", r.Verdict, r.Problems())
			}
			if !strings.Contains(render(t, r, "text"), "zones of this run") && len(tt.warnings) > 0 {
				t.Errorf("text report lacks the coverage warning")
			}
		})
	}
}
