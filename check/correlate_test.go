package check

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

const ip = "203.0.113.7"

var catalog = []dnsbl.Zone{
	{Zone: "zen.spamhaus.org", Name: "Spamhaus ZEN", Kind: dnsbl.KindIP4, Type: dnsbl.TypeBlock, PolicyCodes: []string{"127.0.0.10", "127.0.0.11"}, DelistURL: "https://check.spamhaus.org/", Default: true},
	{Zone: "bl.spamcop.net", Name: "SpamCop", Kind: dnsbl.KindIP4, Type: dnsbl.TypeBlock, DelistURL: "https://www.spamcop.net/bl.shtml", Default: true},
	{Zone: "b.barracudacentral.org", Name: "Barracuda", Kind: dnsbl.KindIP4, Type: dnsbl.TypeBlock, DelistURL: "https://www.barracudacentral.org/rbl/removal-request", Default: true},
	{Zone: "psbl.surriel.com", Name: "PSBL", Kind: dnsbl.KindIP4, Type: dnsbl.TypeBlock, Default: true},
	{Zone: "list.dnswl.org", Name: "DNSWL", Kind: dnsbl.KindIP46, Type: dnsbl.TypeAllow, Default: true},
	{Zone: "combined.mail.abusix.zone", Name: "Abusix", Kind: dnsbl.KindIP46, Type: dnsbl.TypeBlock, NeedsKey: true},
}

func res(zone string, st dnsbl.Status, codes ...string) dnsbl.Result {
	r := dnsbl.Result{Target: ip, IP: ip, Zone: zone, Status: st, Codes: codes}
	for _, c := range codes {
		r.Meanings = append(r.Meanings, map[string]string{"127.0.0.2": "SBL", "127.0.0.10": "PBL"}[c])
	}
	return r
}

func dnsblSection(rs ...dnsbl.Result) *report.DNSBL {
	return &report.DNSBL{Results: rs}
}

func probe(mxIP string, st smtpcheck.Status, class smtpcheck.Class, cited, echoed string, code int, enh, text string) smtpcheck.Probe {
	p := smtpcheck.Probe{IP: mxIP, Port: 25, Status: st, Class: class, Stage: smtpcheck.StageRcpt, CitedList: cited, EchoedClientIP: echoed}
	if code != 0 {
		p.Reply = &smtpcheck.Reply{Code: code, Enhanced: enh, Text: text}
	}
	return p
}

func fromSource(p smtpcheck.Probe, src, echoed string) smtpcheck.Probe {
	p.SourceIP, p.EchoedClientIP = src, echoed
	return p
}

func withCause(p smtpcheck.Probe, c smtpcheck.Cause) smtpcheck.Probe {
	p.Cause = c
	return p
}

func smtpSection(domain string, mx ...smtpcheck.MX) *smtpcheck.Result {
	return &smtpcheck.Result{HELO: "mail.example.net", Port: 25, Domains: []smtpcheck.Domain{{Domain: domain, Status: smtpcheck.DomainOK, MX: mx}}}
}

func mx(host string, ps ...smtpcheck.Probe) smtpcheck.MX {
	return smtpcheck.MX{Host: host, Preference: 10, Addresses: ps}
}

var accepted = func(mxIP string) smtpcheck.Probe {
	return probe(mxIP, smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, "", "", 250, "2.1.5", "OK")
}

const (
	postfixSpamhaus = "Service unavailable; Client host [203.0.113.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.7"
	ms606           = "Access denied, banned sending IP [203.0.113.7]. To request removal from this list please visit https://sender.office.com/"
	gmailPTR        = "[203.0.113.7] The IP address sending this message does not have a PTR record setup, or the\ncorresponding forward DNS entry does not point to the sending IP."
	barracuda       = "Service unavailable; Client host [203.0.113.7] blocked using Barracuda Reputation; http://bbl.barracudacentral.com/q.cgi?ip=203.0.113.7"
	outlookS3150    = "Unfortunately, messages from [203.0.113.7] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)."
	proofpoint      = "Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.7"
	yahooBL21       = "[BL21] Connections will not be accepted from 203.0.113.7, because the ip is in Spamhaus's list"
)

type want struct {
	kind, severity string
	msg            []string          // substrings of the message
	evidence       map[string]string // exact evidence values
}

func TestCorrelate(t *testing.T) {
	tests := []struct {
		name     string
		r        report.Report
		want     []want
		steps    []string // substrings, each must appear in some next step
		summary  []string
		notKinds []string
	}{
		{
			name: "rejection matches listing (Postfix + Spamhaus)",
			r: report.Report{
				Verdict: report.VerdictRejected,
				DNSBL:   dnsblSection(res("zen.spamhaus.org", dnsbl.StatusListed, "127.0.0.2"), res("bl.spamcop.net", dnsbl.StatusClean)),
				SMTP: smtpSection("example.com",
					mx("mx1.example.com", probe("192.0.2.10", smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "zen.spamhaus.org", "", 554, "5.7.1", postfixSpamhaus)),
					mx("mx2.example.com", accepted("192.0.2.11")),
					mx("mx3.example.com", accepted("192.0.2.12"))),
			},
			want: []want{{KindRejectionMatchesListing, SevProblem,
				[]string{"mx1.example.com [192.0.2.10] rejected at RCPT citing zen.spamhaus.org; DNSBL: 203.0.113.7 listed in zen.spamhaus.org (127.0.0.2 SBL)"},
				map[string]string{"zone": "zen.spamhaus.org", "code": "127.0.0.2", "meaning": "SBL", "mx": "mx1.example.com", "ip": "192.0.2.10", "cited_list": "zen.spamhaus.org", "checked_ip": ip, "reply": "554 5.7.1 " + postfixSpamhaus}}},
			steps:    []string{"Spamhaus ZEN listing of 203.0.113.7 (127.0.0.2 SBL), then request delisting: https://check.spamhaus.org/"},
			summary:  []string{"Rejected: 203.0.113.7 is listed on 1 of 2 block lists (Spamhaus ZEN)", "1 of 3 MX rejected it citing zen.spamhaus.org", "2 of 3 MX accepted at RCPT"},
			notKinds: []string{KindListedButAccepted},
		},
		{
			name: "provider match: Barracuda Reputation and Yahoo citing Spamhaus's list",
			r: report.Report{
				DNSBL: dnsblSection(res("zen.spamhaus.org", dnsbl.StatusListed, "127.0.0.2"), res("b.barracudacentral.org", dnsbl.StatusListed, "127.0.0.2")),
				SMTP: smtpSection("example.com",
					mx("mx1.example.com", probe("192.0.2.10", smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "Barracuda Reputation", "", 554, "", barracuda)),
					mx("mta5.am0.yahoodns.net", probe("192.0.2.20", smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "Spamhaus's list", "", 553, "5.7.1", yahooBL21))),
			},
			want: []want{
				{KindRejectionMatchesListing, SevProblem, []string{"citing Barracuda Reputation; DNSBL: 203.0.113.7 listed in b.barracudacentral.org"}, map[string]string{"zone": "b.barracudacentral.org"}},
				{KindRejectionMatchesListing, SevProblem, []string{"citing Spamhaus's list; DNSBL: 203.0.113.7 listed in zen.spamhaus.org"}, map[string]string{"zone": "zen.spamhaus.org"}},
			},
		},
		{
			name: "cause steps: SPF refusal, sender refusal, provider reputation, rate limit",
			r: report.Report{
				DNSBL: dnsblSection(res("zen.spamhaus.org", dnsbl.StatusClean)),
				SMTP: &smtpcheck.Result{HELO: "mail.example.net", Port: 25, Domains: []smtpcheck.Domain{
					{Domain: "spf.example", Status: smtpcheck.DomainOK, MX: []smtpcheck.MX{mx("mx.spf.example",
						withCause(probe("192.0.2.30", smtpcheck.StatusRejected, smtpcheck.ClassPolicy, "", "", 550, "5.7.23", "SPF validation failed"), smtpcheck.CauseAuthFailed))}},
					{Domain: "sender.example", Status: smtpcheck.DomainOK, MX: []smtpcheck.MX{mx("mx.sender.example",
						withCause(probe("192.0.2.31", smtpcheck.StatusRejected, smtpcheck.ClassRejected, "", "", 553, "5.1.8", "Sender address rejected: Domain not found"), smtpcheck.CauseSenderRejected))}},
					{Domain: "rep.example", Status: smtpcheck.DomainOK, MX: []smtpcheck.MX{mx("mx.rep.example",
						withCause(probe("192.0.2.32", smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "", "", 550, "5.7.1", "your IP reputation is too low"), smtpcheck.CauseIPReputation))}},
					{Domain: "slow.example", Status: smtpcheck.DomainOK, MX: []smtpcheck.MX{mx("mx.slow.example",
						withCause(probe("192.0.2.33", smtpcheck.StatusTempfail, smtpcheck.ClassTempfail, "", "", 421, "4.7.0", "too many connections from your IP"), smtpcheck.CauseRateLimited))}},
				}},
			},
			steps: []string{
				"spf.example: publish or extend SPF to include 203.0.113.7",
				"sender.example: use a MAIL FROM address whose domain exists",
				"rep.example: the receiver distrusts 203.0.113.7's reputation (the provider of rep.example)",
				"slow.example: slow down",
			},
		},
		{
			name: "accepted from another address without an echo is unconfirmed",
			r: report.Report{
				DNSBL: dnsblSection(res("zen.spamhaus.org", dnsbl.StatusClean)),
				SMTP: smtpSection("example.com",
					mx("mx1.example.com", fromSource(accepted("192.0.2.10"), "192.168.1.5", "")),
					mx("mx2.example.com", fromSource(accepted("192.0.2.11"), "192.168.1.5", ip)), // echoed the checked IP: confirmed
					mx("mx3.example.com", fromSource(accepted("192.0.2.12"), ip, ""))),           // sent from the checked IP itself
			},
			want: []want{{KindSMTPSourceUnconfirmed, SevProblem,
				[]string{"mx1.example.com [192.0.2.10] accepted the probe from 192.168.1.5, not from the checked 203.0.113.7"},
				map[string]string{"mx": "mx1.example.com", "source_ip": "192.168.1.5", "checked_ip": ip}}},
			steps: []string{"run blprobe check --to example.com on the mail server itself (from 203.0.113.7)"},
		},
		{
			name: "cites a list found clean",
			r: report.Report{
				DNSBL: dnsblSection(res("zen.spamhaus.org", dnsbl.StatusClean)),
				SMTP: smtpSection("example.com",
					mx("mx1.example.com", probe("192.0.2.10", smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "zen.spamhaus.org", "", 554, "5.7.1", postfixSpamhaus))),
			},
			want: []want{{KindRejectionCitesUnlisted, SevProblem, []string{"citing zen.spamhaus.org, a list that the DNSBL check found clean for 203.0.113.7"}, map[string]string{"zone": "zen.spamhaus.org", "checked_ip": ip}}},
		},
		{
			name: "cites a list not queried",
			r: report.Report{
				DNSBL: dnsblSection(res("zen.spamhaus.org", dnsbl.StatusClean)),
				SMTP: smtpSection("example.com",
					mx("mx1.example.com", probe("192.0.2.10", smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "combined.mail.abusix.zone", "", 550, "5.7.1", "host 203.0.113.7 is listed at combined.mail.abusix.zone (127.0.0.12,"))),
			},
			want:  []want{{KindRejectionCitesUnchecked, SevProblem, []string{"did not query; run with --zone combined.mail.abusix.zone"}, map[string]string{"zone": "combined.mail.abusix.zone", "cited_list": "combined.mail.abusix.zone"}}},
			steps: []string{"blprobe check --zone combined.mail.abusix.zone 203.0.113.7"},
		},
		{
			name: "cites a list whose check failed",
			r: report.Report{
				DNSBL: dnsblSection(dnsbl.Result{IP: ip, Zone: "bl.spamcop.net", Status: dnsbl.StatusError, ErrorKind: dnsbl.ErrTimeout, Error: "timeout"}),
				SMTP: smtpSection("example.com",
					mx("mx1.example.com", probe("192.0.2.10", smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "bl.spamcop.net", "", 550, "5.7.1", "blocked using bl.spamcop.net"))),
			},
			want: []want{{KindRejectionCitesUnchecked, SevProblem, []string{"could not check (timeout)"}, map[string]string{"zone": "bl.spamcop.net"}}},
		},
		{
			name: "Microsoft 365 5.7.606",
			r: report.Report{
				DNSBL: dnsblSection(res("zen.spamhaus.org", dnsbl.StatusClean)),
				SMTP: smtpSection("contoso.com",
					mx("contoso-com.mail.protection.outlook.com", probe("192.0.2.30", smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "", "203.0.113.7", 550, "5.7.606", ms606))),
			},
			want:  []want{{KindRejectionProvider, SevProblem, []string{"203.0.113.7 is on Microsoft 365's own banned-sender list"}, map[string]string{"provider_list": "Microsoft 365 banned sending IP list", "echoed_ip": ip}}},
			steps: []string{"https://sender.office.com/"},
		},
		{
			name: "Outlook.com S3150 at MAIL FROM, Proofpoint banner",
			r: report.Report{
				SMTP: smtpSection("example.com",
					mx("outlook-com.olc.protection.outlook.com", func() smtpcheck.Probe {
						p := probe("192.0.2.40", smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "", "", 550, "5.7.1", outlookS3150)
						p.Stage = smtpcheck.StageMail
						return p
					}()),
					mx("mx0a.pphosted.com", func() smtpcheck.Probe {
						p := probe("192.0.2.41", smtpcheck.StatusRejected, smtpcheck.ClassBlocklisted, "", "", 554, "", proofpoint)
						p.Stage = smtpcheck.StageBanner
						return p
					}())),
			},
			want: []want{
				{KindRejectionProvider, SevProblem, []string{"rejected at MAIL FROM", "Outlook.com's own block list (S3150)"}, nil},
				{KindRejectionProvider, SevProblem, []string{"rejected at the banner", "Proofpoint"}, nil},
			},
			steps: []string{"https://ipcheck.proofpoint.com/", "sendersupport.olc.protection.outlook.com"},
		},
		{
			name: "listed but accepted, PBL is policy",
			r: report.Report{
				DNSBL: dnsblSection(res("zen.spamhaus.org", dnsbl.StatusListed, "127.0.0.10"), res("bl.spamcop.net", dnsbl.StatusClean), res("list.dnswl.org", dnsbl.StatusAllowed, "127.0.10.1")),
				SMTP:  smtpSection("example.com", mx("mx1.example.com", accepted("192.0.2.10")), mx("mx2.example.com", accepted("192.0.2.11"))),
			},
			want:    []want{{KindListedButAccepted, SevWarning, []string{"listed in zen.spamhaus.org, yet every MX of example.com accepted at RCPT: these MX do not use zen.spamhaus.org, other receivers may"}, map[string]string{"zone": "zen.spamhaus.org", "domain": "example.com", "mx": "mx1.example.com,mx2.example.com"}}},
			steps:   []string{"by policy, not for spam"},
			summary: []string{"Listed: 203.0.113.7 is listed on 1 of 2 block lists (Spamhaus ZEN (policy))"},
		},
		{
			name: "echoed IP mismatch and match",
			r: report.Report{
				SMTP: smtpSection("example.com",
					mx("mx1.example.com", probe("192.0.2.10", smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, "", "198.51.100.7", 250, "", "ok")),
					mx("mx2.example.com", probe("192.0.2.11", smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, "", ip, 250, "", "ok"))),
			},
			want: []want{
				{KindEchoedIPMismatch, SevProblem, []string{"mx1.example.com [192.0.2.10] saw 198.51.100.7, not 203.0.113.7: mail leaves through another address"}, map[string]string{"echoed_ip": "198.51.100.7", "checked_ip": ip}},
				{KindEchoedIPMatch, SevInfo, []string{"saw 203.0.113.7, the checked IP"}, map[string]string{"echoed_ip": ip, "checked_ip": ip}},
			},
			steps:   []string{"blprobe check 198.51.100.7"},
			summary: []string{"an MX saw 198.51.100.7"},
		},
		{
			name: "echoed IPv6 when only IPv4 was checked",
			r: report.Report{
				SMTP: smtpSection("example.com", mx("mx1.example.com", probe("2001:db8::10", smtpcheck.StatusAccepted, smtpcheck.ClassAccepted, "", "2001:db8::7", 250, "", "ok"))),
			},
			want: []want{{KindEchoedIPMismatch, SevWarning, []string{"mail leaves over IPv6 from an address that was not checked"}, map[string]string{"echoed_ip": "2001:db8::7"}}},
		},
		{
			name: "PTR rejection agrees with rDNS",
			r: report.Report{
				RDNS: []report.RDNS{{IP: ip, PTR: []string{}, Problems: []string{"no PTR record"}}},
				SMTP: smtpSection("gmail.com", mx("gmail-smtp-in.l.google.com", probe("192.0.2.50", smtpcheck.StatusRejected, smtpcheck.ClassPolicy, "", "", 550, "5.7.25", gmailPTR))),
			},
			want:     []want{{KindPTRRejection, SevProblem, []string{"rejected at RCPT for reverse DNS, and the rDNS check agrees: 203.0.113.7 has no PTR record"}, map[string]string{"ptr_problem": "no PTR record", "checked_ip": ip, "mx": "gmail-smtp-in.l.google.com"}}},
			steps:    []string{"set a PTR for 203.0.113.7 at your ISP/hosting provider: e.g. mail.example.net, and make that name resolve to 203.0.113.7"},
			notKinds: []string{KindRejectionProvider},
		},
		{
			name: "PTR rejection although rDNS is fine",
			r: report.Report{
				RDNS: []report.RDNS{{IP: ip, PTR: []string{"mail.example.net"}, ForwardConfirmed: true}},
				SMTP: smtpSection("example.org", mx("mx.example.org", probe("192.0.2.51", smtpcheck.StatusTempfail, smtpcheck.ClassTempfail, "", "", 450, "4.7.1", "Client host rejected: cannot find your reverse hostname, [203.0.113.7]"))),
			},
			want: []want{{KindPTRRejection, SevProblem, []string{"deferred at RCPT for reverse DNS, yet the rDNS check of 203.0.113.7 found no problem"}, nil}},
		},
		{
			name: "PTR problem without rejection, HELO mismatch",
			r: report.Report{
				RDNS: []report.RDNS{{IP: ip, PTR: []string{"other.example.com"}, ForwardConfirmed: false,
					HELO: &report.HELOCheck{Name: "mail.example.net", FQDN: true, Resolves: []string{"192.0.2.99"}}}},
			},
			want:  []want{{KindPTRRejection, SevWarning, []string{"the PTR of 203.0.113.7 (other.example.com) is not forward-confirmed; no MX rejected for it"}, map[string]string{"checked_ip": ip}}},
			steps: []string{"use a HELO name that resolves to 203.0.113.7", "e.g. mail.example.net"},
		},
		{
			name: "rDNS lookup error is no verdict",
			r: report.Report{
				RDNS: []report.RDNS{{IP: ip, PTR: []string{}, Error: "PTR lookup failed: SERVFAIL"}},
			},
			notKinds: []string{KindPTRRejection},
			summary:  []string{"reverse DNS of 203.0.113.7 could not be checked"},
		},
		{
			name: "port 25 blocked",
			r: report.Report{
				Verdict: report.VerdictInconclusive,
				SMTP: func() *smtpcheck.Result {
					s := smtpSection("example.com", mx("mx1.example.com", probe("192.0.2.10", smtpcheck.StatusError, smtpcheck.ClassConnectTimeout, "", "", 0, "", "")))
					s.Port25Blocked = true
					return s
				}(),
			},
			want:    []want{{KindPort25Blocked, SevProblem, []string{"outbound port 25 appears blocked"}, map[string]string{"timeouts": "1", "probes": "1"}}},
			steps:   []string{"outbound port 25 is blocked by this network: ask the provider to open it or relay through a smarthost"},
			summary: []string{"Inconclusive: ", "outbound port 25 is blocked"},
		},
		{
			name: "unhealthy zone via public resolver",
			r: report.Report{
				Resolvers: []string{"1.1.1.1:53"},
				DNSBL: &report.DNSBL{Zones: []dnsbl.ZoneHealth{{Zone: "zen.spamhaus.org", Health: dnsbl.HealthUnhealthy, Problem: "error code 127.255.255.254: query via a public resolver",
					Evidence: []dnsbl.Evidence{{Query: "2.0.0.127.zen.spamhaus.org", Expect: "listed", Rcode: "NOERROR", Codes: []string{"127.255.255.254"}}, {Query: "1.0.0.127.zen.spamhaus.org", Expect: "not_listed", Rcode: "NXDOMAIN", OK: true}}}}},
			},
			want:  []want{{KindZoneUnhealthy, SevProblem, []string{"zen.spamhaus.org failed its RFC 5782 test entries", "Cloudflare (1.1.1.1:53)"}, map[string]string{"zone": "zen.spamhaus.org", "test_entries": "2.0.0.127.zen.spamhaus.org expected listed, got 127.255.255.254"}}},
			steps: []string{"use a local recursive resolver (e.g. unbound) instead of a public one"},
		},
		{
			name: "unhealthy zone, local resolver",
			r: report.Report{
				Resolvers: []string{"127.0.0.1:53"},
				DNSBL:     &report.DNSBL{Zones: []dnsbl.ZoneHealth{{Zone: "dnsbl.sorbs.net", Health: dnsbl.HealthUnhealthy, Evidence: []dnsbl.Evidence{{Query: "2.0.0.127.dnsbl.sorbs.net", Expect: "listed", Rcode: "NXDOMAIN"}}}}},
			},
			want:     []want{{KindZoneUnhealthy, SevWarning, []string{"dnsbl.sorbs.net failed its RFC 5782 test entries: the zone may be dead"}, map[string]string{"test_entries": "2.0.0.127.dnsbl.sorbs.net expected listed, got NXDOMAIN"}}},
			notKinds: []string{KindRejectionMatchesListing},
		},
		{
			name: "clean",
			r: report.Report{
				DNSBL: dnsblSection(res("zen.spamhaus.org", dnsbl.StatusClean), res("bl.spamcop.net", dnsbl.StatusClean)),
				RDNS:  []report.RDNS{{IP: ip, PTR: []string{"mail.example.net"}, ForwardConfirmed: true}},
				SMTP:  smtpSection("example.com", mx("mx1.example.com", accepted("192.0.2.10"))),
			},
			summary:  []string{"Clean: 203.0.113.7 is not listed on any of the 2 block lists checked; 1 of 1 MX accepted at RCPT; its reverse DNS (mail.example.net) is forward-confirmed."},
			notKinds: []string{KindListedButAccepted, KindPTRRejection},
		},
		{
			// A preset "clean" verdict is overridden: Finalize decides from the evidence.
			name: "a lookup that failed is never clean",
			r: report.Report{
				Verdict: report.VerdictClean,
				DNSBL:   dnsblSection(res("zen.spamhaus.org", dnsbl.StatusClean), res("bl.spamcop.net", dnsbl.StatusClean), res("psbl.surriel.com", dnsbl.StatusError)),
				RDNS:    []report.RDNS{{IP: ip, PTR: []string{"mail.example.net"}, ForwardConfirmed: true}},
				SMTP:    smtpSection("example.com", mx("mx1.example.com", accepted("192.0.2.10"))),
			},
			summary:  []string{"Inconclusive: 203.0.113.7 is not listed on any of the 2 block lists checked (1 could not be checked)", "1 of 1 MX accepted at RCPT", "Main reason: psbl.surriel.com: 1 lookup could not be checked"},
			notKinds: []string{KindListedButAccepted, KindPTRRejection},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			r.NextSteps = []string{"existing step"}
			Correlate(&r, catalog, []netip.Addr{netip.MustParseAddr(ip)})
			for _, w := range tt.want {
				if !hasCorrelation(r.Correlations, w) {
					t.Errorf("missing %s/%s %q %v in\n%s", w.kind, w.severity, w.msg, w.evidence, dump(r.Correlations))
				}
			}
			for _, k := range tt.notKinds {
				for _, c := range r.Correlations {
					if c.Kind == k {
						t.Errorf("unexpected %s: %s", k, c.Message)
					}
				}
			}
			if r.NextSteps[0] != "existing step" {
				t.Errorf("existing next step lost: %q", r.NextSteps)
			}
			seen := map[string]bool{}
			for _, s := range r.NextSteps {
				if seen[s] {
					t.Errorf("duplicate next step %q", s)
				}
				seen[s] = true
			}
			for _, s := range tt.steps {
				found := false
				for _, n := range r.NextSteps {
					found = found || strings.Contains(n, s)
				}
				if !found {
					t.Errorf("no next step containing %q in %q", s, r.NextSteps)
				}
			}
			r.Finalize() // the verdict, and with it the summary, is decided last
			for _, s := range tt.summary {
				if !strings.Contains(r.Summary, s) {
					t.Errorf("summary %q lacks %q", r.Summary, s)
				}
			}
			if r.Summary == "" || strings.Contains(r.Summary, "\n") {
				t.Errorf("summary %q", r.Summary)
			}
			// Idempotent: a second run adds no steps and the same correlations.
			n, c := len(r.NextSteps), len(r.Correlations)
			Correlate(&r, catalog, []netip.Addr{netip.MustParseAddr(ip)})
			if len(r.NextSteps) != n || len(r.Correlations) != c {
				t.Errorf("second Correlate changed counts: steps %d→%d, correlations %d→%d", n, len(r.NextSteps), c, len(r.Correlations))
			}
		})
	}
}

func hasCorrelation(cs []report.Correlation, w want) bool {
	for _, c := range cs {
		if c.Kind != w.kind || c.Severity != w.severity {
			continue
		}
		ok := true
		for _, m := range w.msg {
			ok = ok && strings.Contains(c.Message, m)
		}
		for k, v := range w.evidence {
			ok = ok && c.Evidence[k] == v
		}
		if ok {
			return true
		}
	}
	return false
}

func dump(cs []report.Correlation) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString("  " + c.Kind + "/" + c.Severity + ": " + c.Message + "\n")
		for k, v := range c.Evidence {
			b.WriteString("      " + k + "=" + v + "\n")
		}
	}
	return b.String()
}

func TestZoneMatches(t *testing.T) {
	tests := []struct {
		cited, zone     string
		exact, provider bool
	}{
		{"zen.spamhaus.org", "zen.spamhaus.org", true, true},
		{"ZEN.Spamhaus.org.", "zen.spamhaus.org", true, true},
		{"Spamhaus", "zen.spamhaus.org", false, true},
		{"Spamhaus's list", "zen.spamhaus.org", false, true},
		{"sbl.spamhaus.org", "zen.spamhaus.org", false, true},
		{"zen.dq.spamhaus.net", "zen.spamhaus.org", false, true},
		{"Barracuda Reputation", "b.barracudacentral.org", false, true},
		{"SpamCop", "bl.spamcop.net", false, true},
		{"abusix", "combined.mail.abusix.zone", false, true},
		{"combined.mail.abusix.zone", "key123.combined.mail.abusix.zone", true, true},
		{"bl.spamcop.net", "zen.spamhaus.org", false, false},
		{"", "zen.spamhaus.org", false, false},
		{"our block list", "zen.spamhaus.org", false, false},
	}
	for _, tt := range tests {
		e, p := zoneMatches(tt.cited, tt.zone)
		if e != tt.exact || p != tt.provider {
			t.Errorf("zoneMatches(%q, %q) = %v, %v", tt.cited, tt.zone, e, p)
		}
	}
}

func TestCorrelateNil(t *testing.T) {
	Correlate(nil, nil, nil)
	r := &report.Report{}
	Correlate(r, nil, nil)
	r.Finalize()
	if r.Correlations == nil || r.NextSteps == nil || r.Summary != "Clean." {
		t.Errorf("empty report: %+v", r)
	}
}

func FuzzZoneMatches(f *testing.F) {
	for _, s := range []string{"zen.spamhaus.org", "Spamhaus's list", "Barracuda Reputation", "", ".", "S3150"} {
		f.Add(s, "zen.spamhaus.org")
	}
	f.Fuzz(func(t *testing.T, cited, zone string) {
		e, p := zoneMatches(cited, zone)
		if e && !p {
			t.Fatalf("exact without provider match: %q %q", cited, zone)
		}
		pr := probeRef{domain: "d", mx: zone, p: &smtpcheck.Probe{Reply: &smtpcheck.Reply{Code: 550, Enhanced: cited, Text: cited}, CitedList: cited}}
		_ = providerInternal(pr, cited)
		_ = rePTRRefusal(pr.p)
		a := &analysis{r: &report.Report{}, zones: map[string]dnsbl.Zone{}}
		_ = a.suggestZone(cited)
	})
}

// With several checked addresses (a CIDR), a rejection is matched with the
// listing of the address the probe was sent from.
func TestRejectionMatchesSourceAddress(t *testing.T) {
	r := &report.Report{
		DNSBL: &report.DNSBL{Results: []dnsbl.Result{
			{IP: "192.0.2.1", Zone: "zen.spamhaus.org", Status: dnsbl.StatusClean},
			{IP: "192.0.2.2", Zone: "zen.spamhaus.org", Status: dnsbl.StatusListed, Codes: []string{"127.0.0.2"}, Meanings: []string{"SBL"}},
			{IP: "192.0.2.3", Zone: "zen.spamhaus.org", Status: dnsbl.StatusClean},
		}},
		SMTP: &smtpcheck.Result{Domains: []smtpcheck.Domain{{Domain: "example.com", Status: smtpcheck.DomainOK, MX: []smtpcheck.MX{{Host: "mx.example.com", Addresses: []smtpcheck.Probe{
			{IP: "198.51.100.1", SourceIP: "192.0.2.3", Status: smtpcheck.StatusRejected, Class: smtpcheck.ClassBlocklisted, CitedList: "zen.spamhaus.org", Stage: smtpcheck.StageRcpt,
				Reply: &smtpcheck.Reply{Code: 554, Enhanced: "5.7.1", Text: "Client host [192.0.2.3] blocked using zen.spamhaus.org"}},
		}}}}}},
	}
	Correlate(r, nil, []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")})
	var kinds []string
	for _, c := range r.Correlations {
		kinds = append(kinds, c.Kind)
		if c.Kind == KindRejectionCitesUnlisted && c.Evidence["checked_ip"] != "192.0.2.3" {
			t.Errorf("evidence %v: want the probe's source 192.0.2.3", c.Evidence)
		}
	}
	if !containsStr(kinds, KindRejectionCitesUnlisted) {
		t.Errorf("kinds %v: 192.0.2.3 is clean in zen, so the rejection cites a list that found it clean", kinds)
	}
}

// TestUnconfirmedSourceVerdict: an acceptance sent from another address
// than the checked one, with no echo of the client IP, is no proof for the
// checked address (inconclusive); when the checked IP is this network's
// egress address (auto), the probes left through it and the run is clean.
func TestUnconfirmedSourceVerdict(t *testing.T) {
	for _, tt := range []struct {
		name string
		auto bool
		want report.Verdict
	}{
		{"given IP, sent from another address", false, report.VerdictInconclusive},
		{"egress IP (auto)", true, report.VerdictClean},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := report.Report{
				DNSBL: dnsblSection(res("zen.spamhaus.org", dnsbl.StatusClean)),
				RDNS:  []report.RDNS{{IP: ip, PTR: []string{"mail.example.net"}, ForwardConfirmed: true}},
				SMTP:  smtpSection("example.com", mx("mx1.example.com", fromSource(accepted("192.0.2.10"), "192.168.1.5", ""))),
			}
			if tt.auto {
				r.Egress = &report.Egress{IPSource: true, IPv4: report.EgressFamily{IP: ip, Agree: true, Answered: 2}}
			}
			Correlate(&r, catalog, []netip.Addr{netip.MustParseAddr(ip)})
			r.Finalize()
			if r.Verdict != tt.want {
				t.Errorf("verdict %s, want %s; problems %v", r.Verdict, tt.want, r.Problems())
			}
		})
	}
}
