package report

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/smtpcheck"
)

// Problem is one reason behind a verdict worse than clean.
type Problem struct {
	Verdict Verdict `json:"verdict"` // rejected, listed or inconclusive
	Message string  `json:"message"` // plain language; may quote remote text (render it through textsafe)
}

// Finalize is the only place that decides r.Verdict and r.ExitCode. Call it
// last, once every section is filled and correlation (which writes
// correlations, next steps and the summary's facts) has run: it reads all of
// the evidence, composes r.Summary with the final verdict in front, fills the
// per-family coverage of the dnsbl section and appends warnings (MX hosts
// without addresses, address families checked against fewer zones). It can be
// called again after the sections change; warnings are not duplicated.
//
// The rules, worst first (see [Report.Problems] for the lines that explain them):
//
//   - rejected (exit 1): an MX refused with a 5xx whose cause is the sending IP,
//     its reputation, its PTR/HELO or policy about the sender: class
//     blocklisted or policy at any stage; any 5xx at the banner, EHLO/HELO or
//     MAIL FROM (those replies are about the client or the sender, never the
//     recipient); a 5xx at RCPT whose enhanced code is X.7.x (RFC 3463 §3.8,
//     security or policy) or X.1.7/X.1.8 (RFC 3463 §3.2, bad sender address),
//     or whose text names the client host, the sender address, the HELO name,
//     the PTR/reverse DNS or the IP's reputation (see [SenderCause]).
//   - listed (exit 1): a listed result on a zone whose type is block; allow and
//     info hits never count.
//   - inconclusive (exit 3): every probe that did not end in an RCPT verdict
//     (connect, TLS or protocol errors, tempfail, greylisting, not_done); a 5xx
//     at RCPT whose cause cannot be tied to the sender (unknown recipient,
//     "550 5.2.1 mailbox unavailable" for postmaster@, which every domain must
//     accept per RFC 5321 §4.5.1, a bare "550 Administrative prohibition"); a
//     domain that accepts no mail (null MX per RFC 7505, no mail host,
//     NXDOMAIN) or whose MX could not be resolved or probed; an rDNS check that
//     failed (e.g. PTR SERVFAIL); a correlation of severity "problem" that does
//     not merely explain a probe's own reply (e.g. the MX echoed another client
//     IP than the one checked, so the DNSBL and PTR results describe another
//     address; an MX accepted a probe sent from another address than the
//     checked one without echoing the client IP it saw; port 25 blocked; a
//     zone unhealthy behind a public resolver); a dnsbl result in error or not_done (not_applicable never counts); a zone
//     that is not healthy; an egress problem when egress was the IP source; an
//     interrupted run.
//   - clean (exit 0): none of the above: every asked-for check ran and every
//     MX address accepted the RCPT from the checked IP.
//
// Exit code: clean 0, listed/rejected 1, inconclusive 3, and 3 whenever the
// run was interrupted. Exit 2 (usage) and 4 (the report could not be written)
// are decided by the command line, not here.
func (r *Report) Finalize() {
	if r.Schema == "" {
		r.Schema = SchemaV1
	}
	if r.DNSBL != nil {
		r.DNSBL.Coverage = coverage(r.DNSBL, r.DNSBL.Coverage)
	}
	problems := r.Problems()
	r.Verdict = VerdictClean
	for _, p := range problems {
		if worse(p.Verdict, r.Verdict) {
			r.Verdict = p.Verdict
		}
	}
	switch {
	case r.Interrupted:
		r.ExitCode = ExitInconclusive // the user stopped it: never "clean", never a plain 1
	case r.Verdict == VerdictRejected || r.Verdict == VerdictListed:
		r.ExitCode = ExitProblem
	case r.Verdict == VerdictInconclusive:
		r.ExitCode = ExitInconclusive
	default:
		r.ExitCode = ExitClean
	}
	for _, w := range r.finalizeWarnings() {
		if !contains(r.Warnings, w) {
			r.Warnings = append(r.Warnings, w)
		}
	}
	r.Summary = r.composeSummary(problems)
}

// SetSummaryFacts gives the plain-language facts of the summary (without a
// verdict): [Report.Finalize] puts the final verdict in front of them and
// the main reason after, so the summary can never contradict the verdict.
func (r *Report) SetSummaryFacts(facts string) { r.summaryFacts, r.hasSummary = facts, true }

// composeSummary is "Verdict: facts. Main reason: first problem." (r.Summary
// unchanged when nobody gave facts, e.g. the dnsbl and smtp commands).
func (r *Report) composeSummary(problems []Problem) string {
	if !r.hasSummary {
		return r.Summary
	}
	facts := strings.TrimSuffix(strings.TrimSpace(r.summaryFacts), ".")
	s := map[Verdict]string{VerdictClean: "Clean", VerdictListed: "Listed", VerdictRejected: "Rejected", VerdictInconclusive: "Inconclusive"}[r.Verdict]
	if facts != "" {
		s += ": " + facts
	}
	s += "."
	if len(problems) > 0 {
		s += " Main reason: " + strings.TrimSuffix(problems[0].Message, ".") + "."
	}
	return s
}

// rank orders verdicts from best (0) to worst.
func rank(v Verdict) int {
	switch v {
	case VerdictRejected:
		return 3
	case VerdictListed:
		return 2
	case VerdictInconclusive:
		return 1
	}
	return 0
}

func worse(a, b Verdict) bool { return rank(a) > rank(b) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Problems lists every reason for a verdict worse than clean, computed from
// the sections (not from r.Verdict), worst first. Each fact is one line, so
// the list stays short even for large CIDR runs: lookups that could not be
// checked are grouped per zone and error kind; a zone that could not be
// used is one line covering its lookups; a resolver that refused every zone
// is one diagnosis; listings shared by many addresses and failed or
// unfinished reverse-DNS checks are grouped, naming the addresses as ranges.
func (r *Report) Problems() []Problem {
	var rej, lst, inc []Problem
	if r.SMTP != nil {
		for _, d := range r.SMTP.Domains {
			switch d.Status {
			case smtpcheck.DomainError:
				switch {
				case strings.Contains(d.Error, "NXDOMAIN"):
					inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s accepts no mail: %s", d.Domain, orDash(d.Error))})
				case strings.HasPrefix(d.Error, "not done"):
					inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s: mail hosts not resolved (interrupted)", d.Domain)})
				default:
					inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s: mail hosts could not be resolved: %s", d.Domain, orDash(d.Error))})
				}
			case smtpcheck.DomainNullMX:
				inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s accepts no mail: it publishes a null MX (RFC 7505), so nothing was probed", d.Domain)})
			case smtpcheck.DomainNoMailHost:
				inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s accepts no mail: it has no MX and no address, so nothing was probed", d.Domain)})
			case smtpcheck.DomainOK:
				if probeCount(d) == 0 {
					inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s: no address of its MX hosts could be probed (see the MX errors)", d.Domain)})
				}
			default: // a status this version does not know: never clean without a probe
				if probeCount(d) == 0 {
					inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s: mail hosts ended with status %q, so nothing was probed", d.Domain, d.Status)})
				}
			}
			for _, mx := range d.MX {
				for _, p := range mx.Addresses {
					where := probeName(mx.Host, p)
					switch p.Status {
					case smtpcheck.StatusRejected:
						if cause, ok := SenderCause(p); ok {
							msg := fmt.Sprintf("%s rejected at %s (%s", where, stageName(p.Stage), cause)
							if p.CitedList != "" {
								msg += ", citing " + p.CitedList
							}
							rej = append(rej, Problem{VerdictRejected, msg + "): " + replyLine(p.Reply, p.Error)})
						} else {
							inc = append(inc, Problem{VerdictInconclusive, untiedRejection(r.SMTP, d.Domain, where, p)})
						}
					case smtpcheck.StatusTempfail:
						inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s deferred at %s (%s): %s", where, stageName(p.Stage), p.Class, replyLine(p.Reply, p.Error))})
					case smtpcheck.StatusError:
						inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s could not be checked (%s at %s): %s", where, p.Class, stageName(p.Stage), replyLine(p.Reply, p.Error))})
					case smtpcheck.StatusNotDone:
						inc = append(inc, Problem{VerdictInconclusive, where + " was not probed (interrupted)"})
					case smtpcheck.StatusAccepted:
					default: // a status this version does not know: never clean
						inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s ended with status %q at %s: %s", where, p.Status, stageName(p.Stage), replyLine(p.Reply, p.Error))})
					}
				}
			}
		}
	}
	inc = append(inc, rdnsProblems(r.RDNS)...)
	// A problem correlation about one probe that ended without acceptance
	// (evidence "mx" and "ip" name it) explains that probe's reply, which
	// counts on its own above; the others (the MX saw another client IP than
	// the one checked, port 25 blocked, a zone unhealthy behind a public
	// resolver) are evidence that the checks describe something else than
	// what mail meets.
	unaccepted := map[string]bool{}
	if r.SMTP != nil {
		for _, d := range r.SMTP.Domains {
			for _, mx := range d.MX {
				for _, p := range mx.Addresses {
					if p.Status != smtpcheck.StatusAccepted {
						unaccepted[mx.Host+"|"+p.IP] = true
					}
				}
			}
		}
	}
	// A zone's own correlation (e.g. unhealthy behind a public resolver)
	// becomes that zone's single line in the dnsbl part.
	zoneLine := map[string]string{}
	for _, c := range r.Correlations {
		if c.Kind == "zone_unhealthy" && c.Evidence["zone"] != "" {
			if c.Severity == "problem" {
				zoneLine[c.Evidence["zone"]] = c.Message
			}
			continue
		}
		if c.Severity == "problem" && !unaccepted[c.Evidence["mx"]+"|"+c.Evidence["ip"]] {
			inc = append(inc, Problem{VerdictInconclusive, c.Message})
		}
	}
	if r.DNSBL != nil {
		l, in := dnsblProblems(r, zoneLine)
		lst = append(lst, l...)
		inc = append(inc, in...)
	}
	if e := r.Egress; e != nil && e.IPSource {
		for _, f := range []struct {
			name string
			fam  EgressFamily
		}{{"IPv4", e.IPv4}, {"IPv6", e.IPv6}} {
			// A family nobody answered for is normal on a host without it;
			// disagreement or junk from sources that did answer is not.
			if f.fam.Answered > 0 && (!f.fam.Agree || f.fam.IP == "") {
				inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("egress %s: %s", f.name, orDefault(f.fam.Problem, "the egress sources do not agree"))})
			}
		}
		if e.IPv4.IP == "" && e.IPv6.IP == "" {
			msg := "egress: no egress address was found"
			if p := joinNonEmpty("; ", e.IPv4.Problem, e.IPv6.Problem); p != "" {
				msg += ": " + p
			}
			inc = append(inc, Problem{VerdictInconclusive, msg})
		}
	}
	if r.Interrupted {
		inc = append(inc, Problem{VerdictInconclusive, "the run was interrupted: unfinished checks are marked not_done"})
	}
	out := append(rej, lst...)
	return uniqueProblems(append(out, inc...))
}

// uniqueProblems drops repeats of the same problem (the probes of one MX
// address from several source addresses of a range fail alike): one fact,
// one line.
func uniqueProblems(ps []Problem) []Problem {
	seen := map[Problem]bool{}
	out := ps[:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func probeCount(d smtpcheck.Domain) int {
	n := 0
	for _, mx := range d.MX {
		n += len(mx.Addresses)
	}
	return n
}

// finalizeWarnings are the non-verdict observations Finalize adds.
func (r *Report) finalizeWarnings() []string {
	var ws []string
	if r.DNSBL != nil {
		ws = append(ws, coverageWarnings(r.DNSBL.Coverage)...)
	}
	if r.SMTP == nil {
		return ws
	}
	for _, d := range r.SMTP.Domains {
		for _, mx := range d.MX {
			if mx.Error != "" {
				ws = append(ws, fmt.Sprintf("MX %s of %s was not probed: %s", mx.Host, d.Domain, mx.Error))
			}
		}
	}
	return ws
}

// senderRE is wording that ties a refusal to the client or the sender:
// Postfix "Client host rejected", "Sender address rejected", "Helo command
// rejected" (https://www.postfix.org/postconf.5.html), reverse-DNS refusals
// (Gmail 5.7.25, "cannot find your hostname") and the IP's reputation.
var senderRE = regexp.MustCompile(`(?i)client host rejected|sender address rejected|helo command rejected|\b5\.7\.25\b|\bptr\b|\brdns\b|reverse (dns|hostname|lookup|mapping)|cannot find your (reverse )?hostname|reputation`)

// SenderCause reports whether a rejected probe was refused because of the
// sending IP, its reputation, its PTR/HELO, or policy about the sender, and
// names the cause. See [Report.Finalize] for the rules; it never looks at
// probes that were not rejected.
func SenderCause(p smtpcheck.Probe) (string, bool) {
	if p.Status != smtpcheck.StatusRejected {
		return "", false
	}
	switch p.Class {
	case smtpcheck.ClassBlocklisted, smtpcheck.ClassPolicy:
		return string(p.Class), true
	}
	// The classifier's cause, when it found one, says whom the refusal is about.
	switch p.Cause {
	case smtpcheck.CauseDNSBLListing, smtpcheck.CauseIPReputation, smtpcheck.CausePTRMissing,
		smtpcheck.CausePTRGeneric, smtpcheck.CauseHELOInvalid, smtpcheck.CauseSenderRejected,
		smtpcheck.CauseAuthFailed, smtpcheck.CausePolicyOther, smtpcheck.CauseRateLimited:
		if p.CauseWhy != "" {
			return string(p.Cause) + ": " + p.CauseWhy, true
		}
		return string(p.Cause), true
	case smtpcheck.CauseRecipientUnknown, smtpcheck.CauseMailboxUnavailable, smtpcheck.CauseRelayDenied:
		if p.Stage == smtpcheck.StageRcpt {
			return "", false // about the recipient or its domain, not the sender
		}
	}
	switch p.Stage {
	case smtpcheck.StageConnect, smtpcheck.StageBanner:
		return "refused at the banner: about the client, before any recipient was named", true
	case smtpcheck.StageEHLO:
		return "refused at EHLO/HELO: about the client or its HELO name", true
	case smtpcheck.StageMail:
		return "refused at MAIL FROM: about the client or the sender address", true
	}
	var enh, text string
	if p.Reply != nil {
		enh, text = p.Reply.Enhanced, p.Reply.Text
	}
	switch {
	case len(enh) > 2 && enh[1:] == ".1.7" || len(enh) > 2 && enh[1:] == ".1.8":
		return "sender address (" + enh + ", RFC 3463 §3.2)", true
	case strings.HasPrefix(enh, "5.7."):
		return "policy (" + enh + ", RFC 3463 §3.8)", true
	case senderRE.MatchString(text):
		return "the reply names the client, the sender or the IP's reputation", true
	}
	return "", false
}

// untiedRejection is the problem line of a 5xx at RCPT that cannot be tied
// to the sender.
func untiedRejection(res *smtpcheck.Result, domain, where string, p smtpcheck.Probe) string {
	rcpt := decisiveRcpt(res, domain, p)
	reply := replyLine(p.Reply, p.Error)
	if strings.HasPrefix(strings.ToLower(rcpt), "postmaster@") {
		return fmt.Sprintf("%s refused RCPT TO:<%s> (%s): every domain must accept mail for postmaster (RFC 5321 §4.5.1), so this is not a verdict on the recipient, and the reason could not be tied to the sending IP or sender: %s", where, rcpt, p.Class, reply)
	}
	if p.Class == smtpcheck.ClassUnknownRecipient {
		return fmt.Sprintf("%s rejected the recipient <%s> as unknown (%s at %s), so the MX gave no verdict on the checked IP: check the --rcpt address: %s", where, rcpt, p.Class, stageName(p.Stage), reply)
	}
	return fmt.Sprintf("%s refused the probe at %s (%s) and the reason could not be tied to a cause (the sending IP, its reputation, PTR/HELO or the sender); mail from this IP may not get through: %s", where, stageName(p.Stage), p.Class, reply)
}

// decisiveRcpt is the recipient whose reply decided p: the first RCPT with
// that reply, else the first asked for, else postmaster@domain (RFC 5321
// §4.5.1; the probe's default).
func decisiveRcpt(res *smtpcheck.Result, domain string, p smtpcheck.Probe) string {
	for _, rc := range p.Rcpts {
		if p.Reply != nil && rc.Reply.Code == p.Reply.Code && rc.Reply.Text == p.Reply.Text {
			return rc.Rcpt
		}
	}
	if len(p.Rcpts) > 0 {
		return p.Rcpts[0].Rcpt
	}
	if res != nil && len(res.Rcpts) > 0 {
		return res.Rcpts[0]
	}
	return "postmaster@" + domain
}

// zoneTypes maps each zone of the health list to its list type.
func zoneTypes(d *DNSBL) map[string]dnsbl.ListType {
	m := make(map[string]dnsbl.ListType, len(d.Zones))
	for _, z := range d.Zones {
		m[z.Zone] = z.Type
	}
	return m
}

func listedLine(res dnsbl.Result) string {
	msg := fmt.Sprintf("%s is listed in %s", res.IP, res.Zone)
	if len(res.Codes) > 0 {
		msg += ": " + codesWithMeanings(res)
	}
	return msg
}

// codesWithMeanings renders "127.0.0.2 SBL, 127.0.0.4 XBL".
func codesWithMeanings(res dnsbl.Result) string {
	parts := make([]string, len(res.Codes))
	for i, c := range res.Codes {
		parts[i] = c
		if i < len(res.Meanings) && res.Meanings[i] != "" {
			parts[i] += " " + res.Meanings[i]
		}
	}
	return strings.Join(parts, ", ")
}

func probeName(host string, p smtpcheck.Probe) string {
	if p.IP == "" {
		return host
	}
	return fmt.Sprintf("%s [%s]", host, p.IP)
}

func stageName(s smtpcheck.Stage) string {
	if s == "" {
		return "start"
	}
	return string(s)
}

// replyLine is "554 5.7.1 first line of text", or the error, or "-".
func replyLine(rep *smtpcheck.Reply, errText string) string {
	if rep == nil || rep.Code == 0 {
		return orDash(errText)
	}
	s := fmt.Sprint(rep.Code)
	if rep.Enhanced != "" {
		s += " " + rep.Enhanced
	}
	if first, _, _ := strings.Cut(rep.Text, "\n"); first != "" {
		s += " " + truncate(first, 200)
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i < len(s) && s[i]&0xC0 == 0x80 { // do not cut a UTF-8 sequence
		i--
	}
	return s[:i] + "…"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func orDash(s string) string { return orDefault(s, "-") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
