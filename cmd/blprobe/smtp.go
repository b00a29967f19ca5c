package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/check"
	"github.com/blprobe/blprobe/serve"
	"github.com/blprobe/blprobe/smtpcheck"
)

// familyArgs are -4 and -6, shared by the SMTP and egress flags of check.
type familyArgs struct{ v4, v6 bool }

func (a *familyArgs) flags(category, what string) []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "4", Category: category, Destination: &a.v4, Usage: what + " IPv4 only"},
		&cli.BoolFlag{Name: "6", Category: category, Destination: &a.v6, Usage: what + " IPv6 only"},
	}
}

func (a *familyArgs) validate() error {
	if a.v4 && a.v6 {
		return usagef("-4 and -6 exclude each other")
	}
	return nil
}

// smtpArgs are the values of the SMTP flags (smtp, check).
type smtpArgs struct {
	from           string
	rcpt           cli.StringSlice
	helo           string
	sourceIP       string
	port           int
	tls            string
	connectTimeout time.Duration
	commandTimeout time.Duration
	concurrency    int
	seed           int64
	seedSet        bool
	fam            familyArgs

	concurrencyAlias bool // --concurrency also names --smtp-concurrency (smtp alone; in check it is the DNS one)
}

// flags is the table of the SMTP flags; -4/-6 are not in it (see familyArgs).
func (a *smtpArgs) flags() []cli.Flag {
	var aliases, env []string
	if a.concurrencyAlias {
		aliases, env = []string{"concurrency"}, []string{"BLPROBE_CONCURRENCY"}
	}
	return []cli.Flag{
		&cli.StringFlag{Name: "from", Category: catSMTP, EnvVars: []string{"BLPROBE_FROM"}, Destination: &a.from, Usage: "MAIL FROM `ADDRESS`, or '<>' for the null reverse-path (default: postmaster@ + the HELO name, or <> when the HELO is an address literal)"},
		&cli.StringSliceFlag{Name: "rcpt", Category: catSMTP, EnvVars: []string{"BLPROBE_RCPT"}, Destination: &a.rcpt, Usage: "RCPT TO `ADDRESS` (repeatable; each is sent only to the MX of its own domain, which must be a probed domain: anything else would be a relay test; default: postmaster@DOMAIN, which RFC 5321 §4.5.1 requires every domain to accept)"},
		&cli.StringFlag{Name: "helo", Category: catSMTP, EnvVars: []string{"BLPROBE_HELO"}, Destination: &a.helo, Usage: "EHLO `NAME` (default: this machine's FQDN if it has one, else an address literal of the source address)"},
		&cli.StringFlag{Name: "source-ip", Category: catSMTP, EnvVars: []string{"BLPROBE_SOURCE_IP"}, Destination: &a.sourceIP, Usage: "bind outgoing SMTP connections to this local `IP`, like an MTA's bind address"},
		&cli.IntFlag{Name: "port", Category: catSMTP, EnvVars: []string{"BLPROBE_PORT"}, Destination: &a.port, Value: smtpcheck.DefaultPort, Usage: "SMTP `PORT` (for tests and lab setups)"},
		&cli.StringFlag{Name: "tls", Category: catSMTP, EnvVars: []string{"BLPROBE_TLS"}, Destination: &a.tls, Value: string(smtpcheck.TLSOpportunistic), Usage: "STARTTLS `MODE`: opportunistic, required or off"},
		&cli.DurationFlag{Name: "connect-timeout", Category: catSMTP, EnvVars: []string{"BLPROBE_CONNECT_TIMEOUT"}, Destination: &a.connectTimeout, Value: smtpcheck.DefaultConnectTimeout, Usage: "TCP connect timeout, a `DURATION`"},
		&cli.DurationFlag{Name: "command-timeout", Category: catSMTP, EnvVars: []string{"BLPROBE_COMMAND_TIMEOUT"}, Destination: &a.commandTimeout, Value: smtpcheck.DefaultCommandTimeout, Usage: "`DURATION` allowed for each complete server reply"},
		&cli.IntFlag{Name: "smtp-concurrency", Aliases: aliases, Category: catSMTP, EnvVars: append([]string{"BLPROBE_SMTP_CONCURRENCY"}, env...), Destination: &a.concurrency, Value: smtpcheck.DefaultConcurrency, Usage: "`N` SMTP probes at once (never more than one per address)"},
		&cli.Int64Flag{Name: "seed", Hidden: true, Destination: &a.seed, Usage: "seed for shuffling MX of equal preference (tests)",
			Action: func(*cli.Context, int64) error { a.seedSet = true; return nil }},
	}
}

func smtpCommand(st *streams) *cli.Command {
	var (
		ca        commonArgs
		sa        = smtpArgs{concurrencyAlias: true}
		serverArg string
	)
	flags := []cli.Flag{serverFlag(&serverArg)}
	flags = append(append(append(flags, sa.flags()...), sa.fam.flags(catSMTP, "probe")...), ca.flags()...)
	return &cli.Command{
		Name:      "smtp",
		Usage:     "ask every MX of the domains at the RCPT stage (never sends DATA)",
		ArgsUsage: "DOMAIN|user@DOMAIN... | [IP]",
		Description: "For every MX (by preference) and every address of it: banner, EHLO, STARTTLS when offered, MAIL FROM, " +
			"RCPT TO, then RSET and QUIT. No DATA is ever sent, so no mail is delivered.\n" +
			"user@DOMAIN probes DOMAIN with RCPT TO:<user@DOMAIN> instead of postmaster@DOMAIN.",
		Flags: flags,
		Action: func(c *cli.Context) error {
			cm, err := ca.setup(st)
			if err != nil {
				return err
			}
			var sv *server
			if serverArg != "" {
				if sv, err = parseServer(serverArg); err != nil {
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
			o := cm.options()
			targets := names
			if len(literals) == 1 {
				o.Domains, targets = literals, nil
			} else if o.Domains, err = sa.domains(names); err != nil {
				return err
			}
			if o.SMTP, err = sa.options(cm, o.Domains, targets); err != nil {
				return err
			}
			if err := cm.checkOutput(); err != nil {
				return err
			}
			cm.progress.Phase("SMTP", "probes")
			if sv != nil { // one given server instead of the domains' MX
				if err := sv.resolve(c.Context, cm, o.SMTP); err != nil {
					return err
				}
				o.ProbeSMTP = func(ctx context.Context, domains []string, so smtpcheck.Options) *smtpcheck.Result {
					return probeServer(ctx, sv, domains, so)
				}
			}
			o.SMTPNotes = idnNotes(names)
			return cm.run(c.Context, check.RunSMTP, o)
		},
	}
}

// domains validates the recipient domains (DOMAIN or user@DOMAIN).
func (a *smtpArgs) domains(args []string) ([]string, error) {
	d, _, err := parseDomains(args)
	return d, err
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
		if !serve.ValidDomain(d) {
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

// options validates the SMTP flags and returns the probe options for
// domains; targets are the DOMAIN or user@DOMAIN arguments, whose users
// become recipients.
func (a *smtpArgs) options(cm *common, domains, targets []string) (smtpcheck.Options, error) {
	o := smtpcheck.Options{
		Resolver:       cm.progress.resolver(cm.dns),
		From:           a.from,
		Rcpts:          a.rcpt.Value(),
		Port:           a.port,
		TLS:            smtpcheck.TLSMode(a.tls),
		ConnectTimeout: a.connectTimeout,
		CommandTimeout: a.commandTimeout,
		Concurrency:    a.concurrency,
		IPv4Only:       a.fam.v4,
		IPv6Only:       a.fam.v6,
		Progress:       cm.progress.counter(),
	}
	if a.seedSet {
		o.Rand = rand.New(rand.NewPCG(uint64(a.seed), 0))
	}
	switch o.TLS {
	case smtpcheck.TLSOpportunistic, smtpcheck.TLSRequired, smtpcheck.TLSOff:
	default:
		return o, usagef("invalid --tls %q (accepted: opportunistic, required, off)", a.tls)
	}
	if o.Port < 1 || o.Port > 65535 {
		return o, usagef("invalid --port %d (accepted: 1 to 65535)", o.Port)
	}
	if o.ConnectTimeout <= 0 || o.CommandTimeout <= 0 {
		return o, usagef("invalid timeout: --connect-timeout and --command-timeout must be positive durations such as 10s")
	}
	if o.Concurrency < 1 || o.Concurrency > 1024 {
		return o, usagef("invalid --smtp-concurrency %d (accepted: 1 to 1024)", o.Concurrency)
	}
	if err := a.fam.validate(); err != nil {
		return o, err
	}
	if s := a.sourceIP; s != "" {
		ip, err := netip.ParseAddr(s)
		if err != nil || ip.Zone() != "" {
			return o, usagef("invalid --source-ip %q (want an IPv4 or IPv6 address of this machine)", s)
		}
		if !check.CanBind(ip) {
			return o, usagef("--source-ip %s is not an address of this machine (cannot bind to it)", ip)
		}
		o.SourceIP = ip.Unmap()
	}
	for _, addr := range append([]string{o.From}, o.Rcpts...) {
		if addr != "" && addr != smtpcheck.NullReversePath && !validMailbox(addr) {
			return o, usagef("invalid address %q (want local@domain, e.g. postmaster@example.com)", addr)
		}
	}
	helo := a.helo
	if helo != "" && !serve.ValidHELO(helo) {
		return o, usagef("invalid --helo %q (want this host's fully qualified name, or an address literal such as [192.0.2.1] or [IPv6:2001:db8::1])", helo)
	}
	if helo == "" {
		helo = smtpcheck.DefaultHELO()
	} else if !strings.Contains(helo, ".") && !strings.HasPrefix(helo, "[") {
		cm.warn(fmt.Sprintf("HELO name %q is not fully qualified: many receivers reject such a HELO (e.g. Postfix 504 5.5.2 need fully-qualified hostname)", helo))
	}
	o.HELO = helo                                  // "" when this machine has no FQDN: smtpcheck uses address literals and says so
	o.DialContext = cm.progress.dialer(o.SourceIP) // nil without a terminal
	var toRcpts []string
	if len(targets) > 0 {
		var err error
		if _, toRcpts, err = parseDomains(targets); err != nil {
			return o, err
		}
	}
	if err := addRcpts(&o, domains, toRcpts); err != nil {
		return o, err
	}
	return o, nil
}

func validMailbox(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " <>\r\n\t") {
		return false
	}
	// RFC 5321 §4.1.2: an "@" in the local part only inside a Quoted-string.
	if local := s[:at]; strings.Contains(local, "@") && !(strings.HasPrefix(local, `"`) && strings.HasSuffix(local, `"`)) {
		return false
	}
	dom := s[at+1:]
	if strings.HasPrefix(dom, "[") && strings.HasSuffix(dom, "]") {
		return true
	}
	return serve.ValidDomain(strings.ToLower(dom))
}
