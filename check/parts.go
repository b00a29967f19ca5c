package check

import (
	"context"
	"errors"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/egress"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// The parts of the main job on their own (blprobe dnsbl, smtp, egress,
// zones test). Each fills its section of the report, correlates what that
// section alone supports and finalizes it.

// RunDNSBL looks o.Targets up on o.Zones (Resolver and DNSBL required). The
// error is as Run's.
func RunDNSBL(ctx context.Context, o Options) (*report.Report, error) {
	x, ctx, err := start(ctx, o, needResolver|needDNSBL)
	if err != nil {
		return nil, err
	}
	if len(x.o.Targets) == 0 {
		return nil, &InputError{errors.New("no target given (want IPv4/IPv6 addresses, CIDRs or hostnames)")}
	}
	plan, err := x.plan(ctx, x.o.Targets)
	if err != nil {
		return nil, err
	}
	if x.o.OnPlanned != nil {
		if err := x.o.OnPlanned(); err != nil {
			return nil, err
		}
	}
	// Compact results: memory does not grow with clean answers; the
	// renderers iterate the set (All), the verdict reads the rest.
	dr := x.o.DNSBL.RunSet(ctx, plan, x.o.OnResult)
	x.r.DNSBL = &report.DNSBL{Zones: dr.Zones, Results: notClean(dr.Set), All: dr.Set, Only: x.o.Only, Coverage: report.NewCoverage(plan.Families())}
	NoteDirect(x.r)
	// The checked addresses come from the plan: Results keeps no clean
	// answer, so the summary could not count the clean addresses from it.
	checked := checkedAddrs(x.o.Targets, plan)
	return x.finish(ctx, func() { Correlate(x.r, x.o.Catalog, checked) }), nil
}

// ZoneHealth checks o.Zones' RFC 5782 test entries only (Resolver and DNSBL
// required).
func ZoneHealth(ctx context.Context, o Options) (*report.Report, error) {
	x, ctx, err := start(ctx, o, needResolver|needDNSBL)
	if err != nil {
		return nil, err
	}
	x.r.DNSBL = &report.DNSBL{Zones: x.o.DNSBL.CheckHealth(ctx, x.o.Zones), Results: []dnsbl.Result{}}
	NoteDirect(x.r)
	return x.finish(ctx, func() { Correlate(x.r, x.o.Catalog, nil) }), nil
}

// RunSMTP probes every MX of o.Domains from o.SMTP.SourceIP (or the
// address the system picks); o.SMTP.Resolver defaults to o.Resolver.
func RunSMTP(ctx context.Context, o Options) (*report.Report, error) {
	x, ctx, err := start(ctx, o, 0)
	if err != nil {
		return nil, err
	}
	if x.o.SMTP.Resolver == nil {
		return nil, errors.New("check: no resolver given")
	}
	if x.o.ProbeSMTP != nil {
		x.r.SMTP = x.o.ProbeSMTP(ctx, x.o.Domains, x.o.SMTP)
	} else {
		x.r.SMTP = smtpcheck.Run(ctx, x.o.Domains, x.o.SMTP)
	}
	x.r.SMTP.Notes = append(x.r.SMTP.Notes, x.o.SMTPNotes...)
	return x.finish(ctx, func() { Correlate(x.r, nil, nil) }), nil
}

// RunEgress detects this host's egress addresses with o.Egress; the answer
// is the point of the run, so sources that disagree make it inconclusive.
func RunEgress(ctx context.Context, o Options) (*report.Report, error) {
	x, ctx, err := start(ctx, o, 0)
	if err != nil {
		return nil, err
	}
	if w := egress.SingleSourceWarning(x.o.Egress.Sources); w != "" {
		x.warn("%s", w)
	}
	x.r.Egress = egress.Detect(ctx, x.o.Egress)
	x.r.Egress.IPSource = true
	return x.finish(ctx, nil), nil
}

// notClean materialises the results that are not clean.
func notClean(set *dnsbl.ResultSet) []dnsbl.Result {
	var out []dnsbl.Result
	set.Each(func(r *dnsbl.Result) bool {
		if r.Status != dnsbl.StatusClean {
			out = append(out, *r)
		}
		return true
	})
	return out
}
