package main

import (
	"context"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/check"
	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/dnsbl/zonefile"
	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/dnsmux"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/serve"
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
	permit       bool            // --i-have-permission
	only         cli.StringSlice // --only
	zoneFiles    cli.StringSlice // --zone-file
}

// flags is the table of the DNSBL flags.
func (a *dnsblArgs) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "zone", Category: catDNSBL, EnvVars: []string{"BLPROBE_ZONE"}, Destination: &a.zone, Usage: "check only this `ZONE` (repeatable); a zone not in the catalogue is used with generic RFC 5782 rules"},
		a.catalogFlag(),
		&cli.StringFlag{Name: "dqs-key", Category: catDNSBL, EnvVars: []string{"BLPROBE_DQS_KEY"}, Destination: &a.dqsKey, Usage: "Spamhaus DQS `KEY`: query Spamhaus zones through DQS (the key never appears in any output)"},
		&cli.IntFlag{Name: "dns-concurrency", Aliases: []string{"concurrency"}, Category: catDNSBL, EnvVars: []string{"BLPROBE_DNS_CONCURRENCY", "BLPROBE_CONCURRENCY"}, Destination: &a.concurrency, Value: dnsbl.DefaultConcurrency, Usage: "`N` DNS queries in flight at once (1 to 4096)"},
		&cli.Float64Flag{Name: "qps", Category: catDNSBL, EnvVars: []string{"BLPROBE_QPS"}, Destination: &a.qps, Usage: "at most `N` queries per second to each zone (0: no limit); keep bulk scans within the lists' usage terms"},
		&cli.IntFlag{Name: "max-addresses", Category: catDNSBL, EnvVars: []string{"BLPROBE_MAX_ADDRESSES"}, Destination: &a.maxAddresses, Value: dnsbl.DefaultMaxAddresses, Usage: "refuse targets that expand to more than `N` addresses"},
		a.zonesFlag(),
		&cli.StringFlag{Name: "direct", Category: catDNSBL, EnvVars: []string{"BLPROBE_DIRECT"}, Destination: &a.direct, Value: "auto", Usage: "ask a zone's own nameservers: `auto` (when the resolver is refused), always, or never"},
		&cli.IntFlag{Name: "direct-port", Category: catDNSBL, Hidden: true, Destination: &a.directPort, Usage: "port of the zones' nameservers (loopback tests)"},
		&cli.BoolFlag{Name: "i-have-permission", Category: catDNSBL, EnvVars: []string{"BLPROBE_I_HAVE_PERMISSION"}, Destination: &a.permit, Usage: "run even when the plan exceeds a zone's free daily query limit (you hold a licence or the list's permission)"},
		&cli.StringSliceFlag{Name: "only", Category: catDNSBL, EnvVars: []string{"BLPROBE_ONLY"}, Destination: &a.only, Usage: "write only results of these `STATUSES` (listed, clean, allowed, error, not_done; comma-separated); the JSON report counts the others per zone. The verdict still covers every result"},
		&cli.StringSliceFlag{Name: "zone-file", Category: catDNSBL, EnvVars: []string{"BLPROBE_ZONE_FILE"}, Destination: &a.zoneFiles, Usage: "check `ZONE=[TYPE:]PATH` against a local rbldnsd data file (TYPE: ip4set, ip4tset, ip4trie, ip6trie, ip6tset, dnset; guessed when omitted) instead of DNS (repeatable)", TakesFile: true},
	}
}

func (a *dnsblArgs) catalogFlag() cli.Flag {
	return &cli.StringFlag{Name: "catalog", Category: catDNSBL, EnvVars: []string{"BLPROBE_CATALOG"}, Destination: &a.catalog, Usage: "load the zone catalogue from `FILE` (same JSON format as the built-in one)", TakesFile: true}
}

// zonesFlag is --zones: a group name or a comma list of zones and groups.
func (a *dnsblArgs) zonesFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "zones", Category: catDNSBL, EnvVars: []string{"BLPROBE_ZONES"}, Destination: &a.zones,
		Usage: "zones to check: `default`, extended (every live free list), all (also keyed and opt-in lists), or a comma list of zones and groups"}
}

func dnsblCommand(st *streams) *cli.Command {
	var (
		ca = commonArgs{jsonlOK: true}
		da dnsblArgs
	)
	return &cli.Command{
		Name:        "dnsbl",
		Usage:       "look addresses up on DNS blocklists",
		ArgsUsage:   "TARGET... (IPv4, IPv6, CIDR, hostname, - for stdin, @FILE for one target a line)",
		Description: "Queries every (address, zone) pair concurrently after checking each zone's RFC 5782 test entries.",
		Flags:       append(da.flags(), ca.flags()...),
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
			return cm.run(c.Context, func(ctx context.Context, o check.Options) (*report.Report, error) {
				o.OnPlanned = func() error {
					cm.progress.Phase("DNSBL", "lookups")
					if cm.format == "jsonl" { // the run line once the plan is valid, then one line per result
						return cm.startJSONL(o.Report, o.Only)
					}
					return nil
				}
				if cm.format == "jsonl" {
					o.OnResult = func(r *dnsbl.Result) { cm.jsonl.Result(r) }
				}
				return check.RunDNSBL(ctx, o)
			}, o)
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
		return check.Options{}, usagef("invalid --dns-concurrency %d (accepted: 1 to 4096)", a.concurrency)
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
	files, err := loadZoneFiles(a.zoneFiles.Value())
	if err != nil {
		return check.Options{}, err
	}
	var local []string
	for _, f := range files {
		local = append(local, f.zone) // with only --zone-file, only those zones
	}
	zones, err := a.selectZones(cat, local...)
	if err != nil {
		return check.Options{}, err
	}
	if err := attachZoneFiles(cat, zones, files); err != nil {
		return check.Options{}, err
	}
	only, err := parseOnly(a.only.Value())
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
	// Bulk lookups share a few UDP sockets per server (dnsmux); TCP for
	// truncated answers and everything else go through cm.dns.
	// A resolver given by host name keeps the plain client.
	var resolver dnsbl.Exchanger = cm.dns
	if mux, err := dnsmux.New(cm.dns); err == nil {
		resolver = mux
		cm.closers = append(cm.closers, mux.Close)
	}
	checker, err := dnsbl.New(dnsbl.Options{
		Resolver:     cm.progress.resolver(resolver),
		Concurrency:  a.concurrency,
		QPS:          a.qps,
		DQSKey:       a.dqsKey,
		MaxAddresses: a.maxAddresses,
		Progress:     cm.progress.counter(),

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
	o.Only, o.OverLimit = only, a.permit
	return o, nil
}

// selectZones resolves --zones and --zone against the catalogue. Nothing
// given selects the default group; a dead zone or a malformed name is a
// usage error.
func (a *dnsblArgs) selectZones(cat []dnsbl.Zone, local ...string) ([]dnsbl.Zone, error) {
	names := append([]string(nil), local...)
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
				if !serve.ValidDomain(strings.TrimSuffix(strings.ToLower(z), ".")) {
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

// parseOnly reads --only (statuses, comma-separated or repeated).
func parseOnly(vals []string) ([]dnsbl.Status, error) {
	var out []dnsbl.Status
	for _, v := range vals {
		for _, f := range strings.Split(v, ",") {
			s := dnsbl.Status(strings.TrimSpace(strings.ToLower(f)))
			switch s {
			case dnsbl.StatusListed, dnsbl.StatusClean, dnsbl.StatusAllowed, dnsbl.StatusError, dnsbl.StatusNotDone:
				if !slices.Contains(out, s) {
					out = append(out, s)
				}
			default:
				return nil, usagef("invalid --only %q (accepted: listed, clean, allowed, error, not_done, comma-separated)", f)
			}
		}
	}
	return out, nil
}

// zoneFile is one --zone-file ZONE=[TYPE:]PATH.
type zoneFile struct {
	zone string
	data *zonefile.Data
}

func loadZoneFiles(specs []string) ([]zoneFile, error) {
	var out []zoneFile
	for _, spec := range specs {
		zone, path, ok := strings.Cut(spec, "=")
		zone = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(zone)), ".")
		if !ok || path == "" || !serve.ValidDomain(zone) {
			return nil, usagef("invalid --zone-file %q (want ZONE=[TYPE:]PATH such as zen.example=ip4set:/srv/zen.txt)", spec)
		}
		var format zonefile.Format
		if t, p, ok := strings.Cut(path, ":"); ok {
			f, err := zonefile.ParseFormat(t)
			if err != nil {
				return nil, usagef("invalid --zone-file %q: %v", spec, err)
			}
			format, path = f, p
		}
		d, err := zonefile.Load(path, format)
		if err != nil {
			return nil, usagef("invalid --zone-file %s: %v", zone, err)
		}
		out = append(out, zoneFile{zone: zone, data: d})
	}
	return out, nil
}

// attachZoneFiles gives the selected zones their local data. A zone not in
// the catalogue takes its kind from the file; a catalogue zone must be of a
// kind the file can answer.
func attachZoneFiles(cat, zones []dnsbl.Zone, files []zoneFile) error {
	known := map[string]bool{}
	for _, z := range cat {
		known[z.Zone] = true
	}
	for _, f := range files {
		kind := dnsbl.KindIP4
		switch f.data.Format() {
		case zonefile.IP6Trie, zonefile.IP6TSet:
			kind = dnsbl.KindIP6
		case zonefile.DNSet:
			kind = dnsbl.KindDomain
		}
		for i := range zones {
			z := &zones[i]
			if z.Zone != f.zone {
				continue
			}
			if !known[z.Zone] {
				z.Kind = kind
			} else if z.Kind != kind && !(z.Kind == dnsbl.KindIP46 && kind != dnsbl.KindDomain) {
				return usagef("invalid --zone-file %s: a %s file cannot answer for a %s zone", f.zone, f.data.Format(), z.Kind)
			}
			z.Local = f.data
		}
	}
	return nil
}
