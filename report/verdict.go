package report

import (
	"fmt"
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

// Finalize decides r.Verdict and r.ExitCode from the sections and appends
// warnings for rejections that are not blocks (unknown recipient, other
// 5xx), domains that accept no mail and MX hosts without addresses. It can be
// called again after the sections change; warnings are not duplicated.
//
// Verdict, worst first: rejected (a probe rejected with class blocklisted or
// policy) > listed (a listed result on a zone whose type is block; allow and
// info hits never count) > inconclusive (a dnsbl result in error or not_done,
// a zone that is not healthy, a probe in error/tempfail/not_done, a domain in
// error, an egress problem when egress was the IP source, or an interrupted
// run) > clean. Exit code: clean 0, listed/rejected 1, inconclusive 3, and 3
// whenever the run was interrupted.
func (r *Report) Finalize() {
	if r.Schema == "" {
		r.Schema = SchemaV1
	}
	r.Verdict = VerdictClean
	for _, p := range r.Problems() {
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
// the sections (not from r.Verdict), worst first. Lookups that could not be
// checked are grouped per zone and error kind, so the list stays short even
// for large CIDR runs.
func (r *Report) Problems() []Problem {
	var rej, lst, inc []Problem
	if r.SMTP != nil {
		for _, d := range r.SMTP.Domains {
			if d.Status == smtpcheck.DomainError {
				inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s: mail hosts could not be resolved: %s", d.Domain, orDash(d.Error))})
			}
			if d.Status == smtpcheck.DomainOK && probeCount(d) == 0 {
				inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s: no address of its MX hosts could be probed (see the MX errors)", d.Domain)})
			}
			for _, mx := range d.MX {
				for _, p := range mx.Addresses {
					where := probeName(mx.Host, p)
					switch {
					case p.Status == smtpcheck.StatusRejected && (p.Class == smtpcheck.ClassBlocklisted || p.Class == smtpcheck.ClassPolicy):
						msg := fmt.Sprintf("%s rejected at %s (%s", where, stageName(p.Stage), p.Class)
						if p.CitedList != "" {
							msg += ", citing " + p.CitedList
						}
						rej = append(rej, Problem{VerdictRejected, msg + "): " + replyLine(p.Reply, p.Error)})
					case p.Status == smtpcheck.StatusTempfail:
						inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s deferred at %s (%s): %s", where, stageName(p.Stage), p.Class, replyLine(p.Reply, p.Error))})
					case p.Status == smtpcheck.StatusError:
						inc = append(inc, Problem{VerdictInconclusive, fmt.Sprintf("%s could not be checked (%s at %s): %s", where, p.Class, stageName(p.Stage), replyLine(p.Reply, p.Error))})
					case p.Status == smtpcheck.StatusNotDone:
						inc = append(inc, Problem{VerdictInconclusive, where + " was not probed (interrupted)"})
					}
				}
			}
		}
	}
	if r.DNSBL != nil {
		types := zoneTypes(r.DNSBL)
		type key struct {
			zone string
			kind dnsbl.ErrorKind
		}
		errs := map[key]int{}
		example := map[key]string{}
		var order []key
		for _, res := range r.DNSBL.Results {
			switch res.Status {
			case dnsbl.StatusListed:
				// Only hits on block zones count (allow/info never do); a zone
				// missing from the health list is treated as a block list.
				if t, ok := types[res.Zone]; !ok || t == dnsbl.TypeBlock {
					lst = append(lst, Problem{VerdictListed, listedLine(res)})
				}
			case dnsbl.StatusError, dnsbl.StatusNotDone:
				k := key{res.Zone, res.ErrorKind}
				if res.Status == dnsbl.StatusNotDone {
					k.kind = "not_done"
				} else if res.ErrorKind == dnsbl.ErrNotApplicable {
					continue // e.g. an IPv6 address against an IPv4-only zone: nothing to check
				}
				if errs[k] == 0 {
					order = append(order, k)
					example[k] = res.Error
				}
				errs[k]++
			}
		}
		for _, k := range order {
			n := errs[k]
			var msg string
			if k.kind == "not_done" {
				msg = fmt.Sprintf("%s: %s not done (interrupted)", k.zone, plural(n, "lookup"))
			} else {
				msg = fmt.Sprintf("%s: %s could not be checked (%s)", k.zone, plural(n, "lookup"), orDash(string(k.kind)))
				if example[k] != "" {
					msg += ": " + example[k]
				}
			}
			inc = append(inc, Problem{VerdictInconclusive, msg})
		}
		for _, z := range r.DNSBL.Zones {
			if z.Health != dnsbl.HealthHealthy {
				msg := fmt.Sprintf("zone %s is %s", z.Zone, z.Health)
				if z.Problem != "" {
					msg += ": " + z.Problem
				}
				inc = append(inc, Problem{VerdictInconclusive, msg})
			}
		}
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
	return append(out, inc...)
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
	if r.SMTP == nil {
		return nil
	}
	for _, d := range r.SMTP.Domains {
		switch d.Status {
		case smtpcheck.DomainNullMX:
			ws = append(ws, fmt.Sprintf("%s publishes a null MX (RFC 7505): it accepts no mail, nothing was probed", d.Domain))
		case smtpcheck.DomainNoMailHost:
			ws = append(ws, fmt.Sprintf("%s has no MX and no address: it cannot receive mail, nothing was probed", d.Domain))
		}
		for _, mx := range d.MX {
			if mx.Error != "" {
				ws = append(ws, fmt.Sprintf("MX %s of %s was not probed: %s", mx.Host, d.Domain, mx.Error))
			}
			for _, p := range mx.Addresses {
				if p.Status != smtpcheck.StatusRejected || p.Class == smtpcheck.ClassBlocklisted || p.Class == smtpcheck.ClassPolicy {
					continue
				}
				what := "a rejection that is not a block"
				if p.Class == smtpcheck.ClassUnknownRecipient {
					what = "the recipient as unknown, which is not a block: check the --rcpt address"
				}
				ws = append(ws, fmt.Sprintf("%s rejected %s (%s at %s): %s", probeName(mx.Host, p), what, p.Class, stageName(p.Stage), replyLine(p.Reply, p.Error)))
			}
		}
	}
	return ws
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
