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

// reply is a rejected probe that ended at stage with the given reply to rcpt.
func reply(stage smtpcheck.Stage, c smtpcheck.Class, code int, enh, text, rcpt string) smtpcheck.Probe {
	rep := smtpcheck.Reply{Code: code, Enhanced: enh, Text: text}
	p := smtpcheck.Probe{IP: "192.0.2.1", Port: 25, Status: smtpcheck.StatusRejected, Class: c, Stage: stage, Reply: &rep}
	if rcpt != "" {
		p.Rcpts = []smtpcheck.RcptResult{{Rcpt: rcpt, Reply: rep, Class: c}}
	}
	return p
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
		problem string // a problem line the verdict must come with
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
		{name: "not applicable is not a failure", r: Report{DNSBL: &DNSBL{Zones: healthy, Results: []dnsbl.Result{result("zen.example", dnsbl.StatusError, dnsbl.ErrNotApplicable)}}}, verdict: VerdictClean, exit: 0, warn: "1 IPv4 address was checked against 2 of the 3 zones of this run: zen.example publishes no IPv4 data"},
		{name: "unhealthy zone", r: Report{DNSBL: &DNSBL{Zones: zones(zone("dead.example", dnsbl.TypeBlock, dnsbl.HealthUnhealthy))}}, verdict: VerdictInconclusive, exit: 3},
		{name: "unknown zone health", r: Report{DNSBL: &DNSBL{Zones: zones(zone("wl.example", dnsbl.TypeAllow, dnsbl.HealthUnknown))}}, verdict: VerdictInconclusive, exit: 3},
		{name: "listed beats inconclusive", r: Report{DNSBL: &DNSBL{Zones: append(healthy, zone("dead.example", dnsbl.TypeBlock, dnsbl.HealthUnhealthy)),
			Results: []dnsbl.Result{result("zen.example", dnsbl.StatusListed, ""), result("dead.example", dnsbl.StatusError, dnsbl.ErrZoneUnhealthy)}}}, verdict: VerdictListed, exit: 1},
		{name: "rejected blocklisted", r: Report{SMTP: probeReport(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted))}, verdict: VerdictRejected, exit: 1},
		{name: "rejected policy", r: Report{SMTP: probeReport(probe(smtpcheck.StatusRejected, smtpcheck.ClassPolicy))}, verdict: VerdictRejected, exit: 1},
		{name: "rejected beats listed", r: Report{DNSBL: &DNSBL{Zones: healthy, Results: []dnsbl.Result{result("zen.example", dnsbl.StatusListed, "")}},
			SMTP: probeReport(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted))}, verdict: VerdictRejected, exit: 1},
		// A 5xx at RCPT that is not tied to the sender is no RCPT verdict on
		// the checked IP: never clean, not exit 1 either.
		{name: "unknown postmaster is inconclusive", r: Report{SMTP: probeReport(probe(smtpcheck.StatusRejected, smtpcheck.ClassUnknownRecipient))},
			verdict: VerdictInconclusive, exit: 3, problem: "refused RCPT TO:<postmaster@example.com> (unknown_recipient): every domain must accept mail for postmaster (RFC 5321 §4.5.1)"},
		{name: "550 5.2.1 mailbox unavailable for postmaster", r: Report{SMTP: probeReport(reply(smtpcheck.StageRcpt, smtpcheck.ClassUnknownRecipient, 550, "5.2.1", "Mailbox unavailable", "postmaster@example.com"))},
			verdict: VerdictInconclusive, exit: 3, problem: "mx.example.com [192.0.2.1] refused RCPT TO:<postmaster@example.com> (unknown_recipient): every domain must accept mail for postmaster (RFC 5321 §4.5.1), so this is not a verdict on the recipient, and the reason could not be tied to the sending IP or sender: 550 5.2.1 Mailbox unavailable"},
		{name: "unknown --rcpt user", r: Report{SMTP: probeReport(reply(smtpcheck.StageRcpt, smtpcheck.ClassUnknownRecipient, 550, "5.1.1", "<bob@example.com>: Recipient address rejected: User unknown", "bob@example.com"))},
			verdict: VerdictInconclusive, exit: 3, problem: "rejected the recipient <bob@example.com> as unknown (unknown_recipient at rcpt), so the MX gave no verdict on the checked IP: check the --rcpt address"},
		{name: "Exim bare Administrative prohibition", r: Report{SMTP: probeReport(reply(smtpcheck.StageRcpt, smtpcheck.ClassRejected, 550, "", "Administrative prohibition", "postmaster@example.com"))},
			verdict: VerdictInconclusive, exit: 3, problem: "550 Administrative prohibition"},
		{name: "other 5xx for another recipient", r: Report{SMTP: probeReport(reply(smtpcheck.StageRcpt, smtpcheck.ClassRejected, 550, "", "Administrative prohibition", "bob@example.com"))},
			verdict: VerdictInconclusive, exit: 3, problem: "refused the probe at rcpt (rejected) and the reason could not be tied to a cause"},
		{name: "IP reputation too low at RCPT", r: Report{SMTP: probeReport(reply(smtpcheck.StageRcpt, smtpcheck.ClassRejected, 550, "", "your IP reputation is too low for this MX", "postmaster@example.com"))},
			verdict: VerdictRejected, exit: 1, problem: "rejected at rcpt (the reply names the client, the sender or the IP's reputation)"},
		{name: "553 5.1.8 sender domain not found at RCPT", r: Report{SMTP: probeReport(reply(smtpcheck.StageRcpt, smtpcheck.ClassUnknownRecipient, 553, "5.1.8", "<postmaster@probe.example>: Sender address rejected: Domain not found", "postmaster@example.com"))},
			verdict: VerdictRejected, exit: 1, problem: "rejected at rcpt (sender address (5.1.8, RFC 3463 §3.2))"},
		{name: "Postfix missing PTR, 450 code changed to 550", r: Report{SMTP: probeReport(reply(smtpcheck.StageRcpt, smtpcheck.ClassRejected, 550, "", "Client host rejected: cannot find your hostname, [192.0.2.99]", "postmaster@example.com"))},
			verdict: VerdictRejected, exit: 1, problem: "Client host rejected"},
		{name: "banner 554 without a list", r: Report{SMTP: probeReport(reply(smtpcheck.StageBanner, smtpcheck.ClassRejected, 554, "", "No SMTP service here", ""))},
			verdict: VerdictRejected, exit: 1, problem: "mx.example.com [192.0.2.1] rejected at banner (refused at the banner: about the client, before any recipient was named): 554 No SMTP service here"},
		{name: "EHLO 550", r: Report{SMTP: probeReport(reply(smtpcheck.StageEHLO, smtpcheck.ClassRejected, 550, "", "go away", ""))},
			verdict: VerdictRejected, exit: 1, problem: "rejected at ehlo"},
		{name: "MAIL 553", r: Report{SMTP: probeReport(reply(smtpcheck.StageMail, smtpcheck.ClassRejected, 553, "", "sorry", ""))},
			verdict: VerdictRejected, exit: 1, problem: "rejected at mail"},
		{name: "echoed IP mismatch", r: Report{SMTP: probeReport(probe(smtpcheck.StatusAccepted, smtpcheck.ClassAccepted)),
			Correlations: []Correlation{{Kind: "echoed_ip_mismatch", Severity: "problem", Evidence: map[string]string{"echoed_ip": "198.51.100.99", "mx": "mx.example.com", "ip": "192.0.2.1"}, Message: "mx.example.com [192.0.2.1] saw 198.51.100.99, not 192.0.2.99"}}},
			verdict: VerdictInconclusive, exit: 3, problem: "saw 198.51.100.99, not 192.0.2.99"},
		{name: "warning correlation does not count", r: Report{SMTP: probeReport(probe(smtpcheck.StatusAccepted, smtpcheck.ClassAccepted)),
			Correlations: []Correlation{{Kind: "echoed_ip_mismatch", Severity: "warning", Message: "saw an IPv6 address"}}}, verdict: VerdictClean, exit: 0},
		{name: "problem correlation explaining a rejection adds no line", r: Report{SMTP: probeReport(probe(smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted)),
			Correlations: []Correlation{{Kind: "rejection_unattributed", Severity: "problem", Evidence: map[string]string{"mx": "mx.example.com", "ip": "192.0.2.1", "reply": "554 blocked"}, Message: "explains the rejection"}}}, verdict: VerdictRejected, exit: 1},
		{name: "PTR SERVFAIL", r: Report{RDNS: []RDNS{{IP: "192.0.2.99", Error: "PTR lookup of 99.2.0.192.in-addr.arpa: SERVFAIL"}}},
			verdict: VerdictInconclusive, exit: 3, problem: "the reverse DNS of 192.0.2.99 could not be checked: PTR lookup of 99.2.0.192.in-addr.arpa: SERVFAIL"},
		{name: "no PTR record is not an rDNS error", r: Report{RDNS: []RDNS{{IP: "192.0.2.99", Problems: []string{"no PTR record"}}}}, verdict: VerdictClean, exit: 0},
		{name: "IPv6 address checked against fewer zones", r: Report{DNSBL: &DNSBL{
			Zones: zones(zone("zen.example", dnsbl.TypeBlock, dnsbl.HealthHealthy), dnsbl.ZoneHealth{Zone: "both.example", Type: dnsbl.TypeBlock, Kind: dnsbl.KindIP46, Health: dnsbl.HealthHealthy}),
			Results: []dnsbl.Result{{IP: "192.0.2.99", Zone: "zen.example", Status: dnsbl.StatusClean}, {IP: "192.0.2.99", Zone: "both.example", Status: dnsbl.StatusClean},
				{IP: "2001:db8::99", Zone: "both.example", Status: dnsbl.StatusClean}}}},
			verdict: VerdictClean, exit: 0, warn: "1 IPv6 address was checked against 1 of the 2 zones of this run: zen.example publishes no IPv6 data (not_applicable), so fewer lists cover it"},
		{name: "planned IPv6 address that no zone applied to", r: Report{DNSBL: &DNSBL{Zones: zones(zone("zen.example", dnsbl.TypeBlock, dnsbl.HealthHealthy)),
			Results: []dnsbl.Result{{IP: "192.0.2.99", Zone: "zen.example", Status: dnsbl.StatusClean}}, Coverage: NewCoverage(dnsbl.FamilyPlan{Units: 1}, dnsbl.FamilyPlan{Units: 1})}},
			verdict: VerdictClean, exit: 0, warn: "1 IPv6 address was checked against 0 of the 1 zones of this run: zen.example publishes no IPv6 data"},
		{name: "greylisted", r: Report{SMTP: probeReport(probe(smtpcheck.StatusTempfail, smtpcheck.ClassGreylisted))}, verdict: VerdictInconclusive, exit: 3},
		{name: "tempfail", r: Report{SMTP: probeReport(probe(smtpcheck.StatusTempfail, smtpcheck.ClassTempfail))}, verdict: VerdictInconclusive, exit: 3},
		{name: "connect timeout", r: Report{SMTP: probeReport(probe(smtpcheck.StatusError, smtpcheck.ClassConnectTimeout))}, verdict: VerdictInconclusive, exit: 3},
		{name: "probe not done", r: Report{SMTP: probeReport(probe(smtpcheck.StatusNotDone, smtpcheck.ClassNotDone))}, verdict: VerdictInconclusive, exit: 3},
		{name: "domain error", r: Report{SMTP: &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "nx.example", Status: smtpcheck.DomainError, Error: "NXDOMAIN"}}}}, verdict: VerdictInconclusive, exit: 3},
		{name: "null MX accepts no mail", r: Report{SMTP: &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "null.example", Status: smtpcheck.DomainNullMX}}}},
			verdict: VerdictInconclusive, exit: 3, problem: "null.example accepts no mail: it publishes a null MX (RFC 7505)"},
		{name: "no mail host accepts no mail", r: Report{SMTP: &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "nohost.example", Status: smtpcheck.DomainNoMailHost}}}},
			verdict: VerdictInconclusive, exit: 3, problem: "nohost.example accepts no mail: it has no MX and no address"},
		{name: "NXDOMAIN accepts no mail", r: Report{SMTP: &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "nx.example", Status: smtpcheck.DomainError, Error: "domain nx.example does not exist (NXDOMAIN)"}}}},
			verdict: VerdictInconclusive, exit: 3, problem: "nx.example accepts no mail: domain nx.example does not exist (NXDOMAIN)"},
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
			if tc.problem != "" {
				var lines []string
				for _, p := range r.Problems() {
					lines = append(lines, string(p.Verdict)+": "+p.Message)
				}
				if !strings.Contains(strings.Join(lines, "\n"), string(tc.verdict)+": ") || !strings.Contains(strings.Join(lines, "\n"), tc.problem) {
					t.Errorf("problems %q lack a %s line with %q", lines, tc.verdict, tc.problem)
				}
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

// A probe status this version does not know is never clean.
func TestUnknownProbeStatusIsInconclusive(t *testing.T) {
	r := Report{SMTP: probeReport(probe("weird", smtpcheck.ClassAccepted))}
	r.Finalize()
	if r.Verdict != VerdictInconclusive || len(r.Problems()) != 1 || !strings.Contains(r.Problems()[0].Message, `ended with status "weird"`) {
		t.Errorf("verdict %s problems %+v", r.Verdict, r.Problems())
	}
}

// A domain status this version does not know, with nothing probed, is no
// clean run either.
func TestUnknownDomainStatusIsInconclusive(t *testing.T) {
	r := Report{SMTP: &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "example.com", Status: "weird"}}}}
	r.Finalize()
	if r.Verdict != VerdictInconclusive || r.ExitCode != ExitInconclusive {
		t.Errorf("verdict %s exit %d problems %+v", r.Verdict, r.ExitCode, r.Problems())
	}
}

func TestCoverage(t *testing.T) {
	r := Report{DNSBL: &DNSBL{
		Zones: zones(zone("a4.example", dnsbl.TypeBlock, dnsbl.HealthHealthy), dnsbl.ZoneHealth{Zone: "b46.example", Kind: dnsbl.KindIP46, Health: dnsbl.HealthHealthy},
			dnsbl.ZoneHealth{Zone: "c6.example", Kind: dnsbl.KindIP6, Health: dnsbl.HealthHealthy}, dnsbl.ZoneHealth{Zone: "dom.example", Kind: dnsbl.KindDomain, Health: dnsbl.HealthHealthy}),
		Results: []dnsbl.Result{{IP: "192.0.2.1", Zone: "a4.example", Status: dnsbl.StatusClean}, {IP: "192.0.2.2", Zone: "b46.example", Status: dnsbl.StatusClean},
			{IP: "2001:db8::1", Zone: "c6.example", Status: dnsbl.StatusClean}, {IP: "mail.example", Zone: "dom.example", Status: dnsbl.StatusClean}}}}
	r.Finalize()
	c := r.DNSBL.Coverage
	if c.IPv4.Addresses != 2 || c.IPv4.Zones != 2 || strings.Join(c.IPv4.NotApplicable, ",") != "c6.example" ||
		c.IPv6.Addresses != 1 || c.IPv6.Zones != 2 || strings.Join(c.IPv6.NotApplicable, ",") != "a4.example" {
		t.Errorf("coverage %+v", c)
	}
	if len(r.Warnings) != 2 || !strings.Contains(r.Warnings[0], "2 IPv4 addresses were checked against 2 of the 3 zones") {
		t.Errorf("warnings %q", r.Warnings)
	}
}
