package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/check"
	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/report"
)

// version is set at build time with -ldflags "-X main.version=…"; when empty
// the module version recorded by "go install" is used.
var version = ""

func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// usageError is bad input: exit code 2, one line on stderr, nothing queried.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error {
	return &usageError{fmt.Errorf(format, a...)}
}

// failure is an error that stopped a command before it could report, not
// caused by bad input (e.g. the resolver is unreachable): exit code 3.
type failure struct{ err error }

func (e *failure) Error() string { return e.err.Error() }
func (e *failure) Unwrap() error { return e.err }

// writeFailure is a run that finished but whose report could not be written
// (disk full, closed pipe): exit code 4, and stderr says what was lost.
type writeFailure struct {
	err      error
	verdict  report.Verdict
	exitCode int
	dest     string
}

func (e *writeFailure) Error() string {
	return fmt.Sprintf("the run finished with verdict %s (exit code %d would have been returned), but the report could not be written to %s, so it is lost: %v",
		e.verdict, e.exitCode, e.dest, e.err)
}
func (e *writeFailure) Unwrap() error { return e.err }

// exitCode carries the exit code of a command that ran to the end.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

const exitHelp = `EXIT CODES:
   0  everything was checked and is clean
   1  listed on a block list, or an MX refused with a 5xx caused by the sending IP, its reputation, PTR/HELO or sender policy
   2  usage or input error (nothing was queried)
   3  inconclusive: some check did not end in a verdict (no RCPT answer, DNS errors, a domain that accepts no mail, the MX saw another IP, a 5xx not tied to the sender), or the run was interrupted
   4  the run finished but the report could not be written (disk full, closed pipe)`

// io holds the streams of one run, so tests can drive run() with buffers.
type streams struct {
	args           []string
	stdin          io.Reader
	stdout, stderr io.Writer
	progress       *progress // the status line on a terminal's stderr, nil otherwise
}

// run is the whole program: it parses args, runs the command and returns the
// exit code. Tests call it directly with buffers.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	st := &streams{args: args, stdin: stdin, stdout: stdout, stderr: stderr}
	app := newApp(st)
	err := app.RunContext(ctx, permute(app, args))
	st.progress.Stop()
	if nagiosFormat(args) {
		return nagiosExit(err, stdout)
	}
	var ec exitCode
	var ue *usageError
	var fe *failure
	var wf *writeFailure
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ec):
		return int(ec)
	case errors.As(err, &wf):
		fmt.Fprintf(stderr, "blprobe: %s\n", oneLine(wf.Error()))
		return report.ExitWriteFailed
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "blprobe: %s\n", oneLine(ue.Error()))
		return report.ExitUsage
	case errors.As(err, &fe):
		fmt.Fprintf(stderr, "blprobe: %s\n", oneLine(fe.Error()))
		return report.ExitInconclusive
	default:
		// Flag parsing errors from urfave/cli and anything unexpected.
		if errors.As(friendlyFlagError(err, allFlags(app), app), &ue) {
			err = ue
		}
		fmt.Fprintf(stderr, "blprobe: %s\n", oneLine(err.Error()))
		return report.ExitUsage
	}
}

// nagiosFormat reports whether the command line (or BLPROBE_FORMAT) asks
// for --format nagios; it is looked at before parsing so that even a usage
// error is answered in the plugin format.
func nagiosFormat(args []string) bool {
	format := os.Getenv("BLPROBE_FORMAT")
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--format="); ok {
			format = v
		} else if (a == "--format" || a == "-format") && i+1 < len(args) {
			format = args[i+1]
		}
	}
	return format == "nagios"
}

// nagiosExit maps the outcome of a --format nagios run to the plugin
// return codes: the status line is written already unless the run failed
// before reporting, which is UNKNOWN (3) with the reason as the status line
// (the guidelines' code for invalid arguments and internal failures).
func nagiosExit(err error, stdout io.Writer) int {
	var ec exitCode
	switch {
	case err == nil:
		return report.NagiosOK
	case errors.As(err, &ec) && int(ec) <= report.NagiosUnknown && int(ec) >= 0:
		return int(ec)
	default:
		return report.NagiosUsage(stdout, oneLine(err.Error()))
	}
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func newApp(st *streams) *cli.App {
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"}
	// -v is --verbose in every command; the version is --version or -V.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Aliases: []string{"V"}, Usage: "print the version"}
	cli.HelpPrinter = printHelp
	app := &cli.App{
		Name:    "blprobe",
		Usage:   "find out why mail is not delivered: DNS blocklists, every MX at the RCPT stage, one report",
		Version: toolVersion(),
		Description: "blprobe checks an IP (or CIDR, hostname, or the auto-detected egress IP) against DNS blocklists, " +
			"asks every MX of the domains that bounce whether they would accept mail (EHLO, STARTTLS, MAIL FROM, " +
			"RCPT TO, then RSET/QUIT: it never sends DATA, so no mail is ever delivered), and writes a report.\n" +
			"The options of each command are in blprobe COMMAND --help; the common ones (--format, --output, " +
			"--resolver, --timeout, --width, -v…) may also come before the command.\n\n" +
			"EXAMPLES:\n" +
			"   blprobe check --to gmail.com --to outlook.com\n" +
			"   blprobe --format json dnsbl 192.0.2.7 198.51.100.0/28\n" +
			"   blprobe smtp -v example.com\n\n" + exitHelp,
		Reader:          st.stdin,
		Writer:          st.stdout,
		ErrWriter:       st.stderr,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return friendlyFlagError(err, allFlags(c.App), c.App)
		},
		CommandNotFound: func(c *cli.Context, name string) {},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("unknown command %q (commands: check, dnsbl, smtp, egress, zones, migrate, diff, serve, version; see blprobe --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		Commands: []*cli.Command{
			checkCommand(st),
			dnsblCommand(st),
			smtpCommand(st),
			egressCommand(st),
			zonesCommand(st),
			migrateCommand(st),
			diffCommand(st),
			serveCommand(st),
			versionCommand(st),
		},
	}
	for _, c := range app.Commands {
		c.OnUsageError = commandUsageError(c)
		for _, s := range c.Subcommands {
			s.OnUsageError = commandUsageError(s)
		}
	}
	return app
}

// commandUsageError words flag errors of cmd with its own flags, so that
// suggestions ("did you mean --zone?") are flags cmd takes.
func commandUsageError(cmd *cli.Command) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		return friendlyFlagError(err, cmd.Flags, nil)
	}
}

// allFlags are the flags of every command, for errors before a command.
func allFlags(app *cli.App) []cli.Flag {
	var out []cli.Flag
	seen := map[string]bool{}
	var walk func([]*cli.Command)
	walk = func(cs []*cli.Command) {
		for _, c := range cs {
			for _, f := range c.Flags {
				if n := f.Names()[0]; !seen[n] {
					seen[n] = true
					out = append(out, f)
				}
			}
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
	return append(out, app.Flags...)
}

func versionCommand(st *streams) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version (also: blprobe --version, -V)",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("version takes no arguments (got %q)", c.Args().First())
			}
			fmt.Fprintf(st.stdout, "blprobe version %s\n", toolVersion())
			return nil
		},
	}
}

// commonArgs are the values of the flags every command takes.
type commonArgs struct {
	resolvers cli.StringSlice
	timeout   time.Duration
	retries   int
	format    string
	warning   string // Nagios ranges of --format nagios
	critical  string
	output    string
	noColor   bool
	verbose   bool
	debug     bool
	logFormat string
	width     int
	widthSet  bool
	jsonlOK   bool // --format jsonl is accepted (dnsbl only): set by the command, not a flag
}

// flags is the table of the common flags; each can also be set by an
// environment variable BLPROBE_*.
func (a *commonArgs) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "resolver", Category: catDNS, EnvVars: []string{"BLPROBE_RESOLVER"}, Destination: &a.resolvers, Usage: "DNS resolver `HOST[:PORT]` (repeatable; default: the nameservers of /etc/resolv.conf)"},
		&cli.DurationFlag{Name: "timeout", Category: catDNS, EnvVars: []string{"BLPROBE_TIMEOUT"}, Destination: &a.timeout, Value: dnsclient.DefaultTimeout, Usage: "timeout of one DNS query, a `DURATION` such as 2s"},
		&cli.IntFlag{Name: "retries", Category: catDNS, EnvVars: []string{"BLPROBE_RETRIES"}, Destination: &a.retries, Value: dnsclient.DefaultRetries, Usage: "`N` DNS retries after a timeout (0 to 10)"},
		&cli.StringFlag{Name: "format", Category: catOutput, EnvVars: []string{"BLPROBE_FORMAT"}, Destination: &a.format, Value: "text", Usage: "report `FORMAT`: text, json, markdown (md), nagios (one plugin status line, Nagios exit codes 0-3), or jsonl (dnsbl only: one JSON object per result as it completes); any case"},
		&cli.StringFlag{Name: "warning", Category: catOutput, EnvVars: []string{"BLPROBE_WARNING"}, Destination: &a.warning, Value: "0", Usage: "--format nagios: WARNING when the number of listings is outside this Nagios `RANGE` (e.g. 0: any listing)"},
		&cli.StringFlag{Name: "critical", Category: catOutput, EnvVars: []string{"BLPROBE_CRITICAL"}, Destination: &a.critical, Value: "0", Usage: "--format nagios: CRITICAL when the number of listings is outside this Nagios `RANGE` (e.g. 1: two or more)"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Category: catOutput, EnvVars: []string{"BLPROBE_OUTPUT"}, Destination: &a.output, Usage: "write the report to `FILE` instead of stdout (- is stdout)", TakesFile: true},
		&cli.IntFlag{Name: "width", Category: catOutput, EnvVars: []string{"BLPROBE_WIDTH"}, Destination: &a.width, Usage: "fit the text report in `N` columns (0: no limit; default: the terminal's width, else $COLUMNS, else no limit)",
			Action: func(*cli.Context, int) error { a.widthSet = true; return nil }},
		&cli.BoolFlag{Name: "no-color", Category: catOutput, EnvVars: []string{"BLPROBE_NO_COLOR"}, Destination: &a.noColor, Usage: "no colour (there is none either when stdout is not a terminal or NO_COLOR is set)"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Category: catOutput, EnvVars: []string{"BLPROBE_VERBOSE"}, Destination: &a.verbose, Usage: "print every result and the SMTP transcripts, in full; log the progress of each part on stderr"},
		&cli.BoolFlag{Name: "debug", Category: catOutput, EnvVars: []string{"BLPROBE_DEBUG"}, Destination: &a.debug, Usage: "log every DNS exchange and SMTP step on stderr as it happens"},
		&cli.StringFlag{Name: "log-format", Category: catOutput, EnvVars: []string{"BLPROBE_LOG_FORMAT"}, Destination: &a.logFormat, Value: "text", Usage: "format of the -v/--debug log: text or json"},
	}
}

// common is what every command derives from the common flags.
type common struct {
	st        *streams
	dns       *dnsclient.Client
	timeout   time.Duration
	format    string
	output    string
	color     bool
	verbose   bool
	warnings  []string
	resolvers []string
	secrets   []string     // redacted from the log too
	logger    *slog.Logger // nil without -v/--debug
	nagios    report.NagiosOptions
	jsonl     *report.JSONL // --format jsonl: the result lines' writer, started by the command
	jsonlOut  io.Closer     // the -o file of jsonl output
	closers   []func()      // transports to close when the run is done (dnsmux)
	progress  *progress
	width     int // text report width in columns; 0: no limit
}

// setup validates the common flags and makes the DNS client and logger.
func (a *commonArgs) setup(st *streams) (*common, error) {
	cm := &common{st: st, output: a.output, verbose: a.verbose, timeout: a.timeout}
	if cm.output == "-" {
		cm.output = "" // stdout
	}
	format, err := parseFormat(a.format)
	if err != nil {
		return nil, err
	}
	cm.format = format
	switch cm.format {
	case "jsonl":
		if !a.jsonlOK {
			return nil, usagef("--format jsonl is for the dnsbl command (accepted here: text, json, markdown, nagios)")
		}
	case "nagios":
		for _, f := range []struct {
			name, value string
			dst         **report.NagiosRange
		}{{"warning", a.warning, &cm.nagios.Warning}, {"critical", a.critical, &cm.nagios.Critical}} {
			r, err := report.ParseNagiosRange(f.value)
			if err != nil {
				return nil, usagef("--%s: %v", f.name, err)
			}
			*f.dst = &r
		}
	}
	if cm.width, err = reportWidth(a.width, a.widthSet, st, cm.output); err != nil {
		return nil, err
	}
	if a.timeout <= 0 {
		return nil, usagef("invalid --timeout %s: use a positive duration such as 2s", a.timeout)
	}
	if a.retries < 0 || a.retries > 10 {
		return nil, usagef("invalid --retries %d (accepted: 0 to 10)", a.retries)
	}
	switch a.logFormat {
	case "text", "json":
	default:
		return nil, usagef("invalid --log-format %q (accepted: text, json)", a.logFormat)
	}
	servers := a.resolvers.Value()
	if len(servers) == 0 {
		sys, err := dnsclient.SystemServers("/etc/resolv.conf")
		if err != nil {
			return nil, usagef("no --resolver given and %v", err)
		}
		servers = sys
	}
	client, err := dnsclient.New(servers, a.timeout, a.retries)
	if err != nil {
		return nil, usagef("%v", err)
	}
	client.Memo = true // one run asks once for names it needs repeatedly (PTR/HELO checks of a CIDR)
	cm.dns = client
	cm.resolvers = client.Servers
	for _, s := range client.Servers {
		if op := dnsclient.PublicResolver(s); op != "" {
			cm.warn(fmt.Sprintf("resolver %s is %s, a public resolver: Spamhaus and other DNSBLs refuse or answer falsely through public resolvers (a false \"clean\" or 127.255.255.254); use a local recursive resolver, or let blprobe ask the refused zones' own nameservers (--direct auto, the default). The zone health checks show the evidence.", s, op))
		}
	}
	cm.logger = newLogger(st.stderr, cm.verbose, a.debug, a.logFormat, func() []string { return cm.secrets })
	if st.progress == nil {
		st.progress = newProgress(st.stderr)
	}
	cm.progress = st.progress
	cm.color = !a.noColor && os.Getenv("NO_COLOR") == "" && isTerminal(st.stdout) && cm.output == ""
	return cm, nil
}

// warn adds a warning to the report and says it on stderr at once.
func (cm *common) warn(w string) {
	cm.warnings = append(cm.warnings, w)
	fmt.Fprintf(cm.st.stderr, "blprobe: warning: %s\n", w)
}

// newReport starts a report for this command line; secrets are redacted.
func (cm *common) newReport(args []string, secrets ...string) *report.Report {
	r := report.New(report.Tool{Name: "blprobe", Version: toolVersion()}, args, secrets...)
	r.Resolvers = cm.resolvers
	r.Warnings = append(r.Warnings, cm.warnings...)
	return r
}

// options starts the library options of a run: the DNS client and the
// -v/--debug logger; secrets are redacted from the report and the log.
func (cm *common) options(secrets ...string) check.Options {
	cm.secrets = append(cm.secrets, secrets...)
	return check.Options{Resolver: cm.dns, Logger: cm.logger}
}

// run starts the report (tool, command line with secrets redacted,
// resolvers, every warning so far), runs fn (check.Run, RunDNSBL…) and
// concludes.
func (cm *common) run(ctx context.Context, fn func(context.Context, check.Options) (*report.Report, error), o check.Options) error {
	o.Report = cm.newReport(cm.st.args, cm.secrets...)
	return cm.conclude(fn(ctx, o))
}

// conclude turns what a check function returned into the exit: bad input is
// exit 2, another failure before a report exit 3, else the report is written.
func (cm *common) conclude(r *report.Report, err error) error {
	var ie *check.InputError
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		return err
	case errors.As(err, &ie):
		return &usageError{err}
	case err != nil:
		return &failure{err}
	}
	return cm.deliver(r)
}

// deliver writes a finalized report and returns its exit code; a report
// that cannot be written is a writeFailure (exit 4).
func (cm *common) deliver(r *report.Report) error {
	cm.dns.Close() // every query is done: release the pooled sockets
	for _, c := range cm.closers {
		c()
	}
	cm.progress.Stop() // the report follows on the same terminal
	if cm.format == "nagios" {
		var b strings.Builder
		code, err := report.WriteNagios(&b, r, cm.nagios)
		if err != nil {
			return err
		}
		if err := cm.output1(b.String(), r); err != nil {
			return err
		}
		return exitCode(code)
	}
	if err := cm.write(r); err != nil {
		dest := "standard output"
		if cm.output != "" {
			dest = cm.output
		}
		return &writeFailure{err: err, verdict: r.Verdict, exitCode: r.ExitCode, dest: dest}
	}
	if r.ExitCode == 0 {
		return nil
	}
	return exitCode(r.ExitCode)
}

func (cm *common) write(r *report.Report) error {
	if cm.jsonl != nil {
		err := cm.jsonl.Finish(r)
		if cm.jsonlOut != nil {
			if cerr := cm.jsonlOut.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
		if cm.output != "" {
			fmt.Fprintf(cm.st.stderr, "blprobe: report written to %s (verdict %s)\n", cm.output, r.Verdict)
		}
		return nil
	}
	if cm.format == "json" && r.DNSBL != nil && r.DNSBL.All != nil {
		return cm.writeStream(r)
	}
	var b strings.Builder
	var err error
	switch cm.format {
	case "json":
		err = report.WriteJSON(&b, r)
	case "markdown":
		err = report.WriteMarkdown(&b, r)
	default:
		err = report.WriteText(&b, r, report.TextOptions{Color: cm.color, Verbose: cm.verbose, Width: cm.width})
	}
	if err != nil {
		return fmt.Errorf("rendering the report: %w", err)
	}
	return cm.output1(b.String(), r)
}

// output1 writes the rendered report to stdout or --output.
func (cm *common) output1(s string, r *report.Report) error {
	if cm.output == "" {
		_, err := io.WriteString(cm.st.stdout, s)
		return err
	}
	if err := writeFile(cm.output, s); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	fmt.Fprintf(cm.st.stderr, "blprobe: report written to %s (verdict %s)\n", cm.output, r.Verdict)
	return nil
}

// writeFile writes the report to path and reports errors of the final
// close too (a full disk may only show there).
func writeFile(path, data string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeStream writes a JSON report whose DNSBL results are streamed from
// the run's compact result set, never held as one document in memory.
func (cm *common) writeStream(r *report.Report) error {
	if cm.output == "" {
		return report.WriteJSONStream(cm.st.stdout, r)
	}
	f, err := os.Create(cm.output)
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	err = report.WriteJSONStream(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the report %s: %w", cm.output, err)
	}
	fmt.Fprintf(cm.st.stderr, "blprobe: report written to %s (verdict %s)\n", cm.output, r.Verdict)
	return nil
}

// startJSONL opens the output and writes the run line of --format jsonl.
func (cm *common) startJSONL(r *report.Report, only []dnsbl.Status) error {
	var w io.Writer = cm.st.stdout
	if cm.output != "" {
		f, err := os.Create(cm.output)
		if err != nil {
			return usagef("cannot write --output %s: %v", cm.output, errors.Unwrap(err))
		}
		w, cm.jsonlOut = f, f
	}
	jl, err := report.NewJSONL(w, r, only)
	if err != nil {
		return &failure{err}
	}
	cm.jsonl = jl
	return nil
}

// checkOutput fails early (exit 2) when the report file cannot be written.
func (cm *common) checkOutput() error {
	if cm.output == "" {
		return nil
	}
	f, err := os.OpenFile(cm.output, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return usagef("cannot write --output %s: %v", cm.output, errors.Unwrap(err))
	}
	return f.Close()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerm(f.Fd())
}
