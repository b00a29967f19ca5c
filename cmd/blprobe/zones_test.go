package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/report"
)

// blprobe zones shows each zone's group, families, terms and verification
// date; --zones picks the group; all adds the dead lists with their source.
func TestZonesListing(t *testing.T) {
	res := runCLI(t, "", "zones")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{"GROUP", "FAMILIES", "TERMS", "VERIFIED", "Spamhaus ZEN", "default", "IPv4+IPv6", "free < 300000/day, commercial: paid", "11 zones"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("zones output lacks %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "sorbs") || strings.Contains(res.stdout, "extended") {
		t.Errorf("default listing shows more than the default group:\n%s", res.stdout)
	}

	ext := runCLI(t, "", "zones", "--zones", "extended", "--format", "json")
	var doc struct {
		Schema string       `json:"schema"`
		Zones  []dnsbl.Zone `json:"zones"`
		Dead   []dnsbl.Zone `json:"dead"`
	}
	if err := json.Unmarshal([]byte(ext.stdout), &doc); err != nil || ext.code != 0 {
		t.Fatalf("exit %d, %v:\n%s", ext.code, err, ext.stdout)
	}
	if doc.Schema != catalogSchema || len(doc.Zones) < 30 || doc.Dead == nil || len(doc.Dead) != 0 {
		t.Errorf("extended: schema %q, %d zones (want >= 30), dead %v", doc.Schema, len(doc.Zones), doc.Dead)
	}
	for _, z := range doc.Zones {
		if z.NeedsKey || z.Group == dnsbl.GroupAll || z.Group == dnsbl.GroupDead {
			t.Errorf("extended lists %s (group %s)", z.Zone, z.Group)
		}
	}

	all := runCLI(t, "", "zones", "--all")
	if !strings.Contains(all.stdout, "combined.mail.abusix.zone") || !strings.Contains(all.stdout, "Dead lists (never queried)") ||
		!strings.Contains(all.stdout, "dnsbl.sorbs.net") || !strings.Contains(all.stdout, "dead since 2024-06-05") {
		t.Errorf("zones --all:\n%s", all.stdout)
	}
	if md := runCLI(t, "", "zones", "--zones", "all", "--format", "markdown"); !strings.Contains(md.stdout, "| Zone | Name | Group |") || !strings.Contains(md.stdout, "`dnsbl.sorbs.net`") {
		t.Errorf("markdown:\n%s", md.stdout)
	}
}

// --zones takes groups and comma lists; --zone keeps working and adds to it;
// a dead or malformed zone is a usage error before anything is queried.
func TestZonesFlag(t *testing.T) {
	l := newLab(t)
	r, res := jsonReport(t, "dnsbl", "--resolver", l.resolver(), "--zones", "zen.test,clean.test", "--zone", "slow.test", "127.0.0.10")
	if res.code != report.ExitProblem || len(r.DNSBL.Zones) != 3 {
		t.Fatalf("exit %d, zones %+v", res.code, r.DNSBL.Zones)
	}
	before := l.dns.Queries.Load()
	for _, tc := range []struct{ args []string }{
		{[]string{"--zones", "dnsbl.sorbs.net"}},
		{[]string{"--zones", "default,zombie.dnsbl.sorbs.net"}},
		{[]string{"--zone", "ix.dnsbl.manitu.net"}},
		{[]string{"--zones", "zen.test,,clean.test"}},
		{[]string{"--zones", "bad zone"}},
	} {
		res := runCLI(t, "", append(append([]string{"dnsbl", "--resolver", l.resolver()}, tc.args...), "192.0.2.1")...)
		if res.code != report.ExitUsage || strings.Count(strings.TrimSpace(res.stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want a one-line usage error", tc.args, res.code, res.stderr)
		}
	}
	if strings.Contains(runCLI(t, "", "dnsbl", "--resolver", l.resolver(), "--zones", "dnsbl.sorbs.net", "192.0.2.1").stderr, "dead") == false {
		t.Error("the dead-zone error does not say the zone is dead")
	}
	if after := l.dns.Queries.Load(); after != before {
		t.Errorf("%d queries sent by refused command lines", after-before)
	}
}

// zones test --zones extended reports, zone by zone, which lists answer
// their test entries from here. The loopback resolver knows three of them.
func TestZonesTestExtended(t *testing.T) {
	l := newLab(t)
	l.add(healthy("bl.spamcop.net") + healthy("psbl.surriel.com"))
	l.add("test.surbl.org.multi.surbl.org. 60 IN A 127.0.0.254\n")
	l.dns.Handle("dnsbl-1.uceprotect.net", dnstest.Wildcard("127.0.0.2"))
	l.dns.Handle("zen.spamhaus.org", dnstest.Wildcard("127.255.255.254"))
	r, res := jsonReport(t, "zones", "test", "--zones", "extended", "--resolver", l.resolver())
	if res.code != report.ExitInconclusive {
		t.Errorf("exit %d, want 3 (most zones are dead from here)", res.code)
	}
	h := map[string]dnsbl.ZoneHealth{}
	for _, z := range r.DNSBL.Zones {
		h[z.Zone] = z
	}
	if len(h) < 30 {
		t.Fatalf("%d zones tested, want the whole extended group", len(h))
	}
	for _, z := range []string{"bl.spamcop.net", "psbl.surriel.com", "multi.surbl.org"} {
		if h[z].Health != dnsbl.HealthHealthy {
			t.Errorf("%s: %s (%s), want healthy", z, h[z].Health, h[z].Problem)
		}
	}
	if h["dnsbl-1.uceprotect.net"].Health != dnsbl.HealthUnhealthy || !strings.Contains(h["dnsbl-1.uceprotect.net"].Problem, "lists everything") {
		t.Errorf("wildcard zone: %+v", h["dnsbl-1.uceprotect.net"])
	}
	if z := h["zen.spamhaus.org"]; z.Health != dnsbl.HealthUnhealthy || !strings.Contains(z.Problem, "127.255.255.254") {
		t.Errorf("refused zone: %+v", z)
	}
	if h["b.barracudacentral.org"].Health != dnsbl.HealthUnhealthy {
		t.Errorf("a zone the resolver does not know must not be healthy: %+v", h["b.barracudacentral.org"])
	}
}
