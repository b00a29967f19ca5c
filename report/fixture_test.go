package report

import (
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/smtpcheck"
)

// testKey is a fake Spamhaus DQS key: it must never appear in any output.
const testKey = "abcd1234efgh5678ijkl9012mn"

var (
	t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	t1 = t0.Add(4*time.Second + 250*time.Millisecond)
)

// fullReport is a realistic `blprobe check` report of 203.0.113.7 with every
// section: listed on Spamhaus ZEN (via DQS) and SpamCop, allowed on DNSWL,
// a dead zone, a timeout, and MX probes with a blocklist rejection.
func fullReport() *Report {
	r := New(Tool{Name: "blprobe", Version: "1.0.0"},
		[]string{"blprobe", "check", "--dqs-key", testKey, "--domain", "example.com", "--format", "text", "203.0.113.7"}, testKey)
	r.Started, r.Finished = t0, t1
	r.Resolvers = []string{"127.0.0.53:53"}
	r.Summary = "203.0.113.7 is listed on 2 of 4 block lists (Spamhaus ZEN, SpamCop) and 1 of 2 MX of example.com rejected it citing Spamhaus."
	r.NextSteps = []string{
		"request delisting from Spamhaus ZEN: https://check.spamhaus.org/",
		"set a PTR for 203.0.113.7 at your ISP: e.g. mail.example.org, and make that name resolve to 203.0.113.7",
	}
	r.Warnings = []string{"zone dnsbl.dead.example answered for the negative test entry: it lists everything"}
	r.Egress = &Egress{
		Answers: []EgressAnswer{
			{Source: "opendns", Server: "208.67.222.222:53", Query: "myip.opendns.com A", Family: "ipv4", IPs: []string{"203.0.113.7"}, RTTms: 12.5},
			{Source: "google", Server: "216.239.32.10:53", Query: "o-o.myaddr.l.google.com TXT", Family: "ipv4", IPs: []string{"203.0.113.7"}, RTTms: 20.25},
			{Source: "akamai", Server: "[2600:1401:2::8a]:53", Query: "whoami.akamai.net AAAA", Family: "ipv6", Error: "i/o timeout", RTTms: 1000},
		},
		IPv4:     EgressFamily{IP: "203.0.113.7", Agree: true, Answered: 2},
		IPv6:     EgressFamily{Answered: 0, Problem: "no egress source answered for IPv6"},
		IPSource: true,
	}
	r.DNSBL = &DNSBL{
		Zones: []dnsbl.ZoneHealth{
			{Zone: "zen.dq.spamhaus.net", Name: "Spamhaus ZEN", Type: dnsbl.TypeBlock, Kind: dnsbl.KindIP4, Health: dnsbl.HealthHealthy,
				DelistURL: "https://check.spamhaus.org/",
				Evidence: []dnsbl.Evidence{
					{Query: "2.0.0.127.REDACTED.zen.dq.spamhaus.net", Expect: "listed", Rcode: "NOERROR", Codes: []string{"127.0.0.2", "127.0.0.4", "127.0.0.10"}, OK: true},
					{Query: "1.0.0.127.REDACTED.zen.dq.spamhaus.net", Expect: "not_listed", Rcode: "NXDOMAIN", OK: true},
				}},
			{Zone: "bl.spamcop.net", Name: "SpamCop", Type: dnsbl.TypeBlock, Kind: dnsbl.KindIP4, Health: dnsbl.HealthHealthy,
				DelistURL: "https://www.spamcop.net/bl.shtml", Evidence: []dnsbl.Evidence{}},
			{Zone: "list.dnswl.org", Name: "DNSWL", Type: dnsbl.TypeAllow, Kind: dnsbl.KindIP46, Health: dnsbl.HealthHealthy},
			{Zone: "dnsbl.dead.example", Name: "Dead list", Type: dnsbl.TypeBlock, Kind: dnsbl.KindIP4, Health: dnsbl.HealthUnhealthy,
				Problem: "lists the negative test entry 127.0.0.1: the zone lists everything",
				Evidence: []dnsbl.Evidence{
					{Query: "2.0.0.127.dnsbl.dead.example", Expect: "listed", Rcode: "NOERROR", Codes: []string{"127.0.0.2"}, OK: true},
					{Query: "1.0.0.127.dnsbl.dead.example", Expect: "not_listed", Rcode: "NOERROR", Codes: []string{"127.0.0.2"}, OK: false},
				}},
			{Zone: "b.barracudacentral.org", Name: "Barracuda", Type: dnsbl.TypeBlock, Kind: dnsbl.KindIP4, Health: dnsbl.HealthHealthy},
		},
		Results: []dnsbl.Result{
			{Target: "203.0.113.7", IP: "203.0.113.7", Zone: "zen.dq.spamhaus.net", Query: "7.113.0.203.REDACTED.zen.dq.spamhaus.net", Status: dnsbl.StatusListed,
				Codes: []string{"127.0.0.2", "127.0.0.10"}, Meanings: []string{"SBL", "PBL (ISP-maintained)"},
				Reason: "https://www.spamhaus.org/query/ip/203.0.113.7", RTTms: 31.5},
			{Target: "203.0.113.7", IP: "203.0.113.7", Zone: "bl.spamcop.net", Query: "7.113.0.203.bl.spamcop.net", Status: dnsbl.StatusListed,
				Codes: []string{"127.0.0.2"}, Meanings: []string{"listed"}, Reason: "Blocked - see https://www.spamcop.net/bl.shtml?203.0.113.7", RTTms: 40},
			{Target: "203.0.113.7", IP: "203.0.113.7", Zone: "list.dnswl.org", Query: "7.113.0.203.list.dnswl.org", Status: dnsbl.StatusAllowed,
				Codes: []string{"127.0.10.1"}, Meanings: []string{"ISP, low trust"}, RTTms: 18},
			{Target: "203.0.113.7", IP: "203.0.113.7", Zone: "dnsbl.dead.example", Query: "7.113.0.203.dnsbl.dead.example", Status: dnsbl.StatusError,
				ErrorKind: dnsbl.ErrZoneUnhealthy, Error: "zone failed its RFC 5782 test entries", RTTms: 0},
			{Target: "203.0.113.7", IP: "203.0.113.7", Zone: "b.barracudacentral.org", Query: "7.113.0.203.b.barracudacentral.org", Status: dnsbl.StatusClean, RTTms: 25},
		},
	}
	r.RDNS = []RDNS{{
		IP:      "203.0.113.7",
		PTR:     []string{"203-0-113-7.dyn.isp.example"},
		Forward: map[string][]string{"203-0-113-7.dyn.isp.example": {"203.0.113.7"}},
		Generic: true, GenericWhy: "the address is embedded in the name (dashed) and the label \"dyn\"",
		ForwardConfirmed: true,
		HELO:             &HELOCheck{Name: "mail.example.org", FQDN: true, Resolves: []string{"198.51.100.20"}},
		Problems:         []string{"PTR looks generic/dynamic: policy lists such as Spamhaus PBL and SpamCop target these", "HELO name mail.example.org does not resolve to 203.0.113.7"},
	}}
	r.SMTP = &smtpcheck.Result{
		HELO: "mail.example.org", From: "postmaster@mail.example.org", Port: 25, TLSMode: "opportunistic",
		Domains: []smtpcheck.Domain{{
			Domain: "example.com", Status: smtpcheck.DomainOK,
			MX: []smtpcheck.MX{
				{Host: "mx1.example.com", Preference: 10, Addresses: []smtpcheck.Probe{{
					IP: "192.0.2.10", Port: 25, SourceIP: "203.0.113.7", Status: smtpcheck.StatusRejected, Class: smtpcheck.ClassBlocklisted,
					Stage: smtpcheck.StageRcpt, CitedList: "zen.spamhaus.org", EchoedClientIP: "203.0.113.7",
					Cause: smtpcheck.CauseDNSBLListing, CauseWhy: `the reply names the DNSBL zone "blocked using ZONE" (Postfix reject_rbl_client)`,
					Reply: &smtpcheck.Reply{Code: 554, Enhanced: "5.7.1", Text: "Service unavailable; Client host [203.0.113.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.7"},
					TLS: &smtpcheck.TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Subject: "CN=mx1.example.com", Issuer: "CN=Example CA",
						NotAfter: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Names: []string{"mx1.example.com"}, Verified: true},
					Extensions: []string{"PIPELINING", "SIZE 10240000", "8BITMIME"},
					Rcpts: []smtpcheck.RcptResult{{Rcpt: "postmaster@example.com", Class: smtpcheck.ClassBlocklisted,
						Reply: smtpcheck.Reply{Code: 554, Enhanced: "5.7.1", Text: "Service unavailable; Client host [203.0.113.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.7"}}},
					TimingsMs: map[string]float64{"connect": 20.5, "banner": 35, "ehlo": 10, "starttls": 40, "mail": 8, "rcpt": 12},
					Transcript: []smtpcheck.Line{
						{Dir: "S", TMs: 35, Line: "220 mx1.example.com ESMTP Postfix"},
						{Dir: "C", TMs: 35.1, Line: "EHLO mail.example.org"},
						{Dir: "S", TMs: 45, Line: "250-mx1.example.com"},
						{Dir: "S", TMs: 45, Line: "250 STARTTLS"},
						{Dir: "C", TMs: 45.2, Line: "STARTTLS"},
						{Dir: "S", TMs: 50, Line: "220 2.0.0 Ready to start TLS"},
						{Dir: "C", TMs: 90, Line: "EHLO mail.example.org"},
						{Dir: "S", TMs: 100, Line: "250-mx1.example.com"},
						{Dir: "S", TMs: 100, Line: "250 8BITMIME"},
						{Dir: "C", TMs: 100.1, Line: "MAIL FROM:<postmaster@mail.example.org>"},
						{Dir: "S", TMs: 108, Line: "250 2.1.0 Ok"},
						{Dir: "C", TMs: 108.1, Line: "RCPT TO:<postmaster@example.com>"},
						{Dir: "S", TMs: 120, Line: "554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.7"},
						{Dir: "C", TMs: 120.1, Line: "QUIT"},
						{Dir: "S", TMs: 125, Line: "221 2.0.0 Bye"},
					},
				}}},
				{Host: "mx2.example.com", Preference: 20, Addresses: []smtpcheck.Probe{{
					IP: "192.0.2.20", Port: 25, SourceIP: "203.0.113.7", Status: smtpcheck.StatusAccepted, Class: smtpcheck.ClassAccepted,
					Stage: smtpcheck.StageRcpt, EchoedClientIP: "203.0.113.7",
					Reply:      &smtpcheck.Reply{Code: 250, Enhanced: "2.1.5", Text: "Ok"},
					Extensions: []string{"PIPELINING"},
					TimingsMs:  map[string]float64{"connect": 15},
					Transcript: []smtpcheck.Line{
						{Dir: "S", TMs: 20, Line: "220 mx2.example.com ESMTP Exim"},
						{Dir: "C", TMs: 20.1, Line: "EHLO mail.example.org"},
						{Dir: "S", TMs: 25, Line: "250 mx2.example.com Hello mail.example.org [203.0.113.7]"},
						{Dir: "C", TMs: 25.1, Line: "MAIL FROM:<postmaster@mail.example.org>"},
						{Dir: "S", TMs: 30, Line: "250 OK"},
						{Dir: "C", TMs: 30.1, Line: "RCPT TO:<postmaster@example.com>"},
						{Dir: "S", TMs: 35, Line: "250 2.1.5 Ok"},
						{Dir: "C", TMs: 35.1, Line: "RSET"},
						{Dir: "S", TMs: 36, Line: "250 Reset OK"},
						{Dir: "C", TMs: 36.1, Line: "QUIT"},
					},
				}}},
			},
		}},
		Notes: []string{"no DATA is sent: rejections after DATA are invisible to this probe"},
	}
	r.Correlations = []Correlation{
		{Kind: "rejection_matches_listing", Severity: "problem",
			Evidence: map[string]string{"mx": "mx1.example.com", "ip": "192.0.2.10", "zone": "zen.dq.spamhaus.net", "cited_list": "zen.spamhaus.org"},
			Message:  "mx1.example.com [192.0.2.10] rejected at RCPT citing zen.spamhaus.org; DNSBL: listed in zen.dq.spamhaus.net (127.0.0.2 SBL)"},
		{Kind: "echoed_ip_match", Severity: "info", Evidence: map[string]string{"echoed_ip": "203.0.113.7", "checked_ip": "203.0.113.7"},
			Message: "every MX that echoed the client address saw 203.0.113.7, the checked address"},
	}
	r.Finalize()
	return r
}

// enumReport extends fullReport so that every enum value of the schema
// appears at least once.
func enumReport() *Report {
	r := fullReport()
	for _, h := range []dnsbl.Health{dnsbl.HealthUnknown, dnsbl.HealthNotDone} {
		r.DNSBL.Zones = append(r.DNSBL.Zones, dnsbl.ZoneHealth{Zone: "z-" + string(h) + ".example", Name: string(h), Type: dnsbl.TypeInfo, Kind: dnsbl.KindDomain, Health: h,
			Evidence: []dnsbl.Evidence{{Query: "TEST.z.example", Expect: "listed", Error: "i/o timeout"}}})
	}
	r.DNSBL.Zones = append(r.DNSBL.Zones, dnsbl.ZoneHealth{Zone: "v6.example", Name: "v6", Type: dnsbl.TypeBlock, Kind: dnsbl.KindIP6, Health: dnsbl.HealthHealthy, Evidence: []dnsbl.Evidence{}, Path: "direct:ns1.v6.example"})
	for _, k := range []dnsbl.ErrorKind{dnsbl.ErrTimeout, dnsbl.ErrServfail, dnsbl.ErrRefused, dnsbl.ErrZoneErrorCode, dnsbl.ErrBadAnswer, dnsbl.ErrDNS, dnsbl.ErrNotApplicable} {
		r.DNSBL.Results = append(r.DNSBL.Results, dnsbl.Result{Target: "203.0.113.0/30", IP: "203.0.113.1", Zone: "zen.dq.spamhaus.net", Query: "1.113.0.203.zen", Status: dnsbl.StatusError, ErrorKind: k, Error: string(k) + " detail"})
	}
	r.DNSBL.Results = append(r.DNSBL.Results, dnsbl.Result{Target: "203.0.113.0/30", IP: "203.0.113.2", Zone: "bl.spamcop.net", Query: "2.113.0.203.bl.spamcop.net", Status: dnsbl.StatusNotDone})
	stages := []smtpcheck.Stage{smtpcheck.StageConnect, smtpcheck.StageBanner, smtpcheck.StageEHLO, smtpcheck.StageSTARTTLS, smtpcheck.StageMail, smtpcheck.StageRcpt}
	classes := []struct {
		s smtpcheck.Status
		c smtpcheck.Class
	}{
		{smtpcheck.StatusRejected, smtpcheck.ClassPolicy}, {smtpcheck.StatusRejected, smtpcheck.ClassUnknownRecipient},
		{smtpcheck.StatusTempfail, smtpcheck.ClassGreylisted}, {smtpcheck.StatusTempfail, smtpcheck.ClassTempfail},
		{smtpcheck.StatusRejected, smtpcheck.ClassRejected}, {smtpcheck.StatusError, smtpcheck.ClassConnectRefused},
		{smtpcheck.StatusError, smtpcheck.ClassConnectTimeout}, {smtpcheck.StatusError, smtpcheck.ClassUnreachable},
		{smtpcheck.StatusError, smtpcheck.ClassTLSFailed}, {smtpcheck.StatusError, smtpcheck.ClassProtocolError},
		{smtpcheck.StatusNotDone, smtpcheck.ClassNotDone},
	}
	var probes []smtpcheck.Probe
	for i, c := range classes {
		probes = append(probes, smtpcheck.Probe{IP: "192.0.2.1", Port: 25, Status: c.s, Class: c.c, Stage: stages[i%len(stages)],
			Reply: &smtpcheck.Reply{Code: 450, Text: "x"}, Error: "e"})
	}
	probes = append(probes, smtpcheck.Probe{IP: "192.0.2.2", Port: 25, Status: smtpcheck.StatusNotDone, Class: smtpcheck.ClassNotDone}) // never started: stage ""
	for _, c := range smtpcheck.AllCauses() {
		probes = append(probes, smtpcheck.Probe{IP: "192.0.2.3", Port: 25, Status: smtpcheck.StatusRejected, Class: c.Class(), Cause: c, CauseWhy: "w",
			Stage: smtpcheck.StageRcpt, Reply: &smtpcheck.Reply{Code: 550, Text: "x"}})
	}
	probes[0].TranscriptTruncated = true
	probes[0].ClosedByServer = true
	r.SMTP.Domains = append(r.SMTP.Domains,
		smtpcheck.Domain{Domain: "enum.example", Status: smtpcheck.DomainOK, MX: []smtpcheck.MX{{Host: "enum.example", Implicit: true, Addresses: probes}, {Host: "noaddr.example", Preference: 5, Error: "no address"}}},
		smtpcheck.Domain{Domain: "null.example", Status: smtpcheck.DomainNullMX},
		smtpcheck.Domain{Domain: "nohost.example", Status: smtpcheck.DomainNoMailHost},
		smtpcheck.Domain{Domain: "nx.example", Status: smtpcheck.DomainError, Error: "NXDOMAIN"},
	)
	r.Correlations = append(r.Correlations, Correlation{Kind: "ptr_rejection", Severity: "warning", Message: "m"})
	r.DNSBL.Only = []dnsbl.Status{dnsbl.StatusListed, dnsbl.StatusAllowed, dnsbl.StatusError, dnsbl.StatusNotDone} // --only: clean results are counted in omitted
	r.Finalize()
	return r
}
