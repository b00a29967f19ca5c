package serve

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// sampleResults are a dnsbl run (one listing, one clean, errors), an smtp
// run (a rejection citing a list, an acceptance, a duplicate address) and a
// failed run.
func sampleResults() []Result {
	dn := &report.Report{Verdict: report.VerdictListed, ExitCode: 1, DNSBL: &report.DNSBL{
		Zones: []dnsbl.ZoneHealth{
			{Zone: "zen.spamhaus.org", Type: dnsbl.TypeBlock, Health: dnsbl.HealthHealthy},
			{Zone: "bl.spamcop.net", Type: dnsbl.TypeBlock, Health: dnsbl.HealthUnhealthy},
			{Zone: "list.dnswl.org", Type: dnsbl.TypeAllow, Health: dnsbl.HealthHealthy},
			{Zone: "v4only.test", Type: dnsbl.TypeBlock, Health: dnsbl.HealthHealthy},
		},
		Results: []dnsbl.Result{
			{IP: "192.0.2.7", Zone: "zen.spamhaus.org", Status: dnsbl.StatusListed, Codes: []string{"127.0.0.2", "127.0.0.4"}},
			{IP: "192.0.2.7", Zone: "bl.spamcop.net", Status: dnsbl.StatusError, ErrorKind: dnsbl.ErrZoneUnhealthy},
			{IP: "192.0.2.7", Zone: "list.dnswl.org", Status: dnsbl.StatusClean},
			{IP: "2001:db8::7", Zone: "v4only.test", Status: dnsbl.StatusError, ErrorKind: dnsbl.ErrNotApplicable},
			{IP: "192.0.2.8", Zone: "zen.spamhaus.org", Status: dnsbl.StatusError, ErrorKind: dnsbl.ErrTimeout},
			{IP: "192.0.2.9", Zone: "zen.spamhaus.org", Status: dnsbl.StatusError, ErrorKind: dnsbl.ErrTimeout},
		}}}
	probe := func(ip string, st smtpcheck.Status, cl smtpcheck.Class, code int, cited string) smtpcheck.Probe {
		return smtpcheck.Probe{IP: ip, SourceIP: "192.0.2.7", Status: st, Class: cl, Stage: smtpcheck.StageRcpt,
			Reply: &smtpcheck.Reply{Code: code}, CitedList: cited}
	}
	sm := &report.Report{Verdict: report.VerdictRejected, ExitCode: 1, SMTP: &smtpcheck.Result{Domains: []smtpcheck.Domain{{
		Domain: "example.com", Status: smtpcheck.DomainOK,
		MX: []smtpcheck.MX{
			{Host: "mx1.example.com", Addresses: []smtpcheck.Probe{probe("198.51.100.1", smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, 554, "zen.spamhaus.org")}},
			{Host: "mx2.example.com", Addresses: []smtpcheck.Probe{probe("198.51.100.2", smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, 250, ""),
				probe("198.51.100.2", smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, 250, "")}},
		}}}}}
	return []Result{
		{Job: Job{Kind: KindDNSBL, Target: "192.0.2.0/30"}, Report: dn, Started: t0, Duration: 1500 * time.Millisecond, Runs: 3},
		{Job: Job{Kind: KindSMTP, Target: "192.0.2.7", To: []string{"example.com"}}, Report: sm, Started: t0.Add(time.Minute), Duration: 4 * time.Second, Runs: 1, Skipped: 2},
		{Job: Job{Kind: KindDNSBL, Target: "mail.example.com"}, Err: "no such host", Started: t0, Runs: 1, Failures: 1},
	}
}

func TestCollector(t *testing.T) {
	c := NewCollector(sampleResults)
	want := `
# HELP blprobe_dnsbl_listed 1 if the address is listed on the zone, 0 if the zone answered not listed; absent when the lookup failed (see blprobe_dnsbl_lookup_errors).
# TYPE blprobe_dnsbl_listed gauge
blprobe_dnsbl_listed{address="192.0.2.7",list_type="allow",target="192.0.2.0/30",zone="list.dnswl.org"} 0
blprobe_dnsbl_listed{address="192.0.2.7",list_type="block",target="192.0.2.0/30",zone="zen.spamhaus.org"} 1
# HELP blprobe_dnsbl_return_code_info Always 1: a return code (A record) the zone answered for the address, for listings and allow-list hits.
# TYPE blprobe_dnsbl_return_code_info gauge
blprobe_dnsbl_return_code_info{address="192.0.2.7",code="127.0.0.2",target="192.0.2.0/30",zone="zen.spamhaus.org"} 1
blprobe_dnsbl_return_code_info{address="192.0.2.7",code="127.0.0.4",target="192.0.2.0/30",zone="zen.spamhaus.org"} 1
# HELP blprobe_dnsbl_lookup_errors Lookups of the target's latest run that could not be completed, by zone and error kind.
# TYPE blprobe_dnsbl_lookup_errors gauge
blprobe_dnsbl_lookup_errors{kind="timeout",target="192.0.2.0/30",zone="zen.spamhaus.org"} 2
blprobe_dnsbl_lookup_errors{kind="zone_unhealthy",target="192.0.2.0/30",zone="bl.spamcop.net"} 1
# HELP blprobe_dnsbl_zone_healthy 1 if the zone passed its RFC 5782 section 5 test entries in the latest run that used it, else 0.
# TYPE blprobe_dnsbl_zone_healthy gauge
blprobe_dnsbl_zone_healthy{health="healthy",zone="list.dnswl.org"} 1
blprobe_dnsbl_zone_healthy{health="healthy",zone="v4only.test"} 1
blprobe_dnsbl_zone_healthy{health="healthy",zone="zen.spamhaus.org"} 1
blprobe_dnsbl_zone_healthy{health="unhealthy",zone="bl.spamcop.net"} 0
# HELP blprobe_smtp_probe_status Always 1: the outcome of the latest RCPT-stage probe of one MX address (status, class, stage where it ended, blocklist the reply cites).
# TYPE blprobe_smtp_probe_status gauge
blprobe_smtp_probe_status{address="198.51.100.1",cited_list="zen.spamhaus.org",class="blocklisted",domain="example.com",mx="mx1.example.com",source="192.0.2.7",stage="rcpt",status="rejected",target="192.0.2.7"} 1
blprobe_smtp_probe_status{address="198.51.100.2",cited_list="",class="accepted",domain="example.com",mx="mx2.example.com",source="192.0.2.7",stage="rcpt",status="accepted",target="192.0.2.7"} 1
# HELP blprobe_smtp_probe_reply_code The SMTP reply code that decided the latest probe of one MX address (e.g. 250, 450, 554).
# TYPE blprobe_smtp_probe_reply_code gauge
blprobe_smtp_probe_reply_code{address="198.51.100.1",domain="example.com",mx="mx1.example.com",source="192.0.2.7",target="192.0.2.7"} 554
blprobe_smtp_probe_reply_code{address="198.51.100.2",domain="example.com",mx="mx2.example.com",source="192.0.2.7",target="192.0.2.7"} 250
# HELP blprobe_smtp_port25_blocked 1 if every probe of the latest SMTP run timed out at connect (outbound port 25 looks blocked), else 0.
# TYPE blprobe_smtp_port25_blocked gauge
blprobe_smtp_port25_blocked{target="192.0.2.7"} 0
# HELP blprobe_target_verdict 1 for the verdict of the target's latest run of the kind (clean, listed, rejected, inconclusive), 0 for the others.
# TYPE blprobe_target_verdict gauge
blprobe_target_verdict{kind="dnsbl",target="192.0.2.0/30",verdict="clean"} 0
blprobe_target_verdict{kind="dnsbl",target="192.0.2.0/30",verdict="inconclusive"} 0
blprobe_target_verdict{kind="dnsbl",target="192.0.2.0/30",verdict="listed"} 1
blprobe_target_verdict{kind="dnsbl",target="192.0.2.0/30",verdict="rejected"} 0
blprobe_target_verdict{kind="smtp",target="192.0.2.7",verdict="clean"} 0
blprobe_target_verdict{kind="smtp",target="192.0.2.7",verdict="inconclusive"} 0
blprobe_target_verdict{kind="smtp",target="192.0.2.7",verdict="listed"} 0
blprobe_target_verdict{kind="smtp",target="192.0.2.7",verdict="rejected"} 1
# HELP blprobe_last_run_success 1 if the latest run of the check produced a report, 0 if it could not run (see the log and /report).
# TYPE blprobe_last_run_success gauge
blprobe_last_run_success{kind="dnsbl",target="192.0.2.0/30"} 1
blprobe_last_run_success{kind="dnsbl",target="mail.example.com"} 0
blprobe_last_run_success{kind="smtp",target="192.0.2.7"} 1
# HELP blprobe_runs_skipped_total Scheduled starts skipped because the previous run of the same check was still going.
# TYPE blprobe_runs_skipped_total counter
blprobe_runs_skipped_total{kind="dnsbl",target="192.0.2.0/30"} 0
blprobe_runs_skipped_total{kind="dnsbl",target="mail.example.com"} 0
blprobe_runs_skipped_total{kind="smtp",target="192.0.2.7"} 2
# HELP blprobe_last_run_duration_seconds How long the latest run of the check took.
# TYPE blprobe_last_run_duration_seconds gauge
blprobe_last_run_duration_seconds{kind="dnsbl",target="192.0.2.0/30"} 1.5
blprobe_last_run_duration_seconds{kind="dnsbl",target="mail.example.com"} 0
blprobe_last_run_duration_seconds{kind="smtp",target="192.0.2.7"} 4
`
	names := []string{"blprobe_dnsbl_listed", "blprobe_dnsbl_return_code_info", "blprobe_dnsbl_lookup_errors",
		"blprobe_dnsbl_zone_healthy", "blprobe_smtp_probe_status", "blprobe_smtp_probe_reply_code",
		"blprobe_smtp_port25_blocked", "blprobe_target_verdict", "blprobe_last_run_success",
		"blprobe_runs_skipped_total", "blprobe_last_run_duration_seconds"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// 16 + 8 verdict series + 6 per-run series for each of 3 results; the
	// duplicate MX address is sent once.
	if n := testutil.CollectAndCount(c); n != 44 {
		t.Errorf("%d series, want 44", n)
	}
}

// TestCollectorLint checks the metric names, help and types against the
// Prometheus naming conventions (promlint), for /metrics and for /probe.
func TestCollectorLint(t *testing.T) {
	probs, err := testutil.CollectAndLint(NewCollector(sampleResults))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	probs, err = testutil.CollectAndLint(probeCollector{sampleResults()[0]})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestCollectorRegisters makes sure the collector is consistent with its
// descriptions (a registry refuses undescribed or duplicate series).
func TestCollectorRegisters(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(sampleResults))
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	empty := prometheus.NewPedanticRegistry()
	empty.MustRegister(NewCollector(func() []Result { return nil }))
	mfs, err := empty.Gather()
	if err != nil || len(mfs) != 0 {
		t.Errorf("no results: %d families, %v", len(mfs), err)
	}
}
