package main

import (
	"errors"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/check"
	"github.com/blprobe/blprobe/dnsbl"
)

// isLocal reports whether the SMTP part can run from a; tests replace it to
// model a CIDR that is only partly local.
var isLocal = check.CanBind

func checkCommand(st *streams) *cli.Command {
	flags := append(commonFlags(), dnsblFlags()...)
	flags = append(flags, smtpFlags("smtp-concurrency")...)
	flags = append(flags, egressFlags()...)
	flags = append(flags, &cli.StringSliceFlag{Name: "to", EnvVars: []string{"BLPROBE_TO"}, Usage: "`DOMAIN` whose MX to probe at the RCPT stage, or user@DOMAIN to probe it with that recipient instead of postmaster@ (repeatable)"})
	return &cli.Command{
		Name:      "check",
		Usage:     "the whole job: egress IP, DNS blocklists, reverse DNS, every MX of --to domains, one correlated report",
		ArgsUsage: "[IP|CIDR|HOSTNAME|auto] --to DOMAIN [--to DOMAIN...]",
		Description: "1. which IP: auto (default) asks OpenDNS, Google, Akamai and Cloudflare over DNS;\n" +
			"2. DNS blocklists for it; 3. PTR, forward-confirmed rDNS and HELO readiness;\n" +
			"4. SMTP at the RCPT stage on every MX address of every --to domain, from the checked IP when it is local;\n" +
			"5. correlation: rejections vs listings, the IP the MX saw vs the checked IP, PTR vs 5.7.25.\n" +
			"Example: blprobe check --to gmail.com --to outlook.com",
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
	ctx := cm.context(c.Context)
	if c.NArg() > 1 {
		return usagef("check takes one target (IP, CIDR, hostname or auto), got %d: %s", c.NArg(), strings.Join(c.Args().Slice(), " "))
	}
	target := strings.TrimSpace(c.Args().First())
	var o check.Options
	if target != "" && target != "auto" {
		t, err := dnsbl.ParseTarget(target)
		if err != nil {
			return &usageError{err}
		}
		o.Targets = []dnsbl.Target{t}
	}
	var toRcpts []string
	if to := c.StringSlice("to"); len(to) > 0 {
		d, r, err := parseDomains(to)
		if err != nil {
			return err
		}
		o.Domains, toRcpts = d, r
	}
	dc, err := newDNSBLRun(c, cm)
	if err != nil {
		return err
	}
	if len(o.Domains) > 0 {
		if o.SMTP, err = smtpOptions(c, cm, "smtp-concurrency"); err != nil {
			return err
		}
		if err := addRcpts(&o.SMTP, o.Domains, toRcpts); err != nil {
			return err
		}
	}
	if o.Egress, err = egressOptions(c, cm); err != nil {
		return err
	}
	if err := cm.checkOutput(); err != nil {
		return err
	}
	o.Resolver, o.DNSBL, o.Zones, o.Catalog = cm.dns, dc.checker, dc.zones, dc.catalog
	o.IsLocal = isLocal
	o.Report = cm.newReport(cm.st.args, dc.key)
	r, err := check.Run(ctx, o)
	var ie *check.InputError
	switch {
	case errors.As(err, &ie):
		return &usageError{err}
	case err != nil:
		return &failure{err}
	}
	return cm.deliver(r)
}
