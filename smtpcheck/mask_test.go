package smtpcheck

import "testing"

// A word in an address the server echoes (the recipient or sender the probe
// sent, a contact address) names no list and no cause by itself.
func TestClassifyIgnoresAddressLocalParts(t *testing.T) {
	tests := []struct {
		name  string
		stage Stage
		raw   string
		cause Cause
	}{
		{"Postfix recipient named after a list", StageRcpt,
			"550 5.1.1 <spamhaus@example.com>: Recipient address rejected: User unknown in virtual mailbox table\r\n",
			CauseRecipientUnknown},
		{"Exchange bare recipient", StageRcpt,
			"550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient sorbs@example.com not found by SMTP address lookup\r\n",
			CauseRecipientUnknown},
		{"recipient in a URL's query", StageRcpt,
			"550 5.1.1 No such user, see https://help.example.com/bounce?rcpt=spamcop@example.com\r\n",
			CauseRecipientUnknown},
		{"Sendmail echo", StageRcpt,
			"550 5.1.1 <abusix-reports@example.com>... User unknown\r\n",
			CauseRecipientUnknown},
	}
	for _, tc := range tests {
		v := ClassifyCause(tc.stage, parse(t, tc.raw), true)
		if v.Cause != tc.cause || v.CitedList != "" {
			t.Errorf("%s: cause %s, list %q; want %s and no list (%s)", tc.name, v.Cause, v.CitedList, tc.cause, v.Why)
		}
	}
	// The local part is masked, not the address: a list named in the
	// domain or a provider's contact address still counts.
	v := ClassifyCause(StageBanner, parse(t, "554 IP=203.0.113.7 - A problem occurred. (Ask your postmaster for help or to contact tosa@rx.t-online.de to clarify.) (BL)\r\n"), false)
	if v.CitedList != "T-Online block list" {
		t.Errorf("T-Online: list %q, cause %s", v.CitedList, v.Cause)
	}
}

// A word in a link's path (a help page's name) is not the server's wording:
// the phrase and fallback rules do not read links. The list and marker
// rules still do (a list's lookup URL, a provider's case link).
func TestClassifyPhrasesIgnoreLinks(t *testing.T) {
	tests := []struct {
		raw   string
		cause Cause
		list  string
	}{
		{"550 No such user here. See http://mx.example.com/help/blacklist-faq.html\r\n", CauseRecipientUnknown, ""},
		{"550 Requested action not taken: mailbox unavailable https://example.com/kb/spf-dmarc\r\n", CauseRecipientUnknown, ""},
		{"550 Requested action not taken: see www.example.com/policy/relay-denied.html\r\n", CauseUnknown, ""},
		// Links that are evidence keep counting.
		{"554 5.7.1 Service unavailable; Client host [203.0.113.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.7\r\n", CauseDNSBLListing, "zen.spamhaus.org"},
		{"550 Rejected, see https://www.spamcop.net/w3m?action=checkblock&ip=203.0.113.7\r\n", CauseDNSBLListing, "bl.spamcop.net"},
	}
	for _, tc := range tests {
		v := ClassifyCause(StageRcpt, parse(t, tc.raw), false)
		if v.Cause != tc.cause || v.CitedList != tc.list {
			t.Errorf("%q: cause %s, list %q; want %s, %q (%s)", tc.raw, v.Cause, v.CitedList, tc.cause, tc.list, v.Why)
		}
	}
}
