package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/correlate"
	"github.com/blprobe/blprobe/report"
)

func dnsblFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "zone", Category: catDNSBL, EnvVars: []string{"BLPROBE_ZONE"}, Usage: "check only this `ZONE` (repeatable); a zone not in the catalogue is used with generic RFC 5782 rules"},
		&cli.StringFlag{Name: "catalog", Category: catDNSBL, EnvVars: []string{"BLPROBE_CATALOG"}, Usage: "load the zone catalogue from `FILE` (same JSON format as the built-in one)", TakesFile: true},
		&cli.StringFlag{Name: "dqs-key", Category: catDNSBL, EnvVars: []string{"BLPROBE_DQS_KEY"}, Usage: "Spamhaus DQS `KEY`: query Spamhaus zones through DQS (the key never appears in any output)"},
		&cli.IntFlag{Name: "dns-concurrency", Aliases: dnsConcurrencyAliases, Category: catDNSBL, EnvVars: []string{"BLPROBE_DNS_CONCURRENCY", "BLPROBE_CONCURRENCY"}, Value: 64, Usage: "`N` DNS queries in flight at once (1 to 4096)"},
		&cli.Float64Flag{Name: "qps", Category: catDNSBL, EnvVars: []string{"BLPROBE_QPS"}, Usage: "at most `N` queries per second to each zone (0: no limit); keep bulk scans within the lists' usage terms"},
		&cli.IntFlag{Name: "max-addresses", Category: catDNSBL, EnvVars: []string{"BLPROBE_MAX_ADDRESSES"}, Value: 65536, Usage: "refuse targets that expand to more than `N` addresses"},
	}
}

// dnsConcurrencyAliases keeps the old name of --dns-concurrency working
// where it cannot be confused with the SMTP one (dnsbl, zones test).
var dnsConcurrencyAliases = []string{"concurrency"}

func dnsblCommand(st *streams) *cli.Command {
	return &cli.Command{
		Name:        "dnsbl",
		Usage:       "look addresses up on DNS blocklists",
		ArgsUsage:   "TARGET... (IPv4, IPv6, CIDR, hostname, - for stdin, @FILE for one target a line)",
		Description: "Queries every (address, zone) pair concurrently after checking each zone's RFC 5782 test entries.",
		Flags:       append(dnsblFlags(), commonFlags()...),
		Action: func(c *cli.Context) error {
			cm, err := parseCommon(c, st)
			if err != nil {
				return err
			}
			if c.NArg() == 0 {
				return usagef("dnsbl needs at least one TARGET (an IPv4 or IPv6 address, a CIDR, a hostname, - or @FILE)")
			}
			targets, err := dnsbl.ReadTargets(c.Args().Slice(), st.stdin)
			if err != nil {
				return &usageError{err}
			}
			if len(targets) == 0 {
				return usagef("no target given: the arguments, stdin or @FILE held none (want IPv4/IPv6 addresses, CIDRs or hostnames, one a line)")
			}
			dc, err := newDNSBLRun(c, cm)
			if err != nil {
				return err
			}
			if err := cm.checkOutput(); err != nil {
				return err
			}
			plan, err := dc.checker.Plan(c.Context, targets, dc.zones)
			if err != nil {
				return planError(err)
			}
			if err := checkPairs(plan); err != nil {
				return err
			}
			r := cm.newReport(st.args, dc.key)
			cm.progress.Phase("DNSBL", "lookups")
			run := dc.checker.Run(c.Context, plan)
			r.DNSBL = &report.DNSBL{Zones: run.Zones, Results: run.Results, Coverage: report.NewCoverage(plan.Families())}
			return cm.finish(c.Context, r, func(r *report.Report) { correlate.Analyze(r, dc.catalog, nil) })
		},
	}
}

// dnsblRun is what the dnsbl flags configure; check uses it too.
type dnsblRun struct {
	catalog []dnsbl.Zone
	zones   []dnsbl.Zone
	checker *dnsbl.Checker
	key     string
}

func loadCatalog(c *cli.Context) ([]dnsbl.Zone, error) {
	path := c.String("catalog")
	if path == "" {
		return dnsbl.Builtin(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("cannot read --catalog: %v", err)
	}
	defer f.Close()
	cat, err := dnsbl.LoadCatalog(f)
	if err != nil {
		return nil, usagef("invalid --catalog %s: %v", path, err)
	}
	return cat, nil
}

func newDNSBLRun(c *cli.Context, cm *common) (*dnsblRun, error) {
	if n := c.Int("dns-concurrency"); n < 1 || n > 4096 {
		return nil, usagef("invalid --dns-concurrency %d (accepted: 1 to 4096)", n)
	}
	if q := c.Float64("qps"); q < 0 {
		return nil, usagef("invalid --qps %v (accepted: 0 for no limit, or a positive rate)", q)
	}
	if m := c.Int("max-addresses"); m < 1 {
		return nil, usagef("invalid --max-addresses %d (want a positive number)", m)
	}
	cat, err := loadCatalog(c)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, z := range c.StringSlice("zone") {
		z = strings.TrimSpace(z)
		if z == "" {
			return nil, usagef("empty --zone (want a DNS zone such as zen.spamhaus.org)")
		}
		if !validDomain(strings.TrimSuffix(strings.ToLower(z), ".")) {
			return nil, usagef("invalid --zone %q (want a DNS zone such as zen.spamhaus.org)", z)
		}
		names = append(names, z)
	}
	zones := dnsbl.Select(cat, names)
	if len(zones) == 0 {
		return nil, usagef("no zone selected: the catalogue has no default zone; give --zone")
	}
	key := c.String("dqs-key")
	checker, err := dnsbl.New(dnsbl.Options{
		Resolver:     cm.progress.resolver(cm.dns),
		Concurrency:  c.Int("dns-concurrency"),
		QPS:          c.Float64("qps"),
		DQSKey:       key,
		MaxAddresses: c.Int("max-addresses"),
		Progress:     cm.progress.counter(),
	})
	if err != nil {
		return nil, &usageError{err}
	}
	return &dnsblRun{catalog: cat, zones: zones, checker: checker, key: key}, nil
}

// checkPairs refuses a run in which no selected zone applies to any target
// (e.g. only domain lists for IP addresses): it would check nothing and
// report "clean".
func checkPairs(plan *dnsbl.Plan) error {
	if plan.Pairs() > 0 {
		return nil
	}
	var names []string
	for _, z := range plan.Zones() {
		names = append(names, fmt.Sprintf("%s (%s)", z.Zone, z.Kind))
	}
	return usagef("none of the selected zones applies to these targets: %s; IP zones take addresses, domain zones take hostnames", strings.Join(names, ", "))
}

// planError maps target problems (bad hostname, too many addresses) to exit 2
// and anything else (e.g. the resolver is unreachable) to exit 3.
func planError(err error) error {
	var te *dnsbl.TargetError
	if errors.As(err, &te) {
		return &usageError{err}
	}
	return &failure{err}
}
