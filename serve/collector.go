package serve

import (
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// Metric descriptions. Every label value comes from the config or from a
// bounded set (zones, statuses, classes, reply codes), so the series are
// bounded by what the config watches.
var (
	descListed = prometheus.NewDesc("blprobe_dnsbl_listed",
		"1 if the address is listed on the zone, 0 if the zone answered not listed; absent when the lookup failed (see blprobe_dnsbl_lookup_errors).",
		[]string{"target", "address", "zone", "list_type"}, nil)
	descReturnCode = prometheus.NewDesc("blprobe_dnsbl_return_code_info",
		"Always 1: a return code (A record) the zone answered for the address, for listings and allow-list hits.",
		[]string{"target", "address", "zone", "code"}, nil)
	descLookupErrors = prometheus.NewDesc("blprobe_dnsbl_lookup_errors",
		"Lookups of the target's latest run that could not be completed, by zone and error kind.",
		[]string{"target", "zone", "kind"}, nil)
	descZoneHealthy = prometheus.NewDesc("blprobe_dnsbl_zone_healthy",
		"1 if the zone passed its RFC 5782 section 5 test entries in the latest run that used it, else 0.",
		[]string{"zone", "health"}, nil)
	descProbeStatus = prometheus.NewDesc("blprobe_smtp_probe_status",
		"Always 1: the outcome of the latest RCPT-stage probe of one MX address (status, class, stage where it ended, blocklist the reply cites).",
		[]string{"target", "domain", "mx", "address", "source", "status", "class", "stage", "cited_list"}, nil)
	descReplyCode = prometheus.NewDesc("blprobe_smtp_probe_reply_code",
		"The SMTP reply code that decided the latest probe of one MX address (e.g. 250, 450, 554).",
		[]string{"target", "domain", "mx", "address", "source"}, nil)
	descPort25 = prometheus.NewDesc("blprobe_smtp_port25_blocked",
		"1 if every probe of the latest SMTP run timed out at connect (outbound port 25 looks blocked), else 0.",
		[]string{"target"}, nil)
	descDomainStatus = prometheus.NewDesc("blprobe_smtp_domain_status",
		"Always 1: whether the recipient domain's mail hosts resolved (ok, null_mx, no_mail_host, error).",
		[]string{"target", "domain", "status"}, nil)
	descVerdict = prometheus.NewDesc("blprobe_target_verdict",
		"1 for the verdict of the target's latest run of the kind (clean, listed, rejected, inconclusive), 0 for the others.",
		[]string{"target", "kind", "verdict"}, nil)
	descExitCode = prometheus.NewDesc("blprobe_target_exit_code",
		"The exit code blprobe would have returned for the latest run (0 clean, 1 listed/rejected, 3 inconclusive).",
		[]string{"target", "kind"}, nil)
	descLastRun = prometheus.NewDesc("blprobe_last_run_timestamp_seconds",
		"Unix time the latest run of the check started.",
		[]string{"target", "kind"}, nil)
	descLastDuration = prometheus.NewDesc("blprobe_last_run_duration_seconds",
		"How long the latest run of the check took.",
		[]string{"target", "kind"}, nil)
	descLastSuccess = prometheus.NewDesc("blprobe_last_run_success",
		"1 if the latest run of the check produced a report, 0 if it could not run (see the log and /report).",
		[]string{"target", "kind"}, nil)
	descRuns = prometheus.NewDesc("blprobe_runs_total",
		"Runs of the check since blprobe started.",
		[]string{"target", "kind"}, nil)
	descRunFailures = prometheus.NewDesc("blprobe_run_failures_total",
		"Runs of the check that could not run at all.",
		[]string{"target", "kind"}, nil)
	descRunsSkipped = prometheus.NewDesc("blprobe_runs_skipped_total",
		"Scheduled starts skipped because the previous run of the same check was still going.",
		[]string{"target", "kind"}, nil)
)

var allVerdicts = []report.Verdict{report.VerdictClean, report.VerdictListed, report.VerdictRejected, report.VerdictInconclusive}

// Collector is a prometheus.Collector over the latest results: it renders
// them at scrape time and never waits for a check.
type Collector struct {
	results func() []Result
}

// NewCollector returns a collector over the results that fn returns.
func NewCollector(fn func() []Result) *Collector { return &Collector{results: fn} }

// Describe sends every metric description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descListed, descReturnCode, descLookupErrors, descZoneHealthy,
		descProbeStatus, descReplyCode, descPort25, descDomainStatus, descVerdict, descExitCode,
		descLastRun, descLastDuration, descLastSuccess, descRuns, descRunFailures, descRunsSkipped} {
		ch <- d
	}
}

// emitter sends each series once: the same address can appear twice in a
// report (e.g. two MX hosts sharing an address), and a duplicate series
// would fail the whole scrape.
type emitter struct {
	ch   chan<- prometheus.Metric
	seen map[string]bool
}

func (e *emitter) emit(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	k := d.String() + "\x00" + strings.Join(labels, "\x00")
	if e.seen[k] {
		return
	}
	e.seen[k] = true
	e.ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Collect renders the latest results.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	results := c.results()
	e := &emitter{ch: ch, seen: map[string]bool{}}
	// Zone health: the most recent run that used the zone wins.
	sorted := append([]Result(nil), results...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Started.After(sorted[j].Started) })
	zoneDone := map[string]bool{}
	for _, r := range sorted {
		if r.Report == nil || r.Report.DNSBL == nil {
			continue
		}
		for _, z := range r.Report.DNSBL.Zones {
			if !zoneDone[z.Zone] {
				zoneDone[z.Zone] = true
				e.emit(descZoneHealthy, prometheus.GaugeValue, b2f(z.Health == dnsbl.HealthHealthy), z.Zone, string(z.Health))
			}
		}
	}
	for _, r := range results {
		target, kind := r.Job.Target, string(r.Job.Kind)
		e.emit(descRuns, prometheus.CounterValue, float64(r.Runs), target, kind)
		e.emit(descRunFailures, prometheus.CounterValue, float64(r.Failures), target, kind)
		e.emit(descRunsSkipped, prometheus.CounterValue, float64(r.Skipped), target, kind)
		e.emit(descLastRun, prometheus.GaugeValue, float64(r.Started.UnixNano())/1e9, target, kind)
		e.emit(descLastDuration, prometheus.GaugeValue, r.Duration.Seconds(), target, kind)
		e.emit(descLastSuccess, prometheus.GaugeValue, b2f(r.Report != nil), target, kind)
		if r.Report == nil {
			continue
		}
		rep := r.Report
		for _, v := range allVerdicts {
			e.emit(descVerdict, prometheus.GaugeValue, b2f(rep.Verdict == v), target, kind, string(v))
		}
		e.emit(descExitCode, prometheus.GaugeValue, float64(rep.ExitCode), target, kind)
		if rep.DNSBL != nil {
			collectDNSBL(e, target, rep.DNSBL)
		}
		if rep.SMTP != nil {
			collectSMTP(e, target, rep.SMTP)
		}
	}
}

func collectDNSBL(e *emitter, target string, d *report.DNSBL) {
	types := map[string]dnsbl.ListType{}
	for _, z := range d.Zones {
		types[z.Zone] = z.Type
	}
	type ek struct{ zone, kind string }
	errs := map[ek]int{}
	var order []ek
	for _, res := range d.Results {
		lt := types[res.Zone]
		if lt == "" {
			lt = dnsbl.TypeBlock
		}
		switch res.Status {
		case dnsbl.StatusListed, dnsbl.StatusAllowed:
			e.emit(descListed, prometheus.GaugeValue, 1, target, res.IP, res.Zone, string(lt))
			for _, code := range res.Codes {
				e.emit(descReturnCode, prometheus.GaugeValue, 1, target, res.IP, res.Zone, code)
			}
		case dnsbl.StatusClean:
			e.emit(descListed, prometheus.GaugeValue, 0, target, res.IP, res.Zone, string(lt))
		case dnsbl.StatusError, dnsbl.StatusNotDone:
			kind := string(res.ErrorKind)
			if res.Status == dnsbl.StatusNotDone {
				kind = "not_done"
			}
			if res.ErrorKind == dnsbl.ErrNotApplicable {
				continue // nothing to check (e.g. IPv6 on an IPv4 zone): not an error
			}
			k := ek{res.Zone, kind}
			if errs[k] == 0 {
				order = append(order, k)
			}
			errs[k]++
		}
	}
	for _, k := range order {
		e.emit(descLookupErrors, prometheus.GaugeValue, float64(errs[k]), target, k.zone, k.kind)
	}
}

func collectSMTP(e *emitter, target string, s *smtpcheck.Result) {
	e.emit(descPort25, prometheus.GaugeValue, b2f(s.Port25Blocked), target)
	for _, d := range s.Domains {
		e.emit(descDomainStatus, prometheus.GaugeValue, 1, target, d.Domain, string(d.Status))
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				e.emit(descProbeStatus, prometheus.GaugeValue, 1, target, d.Domain, mx.Host, p.IP, p.SourceIP,
					string(p.Status), string(p.Class), string(p.Stage), p.CitedList)
				if p.Reply != nil && p.Reply.Code > 0 {
					e.emit(descReplyCode, prometheus.GaugeValue, float64(p.Reply.Code), target, d.Domain, mx.Host, p.IP, p.SourceIP)
				}
			}
		}
	}
}

// probeCollector adds the blackbox-exporter style probe_success and
// probe_duration_seconds to the metrics of one on-demand run.
type probeCollector struct {
	res Result
}

var (
	descProbeSuccess = prometheus.NewDesc("probe_success",
		"1 if the on-demand check ran and reached a verdict (clean, listed or rejected), 0 if it failed or was inconclusive.", nil, nil)
	descProbeDuration = prometheus.NewDesc("probe_duration_seconds",
		"How long the on-demand check took.", nil, nil)
)

func (p probeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descProbeSuccess
	ch <- descProbeDuration
}

func (p probeCollector) Collect(ch chan<- prometheus.Metric) {
	ok := p.res.Report != nil && p.res.Report.Verdict != report.VerdictInconclusive
	ch <- prometheus.MustNewConstMetric(descProbeSuccess, prometheus.GaugeValue, b2f(ok))
	ch <- prometheus.MustNewConstMetric(descProbeDuration, prometheus.GaugeValue, p.res.Duration.Seconds())
}
