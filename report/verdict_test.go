package report

import (
	"strings"
	"testing"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/smtpcheck"
)

func probeReport(ps ...smtpcheck.Probe) *smtpcheck.Result {
	return &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "example.com", Status: smtpcheck.DomainOK,
		MX: []smtpcheck.MX{{Host: "mx.example.com", Preference: 10, Addresses: ps}}}}}
}

func probe(s smtpcheck.Status, c smtpcheck.Class) smtpcheck.Probe {
	return smtpcheck.Probe{IP: "192.0.2.1", Port: 25, Status: s, Class: c, Stage: smtpcheck.StageRcpt,
		Reply: &smtpcheck.Reply{Code: 550, Enhanced: "5.1.1", Text: "<postmaster@example.com>: Recipient address rejected: User unknown"}}
}

func zones(hs ...dnsbl.ZoneHealth) []dnsbl.ZoneHealth { return hs }

func zone(name string, typ dnsbl.ListType, h dnsbl.Health) dnsbl.ZoneHealth {
	return dnsbl.ZoneHealth{Zone: name, Type: typ, Kind: dnsbl.KindIP4, Health: h}
}

func result(zone string, s dnsbl.Status, k dnsbl.ErrorKind) dnsbl.Result {
	return dnsbl.Result{Target: "192.0.2.99", IP: "192.0.2.99", Zone: zone, Status: s, ErrorKind: k, Codes: []string{"127.0.0.2"}}
}

func TestFinalize(t *testing.T) {
	healthy := zones(zone("zen.example", dnsbl.TypeBlock, dnsbl.HealthHealthy), zone("wl.example", dnsbl.TypeAllow, dnsbl.HealthHealthy), zone("info.example", dnsbl.TypeInfo, dnsbl.HealthHealthy))
	egress := func(v4, v6 EgressFamily, src bool) *Egress {
		return &Egress{Answers: []EgressAnswer{}, IPv4: v4, IPv6: v6, IPSource: src}
	}
	agreed := EgressFamily{IP: "203.0.113.7", Agree: true, Answered: 2}
	noV6 := EgressFamily{Problem: "no egress source answered for IPv6"}
	disagree := EgressFamily{Answered: 2, Problem: "sources disagree: opendns says 203.0.113.7, google says 198.51.100.7"}
	for _, tc := range []struct {
		name    string
		r       Report
		verdict Verdict
		exit    int
		warn    string // a warning Finalize must add
	}{
		{name: "nothing", verdict: VerdictClean, exit: 0},
		{name: "domain whose MX have no usable address", r: Report{SMTP: &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "v6only.example", Status: smtpcheck.DomainOK,
			MX: []smtpcheck.MX{{Host: "mx.v6only.example", Error: "MX host mx.v6only.example has no IPv4 address", Addresses: []smtpcheck.Probe{}}}}}}}, verdict: VerdictInconclusive, exit: 3, warn: "has no IPv4 address"},
		{name: "all clean", r: Report{DNSBL: &DNSBL{Zones: healthy, Results: []dnsbl.Result{result("zen.example", dnsbl.StatusClean, "")}},
			SMTP: probeReport(probe(smtpcheck.StatusAccepted, smtpcheck.ClassAccepted))}, verdict: VerdictClean, exit: 0},
		{name: "listed on block zone", r: Report{DNSBL: &DNSBL{Zones: healthy, Results: []dnsbl.Result{result("zen.example", dnsbl.StatusListed, "")}}}, verdict: VerdictListed, exit: 1},
		{name: "listed on zone without health entry", r: Report{DNSBL: &DNSBL{Results: []dnsbl.Result{result("other.example", dnsbl.StatusListed, "")}}}, verdict: VerdictListed, exit: 1},
		{name: "hit on allow zone never counts", r: Report{DNSBL: &DNSBL{Zones: healthy, Results: []dnsbl.Result{result("wl.example", dnsbl.StatusListed, ""), result("wl.example", dnsbl.StatusAllowed, "")}}}, verdict: VerdictClean, exit: 0},
		{name: "hit on info zone never counts", r: Report{DNSBL: &DNSBL{Zones: healthy, Results: []dnsbl.Result{result("info.example", dnsbl.StatusListed, "")}}}, verdict: VerdictClean, exit: 0},
		{name: "dnsbl timeout", r: Report{DNSBL: &DNSBL{Zones: healthy, Results: []dnsbl.Result{result("zen.example", dnsbl.StatusError, dnsbl.ErrTimeout)}}}, verdict: VerdictInconclusive, exit: 3},
		{name: "dnsbl not_done", r: Report{DNSBL: &DNSBL{Zones: healthy, Results: []dnsbl.Result{result("zen.example", dnsbl.StatusNotDone, "")}}}, verdict: VerdictInconclusive, exit: 3},
		{name: "not applicable is not a failure", r: Report{DNSBL: &DNSBL{Zones: healthy, Results: []dnsbl.Result{result("zen.example", dnsbl.StatusError, dnsbl.ErrNotApplicable)}}}, verdict: VerdictClean, exit: 0},
		{name: "unhealthy zone", r: Report{DNSBL: &DNSBL{Zones: zones(zone("dead.example", dnsbl.TypeBlock, dnsbl.HealthUnhealthy))}}, verdict: VerdictInconclusive, exit: 3},
		{name: "unknown zone health", r: Report{DNSBL: &DNSBL{Zones: zones(zone("wl.example", dnsbl.TypeAllow, dnsbl.HealthUnknown))}}, verdict: VerdictInconclusive, exit: 3},
		{name: "listed beats inconclusive", r: Report{DNSBL: &DNSBL{Zones: append(healthy, zone("dead.example", dnsbl.TypeBlock, dnsbl.HealthUnhealthy)),
			Results: []dnsbl.Result{result("zen.example", dnsbl.StatusListed, ""), result("dead.example", dnsbl.StatusError, dnsbl.ErrZoneUnhealthy)}}}, verdict: VerdictListed, exit: 1},
		{name: "rejected blocklisted", r: Report{SMTP: probeReport(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted))}, verdict: VerdictRejected, exit: 1},
		{name: "rejected policy", r: Report{SMTP: probeReport(probe(smtpcheck.StatusRejected, smtpcheck.ClassPolicy))}, verdict: VerdictRejected, exit: 1},
		{name: "rejected beats listed", r: Report{DNSBL: &DNSBL{Zones: healthy, Results: []dnsbl.Result{result("zen.example", dnsbl.StatusListed, "")}},
			SMTP: probeReport(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted))}, verdict: VerdictRejected, exit: 1},
		{name: "unknown recipient is not a block", r: Report{SMTP: probeReport(probe(smtpcheck.StatusRejected, smtpcheck.ClassUnknownRecipient))},
			verdict: VerdictClean, exit: 0, warn: "mx.example.com [192.0.2.1] rejected the recipient as unknown"},
		{name: "other 5xx is not a block", r: Report{SMTP: probeReport(probe(smtpcheck.StatusRejected, smtpcheck.ClassRejected))},
			verdict: VerdictClean, exit: 0, warn: "mx.example.com [192.0.2.1] rejected a rejection that is not a block"},
		{name: "greylisted", r: Report{SMTP: probeReport(probe(smtpcheck.StatusTempfail, smtpcheck.ClassGreylisted))}, verdict: VerdictInconclusive, exit: 3},
		{name: "tempfail", r: Report{SMTP: probeReport(probe(smtpcheck.StatusTempfail, smtpcheck.ClassTempfail))}, verdict: VerdictInconclusive, exit: 3},
		{name: "connect timeout", r: Report{SMTP: probeReport(probe(smtpcheck.StatusError, smtpcheck.ClassConnectTimeout))}, verdict: VerdictInconclusive, exit: 3},
		{name: "probe not done", r: Report{SMTP: probeReport(probe(smtpcheck.StatusNotDone, smtpcheck.ClassNotDone))}, verdict: VerdictInconclusive, exit: 3},
		{name: "domain error", r: Report{SMTP: &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "nx.example", Status: smtpcheck.DomainError, Error: "NXDOMAIN"}}}}, verdict: VerdictInconclusive, exit: 3},
		{name: "null MX warns", r: Report{SMTP: &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "null.example", Status: smtpcheck.DomainNullMX}}}},
			verdict: VerdictClean, exit: 0, warn: "null.example publishes a null MX"},
		{name: "MX without address warns", r: Report{SMTP: &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "example.com", Status: smtpcheck.DomainOK,
			MX: []smtpcheck.MX{{Host: "mx.example.com", Error: "no address"}}}}}}, verdict: VerdictInconclusive, exit: 3, warn: "MX mx.example.com of example.com was not probed: no address"},
		{name: "one MX without address, another probed", r: Report{SMTP: &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "example.com", Status: smtpcheck.DomainOK,
			MX: []smtpcheck.MX{{Host: "mx1.example.com", Error: "no address"}, {Host: "mx2.example.com", Addresses: []smtpcheck.Probe{probe(smtpcheck.StatusAccepted, smtpcheck.ClassAccepted)}}}}}}},
			verdict: VerdictClean, exit: 0, warn: "MX mx1.example.com of example.com was not probed: no address"},
		{name: "interrupted clean", r: Report{Interrupted: true}, verdict: VerdictInconclusive, exit: 3},
		{name: "interrupted listed keeps verdict, exit 3", r: Report{Interrupted: true, DNSBL: &DNSBL{Zones: healthy, Results: []dnsbl.Result{result("zen.example", dnsbl.StatusListed, "")}}}, verdict: VerdictListed, exit: 3},
		{name: "interrupted rejected, exit 3", r: Report{Interrupted: true, SMTP: probeReport(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted))}, verdict: VerdictRejected, exit: 3},
		{name: "egress disagreement as IP source", r: Report{Egress: egress(disagree, noV6, true)}, verdict: VerdictInconclusive, exit: 3},
		{name: "egress nothing found as IP source", r: Report{Egress: egress(EgressFamily{Problem: "no egress source answered for IPv4"}, noV6, true)}, verdict: VerdictInconclusive, exit: 3},
		{name: "egress v4 found, no v6: fine", r: Report{Egress: egress(agreed, noV6, true)}, verdict: VerdictClean, exit: 0},
		{name: "egress disagreement, not the IP source", r: Report{Egress: egress(agreed, disagree, false)}, verdict: VerdictClean, exit: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.Finalize()
			if r.Verdict != tc.verdict || r.ExitCode != tc.exit {
				t.Errorf("verdict %s exit %d, want %s exit %d; problems %+v", r.Verdict, r.ExitCode, tc.verdict, tc.exit, r.Problems())
			}
			if got := len(r.Problems()) > 0; got != (tc.verdict != VerdictClean) {
				t.Errorf("problems %+v for verdict %s", r.Problems(), tc.verdict)
			}
			if tc.warn != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), tc.warn) {
				t.Errorf("warnings %q lack %q", r.Warnings, tc.warn)
			}
			if tc.warn == "" && len(r.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", r.Warnings)
			}
			n := len(r.Warnings)
			r.Finalize()
			if len(r.Warnings) != n {
				t.Errorf("second Finalize duplicated warnings: %q", r.Warnings)
			}
			if err := Validate(marshal(t, &r)); err != nil {
				t.Errorf("finalized report does not validate: %v", err)
			}
		})
	}
}

func TestNewIsInconclusiveUntilFinalized(t *testing.T) {
	r := New(Tool{Name: "blprobe"}, nil)
	if r.Verdict != VerdictInconclusive || r.ExitCode != ExitInconclusive || r.Schema != SchemaV1 || r.Started.IsZero() {
		t.Errorf("New: %+v", r)
	}
	r.Finalize()
	if r.Verdict != VerdictClean || r.ExitCode != ExitClean {
		t.Errorf("Finalize of an empty report: %s %d", r.Verdict, r.ExitCode)
	}
}

func TestProblemsGroupErrors(t *testing.T) {
	var res []dnsbl.Result
	for i := 0; i < 1000; i++ {
		res = append(res, dnsbl.Result{IP: "10.0.0.1", Zone: "slow.example", Status: dnsbl.StatusError, ErrorKind: dnsbl.ErrTimeout, Error: "i/o timeout"})
	}
	r := Report{DNSBL: &DNSBL{Results: res}}
	ps := r.Problems()
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "1000 lookups could not be checked (timeout): i/o timeout") {
		t.Errorf("problems = %+v", ps)
	}
}
