package check

import (
	"fmt"
	"strings"

	"github.com/blprobe/blprobe/smtpcheck"
)

// maxNamed caps the MX named in one step before "and N more".
const maxNamed = 3

// smtpSteps gives every SMTP outcome that is not a verdict on the sending
// IP a next step, one per kind, naming the MX or domains concerned.
func (a *analysis) smtpSteps() {
	if a.r.SMTP == nil {
		return
	}
	byClass := map[smtpcheck.Class][]string{}
	var order []smtpcheck.Class
	for _, pr := range a.probes {
		p := pr.p
		c := p.Class
		switch {
		case p.Status == smtpcheck.StatusAccepted || p.Status == smtpcheck.StatusNotDone:
			continue
		case p.Status == smtpcheck.StatusRejected && c != smtpcheck.ClassUnknownRecipient:
			continue // refusals are correlated with the evidence elsewhere
		case c == smtpcheck.ClassConnectTimeout && a.r.SMTP.Port25Blocked:
			continue // one step for port 25 says it all
		}
		if _, ok := byClass[c]; !ok {
			order = append(order, c)
		}
		if l := mxLabel(pr); !containsStr(byClass[c], l) {
			byClass[c] = append(byClass[c], l)
		}
	}
	for _, c := range order {
		who := named(byClass[c])
		switch c {
		case smtpcheck.ClassGreylisted:
			a.stepAt(prioCheck, fmt.Sprintf("%s greylisted the probe: this is normal, a real sender retries and gets through; nothing to do unless mail is still deferred after 30 minutes", who))
		case smtpcheck.ClassTempfail:
			a.stepAt(prioCheck, fmt.Sprintf("%s deferred the probe with a 4xx: retry later; if it persists, the reply text says why", who))
		case smtpcheck.ClassConnectRefused:
			a.stepAt(prioCheck, fmt.Sprintf("%s refused the connection (nothing listens on the SMTP port): retry later, and tell the domain's administrators if it persists; check --port if you changed it", who))
		case smtpcheck.ClassConnectTimeout:
			a.stepAt(prioCheck, fmt.Sprintf("the connection to %s timed out: check that this network lets outbound port 25 through (a firewall or the provider may block it), or retry with a longer --connect-timeout", who))
		case smtpcheck.ClassUnreachable:
			a.stepAt(prioCheck, fmt.Sprintf("%s is unreachable from here (no route): check this machine's routing for that address family, or probe one family with -4 or -6", who))
		case smtpcheck.ClassProtocolError:
			a.stepAt(prioCheck, fmt.Sprintf("%s stopped answering or answered garbage: retry later, or raise --command-timeout if the server is just slow", who))
		case smtpcheck.ClassTLSFailed:
			a.stepAt(prioCheck, fmt.Sprintf("STARTTLS with %s failed: retry with --tls opportunistic or --tls off to see the SMTP verdict, and tell the domain's administrators about their TLS setup", who))
		case smtpcheck.ClassUnknownRecipient:
			a.stepAt(prioCheck, fmt.Sprintf("%s does not know the recipient: probe an address that exists with --rcpt (the verdict on your IP only shows once a recipient is accepted)", who))
		}
	}
	for _, d := range a.r.SMTP.Domains {
		switch d.Status {
		case smtpcheck.DomainNullMX:
			a.stepAt(prioCheck, fmt.Sprintf("%s publishes a null MX (RFC 7505): it accepts no mail at all; check the recipient address with the sender", d.Domain))
		case smtpcheck.DomainNoMailHost:
			a.stepAt(prioCheck, fmt.Sprintf("%s has neither an MX nor an address: it accepts no mail; check the spelling of the recipient domain", d.Domain))
		case smtpcheck.DomainError:
			switch {
			case strings.HasPrefix(d.Error, "not done"):
			case strings.Contains(d.Error, "NXDOMAIN"):
				a.stepAt(prioCheck, fmt.Sprintf("%s does not exist (NXDOMAIN): check the spelling of the recipient domain", d.Domain))
			default:
				a.stepAt(prioCheck, fmt.Sprintf("the MX of %s could not be resolved: check that your resolver answers (--resolver) and retry", d.Domain))
			}
		}
		var bad []string
		for _, mx := range d.MX {
			if mx.Error != "" && len(mx.Addresses) == 0 {
				bad = append(bad, mx.Host)
			}
		}
		if len(bad) > 0 {
			a.stepAt(prioCheck, fmt.Sprintf("the MX %s of %s does not resolve to an address: tell the domain's administrators (their MX record names a host without A/AAAA records)", named(bad), d.Domain))
		}
	}
}

// named joins at most maxNamed names, then "and N more".
func named(s []string) string {
	if len(s) > maxNamed {
		return strings.Join(s[:maxNamed], ", ") + fmt.Sprintf(" and %d more", len(s)-maxNamed)
	}
	return joinAnd(s)
}
