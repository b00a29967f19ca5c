package main

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/internal/correlate"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// smtpFlags are the flags of "smtp"; "check" takes them too. The number of
// probes at once is --smtp-concurrency; in "smtp" alone its old name
// --concurrency still works (in "check", --concurrency is the DNS one).
func smtpFlags(concurrencyAlias bool) []cli.Flag {
	var aliases, env []string
	if concurrencyAlias {
		aliases, env = []string{"concurrency"}, []string{"BLPROBE_CONCURRENCY"}
	}
	return []cli.Flag{
		&cli.StringFlag{Name: "from", Category: catSMTP, EnvVars: []string{"BLPROBE_FROM"}, Usage: "MAIL FROM `ADDRESS`, or '<>' for the null reverse-path (default: postmaster@ + the HELO name, or <> when the HELO is an address literal)"},
		&cli.StringSliceFlag{Name: "rcpt", Category: catSMTP, EnvVars: []string{"BLPROBE_RCPT"}, Usage: "RCPT TO `ADDRESS` (repeatable; each is sent only to the MX of its own domain, which must be a probed domain: anything else would be a relay test; default: postmaster@DOMAIN, which RFC 5321 §4.5.1 requires every domain to accept)"},
		&cli.StringFlag{Name: "helo", Category: catSMTP, EnvVars: []string{"BLPROBE_HELO"}, Usage: "EHLO `NAME` (default: this machine's FQDN if it has one, else an address literal of the source address)"},
		&cli.StringFlag{Name: "source-ip", Category: catSMTP, EnvVars: []string{"BLPROBE_SOURCE_IP"}, Usage: "bind outgoing SMTP connections to this local `IP`, like an MTA's bind address"},
		&cli.IntFlag{Name: "port", Category: catSMTP, EnvVars: []string{"BLPROBE_PORT"}, Value: 25, Usage: "SMTP `PORT` (for tests and lab setups)"},
		&cli.StringFlag{Name: "tls", Category: catSMTP, EnvVars: []string{"BLPROBE_TLS"}, Value: "opportunistic", Usage: "STARTTLS `MODE`: opportunistic, required or off"},
		&cli.DurationFlag{Name: "connect-timeout", Category: catSMTP, EnvVars: []string{"BLPROBE_CONNECT_TIMEOUT"}, Value: 10 * time.Second, Usage: "TCP connect timeout, a `DURATION`"},
		&cli.DurationFlag{Name: "command-timeout", Category: catSMTP, EnvVars: []string{"BLPROBE_COMMAND_TIMEOUT"}, Value: 30 * time.Second, Usage: "`DURATION` allowed for each complete server reply"},
		&cli.IntFlag{Name: "smtp-concurrency", Aliases: aliases, Category: catSMTP, EnvVars: append([]string{"BLPROBE_SMTP_CONCURRENCY"}, env...), Value: 16, Usage: "`N` SMTP probes at once (never more than one per address)"},
		&cli.BoolFlag{Name: "4", Category: catSMTP, Usage: "probe IPv4 addresses only"},
		&cli.BoolFlag{Name: "6", Category: catSMTP, Usage: "probe IPv6 addresses only"},
		&cli.Int64Flag{Name: "seed", Hidden: true, Usage: "seed for shuffling MX of equal preference (tests)"},
	}
}

func smtpCommand(st *streams) *cli.Command {
	return &cli.Command{
		Name:      "smtp",
		Usage:     "ask every MX of the domains at the RCPT stage (never sends DATA)",
		ArgsUsage: "DOMAIN|user@DOMAIN... | [IP]",
		Description: "For every MX (by preference) and every address of it: banner, EHLO, STARTTLS when offered, MAIL FROM,\n" +
			"RCPT TO, then RSET and QUIT. No DATA is ever sent, so no mail is delivered.\n" +
			"user@DOMAIN probes DOMAIN with RCPT TO:<user@DOMAIN> instead of postmaster@DOMAIN.",
		Flags: append(append([]cli.Flag{serverFlag()}, smtpFlags(true)...), commonFlags()...),
		Action: func(c *cli.Context) error {
			cm, err := parseCommon(c, st)
			if err != nil {
				return err
			}
			var sv *server
			if s := c.String("server"); s != "" {
				if sv, err = parseServer(s); err != nil {
					return err
				}
			}
			var names, literals []string
			for _, a := range c.Args().Slice() {
				if lit, ok := addressLiteral(strings.TrimSpace(a)); ok {
					if sv != nil && !sv.lit {
						return usagef("give either --server or an address literal such as %s, not both", a)
					}
					sv = lit
					literals = append(literals, literalDomain(lit.addr))
					continue
				}
				names = append(names, a)
			}
			if len(literals) > 1 || len(literals) == 1 && len(names) > 0 {
				return usagef("an address literal such as [192.0.2.1] must be the only target (to ask one server about several domains, use --server HOST)")
			}
			var domains, toRcpts []string
			if len(literals) == 1 {
				domains = literals
			} else if domains, toRcpts, err = parseDomains(names); err != nil {
				return err
			}
			opts, err := smtpOptions(c, cm, "smtp-concurrency")
			if err != nil {
				return err
			}
			if err := addRcpts(&opts, domains, toRcpts); err != nil {
				return err
			}
			if err := cm.checkOutput(); err != nil {
				return err
			}
			r := cm.newReport(st.args)
			cm.progress.Phase("SMTP", "probes")
			if sv != nil {
				if err := sv.resolve(c.Context, cm, opts); err != nil {
					return err
				}
				r.SMTP = probeServer(c.Context, sv, domains, opts)
			} else {
				r.SMTP = smtpcheck.Run(c.Context, domains, opts)
			}
			r.SMTP.Notes = append(r.SMTP.Notes, idnNotes(names)...)
			return cm.finish(c.Context, r, func(r *report.Report) { correlate.Analyze(r, nil, nil) })
		},
	}
}

// parseDomains validates the domain arguments of smtp and --to of check. An
// argument user@domain probes domain with that recipient: it is returned in
// rcpts.
func parseDomains(args []string) (domains, rcpts []string, err error) {
	if len(args) == 0 {
		return nil, nil, usagef("need at least one DOMAIN (the recipient domain whose MX to probe, e.g. example.com)")
	}
	seen := map[string]bool{}
	for _, a := range args {
		a = strings.TrimSpace(a)
		d := strings.TrimSuffix(strings.ToLower(a), ".")
		if i := strings.LastIndexByte(d, '@'); i >= 0 {
			if !validMailbox(a) {
				return nil, nil, usagef("invalid address %q (want DOMAIN or user@DOMAIN, e.g. postmaster@example.com)", a)
			}
			rcpts = append(rcpts, a)
			d = d[i+1:]
		}
		if ascii, err := toASCII(d); err == nil { // bücher.example → xn--bcher-kva.example
			d = strings.ToLower(ascii)
		}
		if !validDomain(d) {
			return nil, nil, usagef("invalid domain %q (want a domain name such as example.com)", a)
		}
		if !seen[d] {
			seen[d] = true
			domains = append(domains, d)
		}
	}
	return domains, rcpts, nil
}

// addRcpts adds the recipients named as user@DOMAIN targets to o.Rcpts and
// refuses a --rcpt outside the probed domains: asking an MX to accept mail
// for another domain is a relay test, not a probe of the sender's standing.
func addRcpts(o *smtpcheck.Options, domains, toRcpts []string) error {
	probed := map[string]bool{}
	for _, d := range domains {
		probed[d] = true
	}
	for _, r := range o.Rcpts {
		if !probed[smtpcheck.RcptDomain(r)] {
			return usagef("--rcpt %s is not in a probed domain (%s): its MX would be asked to relay to another domain; probe %s as a DOMAIN too, or drop it",
				r, strings.Join(domains, ", "), smtpcheck.RcptDomain(r))
		}
	}
	o.Rcpts = append(o.Rcpts, toRcpts...)
	return nil
}

// idnNotes says which domain arguments were internationalized names and
// what they are in DNS, so the report shows both forms.
func idnNotes(args []string) []string {
	var out []string
	for _, a := range args {
		d := strings.TrimSuffix(strings.TrimSpace(a), ".")
		if i := strings.LastIndexByte(d, '@'); i >= 0 {
			d = d[i+1:]
		}
		if ascii, err := toASCII(d); err == nil && !strings.EqualFold(ascii, d) {
			out = append(out, fmt.Sprintf("%s is %s in DNS and SMTP (IDNA, RFC 5891)", d, strings.ToLower(ascii)))
		}
	}
	return out
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func smtpOptions(c *cli.Context, cm *common, concurrencyName string) (smtpcheck.Options, error) {
	o := smtpcheck.Options{
		Resolver:       cm.progress.resolver(cm.dns),
		From:           mailFrom(c),
		Rcpts:          c.StringSlice("rcpt"),
		Port:           c.Int("port"),
		TLS:            smtpcheck.TLSMode(c.String("tls")),
		ConnectTimeout: c.Duration("connect-timeout"),
		CommandTimeout: c.Duration("command-timeout"),
		Concurrency:    c.Int(concurrencyName),
		IPv4Only:       c.Bool("4"),
		IPv6Only:       c.Bool("6"),
		Progress:       cm.progress.counter(),
	}
	if c.IsSet("seed") {
		o.Rand = rand.New(rand.NewPCG(uint64(c.Int64("seed")), 0))
	}
	switch o.TLS {
	case smtpcheck.TLSOpportunistic, smtpcheck.TLSRequired, smtpcheck.TLSOff:
	default:
		return o, usagef("invalid --tls %q (accepted: opportunistic, required, off)", c.String("tls"))
	}
	if o.Port < 1 || o.Port > 65535 {
		return o, usagef("invalid --port %d (accepted: 1 to 65535)", o.Port)
	}
	if o.ConnectTimeout <= 0 || o.CommandTimeout <= 0 {
		return o, usagef("invalid timeout: --connect-timeout and --command-timeout must be positive durations such as 10s")
	}
	if o.Concurrency < 1 || o.Concurrency > 1024 {
		return o, usagef("invalid --%s %d (accepted: 1 to 1024)", concurrencyName, o.Concurrency)
	}
	if o.IPv4Only && o.IPv6Only {
		return o, usagef("-4 and -6 exclude each other")
	}
	if s := c.String("source-ip"); s != "" {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return o, usagef("invalid --source-ip %q (want an IPv4 or IPv6 address of this machine)", s)
		}
		if !canBind(a) {
			return o, usagef("--source-ip %s is not an address of this machine (cannot bind to it)", a)
		}
		o.SourceIP = a.Unmap()
	}
	for _, addr := range append([]string{o.From}, o.Rcpts...) {
		if addr != "" && addr != smtpcheck.NullReversePath && !validMailbox(addr) {
			return o, usagef("invalid address %q (want local@domain, e.g. postmaster@example.com)", addr)
		}
	}
	helo := c.String("helo")
	if helo != "" && !validHELO(helo) {
		return o, usagef("invalid --helo %q (want this host's fully qualified name, or an address literal such as [192.0.2.1] or [IPv6:2001:db8::1])", helo)
	}
	if helo == "" {
		helo = smtpcheck.DefaultHELO()
	} else if !strings.Contains(helo, ".") && !strings.HasPrefix(helo, "[") {
		w := fmt.Sprintf("HELO name %q is not fully qualified: many receivers reject such a HELO (e.g. Postfix 504 5.5.2 need fully-qualified hostname)", helo)
		cm.warnings = append(cm.warnings, w)
		fmt.Fprintf(cm.st.stderr, "blprobe: warning: %s\n", w)
	}
	o.HELO = helo                                  // "" when this machine has no FQDN: smtpcheck uses address literals and says so
	o.DialContext = cm.progress.dialer(o.SourceIP) // nil without a terminal
	return o, nil
}

// validHELO accepts a domain name or an address literal (RFC 5321 §4.1.3).
func validHELO(h string) bool {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		lit := strings.TrimPrefix(h[1:len(h)-1], "IPv6:")
		a, err := netip.ParseAddr(lit)
		return err == nil && a.Zone() == "" && a.Is4() != strings.HasPrefix(h, "[IPv6:")
	}
	return validDomain(strings.ToLower(h))
}

func validMailbox(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " <>\r\n\t") {
		return false
	}
	dom := s[at+1:]
	if strings.HasPrefix(dom, "[") && strings.HasSuffix(dom, "]") {
		return true
	}
	return validDomain(strings.ToLower(dom))
}
