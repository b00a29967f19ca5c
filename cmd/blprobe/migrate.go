package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/check"
	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/migrate"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/serve"
	"github.com/blprobe/blprobe/smtpcheck"
)

// migrateFlags are the values of migrate's flags: the common, DNSBL and
// SMTP groups (MAIL FROM is --mail-from here, --helo is the name used
// after the move, and the sources are the old and new addresses) and its
// own --from, --domain and --to.
type migrateFlags struct {
	common commonArgs
	dnsbl  dnsblArgs
	smtp   smtpArgs
	old    string
	domain cli.StringSlice
	to     cli.StringSlice
}

func (a *migrateFlags) flags() []cli.Flag {
	flags := append(a.common.flags(), a.dnsbl.flags()...)
	for _, f := range a.smtp.flags() {
		switch f.Names()[0] {
		case "from": // --from is the old address here; MAIL FROM is --mail-from
			flags = append(flags, &cli.StringFlag{Name: "mail-from", EnvVars: []string{"BLPROBE_MAIL_FROM"}, Destination: &a.smtp.from, Usage: "MAIL FROM `ADDRESS` of the SMTP probes (default: postmaster@ + the HELO name)"})
		case "helo":
			flags = append(flags, &cli.StringFlag{Name: "helo", EnvVars: []string{"BLPROBE_HELO"}, Destination: &a.smtp.helo, Usage: "the HELO `NAME` the server will use after the move: it must resolve to the new address; also the EHLO of the SMTP probes"})
		case "source-ip": // the sources are the old and new addresses
		default:
			flags = append(flags, f)
		}
	}
	flags = append(flags, a.smtp.fam.flags(catSMTP, "probe")...)
	return append(flags,
		&cli.StringFlag{Name: "from", Destination: &a.old, Usage: "the `OLD_IP` mail is sent from today"},
		&cli.StringSliceFlag{Name: "domain", EnvVars: []string{"BLPROBE_DOMAIN"}, Destination: &a.domain, Usage: "sender `DOMAIN` whose SPF and DMARC must authorise the new address (repeatable)"},
		&cli.StringSliceFlag{Name: "to", EnvVars: []string{"BLPROBE_TO"}, Destination: &a.to, Usage: "`DOMAIN` whose MX to probe at the RCPT stage from each address that is local (repeatable)"},
	)
}

func migrateCommand(st *streams) *cli.Command {
	var f migrateFlags
	return &cli.Command{
		Name:      "migrate",
		Usage:     "pre-migration readiness: old and new sending address side by side (listings, rDNS, HELO, SPF, DMARC, SMTP, port 25)",
		ArgsUsage: "--from OLD_IP NEW_IP|CIDR --domain SENDER_DOMAIN [--domain ...] [--to DOMAIN ...]",
		Description: "Every row is pass, fail, warn or not checked, with the exact fix. A failure of the new address is a " +
			"blocker (exit 1), e.g. Spamhaus PBL, no PTR, an SPF record that does not authorise it under a DMARC " +
			"reject policy. SMTP runs from an address only when it is an address of this machine; otherwise the " +
			"row says to run blprobe check from the new network after cut-over (exit 3).\n" +
			"Example: blprobe migrate --from 192.0.2.7 198.51.100.7 --domain example.com --to gmail.com --helo mail.example.com",
		Flags: f.flags(),
		Action: func(c *cli.Context) error {
			cm, err := f.common.setup(st)
			if err != nil {
				return err
			}
			return f.run(c, cm)
		},
	}
}

// migrateArgs is the parsed command line of migrate.
type migrateArgs struct {
	old     netip.Addr
	target  dnsbl.Target // the new address or CIDR
	prefix  netip.Prefix
	domains []string
	to      []string
	helo    string // --helo as given ("" skips the HELO row)
	sopts   smtpcheck.Options
}

func (f *migrateFlags) parse(c *cli.Context, cm *common) (*migrateArgs, error) {
	a := &migrateArgs{}
	from := strings.TrimSpace(f.old)
	if from == "" {
		return nil, usagef("migrate needs --from OLD_IP (the address mail is sent from today)")
	}
	old, err := netip.ParseAddr(from)
	if err != nil || old.Zone() != "" {
		return nil, usagef("invalid --from %q (want the old IPv4 or IPv6 address, e.g. 192.0.2.7)", from)
	}
	a.old = old.Unmap()
	if c.NArg() != 1 {
		return nil, usagef("migrate takes one NEW_IP or CIDR, got %d arguments", c.NArg())
	}
	arg := strings.TrimSpace(c.Args().First())
	if p, err := netip.ParsePrefix(arg); err == nil {
		a.prefix = p.Masked()
	} else if ip, err := netip.ParseAddr(arg); err == nil && ip.Zone() == "" {
		a.prefix = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
	} else {
		return nil, usagef("invalid new address %q (want an IPv4 or IPv6 address or a CIDR such as 198.51.100.0/28)", arg)
	}
	if a.prefix.IsSingleIP() && a.prefix.Addr() == a.old {
		return nil, usagef("the new address %s is the old one (--from): migrate compares the address mail is sent from today with the one it moves to", arg)
	}
	if a.target, err = dnsbl.ParseTarget(arg); err != nil {
		return nil, &usageError{err}
	}
	doms := f.domain.Value()
	if len(doms) == 0 {
		return nil, usagef("migrate needs --domain SENDER_DOMAIN (the domain in the envelope sender and From: of your mail)")
	}
	var senderRcpts []string
	if a.domains, senderRcpts, err = parseDomains(doms); err != nil {
		return nil, err
	}
	if len(senderRcpts) > 0 {
		return nil, usagef("invalid --domain %q (want the sender domain, e.g. example.org, not an address)", senderRcpts[0])
	}
	if to := f.to.Value(); len(to) > 0 {
		if a.to, _, err = parseDomains(to); err != nil {
			return nil, err
		}
		if a.sopts, err = f.smtp.options(cm, a.to, to); err != nil {
			return nil, err
		}
	} else if h := f.smtp.helo; h != "" && !serve.ValidHELO(h) {
		return nil, usagef("invalid --helo %q (want the fully qualified name the server will use after the move)", h)
	}
	a.helo = f.smtp.helo
	return a, nil
}

func (f *migrateFlags) run(c *cli.Context, cm *common) error {
	a, err := f.parse(c, cm)
	if err != nil {
		return err
	}
	o, err := f.dnsbl.options(cm)
	if err != nil {
		return err
	}
	if err := cm.checkOutput(); err != nil {
		return err
	}
	o.Domains, o.SMTP, o.IsLocal = a.to, a.sopts, isLocal
	o.Report = cm.newReport(cm.st.args, f.dnsbl.dqsKey) // tool, redacted argv, resolvers, warnings
	in, err := check.Migrate(c.Context, o, check.Move{Old: a.old, New: a.target, Prefix: a.prefix, Senders: a.domains, HELO: a.helo})
	cm.dns.Close() // every query is done: release the pooled sockets
	var ie *check.InputError
	switch {
	case errors.As(err, &ie):
		return &usageError{err}
	case err != nil:
		return &failure{err}
	}
	return writeMigrate(cm, migrate.Build(*in), f.dnsbl.dqsKey)
}

func writeMigrate(cm *common, r *migrate.Report, secret string) error {
	var b strings.Builder
	var err error
	switch cm.format {
	case "json":
		err = migrate.WriteJSON(&b, r)
	case "markdown":
		err = migrate.WriteMarkdown(&b, r)
	default:
		err = migrate.WriteText(&b, r, cm.verbose)
	}
	if err != nil {
		return fmt.Errorf("rendering the migrate report: %w", err)
	}
	out := report.Redact(b.String(), secret)
	if cm.output == "" {
		if _, err := fmt.Fprint(cm.st.stdout, out); err != nil {
			return err
		}
	} else {
		if err := os.WriteFile(cm.output, []byte(out), 0o644); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
		fmt.Fprintf(cm.st.stderr, "blprobe: report written to %s (verdict %s)\n", cm.output, r.Verdict)
	}
	if r.ExitCode == 0 {
		return nil
	}
	return exitCode(r.ExitCode)
}
