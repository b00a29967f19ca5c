// Package check is blprobe's main job as a library: for an IP (given, or
// this host's egress IP) it runs the DNS blocklist lookups, the reverse-DNS
// and HELO checks and the SMTP probes of the recipient domains' MX side by
// side, correlates what they found, and hands the report to the one verdict
// function, report.Finalize.
//
// Run is safe to call concurrently (a monitoring loop, a migration
// comparison and a range scan all call it many times); each call owns its
// report. The checkers it drives (dnsbl, rdns, smtpcheck, egress) know
// nothing of the report or of this package.
package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/egress"
	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/logctx"
	"github.com/blprobe/blprobe/rdns"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// Caps on what one check does for a large CIDR.
const (
	// MaxRDNS caps the addresses whose reverse DNS is checked.
	MaxRDNS = 256
	// MaxSMTPSources caps the local addresses the SMTP part runs from: each
	// one repeats every probe.
	MaxSMTPSources = 16
	// rdnsConcurrency bounds the rDNS checks in flight.
	rdnsConcurrency = 16
)

// Parts selects the parts Run runs once the IP is known.
type Parts uint8

// The parts; the zero Parts is all of them.
const (
	PartDNSBL Parts = 1 << iota // DNSBL lookups of the checked addresses
	PartRDNS                    // reverse DNS and HELO of the checked addresses
	PartSMTP                    // SMTP probes of the Domains' MX
	PartAll   = PartDNSBL | PartRDNS | PartSMTP
)

// Options configure Run. Resolver and DNSBL are required.
type Options struct {
	// Parts are the parts to run (all when zero). Without PartDNSBL the
	// checked addresses are the targets' own (no hostname or CIDR
	// expansion), and DNSBL and Zones are not needed.
	Parts Parts
	// Targets are the addresses, CIDRs or hostnames to check. None means
	// this host's egress IP: detected over DNS (Egress), or — when that
	// fails and Domains are given — the client IP the MXs echo in EHLO.
	Targets []dnsbl.Target
	// Domains are the recipient domains whose MX are probed at the RCPT
	// stage; none skips the SMTP part (the report says so).
	Domains []string
	// Resolver answers the rDNS checks and egress server names.
	Resolver dnsclient.Exchanger
	// DNSBL runs the blocklist lookups of Zones.
	DNSBL *dnsbl.Checker
	Zones []dnsbl.Zone
	// Only lists the DNSBL statuses the report's results keep (--only; the
	// others are counted per zone); the verdict still covers every result.
	Only []dnsbl.Status
	// OverLimit runs a plan that exceeds a zone's free daily query limit
	// (the caller holds a licence or the list's permission); without it such
	// a plan is an *InputError.
	OverLimit bool
	// OnPlanned, if set, is called by RunDNSBL once the targets and zones
	// are valid, before any lookup (e.g. to start streaming output); its
	// error ends the run. OnResult then gets each DNSBL result as it
	// completes; the *Result is reused after the call.
	OnPlanned func() error
	OnResult  func(*dnsbl.Result)
	// Catalog describes zones for correlation (names, policy codes, delist
	// URLs); nil is dnsbl.Builtin().
	Catalog []dnsbl.Zone
	// SMTP configures the probes; its Resolver defaults to Resolver. With
	// SMTP.SourceIP set the probes run from it; otherwise from every checked
	// address that is local (at most MaxSMTPSources), else from the address
	// the system picks.
	SMTP smtpcheck.Options
	// ProbeSMTP, if set, replaces smtpcheck.Run in RunSMTP (e.g. asking one
	// given server about the domains instead of their MX).
	ProbeSMTP func(ctx context.Context, domains []string, o smtpcheck.Options) *smtpcheck.Result
	// SMTPNotes are added to the SMTP section's notes (e.g. how the
	// arguments were read).
	SMTPNotes []string
	// Egress configures the egress detection; its Resolver defaults to
	// Resolver.
	Egress egress.Options
	// Report, if not nil, is the report to fill (tool, command, resolvers
	// and warnings already set); nil starts one with report.New.
	Report *report.Report
	// IsLocal reports whether SMTP can run from an address; nil is
	// CanBind.
	IsLocal func(netip.Addr) bool
	// Logger receives the progress of the parts (info) and each DNS
	// exchange and SMTP step (debug), through one child logger per unit of
	// work (zone, MX address, rDNS address, egress source); nil uses the
	// logger the context carries, if any.
	Logger *slog.Logger
}

// InputError is bad input found before anything was checked: a target
// that does not resolve or exceeds the address cap, or zones that apply to
// none of the targets. Commands map it to a usage error.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// CanBind reports whether a is an address of this machine (it can be bound).
func CanBind(a netip.Addr) bool {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(a.Unmap(), 0)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// parts a run needs the options of.
const (
	needDNSBL = 1 << iota
	needResolver
)

func (o Options) withDefaults(need int) (Options, error) {
	if need&needResolver != 0 && o.Resolver == nil {
		return o, errors.New("check: no resolver given")
	}
	if need&needDNSBL != 0 && o.DNSBL == nil {
		return o, errors.New("check: no DNSBL checker given")
	}
	if o.Catalog == nil {
		o.Catalog = dnsbl.Builtin()
	}
	if o.SMTP.Resolver == nil && o.Resolver != nil {
		o.SMTP.Resolver = o.Resolver
	}
	if o.Egress.Resolver == nil && o.Resolver != nil {
		o.Egress.Resolver = o.Resolver
	}
	if o.IsLocal == nil {
		o.IsLocal = CanBind
	}
	return o, nil
}

// run is the state of one Run call.
type run struct {
	o  Options
	r  *report.Report
	mu sync.Mutex // guards r.Warnings while the parts run side by side
}

func (x *run) warn(format string, a ...any) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.r.Warnings = append(x.r.Warnings, fmt.Sprintf(format, a...))
}

// Run is the main job. It decides the IP (the targets, or the egress IP),
// then runs the DNSBL, reverse-DNS and SMTP parts concurrently, correlates
// and finalizes the report (verdict, exit code). When ctx is cancelled the
// parts stop and the report says which items were not done (Interrupted).
//
// The error is an *InputError for bad input found before anything was
// checked, or another error when the DNSBL plan could not be made (e.g. a
// target's name could not be resolved); the report is then nil.
func Run(ctx context.Context, o Options) (*report.Report, error) {
	parts := o.Parts
	if parts == 0 {
		parts = PartAll
	}
	need := needResolver
	if parts&PartDNSBL != 0 {
		need |= needDNSBL
	}
	x, ctx, err := start(ctx, o, need)
	if err != nil {
		return nil, err
	}
	o, r := x.o, x.r
	if parts&PartSMTP == 0 {
		o.Domains = nil
		x.o.Domains = nil
	} else if len(o.Domains) == 0 {
		x.warn("no --to domain given: the SMTP confirmation was skipped")
	}

	// 1. Which IP.
	targets := o.Targets
	smtpDone := false
	var echo *echoEgress
	if len(targets) == 0 {
		var ok bool
		targets, echo, ok = x.egressTargets(ctx)
		smtpDone = r.SMTP != nil
		if !ok {
			return x.finish(ctx, nil), nil
		}
	}

	// 2. The plan: hostnames resolved, CIDRs expanded, caps enforced.
	var plan *dnsbl.Plan
	var checked []netip.Addr
	if parts&PartDNSBL != 0 {
		if plan, err = x.plan(ctx, targets); err != nil {
			return nil, err
		}
		checked = checkedAddrs(targets, plan)
		o.Logger.Info("checking", "addresses", len(checked), "pairs", plan.Pairs(), "domains", len(o.Domains))
	} else {
		checked = checkedAddrs(targets, nil)
	}

	// 3. DNSBL, reverse DNS and SMTP side by side.
	var wg sync.WaitGroup
	var dr *dnsbl.Run
	if plan != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			dr = o.DNSBL.Run(ctx, plan)
			o.Logger.Info("dnsbl part done", "pairs", plan.Pairs(), "elapsed", time.Since(start))
		}()
	}
	if parts&PartRDNS != 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			x.rdns(ctx, checked)
			o.Logger.Info("rdns part done", "addresses", len(r.RDNS), "elapsed", time.Since(start))
		}()
	}
	if len(o.Domains) > 0 && !smtpDone {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			res := x.smtpFrom(ctx, checked)
			res.Notes = append(res.Notes, o.SMTPNotes...)
			x.mu.Lock()
			r.SMTP = res
			x.mu.Unlock()
			o.Logger.Info("smtp part done", "domains", len(o.Domains), "elapsed", time.Since(start))
		}()
	}
	wg.Wait()
	if plan != nil {
		r.DNSBL = &report.DNSBL{Zones: dr.Zones, Results: dr.Results, Only: o.Only, Coverage: report.NewCoverage(plan.Families())}
		NoteDirect(r)
	}
	if echo != nil {
		echo.checked = true
	}
	return x.finish(ctx, func() {
		Correlate(r, o.Catalog, checked)
		if echo != nil {
			r.Correlations = append(r.Correlations, echo.correlation())
		}
	}), nil
}

// start validates o and begins a run: the report (o.Report or a new one)
// and a context carrying o.Logger.
func start(ctx context.Context, o Options, need int) (*run, context.Context, error) {
	o, err := o.withDefaults(need)
	if err != nil {
		return nil, ctx, err
	}
	if o.Logger != nil {
		ctx = logctx.With(ctx, o.Logger)
	}
	o.Logger = logctx.From(ctx)
	r := o.Report
	if r == nil {
		r = report.New(report.Tool{Name: "blprobe"}, nil)
	}
	return &run{o: o, r: r}, ctx, nil
}

// plan validates the targets against the zones: an *InputError for a bad
// target or zones that apply to none of them.
func (x *run) plan(ctx context.Context, targets []dnsbl.Target) (*dnsbl.Plan, error) {
	plan, err := x.o.DNSBL.Plan(ctx, targets, x.o.Zones)
	if err != nil {
		var te *dnsbl.TargetError
		if errors.As(err, &te) {
			return nil, &InputError{err}
		}
		return nil, err
	}
	if err := CheckPairs(plan); err != nil {
		return nil, err
	}
	if !x.o.OverLimit {
		if err := plan.CheckDailyLimits(); err != nil {
			return nil, &InputError{err}
		}
	}
	return plan, nil
}

// finish stamps the report, correlates, and lets report.Finalize decide the
// verdict last, from all of the evidence.
func (x *run) finish(ctx context.Context, correlate func()) *report.Report {
	r := x.r
	if ctx.Err() != nil {
		r.Interrupted = true
	}
	r.Finished = time.Now().UTC()
	if correlate != nil {
		correlate()
	}
	r.Finalize()
	return r
}

// CheckPairs refuses a plan in which no selected zone applies to any target
// (e.g. only domain lists for IP addresses): it would check nothing and
// report "clean".
func CheckPairs(plan *dnsbl.Plan) error {
	if plan.Pairs() > 0 {
		return nil
	}
	var names []string
	for _, z := range plan.Zones() {
		names = append(names, fmt.Sprintf("%s (%s)", z.Zone, z.Kind))
	}
	return &InputError{fmt.Errorf("none of the selected zones applies to these targets: %s; IP zones take addresses, domain zones take hostnames", strings.Join(names, ", "))}
}

// checkedAddrs lists the distinct addresses checked, in order: the
// addresses given directly, then those of the plan, if any (hostnames'
// addresses, CIDR members).
func checkedAddrs(given []dnsbl.Target, plan *dnsbl.Plan) []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	add := func(a netip.Addr) {
		if a.IsValid() && !seen[a.Unmap()] {
			seen[a.Unmap()] = true
			out = append(out, a.Unmap())
		}
	}
	for _, t := range given {
		add(t.Addr)
	}
	if plan != nil {
		for _, a := range plan.Addrs() {
			add(a)
		}
	}
	return out
}

// rdns runs the PTR/FCrDNS/HELO checks of the first MaxRDNS addresses.
func (x *run) rdns(ctx context.Context, checked []netip.Addr) {
	ips := checked
	if len(ips) > MaxRDNS {
		ips = ips[:MaxRDNS]
		x.warn("reverse DNS was checked for the first %d of %d addresses only", MaxRDNS, len(checked))
	}
	out := make([]rdns.Result, len(ips))
	sem := make(chan struct{}, rdnsConcurrency)
	var wg sync.WaitGroup
	for i, ip := range ips {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if ctx.Err() == nil {
				out[i] = rdns.Check(ctx, x.o.Resolver, ip, x.o.SMTP.HELO)
			}
			if ctx.Err() != nil && (out[i].IP == "" || out[i].Error != "") {
				// Interrupted: not_done, counted once, not a failure per address.
				out[i] = rdns.Result{IP: ip.Unmap().String(), PTR: []string{}, Problems: []string{}, Error: report.RDNSNotDone}
			}
		}()
	}
	wg.Wait()
	x.mu.Lock()
	x.r.RDNS = out
	x.mu.Unlock()
}
