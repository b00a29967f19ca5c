package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/dnsbl/zonefile"
	"github.com/blprobe/blprobe/internal/correlate"
	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/dnsmux"
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
		zonesFlag(),
		&cli.StringFlag{Category: catDNSBL, Name: "direct", EnvVars: []string{"BLPROBE_DIRECT"}, Value: "auto", Usage: "ask a zone's own nameservers: `auto` (when the resolver is refused), always, or never"},
		&cli.IntFlag{Category: catDNSBL, Name: "direct-port", Hidden: true, Usage: "port of the zones' nameservers (loopback tests)"},
		&cli.BoolFlag{Category: catDNSBL, Name: "i-have-permission", EnvVars: []string{"BLPROBE_I_HAVE_PERMISSION"}, Usage: "run even when the plan exceeds a zone's free daily query limit (you hold a licence or the list's permission)"},
		&cli.StringSliceFlag{Category: catDNSBL, Name: "only", EnvVars: []string{"BLPROBE_ONLY"}, Usage: "write only results of these `STATUSES` (listed, clean, allowed, error, not_done; comma-separated); the JSON report counts the others per zone. The verdict still covers every result"},
		&cli.StringSliceFlag{Category: catDNSBL, Name: "zone-file", EnvVars: []string{"BLPROBE_ZONE_FILE"}, Usage: "check `ZONE=[TYPE:]PATH` against a local rbldnsd data file (TYPE: ip4set, ip4tset, ip4trie, ip6trie, ip6tset, dnset; guessed when omitted) instead of DNS (repeatable)", TakesFile: true},
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
			if err := dc.checkLimits(plan); err != nil {
				return err
			}
			r := cm.newReport(st.args, dc.key)
			var onResult func(*dnsbl.Result)
			if cm.format == "jsonl" {
				if err := cm.startJSONL(r, dc.only); err != nil {
					return err
				}
				onResult = cm.jsonl.Result
			}
			cm.progress.Phase("DNSBL", "lookups")
			// Compact results: memory does not grow with clean answers; the
			// renderers iterate the set (All), the verdict reads the rest.
			run := dc.checker.RunSet(c.Context, plan, onResult)
			r.DNSBL = &report.DNSBL{Zones: run.Zones, Results: notClean(run.Set), All: run.Set, Only: dc.only, Coverage: report.NewCoverage(plan.Families())}
			noteDirect(r)
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
	only    []dnsbl.Status // --only
	permit  bool           // --i-have-permission
}

// checkLimits refuses (exit 2) a plan over a zone's free daily limit unless
// --i-have-permission is given.
func (dc *dnsblRun) checkLimits(plan *dnsbl.Plan) error {
	if dc.permit {
		return nil
	}
	if err := plan.CheckDailyLimits(); err != nil {
		return &usageError{err}
	}
	return nil
}

// notClean materialises the results that are not clean.
func notClean(set *dnsbl.ResultSet) []dnsbl.Result {
	var out []dnsbl.Result
	set.Each(func(r *dnsbl.Result) bool {
		if r.Status != dnsbl.StatusClean {
			out = append(out, *r)
		}
		return true
	})
	return out
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
	files, err := loadZoneFiles(c.StringSlice("zone-file"))
	if err != nil {
		return nil, err
	}
	var local []string
	for _, f := range files {
		local = append(local, f.zone) // with only --zone-file, only those zones
	}
	zones, err := selectZones(c, cat, local...)
	if err != nil {
		return nil, err
	}
	if err := attachZoneFiles(cat, zones, files); err != nil {
		return nil, err
	}
	key := c.String("dqs-key")
	direct, err := dnsbl.ParseDirectMode(c.String("direct"))
	if err != nil {
		return nil, &usageError{err}
	}
	if p := c.Int("direct-port"); p < 0 || p > 65535 {
		return nil, usagef("invalid --direct-port %d (accepted: 1 to 65535)", p)
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
	}
	checker, err := dnsbl.New(dnsbl.Options{
		Resolver:     cm.progress.resolver(resolver),
		Concurrency:  c.Int("dns-concurrency"),
		QPS:          c.Float64("qps"),
		DQSKey:       key,
		MaxAddresses: c.Int("max-addresses"),
		Progress:     cm.progress.counter(),

		Direct:         direct,
		PublicResolver: public,
		DirectPort:     c.Int("direct-port"),
		DirectTimeout:  c.Duration("timeout"),
	})
	if err != nil {
		return nil, &usageError{err}
	}
	only, err := parseOnly(c.StringSlice("only"))
	if err != nil {
		return nil, err
	}
	return &dnsblRun{catalog: cat, zones: zones, checker: checker, key: key, only: only, permit: c.Bool("i-have-permission")}, nil
}

// zonesFlag is --zones: a group name or a comma list of zones and groups.
func zonesFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "zones", Category: catDNSBL, EnvVars: []string{"BLPROBE_ZONES"},
		Usage: "zones to check: `default`, extended (every live free list), all (also keyed and opt-in lists), or a comma list of zones and groups"}
}

// selectZones resolves --zones and --zone, plus the zones of local data
// files, against the catalogue. Nothing given selects the default group; a
// dead zone or a malformed name is a usage error.
func selectZones(c *cli.Context, cat []dnsbl.Zone, local ...string) ([]dnsbl.Zone, error) {
	names := append([]string(nil), local...)
	for _, flag := range []string{"zones", "zone"} {
		for _, v := range c.StringSlice(flag) {
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

// noteDirect says in the report which zones were answered by their own
// nameservers because the resolver was refused; a public-resolver warning
// gets the fix that worked appended.
func noteDirect(r *report.Report) {
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
		if !ok || path == "" || !validDomain(zone) {
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
