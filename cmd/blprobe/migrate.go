package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sync/errgroup"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/mailauth"
	"github.com/blprobe/blprobe/migrate"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

func migrateCommand(st *streams) *cli.Command {
	flags := append(commonFlags(), dnsblFlags()...)
	for _, f := range smtpFlags(false) {
		switch f.Names()[0] {
		case "from": // --from is the old address here; MAIL FROM is --mail-from
			flags = append(flags, &cli.StringFlag{Name: "mail-from", EnvVars: []string{"BLPROBE_MAIL_FROM"}, Usage: "MAIL FROM `ADDRESS` of the SMTP probes (default: postmaster@ + the HELO name)"})
		case "helo":
			flags = append(flags, &cli.StringFlag{Name: "helo", EnvVars: []string{"BLPROBE_HELO"}, Usage: "the HELO `NAME` the server will use after the move: it must resolve to the new address; also the EHLO of the SMTP probes"})
		case "source-ip": // the sources are the old and new addresses
		default:
			flags = append(flags, f)
		}
	}
	flags = append(flags,
		&cli.StringFlag{Name: "from", Usage: "the `OLD_IP` mail is sent from today"},
		&cli.StringSliceFlag{Name: "domain", EnvVars: []string{"BLPROBE_DOMAIN"}, Usage: "sender `DOMAIN` whose SPF and DMARC must authorise the new address (repeatable)"},
		&cli.StringSliceFlag{Name: "to", EnvVars: []string{"BLPROBE_TO"}, Usage: "`DOMAIN` whose MX to probe at the RCPT stage from each address that is local (repeatable)"},
	)
	return &cli.Command{
		Name:      "migrate",
		Usage:     "pre-migration readiness: old and new sending address side by side (listings, rDNS, HELO, SPF, DMARC, SMTP, port 25)",
		ArgsUsage: "--from OLD_IP NEW_IP|CIDR --domain SENDER_DOMAIN [--domain ...] [--to DOMAIN ...]",
		Description: "Every row is pass, fail, warn or not checked, with the exact fix. A failure of the new address is a\n" +
			"blocker (exit 1), e.g. Spamhaus PBL, no PTR, an SPF record that does not authorise it under a DMARC\n" +
			"reject policy. SMTP runs from an address only when it is an address of this machine; otherwise the\n" +
			"row says to run blprobe check from the new network after cut-over (exit 3).\n" +
			"Example: blprobe migrate --from 192.0.2.7 198.51.100.7 --domain example.com --to gmail.com --helo mail.example.com",
		Flags: flags,
		Action: func(c *cli.Context) error {
			cm, err := parseCommon(c, st)
			if err != nil {
				return err
			}
			return runMigrate(c, cm)
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

func parseMigrate(c *cli.Context, cm *common) (*migrateArgs, error) {
	a := &migrateArgs{}
	from := strings.TrimSpace(c.String("from"))
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
	if a.target, err = dnsbl.ParseTarget(arg); err != nil {
		return nil, &usageError{err}
	}
	doms := c.StringSlice("domain")
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
	if to := c.StringSlice("to"); len(to) > 0 {
		var toRcpts []string
		if a.to, toRcpts, err = parseDomains(to); err != nil {
			return nil, err
		}
		if a.sopts, err = smtpOptions(c, cm, "smtp-concurrency"); err != nil {
			return nil, err
		}
		if err := addRcpts(&a.sopts, a.to, toRcpts); err != nil {
			return nil, err
		}
	} else if h := c.String("helo"); h != "" && !validHELO(h) {
		return nil, usagef("invalid --helo %q (want the fully qualified name the server will use after the move)", h)
	}
	a.helo = c.String("helo")
	return a, nil
}

// mailFrom is the MAIL FROM flag of the running command: migrate calls it
// --mail-from because its --from is the old address.
func mailFrom(c *cli.Context) string {
	if c.Command != nil && c.Command.Name == "migrate" {
		return c.String("mail-from")
	}
	return c.String("from")
}

func runMigrate(c *cli.Context, cm *common) error {
	ctx := c.Context
	a, err := parseMigrate(c, cm)
	if err != nil {
		return err
	}
	dc, err := newDNSBLRun(c, cm)
	if err != nil {
		return err
	}
	if err := cm.checkOutput(); err != nil {
		return err
	}
	in, err := gatherMigrate(ctx, cm, dc, a)
	if err != nil {
		return err
	}
	in.Command = cm.newReport(cm.st.args, dc.key).Command // redacted argv
	r := migrate.Build(*in)
	return writeMigrate(cm, r, dc.key)
}

// gatherMigrate collects everything migrate.Build needs: DNSBL results,
// reverse DNS, SPF and DMARC, and SMTP from the addresses that are local.
// It is the one place that queries the network, so that it can be swapped
// for the check library's pipeline.
func gatherMigrate(ctx context.Context, cm *common, dc *dnsblRun, a *migrateArgs) (*migrate.Inputs, error) {
	in := &migrate.Inputs{
		Tool: report.Tool{Name: "blprobe", Version: toolVersion()}, Started: time.Now().UTC(),
		Resolvers: cm.resolvers, Warnings: append([]string{}, cm.warnings...),
		NewTarget: a.target.Input, Catalog: dc.catalog, Domains: a.domains, SMTPDomains: a.to, HELO: a.helo,
	}
	if in.NewTarget == "" {
		in.NewTarget = a.prefix.String()
	}
	if len(a.to) == 0 {
		in.Warnings = append(in.Warnings, "no --to domain given: SMTP acceptance and outbound port 25 were not checked")
	}
	if a.helo == "" {
		in.Warnings = append(in.Warnings, "no --helo given: whether the HELO name used after the move resolves to the new address was not checked")
	}
	oldT, err := dnsbl.ParseTarget(a.old.String())
	if err != nil {
		return nil, &usageError{err}
	}

	// 1. Listings of both.
	plan, err := dc.checker.Plan(ctx, []dnsbl.Target{oldT, a.target}, dc.zones)
	if err != nil {
		return nil, planError(err)
	}
	if err := checkPairs(plan); err != nil {
		return nil, err
	}
	run := dc.checker.Run(ctx, plan)
	in.Zones = run.Zones

	// The new addresses: all of a small range, the first maxRDNS of a larger one.
	var news []netip.Addr
	for ip := a.prefix.Addr(); a.prefix.Contains(ip); ip = ip.Next() {
		if len(news) == maxRDNS {
			break
		}
		news = append(news, ip)
	}
	in.RangeSize = rangeSize(a.prefix)
	if in.RangeSize > len(news) {
		in.Warnings = append(in.Warnings, fmt.Sprintf("reverse DNS, SPF and SMTP were checked for the first %d of %d addresses of %s only", len(news), in.RangeSize, a.prefix))
	}
	sides := make([]migrate.Side, len(news)+1)
	for i, ip := range append([]netip.Addr{a.old}, news...) {
		sides[i].Addr = ip
	}
	byIP := map[string][]dnsbl.Result{}
	for _, res := range run.Results {
		byIP[res.IP] = append(byIP[res.IP], res)
	}
	for i := range sides {
		sides[i].DNSBL = byIP[sides[i].Addr.String()]
	}

	// 2. Reverse DNS and HELO; 3. SPF for each domain.
	heloName := a.helo
	g := new(errgroup.Group)
	g.SetLimit(16)
	for i := range sides {
		sides[i].SPF = make([]mailauth.SPF, len(a.domains))
		g.Go(func() error {
			rd := checkRDNS(ctx, cm, []netip.Addr{sides[i].Addr}, heloName)[0]
			sides[i].RDNS = &rd
			for j, d := range a.domains {
				sides[i].SPF[j] = mailauth.CheckSPF(ctx, cm.dns, d, sides[i].Addr)
			}
			return nil
		})
	}
	g.Wait()

	// 4. DMARC, and the SPF record to publish when the new range fails.
	for j, d := range a.domains {
		in.DMARC = append(in.DMARC, mailauth.CheckDMARC(ctx, cm.dns, d))
		var sg *mailauth.Suggestion
		for _, s := range sides[1:] {
			if s.SPF[j].Result != mailauth.Pass {
				sg = mailauth.Suggest(ctx, cm.dns, s.SPF[j], a.prefix, a.old)
				break
			}
		}
		in.Suggestions = append(in.Suggestions, sg)
	}

	// 5. SMTP from each side that is an address of this machine; the old
	// column falls back to this machine's default address (this network).
	if len(a.to) > 0 {
		if isLocal(a.old) {
			sides[0].SMTP = smtpcheck.RunFrom(ctx, a.to, []netip.Addr{a.old}, a.sopts)
		} else {
			sides[0].SMTP = smtpcheck.RunFrom(ctx, a.to, []netip.Addr{{}}, a.sopts)
			sides[0].SMTPNote = fmt.Sprintf("from %s: %s is not an address of this machine", orUnknown(usedSources(sides[0].SMTP)), a.old)
		}
		for i := 1; i < len(sides) && i <= maxSMTPSources; i++ {
			if isLocal(sides[i].Addr) {
				sides[i].SMTP = smtpcheck.RunFrom(ctx, a.to, []netip.Addr{sides[i].Addr}, a.sopts)
			}
		}
	}
	in.Old, in.New = sides[0], sides[1:]
	in.Interrupted = ctx.Err() != nil
	in.Finished = time.Now().UTC()
	return in, nil
}

// rangeSize is the number of addresses of p, capped at 1<<30.
func rangeSize(p netip.Prefix) int {
	host := p.Addr().BitLen() - p.Bits()
	if host >= 30 {
		return 1 << 30
	}
	return 1 << host
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
