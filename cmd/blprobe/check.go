package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/check"
	"github.com/blprobe/blprobe/dnsbl"
)

// isLocal reports whether the SMTP part can run from a; tests replace it to
// model a CIDR that is only partly local.
var isLocal = check.CanBind

// checkArgs are the values of check's flags: every group's, and --to.
type checkArgs struct {
	common commonArgs
	dnsbl  dnsblArgs
	smtp   smtpArgs
	egress egressArgs
	to     cli.StringSlice
}

// flags is check's table: the common, DNSBL, SMTP (with -4/-6, which the
// egress detection shares) and egress flags, and --to.
func (a *checkArgs) flags() []cli.Flag {
	a.egress.fam = &a.smtp.fam // -4/-6 select the family of both
	flags := []cli.Flag{&cli.StringSliceFlag{Name: "to", Category: catTarget, EnvVars: []string{"BLPROBE_TO"}, Destination: &a.to, Usage: "`DOMAIN` whose MX to probe at the RCPT stage (repeatable; the domain of the bounced recipients), or user@DOMAIN to probe it with that recipient instead of postmaster@"}}
	flags = append(flags, a.dnsbl.flags()...)
	flags = append(flags, a.smtp.flags()...)
	flags = append(flags, a.smtp.fam.flags(catSMTP, "probe and detect")...)
	flags = append(flags, a.egress.flags()...)
	return append(flags, a.common.flags()...)
}

func checkCommand(st *streams) *cli.Command {
	var a checkArgs
	return &cli.Command{
		Name:      "check",
		Usage:     "the whole job: egress IP, DNS blocklists, reverse DNS, every MX of --to domains, one correlated report",
		ArgsUsage: "[IP|CIDR|HOSTNAME|auto] --to DOMAIN [--to DOMAIN...]",
		Description: "1. which IP: auto (default) asks OpenDNS, Google, Akamai and Cloudflare over DNS, and when they fail " +
			"uses the client IP the MXs of the --to domains echo in EHLO;\n" +
			"2-4. side by side: DNS blocklists for it; PTR, forward-confirmed rDNS and HELO readiness; " +
			"SMTP at the RCPT stage on every MX address of every --to domain, from the checked IP when it is local;\n" +
			"5. correlation: rejections vs listings, the IP the MX saw vs the checked IP, PTR vs 5.7.25.",
		Flags: a.flags(),
		Action: func(c *cli.Context) error {
			cm, err := a.common.setup(st)
			if err != nil {
				return err
			}
			return a.run(c, cm)
		},
	}
}

// run turns check's flags and argument into check.Options and writes the
// report of check.Run.
func (a *checkArgs) run(c *cli.Context, cm *common) error {
	if c.NArg() > 1 {
		return usagef("check takes one target (IP, CIDR, hostname or auto), got %d: %s", c.NArg(), strings.Join(c.Args().Slice(), " "))
	}
	var targets []dnsbl.Target
	if target := strings.TrimSpace(c.Args().First()); target != "" && target != "auto" {
		t, err := dnsbl.ParseTarget(target)
		if err != nil {
			return &usageError{err}
		}
		targets = []dnsbl.Target{t}
	}
	var domains []string
	if to := a.to.Value(); len(to) > 0 {
		d, err := a.smtp.domains(to)
		if err != nil {
			return err
		}
		domains = d
	}
	o, err := a.dnsbl.options(cm)
	if err != nil {
		return err
	}
	o.Targets, o.Domains, o.IsLocal = targets, domains, isLocal
	if len(domains) > 0 {
		if o.SMTP, err = a.smtp.options(cm, domains, a.to.Value()); err != nil {
			return err
		}
	}
	if o.Egress, err = a.egress.options(cm); err != nil {
		return err
	}
	if err := cm.checkOutput(); err != nil {
		return err
	}
	// The parts run side by side: the status line counts the DNSBL lookups
	// and names the DNS answer waited for; the SMTP probes do not count.
	o.SMTP.Progress, o.SMTP.DialContext = nil, nil
	o.SMTPNotes = idnNotes(a.to.Value())
	cm.progress.Phase("DNSBL, reverse DNS and SMTP", "lookups")
	return cm.run(c.Context, check.Run, o)
}
