package smtpcheck

import (
	"bufio"
	"strings"
	"testing"
)

func parse(t *testing.T, raw string) Reply {
	t.Helper()
	rep, _, err := ReadReply(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("parsing %q: %v", raw, err)
	}
	return rep
}

// Real texts from the providers' and MTAs' documentation (sources in
// testdata/corpus.tsv, which holds many more).
func TestClassifyRealTexts(t *testing.T) {
	tests := []struct {
		name   string
		stage  Stage
		raw    string
		status Status
		class  Class
		cited  string
		echoed string
	}{
		{"Postfix+Spamhaus", StageRcpt,
			"554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.7\r\n",
			StatusRejected, ClassBlocklisted, "zen.spamhaus.org", "203.0.113.7"},
		{"Microsoft consumer S3150", StageMail,
			"550 5.7.1 Unfortunately, messages from [203.0.113.7] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.\r\n",
			StatusRejected, ClassBlocklisted, "Microsoft block list (S3150)", "203.0.113.7"},
		{"Microsoft consumer S3140", StageMail,
			"550 5.7.1 Unfortunately, messages from [203.0.113.7] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140).\r\n",
			StatusRejected, ClassBlocklisted, "Microsoft block list (S3140)", "203.0.113.7"},
		{"Microsoft 365 5.7.606", StageRcpt,
			"550 5.7.606 Access denied, banned sending IP [203.0.113.7]. To request removal from this list please visit https://sender.office.com/ and follow the directions.\r\n",
			StatusRejected, ClassBlocklisted, "Microsoft banned sending IP (5.7.606)", "203.0.113.7"},
		{"Microsoft 365 5.7.649", StageRcpt, "550 5.7.649 Access denied\r\n",
			StatusRejected, ClassBlocklisted, "Microsoft banned sending IP (5.7.649)", ""},
		{"Gmail 5.7.1 not authorized", StageRcpt,
			"550-5.7.1 [203.0.113.7] The IP you're using to send mail is not authorized to\r\n550-5.7.1 send email directly to our servers. Please use the SMTP relay at your\r\n550 5.7.1 service provider instead. - gsmtp\r\n",
			StatusRejected, ClassPolicy, "", "203.0.113.7"},
		{"Gmail 5.7.25 PTR", StageRcpt,
			"550-5.7.25 [2001:db8::7] The IP address sending this message does not have a\r\n550-5.7.25 PTR record setup, or the corresponding forward DNS entry does not\r\n550 5.7.25 point to the sending IP. - gsmtp\r\n",
			StatusRejected, ClassPolicy, "", "2001:db8::7"},
		{"Gmail 421 low reputation", StageRcpt,
			"421-4.7.0 [203.0.113.7      15] Our system has detected that this message is\r\n421-4.7.0 suspicious due to the very low reputation of the sending IP address.\r\n421 4.7.0 To protect our users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp\r\n",
			StatusTempfail, ClassBlocklisted, "", ""},
		{"Yahoo TSS04", StageRcpt,
			"421 4.7.0 [TSS04] Messages from 203.0.113.7 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes\r\n",
			StatusTempfail, ClassBlocklisted, "", "203.0.113.7"},
		{"Yahoo BL21", StageBanner,
			"553 5.7.1 [BL21] Connections will not be accepted from 203.0.113.7, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes\r\n",
			StatusRejected, ClassBlocklisted, "Yahoo BL21 (Spamhaus)", "203.0.113.7"},
		{"Comcast", StageRcpt,
			"554 resimta-h1p-028598.sys.comcast.net comcast 203.0.113.7 found on one or more DNSBLs, see http://postmaster.comcast.net/smtp-error-codes.php#BL000001\r\n",
			StatusRejected, ClassBlocklisted, "zen.spamhaus.org", ""},
		{"GMX banner", StageBanner,
			"554-gmx.net (mxgmx117) Nemesis ESMTP Service not available\r\n554-No SMTP service\r\n554-IP address is block listed.\r\n554 For explanation visit http://postmaster.gmx.net/en/case?c=r0601&i=ip&v=203.0.113.7&r=1MqJlg\r\n",
			StatusRejected, ClassBlocklisted, "", ""},
		{"Barracuda", StageRcpt,
			"554 Service unavailable; Client host [203.0.113.7] blocked using Barracuda Reputation; http://bbl.barracudacentral.com/q.cgi?ip=203.0.113.7\r\n",
			StatusRejected, ClassBlocklisted, "b.barracudacentral.org", "203.0.113.7"},
		{"Barracuda zone", StageRcpt,
			"554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using b.barracudacentral.org\r\n",
			StatusRejected, ClassBlocklisted, "b.barracudacentral.org", "203.0.113.7"},
		{"Mimecast poor reputation", StageRcpt,
			"550 csi.mimecast.org Poor Reputation Sender. - https://community.mimecast.com/docs/DOC-1369#550 [abc123.uk1]\r\n",
			StatusRejected, ClassBlocklisted, "Mimecast Poor Reputation", ""},
		{"Mimecast 451", StageRcpt, "451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451\r\n",
			StatusTempfail, ClassGreylisted, "", ""},
		{"Abusix", StageRcpt,
			"554 5.7.1 Service unavailable; host 203.0.113.7 is listed at combined.mail.abusix.zone (127.0.0.12, see https://lookup.abusix.com/search?q=203.0.113.7)\r\n",
			StatusRejected, ClassBlocklisted, "combined.mail.abusix.zone", "203.0.113.7"},
		{"Abusix keyed", StageRcpt, "554 5.7.1 blocked using k3y.combined.mail.abusix.zone\r\n",
			StatusRejected, ClassBlocklisted, "combined.mail.abusix.zone", ""},
		{"Proofpoint banner", StageBanner, "554 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.7\r\n",
			StatusRejected, ClassBlocklisted, "Proofpoint", "203.0.113.7"},
		{"SpamCop", StageRcpt, "554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using bl.spamcop.net; Blocked - see https://www.spamcop.net/bl.shtml?203.0.113.7\r\n",
			StatusRejected, ClassBlocklisted, "bl.spamcop.net", "203.0.113.7"},
		{"other zone via blocked using", StageRcpt, "554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using psbl.surriel.com\r\n",
			StatusRejected, ClassBlocklisted, "psbl.surriel.com", "203.0.113.7"},
		{"Spamhaus word only", StageRcpt, "550 Rejected: your IP is listed by Spamhaus\r\n",
			StatusRejected, ClassBlocklisted, "zen.spamhaus.org", ""},
		{"postgrey", StageRcpt, "450 4.2.0 <postmaster@example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.org.html\r\n",
			StatusTempfail, ClassGreylisted, "", ""},
		{"milter-greylist", StageRcpt, "451 4.7.1 Greylisting in action, please come back later\r\n",
			StatusTempfail, ClassGreylisted, "", ""},
		{"not yet authorized", StageRcpt, "451 4.7.1 <postmaster@example.org>: 203.0.113.7 is not yet authorized to deliver mail from <a@b> to <postmaster@example.org>. Please try later.\r\n",
			StatusTempfail, ClassGreylisted, "", ""},
		{"user unknown", StageRcpt, "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table\r\n",
			StatusRejected, ClassUnknownRecipient, "", ""},
		{"user unknown no enhanced", StageRcpt, "550 No such user here\r\n",
			StatusRejected, ClassUnknownRecipient, "", ""},
		{"M365 DBEB access denied", StageRcpt, "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [AM0PR01MB1234.eurprd01.prod.exchangelabs.com]\r\n",
			StatusRejected, ClassUnknownRecipient, "", ""},
		{"5.1.x at MAIL is not unknown recipient", StageMail, "553 5.1.8 <x@[127.0.0.1]>: Sender address rejected: Domain not found\r\n",
			StatusRejected, ClassRejected, "", "127.0.0.1"},
		{"Postfix PTR tempfail", StageRcpt, "450 4.7.1 Client host rejected: cannot find your reverse hostname, [203.0.113.7]\r\n",
			StatusTempfail, ClassPolicy, "", "203.0.113.7"},
		{"Postfix HELO policy", StageRcpt, "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname\r\n",
			StatusRejected, ClassPolicy, "", ""},
		{"relay denied", StageRcpt, "554 5.7.1 <a@b.example>: Relay access denied\r\n",
			StatusRejected, ClassRejected, "", ""},
		{"5.7.23 SPF", StageRcpt, "550 5.7.23 SPF validation failed\r\n",
			StatusRejected, ClassPolicy, "", ""},
		{"421 shutting down", StageEHLO, "421 4.3.2 Service shutting down\r\n",
			StatusTempfail, ClassTempfail, "", ""},
		{"accepted", StageRcpt, "250 2.1.5 Ok\r\n", StatusAccepted, ClassAccepted, "", ""},
		{"354 unexpected", StageRcpt, "354 go ahead\r\n", StatusError, ClassProtocolError, "", ""},
		{"verbal is not rbl", StageRcpt, "550 verbal abuse policy\r\n", StatusRejected, ClassPolicy, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := parse(t, tc.raw)
			st, cl, cited := Classify(tc.stage, rep)
			if st != tc.status || cl != tc.class || cited != tc.cited {
				t.Errorf("Classify = %s %s %q, want %s %s %q", st, cl, cited, tc.status, tc.class, tc.cited)
			}
			if got := EchoedClientIP(rep.Text); got != tc.echoed {
				t.Errorf("EchoedClientIP = %q, want %q", got, tc.echoed)
			}
		})
	}
}

func TestEchoedClientIP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mx.google.com at your service, [203.0.113.7]", "203.0.113.7"},
		{"AM0PR01MB1234.outlook.office365.com Hello [198.51.100.9]", "198.51.100.9"},
		{"mx.example.org Hello host.example.net [192.0.2.5], pleased to meet you", "192.0.2.5"},
		{"mx.example.org Hello client [2001:db8::5]", "2001:db8::5"},
		{"mx Hello [IPv6:2001:db8::1]", "2001:db8::1"},
		{"mx.google.com at your service, [2001:DB8:0:0:0:0:0:9]", "2001:db8::9"},
		{"see q.cgi?ip=192.0.2.9 now", "192.0.2.9"},
		{"mapped [::ffff:192.0.2.10]", "192.0.2.10"},
		{"mx.test ESMTP Postfix", ""},
		{"[not an ip] [999.1.1.1]", ""},
		{"listed (127.0.0.12, x)", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := EchoedClientIP(tc.in); got != tc.want {
			t.Errorf("EchoedClientIP(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzClassify(f *testing.F) {
	f.Add(554, "5.7.1", "blocked using zen.spamhaus.org", false)
	f.Add(550, "5.7.606", "banned", true)
	f.Add(450, "4.2.0", "Greylisted", true)
	f.Add(550, "5.7.", "x", false)
	f.Add(550, "5.7.6066666666666666666", "(S3150)", true)
	f.Add(550, "", "5.1.8 Sender address rejected\nline two [BL21] Spamhaus", false)
	f.Add(421, "4.7.0", "[TSS04] Messages from 203.0.113.7 temporarily deferred", true)
	f.Add(554, "", "blocked using k.combined.mail.abusix.zone", true)
	f.Fuzz(func(t *testing.T, code int, enh, text string, ehlo bool) {
		for _, st := range []Stage{StageBanner, StageEHLO, StageMail, StageRcpt} {
			rep := Reply{Code: code, Enhanced: enh, Text: text}
			status, class, cited := Classify(st, rep)
			v := ClassifyCause(st, rep, ehlo)
			if status == "" || class == "" || v.Cause == "" || v.Why == "" {
				t.Fatalf("empty result for %d %q %q: %+v", code, enh, text, v)
			}
			if v.Class != v.Cause.Class() || v.Status != status || v.Class != class || v.CitedList != cited {
				t.Fatalf("inconsistent verdict %+v vs Classify %s %s %q", v, status, class, cited)
			}
			switch code / 100 {
			case 2:
				if v.Cause != CauseAccepted {
					t.Fatalf("2xx not accepted: %+v", v)
				}
			case 4:
				if status != StatusTempfail {
					t.Fatalf("4xx not tempfail: %+v", v)
				}
			case 5:
				if status != StatusRejected {
					t.Fatalf("5xx not rejected: %+v", v)
				}
			default:
				if v.Cause != CauseProtocolError {
					t.Fatalf("code %d not a protocol error: %+v", code, v)
				}
			}
			if st == StageMail && (v.Cause == CauseRecipientUnknown || v.Cause == CauseMailboxUnavailable) {
				t.Fatalf("recipient cause at MAIL: %+v", v)
			}
			if v.CitedList != "" && !strings.Contains(strings.ToLower(text), strings.ToLower(strings.Fields(v.CitedList)[0])) && v.Cause == CauseDNSBLListing && !strings.Contains(v.CitedList, " ") {
				// a zone cited from a lookup URL or word need not appear verbatim; a
				// zone taken from the text must not be invented
				if !knownListZone(v.CitedList) {
					t.Fatalf("cited %q does not come from %q", v.CitedList, text)
				}
			}
		}
	})
}

// knownListZone reports whether z is a zone a rule names without quoting it.
func knownListZone(z string) bool {
	for _, r := range compiledRules() {
		if r.list == z || strings.HasSuffix(r.list, "}.spamhaus.org") && strings.HasSuffix(z, ".spamhaus.org") {
			return true
		}
	}
	return strings.HasSuffix(z, "combined.mail.abusix.zone") || strings.HasSuffix(z, ".dq.spamhaus.net")
}

func FuzzEchoedClientIP(f *testing.F) {
	for _, s := range []string{"at your service, [203.0.113.7]", "Hello [IPv6:2001:db8::1]", "ip=1.2.3.4", "from 1.2.3.4", "[::ffff:1.2.3.4]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := EchoedClientIP(s)
		if got == "" {
			return
		}
		if !strings.Contains(strings.ToLower(s), strings.Split(got, ":")[0]) && !strings.Contains(s, ".") {
			t.Fatalf("%q not from %q", got, s)
		}
	})
}
