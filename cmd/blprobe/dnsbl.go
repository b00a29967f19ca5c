package main

import (
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/check"
	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/dnsclient"
)

// dnsblArgs are the values of the DNSBL flags (dnsbl, check, zones test).
type dnsblArgs struct {
	zones        cli.StringSlice
	zone         cli.StringSlice
	catalog      string
	dqsKey       string
	concurrency  int
	qps          float64
	direct       string
	directPort   int
	maxAddresses int
}

// flags is the table of the DNSBL flags.
func (a *dnsblArgs) flags() []cli.Flag {
	return []cli.Flag{
		a.zonesFlag(),
		&cli.StringSliceFlag{Name: "zone", EnvVars: []string{"BLPROBE_ZONE"}, Destination: &a.zone, Usage: "check only this `ZONE` (repeatable); a zone not in the catalogue is used with generic RFC 5782 rules"},
		a.catalogFlag(),
		&cli.StringFlag{Name: "dqs-key", EnvVars: []string{"BLPROBE_DQS_KEY"}, Destination: &a.dqsKey, Usage: "Spamhaus DQS `KEY`: query Spamhaus zones through DQS (the key never appears in any output)"},
		&cli.IntFlag{Name: "concurrency", EnvVars: []string{"BLPROBE_CONCURRENCY"}, Destination: &a.concurrency, Value: dnsbl.DefaultConcurrency, Usage: "DNS queries in flight at once"},
		&cli.Float64Flag{Name: "qps", EnvVars: []string{"BLPROBE_QPS"}, Destination: &a.qps, Usage: "at most `N` queries per second to each zone (0: no limit); keep bulk scans within the lists' usage terms"},
		&cli.StringFlag{Name: "direct", EnvVars: []string{"BLPROBE_DIRECT"}, Destination: &a.direct, Value: "auto", Usage: "ask a zone's own nameservers: `auto` (when the resolver is refused), always, or never"},
		&cli.IntFlag{Name: "direct-port", Hidden: true, Destination: &a.directPort, Usage: "port of the zones' nameservers (loopback tests)"},
		&cli.IntFlag{Name: "max-addresses", EnvVars: []string{"BLPROBE_MAX_ADDRESSES"}, Destination: &a.maxAddresses, Value: dnsbl.DefaultMaxAddresses, Usage: "refuse targets that expand to more addresses than this"},
	}
}

func (a *dnsblArgs) catalogFlag() cli.Flag {
	return &cli.StringFlag{Name: "catalog", EnvVars: []string{"BLPROBE_CATALOG"}, Destination: &a.catalog, Usage: "load the zone catalogue from `FILE` (same JSON format as the built-in one)", TakesFile: true}
}

// zonesFlag is --zones: a group name or a comma list of zones and groups.
func (a *dnsblArgs) zonesFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "zones", EnvVars: []string{"BLPROBE_ZONES"}, Destination: &a.zones,
		Usage: "zones to check: `default`, extended (every live free list), all (also keyed and opt-in lists), or a comma list of zones and groups"}
}

func dnsblCommand(st *streams) *cli.Command {
	var (
		ca commonArgs
		da dnsblArgs
	)
	return &cli.Command{
		Name:      "dnsbl",
		Usage:     "look addresses up on DNS blocklists",
		ArgsUsage: "TARGET... (IPv4, IPv6, CIDR, hostname, - for stdin, @FILE for one target a line)",
		Description: "Queries every (address, zone) pair concurrently after checking each zone's RFC 5782 test entries.\n" +
			"Example: blprobe dnsbl 192.0.2.7 mail.example.com 198.51.100.0/28",
		Flags: append(ca.flags(), da.flags()...),
		Action: func(c *cli.Context) error {
			cm, err := ca.setup(st)
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
			o, err := da.options(cm)
			if err != nil {
				return err
			}
			if err := cm.checkOutput(); err != nil {
				return err
			}
			o.Targets = targets
			return cm.run(c.Context, check.RunDNSBL, o)
		},
	}
}

// loadCatalog reads --catalog, or returns the built-in catalogue.
func (a *dnsblArgs) loadCatalog() ([]dnsbl.Zone, error) {
	if a.catalog == "" {
		return dnsbl.Builtin(), nil
	}
	f, err := os.Open(a.catalog)
	if err != nil {
		return nil, usagef("cannot read --catalog: %v", err)
	}
	defer f.Close()
	cat, err := dnsbl.LoadCatalog(f)
	if err != nil {
		return nil, usagef("invalid --catalog %s: %v", a.catalog, err)
	}
	return cat, nil
}

// options validates the DNSBL flags and returns the run's options: the
// checker, the zones and catalogue, the report with the DQS key redacted.
func (a *dnsblArgs) options(cm *common) (check.Options, error) {
	if a.concurrency < 1 || a.concurrency > 4096 {
		return check.Options{}, usagef("invalid --concurrency %d (accepted: 1 to 4096)", a.concurrency)
	}
	if a.qps < 0 {
		return check.Options{}, usagef("invalid --qps %v (accepted: 0 for no limit, or a positive rate)", a.qps)
	}
	if a.maxAddresses < 1 {
		return check.Options{}, usagef("invalid --max-addresses %d (want a positive number)", a.maxAddresses)
	}
	cat, err := a.loadCatalog()
	if err != nil {
		return check.Options{}, err
	}
	zones, err := a.selectZones(cat)
	if err != nil {
		return check.Options{}, err
	}
	direct, err := dnsbl.ParseDirectMode(a.direct)
	if err != nil {
		return check.Options{}, &usageError{err}
	}
	if a.directPort < 0 || a.directPort > 65535 {
		return check.Options{}, usagef("invalid --direct-port %d (accepted: 1 to 65535)", a.directPort)
	}
	public := false
	for _, s := range cm.resolvers {
		public = public || dnsclient.PublicResolver(s) != ""
	}
	checker, err := dnsbl.New(dnsbl.Options{
		Resolver:     cm.dns,
		Concurrency:  a.concurrency,
		QPS:          a.qps,
		DQSKey:       a.dqsKey,
		MaxAddresses: a.maxAddresses,
		Progress:     newProgress(cm.st.stderr, "dnsbl"),

		Direct:         direct,
		PublicResolver: public,
		DirectPort:     a.directPort,
		DirectTimeout:  cm.timeout,
	})
	if err != nil {
		return check.Options{}, &usageError{err}
	}
	o := cm.options(a.dqsKey)
	o.DNSBL, o.Zones, o.Catalog = checker, zones, cat
	return o, nil
}

// selectZones resolves --zones and --zone against the catalogue. Nothing
// given selects the default group; a dead zone or a malformed name is a
// usage error.
func (a *dnsblArgs) selectZones(cat []dnsbl.Zone) ([]dnsbl.Zone, error) {
	var names []string
	for _, f := range []struct {
		flag   string
		values []string
	}{{"zones", a.zones.Value()}, {"zone", a.zone.Value()}} {
		flag := f.flag
		for _, v := range f.values {
			for _, z := range strings.Split(v, ",") {
				z = strings.TrimSpace(z)
				if z == "" {
					return nil, usagef("empty --%s entry (want default, extended, all or a DNS zone such as zen.spamhaus.org)", flag)
				}
				if !validDomain(strings.TrimSuffix(strings.ToLower(z), ".")) {
					return nil, usagef("invalid --%s %q (want default, extended, all or a DNS zone such as zen.spamhaus.org)", flag, z)
				}
				names = append(names, z)
			}
		}
	}
	zones, err := dnsbl.Resolve(cat, names)
	if err != nil {
		return nil, usagef("%v", err)
	}
	if len(zones) == 0 {
		return nil, usagef("no zone selected: the catalogue has no zone in that group; give --zones or --zone")
	}
	return zones, nil
}
