package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/urfave/cli/v2"

	"github.com/blprobe/blprobe/check"
	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/egress"
	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/serve"
	"github.com/blprobe/blprobe/smtpcheck"
)

// defaultListen is loopback: exposing the exporter is a deliberate choice.
const defaultListen = "127.0.0.1:9745"

// serveArgs are the values of serve's flags.
type serveArgs struct {
	config, checkConfig, listen, webConfig string
}

func (a *serveArgs) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", EnvVars: []string{"BLPROBE_CONFIG"}, Destination: &a.config, Usage: "YAML config `FILE` (see examples/serve.yaml)", TakesFile: true},
		&cli.StringFlag{Name: "check-config", Destination: &a.checkConfig, Usage: "validate the config `FILE` (and --web.config.file), print a summary, exit", TakesFile: true},
		&cli.StringFlag{Name: "listen", EnvVars: []string{"BLPROBE_LISTEN"}, Destination: &a.listen, Value: defaultListen, Usage: "HTTP listen `ADDR`"},
		&cli.StringFlag{Name: "web.config.file", EnvVars: []string{"BLPROBE_WEB_CONFIG_FILE"}, Destination: &a.webConfig, Usage: "exporter-toolkit web config `FILE` (TLS, basic auth)", TakesFile: true},
	}
}

func serveCommand(st *streams) *cli.Command {
	var a serveArgs
	return &cli.Command{
		Name:      "serve",
		Usage:     "run as a Prometheus exporter: scheduled checks from a config file, /metrics, /probe, /report",
		ArgsUsage: " ",
		Description: "Runs the DNSBL and SMTP checks of --config on their intervals and serves the latest results on " +
			"/metrics, on-demand checks of allow-listed targets on /probe (blackbox-exporter style), the latest " +
			"JSON report on /report?target=…, and /healthz, /readyz. TLS and basic auth: --web.config.file.\n" +
			"Example: blprobe serve --config /etc/blprobe/serve.yaml",
		Flags: a.flags(),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("serve takes no arguments (got %q); give --config FILE", c.Args().First())
			}
			if a.checkConfig != "" {
				return checkServeConfig(st, a.checkConfig, a.webConfig)
			}
			if a.config == "" {
				return usagef("serve needs --config FILE (see examples/serve.yaml), or --check-config FILE")
			}
			cfg, err := loadServeConfig(st, a.config)
			if err != nil {
				return err
			}
			if a.webConfig != "" {
				if err := web.Validate(a.webConfig); err != nil {
					return usagef("invalid --web.config.file %s: %v", a.webConfig, err)
				}
			}
			serving.Store(true)
			defer serving.Store(false)
			return runServe(c.Context, st, cfg, a.listen, a.webConfig)
		},
	}
}

// loadServeConfig prints every config problem (one per line, FILE:LINE:)
// and returns exit code 2 when there is any.
func loadServeConfig(st *streams, path string) (*serve.Config, error) {
	cfg, err := serve.LoadConfig(path)
	var ce *serve.ConfigError
	switch {
	case errors.As(err, &ce):
		for _, line := range strings.Split(ce.Error(), "\n") {
			fmt.Fprintf(st.stderr, "blprobe: %s\n", line)
		}
		return nil, exitCode(report.ExitUsage)
	case err != nil:
		return nil, usagef("%v", err)
	}
	return cfg, nil
}

func checkServeConfig(st *streams, path, webConfig string) error {
	cfg, err := loadServeConfig(st, path)
	if err != nil {
		return err
	}
	if webConfig != "" {
		if err := web.Validate(webConfig); err != nil {
			return usagef("invalid --web.config.file %s: %v", webConfig, err)
		}
	}
	w := st.stdout
	jobs := cfg.Jobs()
	fmt.Fprintf(w, "%s: OK: %d targets, %d scheduled checks\n", path, len(cfg.Targets), len(jobs))
	for _, j := range jobs {
		what := "zones: " + orDefaultZones(j.Zones)
		if j.Kind == serve.KindSMTP {
			what = "to: " + strings.Join(j.To, ", ")
		}
		fmt.Fprintf(w, "  %-5s %-24s every %s (+ up to %s jitter), %s\n", j.Kind, j.Target, shortDur(cfg.Intervals[j.Kind]), shortDur(cfg.Jitter), what)
	}
	fmt.Fprintf(w, "  at most %d runs at once; each zone gets at most %g queries/s in all (%g per run)\n",
		cfg.MaxConcurrent, cfg.QPS, cfg.QPS/float64(cfg.MaxConcurrent))
	for _, l := range cfg.DailyQueries() {
		limit := ""
		if cfg.DailyLimit > 0 {
			limit = fmt.Sprintf(" (daily_limit %d)", cfg.DailyLimit)
		}
		fmt.Fprintf(w, "  %s: %d addresses, %d queries a day projected%s\n", l.Zone, l.Addresses, l.Queries, limit)
	}
	if cfg.Probe.Disabled {
		fmt.Fprintln(w, "  /probe: disabled")
	} else {
		var allow []string
		for _, p := range cfg.Probe.AllowPrefix {
			allow = append(allow, p.String())
		}
		allow = append(allow, cfg.Probe.AllowTargets...)
		fmt.Fprintf(w, "  /probe allows targets: %s; zones: %s; to: %s\n", orNone(allow), orNone(cfg.Probe.AllowZones), orNone(cfg.Probe.AllowTo))
	}
	return nil
}

// shortDur is "15m" rather than "15m0s".
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func orDefaultZones(z []string) string {
	if len(z) == 0 {
		return "the catalogue's default set"
	}
	return strings.Join(z, ", ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func runServe(ctx context.Context, st *streams, cfg *serve.Config, listen, webConfig string) error {
	log := slog.New(slog.NewTextHandler(st.stderr, nil))
	servers := cfg.Resolvers
	if len(servers) == 0 {
		sys, err := dnsclient.SystemServers("/etc/resolv.conf")
		if err != nil {
			return usagef("the config gives no resolvers and %v", err)
		}
		servers = sys
	}
	if _, err := dnsclient.New(servers, cfg.Timeout, cfg.Retries); err != nil {
		return usagef("resolvers: %v", err)
	}
	for _, s := range servers {
		if op := dnsclient.PublicResolver(s); op != "" {
			log.Warn("public resolver: DNSBLs refuse or answer falsely through public resolvers; use a local recursive resolver", "resolver", s, "operator", op)
		}
	}
	if cfg.SMTP.SourceIP.IsValid() && !check.CanBind(cfg.SMTP.SourceIP) {
		return usagef("smtp.source_ip %s is not an address of this machine (cannot bind to it)", cfg.SMTP.SourceIP)
	}
	var key string
	if cfg.DQSKeyFile != "" {
		b, err := os.ReadFile(cfg.DQSKeyFile)
		if err != nil {
			return usagef("dqs_key_file: %v", err)
		}
		key = strings.TrimSpace(string(b))
	}
	runner := &pipelineRunner{cfg: cfg, servers: servers, dqsKey: key, catalog: cfg.CatalogZones()}
	sched, err := serve.NewScheduler(serve.SchedulerOptions{
		Runner: serve.RunnerFunc(func(ctx context.Context, j serve.Job) (*report.Report, error) {
			r, err := runner.Run(ctx, j)
			if err != nil {
				log.Error("check failed", "kind", j.Kind, "target", j.Target, "err", err)
			} else {
				log.Info("check done", "kind", j.Kind, "target", j.Target, "verdict", r.Verdict)
			}
			return r, err
		}),
		Jobs:          cfg.Jobs(),
		Intervals:     cfg.Intervals,
		Jitter:        cfg.Jitter,
		QPS:           cfg.QPS,
		MaxConcurrent: cfg.MaxConcurrent,
	})
	if err != nil {
		return &failure{err}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return usagef("cannot listen on %s: %v", listen, err)
	}
	srv := serve.NewServer(cfg, sched, log)
	log.Info("serving", "listen", ln.Addr().String(), "checks", len(cfg.Jobs()))
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil && !ap.Addr().IsLoopback() && webConfig == "" {
		log.Warn("listening beyond loopback without --web.config.file: anyone who reaches this port can read the reports and run the allowed /probe checks", "listen", ln.Addr().String())
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sched.Start(sctx)
	err = srv.Serve(ctx, ln, webConfig)
	cancel()
	sched.Wait()
	log.Info("stopped")
	if err != nil {
		return &failure{err}
	}
	return nil
}

// pipelineRunner is the one adapter between serve and the check library:
// it turns a serve.Job into check.Options and runs check.Run — a dnsbl job
// runs the DNSBL and reverse-DNS parts, an smtp job the SMTP part — each
// with its own DNS client (memo per run, never across runs).
type pipelineRunner struct {
	cfg     *serve.Config
	servers []string
	dqsKey  string
	catalog []dnsbl.Zone
}

// Run runs one job and returns its finalized report; an error means it
// could not run (bad target, no zone applies, resolver failure at planning).
func (p *pipelineRunner) Run(ctx context.Context, job serve.Job) (*report.Report, error) {
	client, err := dnsclient.New(p.servers, p.cfg.Timeout, p.cfg.Retries)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", job.Kind, job.Target, err)
	}
	client.Memo = true // per run, as in the CLI: never across runs
	defer client.Close()
	r := report.New(report.Tool{Name: "blprobe", Version: toolVersion()}, jobArgs(job), p.dqsKey)
	r.Resolvers = client.Servers
	o := check.Options{
		Resolver: client,
		Catalog:  p.catalog,
		Egress:   egress.Options{Resolver: client, Timeout: p.cfg.Timeout, Retries: p.cfg.Retries},
		Report:   r,
		IsLocal:  isLocal,
		// serve budgets queries itself (config daily_limit, qps per zone).
		OverLimit: true,
	}
	if job.Target != "auto" {
		t, err := dnsbl.ParseTarget(job.Target)
		if err != nil {
			return nil, err
		}
		o.Targets = []dnsbl.Target{t}
	}
	switch job.Kind {
	case serve.KindDNSBL:
		o.Parts = check.PartDNSBL | check.PartRDNS
		if o.DNSBL, err = dnsbl.New(dnsbl.Options{Resolver: client, QPS: job.QPS, DQSKey: p.dqsKey}); err != nil {
			return nil, fmt.Errorf("dnsbl %s: %w", job.Target, err)
		}
		o.Zones = dnsbl.Select(p.catalog, job.Zones)
		o.SMTP.HELO = p.cfg.SMTP.HELO // the rDNS part's HELO check
	case serve.KindSMTP:
		o.Parts = check.PartSMTP
		s := p.cfg.SMTP
		o.Domains = job.To
		o.SMTP = smtpcheck.Options{Resolver: client, HELO: s.HELO, From: s.From, SourceIP: s.SourceIP, Port: s.Port,
			TLS: smtpcheck.TLSMode(s.TLS), ConnectTimeout: s.ConnectTimeout, CommandTimeout: s.CommandTimeout}
		if o.SMTP.HELO == "" {
			o.SMTP.HELO = smtpcheck.DefaultHELO() // "": smtpcheck greets with address literals and says so
		}
	default:
		return nil, fmt.Errorf("unknown check kind %q", job.Kind)
	}
	r, err = check.Run(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", job.Kind, job.Target, err)
	}
	return r, nil
}

// jobArgs records the job in the report's "command" field, e.g.
// ["blprobe", "serve", "dnsbl", "192.0.2.7", "--zone", "zen.spamhaus.org"].
func jobArgs(j serve.Job) []string {
	args := []string{"blprobe", "serve", string(j.Kind), j.Target}
	for _, z := range j.Zones {
		args = append(args, "--zone", z)
	}
	for _, d := range j.To {
		args = append(args, "--to", d)
	}
	if j.QPS > 0 {
		args = append(args, "--qps", fmt.Sprint(j.QPS))
	}
	return args
}
