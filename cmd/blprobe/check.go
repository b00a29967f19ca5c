package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
	"golang.org/x/sync/errgroup"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/correlate"
	"github.com/blprobe/blprobe/internal/egress"
	"github.com/blprobe/blprobe/internal/rdns"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// isLocal reports whether the SMTP part can run from a; tests replace it to
// model a CIDR that is only partly local.
var isLocal = canBind

// maxRDNS caps the reverse-DNS checks of a large CIDR.
const maxRDNS = 256

// maxSMTPSources caps how many local addresses of a CIDR the SMTP part runs
// from: each one repeats every probe.
const maxSMTPSources = 16

func checkCommand(st *streams) *cli.Command {
	flags := []cli.Flag{&cli.StringSliceFlag{Name: "to", Category: catTarget, EnvVars: []string{"BLPROBE_TO"}, Usage: "`DOMAIN` whose MX to probe at the RCPT stage (repeatable; the domain of the bounced recipients), or user@DOMAIN to probe it with that recipient instead of postmaster@"}}
	flags = append(flags, dnsblFlags()...)
	flags = append(flags, smtpFlags(false)...)
	flags = append(flags, egressFlags()...)
	flags = append(flags, commonFlags()...)
	return &cli.Command{
		Name:      "check",
		Usage:     "the whole job: egress IP, DNS blocklists, reverse DNS, every MX of --to domains, one correlated report",
		ArgsUsage: "[IP|CIDR|HOSTNAME|auto] --to DOMAIN [--to DOMAIN...]",
		Description: "1. which IP: auto (default) asks OpenDNS, Google, Akamai and Cloudflare over DNS;\n" +
			"2. DNS blocklists for it; 3. PTR, forward-confirmed rDNS and HELO readiness;\n" +
			"4. SMTP at the RCPT stage on every MX address of every --to domain, from the checked IP when it is local;\n" +
			"5. correlation: rejections vs listings, the IP the MX saw vs the checked IP, PTR vs 5.7.25.",
		Flags: flags,
		Action: func(c *cli.Context) error {
			cm, err := parseCommon(c, st)
			if err != nil {
				return err
			}
			return runCheck(c, cm)
		},
	}
}

func runCheck(c *cli.Context, cm *common) error {
	ctx := c.Context
	if c.NArg() > 1 {
		return usagef("check takes one target (IP, CIDR, hostname or auto), got %d: %s", c.NArg(), strings.Join(c.Args().Slice(), " "))
	}
	target := strings.TrimSpace(c.Args().First())
	if target == "" {
		target = "auto"
	}
	var domains, toRcpts []string
	if to := c.StringSlice("to"); len(to) > 0 {
		d, r, err := parseDomains(to)
		if err != nil {
			return err
		}
		domains, toRcpts = d, r
	}
	var given []dnsbl.Target
	if target != "auto" {
		t, err := dnsbl.ParseTarget(target)
		if err != nil {
			return &usageError{err}
		}
		given = []dnsbl.Target{t}
	}
	dc, err := newDNSBLRun(c, cm)
	if err != nil {
		return err
	}
	var sopts smtpcheck.Options
	if len(domains) > 0 {
		if sopts, err = smtpOptions(c, cm, "smtp-concurrency"); err != nil {
			return err
		}
		if err := addRcpts(&sopts, domains, toRcpts); err != nil {
			return err
		}
	}
	eopts, err := egressOptions(c, cm)
	if err != nil {
		return err
	}
	if err := cm.checkOutput(); err != nil {
		return err
	}

	r := cm.newReport(cm.st.args, dc.key)
	if len(domains) == 0 {
		r.Warnings = append(r.Warnings, "no --to domain given: the SMTP confirmation was skipped")
	}

	// 1. Which IP.
	if target == "auto" {
		r.Warnings = append(r.Warnings, egressWarnings(eopts)...)
		cm.progress.Phase("egress detection", "")
		r.Egress = egress.Detect(ctx, eopts)
		r.Egress.IPSource = true
		for _, ip := range egressIPs(r.Egress) {
			t, err := dnsbl.ParseTarget(ip)
			if err == nil {
				given = append(given, t)
			}
		}
		if len(given) == 0 {
			r.Warnings = append(r.Warnings, "could not determine the egress IP (the sources disagree or none answered): give the IP to check as an argument")
			return cm.finish(ctx, r, nil)
		}
	}

	// 2. DNSBLs.
	plan, err := dc.checker.Plan(ctx, given, dc.zones)
	if err != nil {
		return planError(err)
	}
	if err := checkPairs(plan); err != nil {
		return err
	}
	if err := dc.checkLimits(plan); err != nil {
		return err
	}
	cm.progress.Phase("DNSBL", "lookups")
	run := dc.checker.Run(ctx, plan)
	r.DNSBL = &report.DNSBL{Zones: run.Zones, Results: run.Results, Only: dc.only, Coverage: report.NewCoverage(plan.Families())}
	noteDirect(r)
	checked := checkedAddrs(given, run.Results)

	// 3. Reverse DNS and HELO readiness.
	rd := checked
	if len(rd) > maxRDNS {
		rd = rd[:maxRDNS]
		r.Warnings = append(r.Warnings, fmt.Sprintf("reverse DNS was checked for the first %d of %d addresses only", maxRDNS, len(checked)))
	}
	cm.progress.Phase("reverse DNS", "addresses")
	r.RDNS = checkRDNS(ctx, cm, rd, sopts.HELO)

	// 4. SMTP from the checked IP when it is local.
	if len(domains) > 0 {
		cm.progress.Phase("SMTP", "probes")
		r.SMTP = runSMTPFrom(ctx, cm, r, domains, sopts, checked, c.IsSet("source-ip"))
		r.SMTP.Notes = append(r.SMTP.Notes, idnNotes(c.StringSlice("to"))...)
	}
	return cm.finish(ctx, r, func(r *report.Report) { correlate.Analyze(r, dc.catalog, checked) })
}

// checkedAddrs lists the distinct addresses that were checked, in order: the
// addresses given directly, then those the DNSBL results name.
func checkedAddrs(given []dnsbl.Target, results []dnsbl.Result) []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	add := func(a netip.Addr) {
		if a.IsValid() && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, t := range given {
		add(t.Addr)
	}
	for _, res := range results {
		if a, err := netip.ParseAddr(res.IP); err == nil {
			add(a)
		}
	}
	return out
}

// checkRDNS runs the PTR/FCrDNS/HELO checks for every checked address.
func checkRDNS(ctx context.Context, cm *common, ips []netip.Addr, helo string) []report.RDNS {
	out := make([]report.RDNS, len(ips))
	g := new(errgroup.Group)
	g.SetLimit(16)
	var mu sync.Mutex
	done := 0
	for i, ip := range ips {
		g.Go(func() error {
			if ctx.Err() == nil {
				out[i] = rdns.Check(ctx, cm.dns, ip, helo)
			}
			if ctx.Err() != nil && (out[i].IP == "" || out[i].Error != "") {
				// Interrupted: not_done, counted once, not a failure per address.
				out[i] = report.RDNS{IP: ip.Unmap().String(), PTR: []string{}, Problems: []string{}, Error: report.RDNSNotDone}
			}
			mu.Lock()
			done++
			cm.progress.Count(done, len(ips))
			mu.Unlock()
			return nil
		})
	}
	g.Wait()
	return out
}

// runSMTPFrom runs the SMTP part from every local checked address (at most
// maxSMTPSources), or from the explicit --source-ip, or — when no checked
// address is local — from this machine's default address, saying so.
func runSMTPFrom(ctx context.Context, cm *common, r *report.Report, domains []string, o smtpcheck.Options, checked []netip.Addr, explicit bool) *smtpcheck.Result {
	var sources []netip.Addr
	if !explicit {
		for _, a := range checked {
			if isLocal(a) {
				if len(sources) == maxSMTPSources {
					r.Warnings = append(r.Warnings, fmt.Sprintf("SMTP ran from the first %d local addresses of the target only", maxSMTPSources))
					break
				}
				sources = append(sources, a)
			}
		}
	}
	if len(sources) == 0 {
		if explicit && o.SourceIP.IsValid() {
			sources = []netip.Addr{o.SourceIP}
		} else {
			sources = []netip.Addr{{}} // the system picks the source address
		}
	}
	if len(sources) > 1 {
		o.DialContext = nil // smtpcheck binds each source itself
	} else if o.DialContext != nil {
		o.DialContext = cm.progress.dialer(sources[0])
	}
	res := smtpcheck.RunFrom(ctx, domains, sources, o)
	if !sourcesCovered(checked, res) {
		used := usedSources(res)
		r.Warnings = append(r.Warnings, fmt.Sprintf("the SMTP part ran from %s, not from the checked address %s (it is not an address of this machine); behind NAT the MX may still see the checked address: compare the IP each MX echoed back",
			orUnknown(used), joinAddrs(checked)))
	}
	return res
}

// usedSources lists the distinct source addresses the probes used.
func usedSources(res *smtpcheck.Result) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range res.Domains {
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				if p.SourceIP != "" && !seen[p.SourceIP] {
					seen[p.SourceIP] = true
					out = append(out, p.SourceIP)
				}
			}
		}
	}
	return out
}

// sourcesCovered reports whether every probe that connected used one of the
// checked addresses.
func sourcesCovered(checked []netip.Addr, res *smtpcheck.Result) bool {
	set := map[string]bool{}
	for _, a := range checked {
		set[a.String()] = true
	}
	for _, s := range usedSources(res) {
		if !set[s] {
			return false
		}
	}
	return true
}

func orUnknown(s []string) string {
	if len(s) == 0 {
		return "this machine's default address"
	}
	return strings.Join(s, ", ")
}

func joinAddrs(a []netip.Addr) string {
	var s []string
	for i, x := range a {
		if i == 5 {
			s = append(s, fmt.Sprintf("… (%d in all)", len(a)))
			break
		}
		s = append(s, x.String())
	}
	return strings.Join(s, ", ")
}
