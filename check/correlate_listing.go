// Rejections matched against DNSBL listings, and listings no MX acted on.

package check

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/textsafe"
	"github.com/blprobe/blprobe/smtpcheck"
)

// providers maps a word found in a cited list or a zone name to a provider
// key, so that "Spamhaus's list" matches zen.spamhaus.org and "Barracuda
// Reputation" matches b.barracudacentral.org.
var providers = []struct{ word, key string }{
	{"spamhaus", "spamhaus"}, {"barracuda", "barracuda"}, {"spamcop", "spamcop"},
	{"abusix", "abusix"}, {"uceprotect", "uceprotect"}, {"mailspike", "mailspike"},
	{"spamrats", "spamrats"}, {"surriel", "psbl"}, {"psbl", "psbl"}, {"dronebl", "dronebl"},
	{"s5h.net", "s5h"}, {"0spam", "0spam"}, {"sorbs", "sorbs"}, {"dnswl", "dnswl"},
	{"senderscore", "senderscore"}, {"spameatingmonkey", "sem"}, {"nordspam", "nordspam"},
}

func providerOf(s string) string {
	s = strings.ToLower(s)
	for _, p := range providers {
		if strings.Contains(s, p.word) {
			return p.key
		}
	}
	return ""
}

// normCited turns a cited list into a lower-case zone-like string.
func normCited(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.Trim(s, ".,;:()[]<>\"' ")
	return s
}

// zoneMatches reports whether the cited list names zone: exactly, as a
// parent/child zone (zen.spamhaus.org ↔ sbl.spamhaus.org is provider-level),
// or by provider.
func zoneMatches(cited, zone string) (exact, provider bool) {
	c, z := normCited(cited), strings.ToLower(zone)
	if c == "" {
		return false, false
	}
	if c == z || strings.HasSuffix(z, "."+c) || strings.HasSuffix(c, "."+z) {
		return true, true
	}
	pc := providerOf(c)
	return false, pc != "" && pc == providerOf(z)
}

// internal describes a receiver's own reputation list (not a DNSBL).
type internal struct {
	name, msg, step string
}

var (
	reMS606   = regexp.MustCompile(`\b5\.7\.6[0-4][0-9]\b`)
	reMSS3150 = regexp.MustCompile(`\bS3(1[0-9]{2})\b`)
	rePTR     = regexp.MustCompile(`(?i)\b5\.7\.25\b|\bPTR\b|\brDNS\b|reverse (dns|hostname|lookup|mapping)`)
)

// providerInternal recognises rejections by a provider's own lists
// (Microsoft 5.7.606-649, https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online;
// Gmail 5.7.1 and 4.7.0 reputation, https://support.google.com/a/answer/3726730).
func providerInternal(pr probeRef, text string) *internal {
	p := pr.p
	enh := ""
	if p.Reply != nil {
		enh = p.Reply.Enhanced
	}
	lt := strings.ToLower(text)
	mx := strings.ToLower(pr.mx)
	switch {
	case reMS606.MatchString(enh) || reMS606.MatchString(text) || strings.Contains(lt, "sender.office.com"):
		return &internal{"Microsoft 365 banned sending IP list",
			"is on Microsoft 365's own banned-sender list (5.7.606–649), not a public DNSBL",
			"ask Microsoft to remove %s from its banned-sender list at https://sender.office.com/"}
	case reMSS3150.MatchString(text) && (strings.Contains(lt, "our block list") || strings.Contains(mx, "outlook.com") || strings.Contains(lt, "messages from")):
		return &internal{"Outlook.com block list",
			"is on Outlook.com's own block list (" + reMSS3150.FindString(text) + "), not a public DNSBL",
			"ask Outlook.com to unblock %s through its sender support form (linked from https://sendersupport.olc.protection.outlook.com/pm/)"}
	case strings.Contains(lt, "proofpoint"):
		return &internal{"Proofpoint reputation",
			"is blocked by Proofpoint's own reputation service, not a public DNSBL",
			"check and request removal of %s at https://ipcheck.proofpoint.com/"}
	case strings.Contains(mx, "google.com") || strings.Contains(lt, "gmail") || strings.Contains(lt, "not authorized to send email directly to our servers") || strings.Contains(lt, "very low reputation of the sending ip"):
		return &internal{"Gmail reputation",
			"is rejected by Gmail's own IP reputation, not a public DNSBL",
			"register the sending domain in Gmail Postmaster Tools (https://postmaster.google.com/) and follow Google's sender guidelines for %s"}
	case strings.Contains(lt, "[tss") || strings.Contains(mx, "yahoodns.net") || strings.Contains(lt, "yahoo"):
		return &internal{"Yahoo/AOL reputation",
			"is deferred or rejected by Yahoo/AOL's own reputation system, not a public DNSBL",
			"see Yahoo Sender Hub (https://senders.yahooinc.com/) about %s"}
	case strings.Contains(lt, "mimecast"):
		return &internal{"Mimecast reputation",
			"is rejected by Mimecast's own reputation service, not a public DNSBL",
			"contact the recipient's administrators so they can ask Mimecast to review %s"}
	}
	return nil
}

// resultsFor returns the DNSBL results of zone; pickResult chooses the one
// that best fits a probe: same family, then the echoed IP (or else the
// probe's source address), then a listed one.
func (a *analysis) resultsFor(zone string) []dnsbl.Result {
	if a.r.DNSBL == nil {
		return nil
	}
	var out []dnsbl.Result
	for _, res := range a.r.DNSBL.Results {
		if strings.EqualFold(res.Zone, zone) {
			out = append(out, res)
		}
	}
	return out
}

func pickResult(rs []dnsbl.Result, p *smtpcheck.Probe) dnsbl.Result {
	rank := func(res dnsbl.Result) int {
		score := 0
		switch res.Status {
		case dnsbl.StatusListed:
			score += 4
		case dnsbl.StatusClean:
			score += 2
		}
		if p.EchoedClientIP != "" && res.IP == p.EchoedClientIP {
			score += 8
		} else if p.SourceIP != "" && res.IP == p.SourceIP {
			score += 8 // the address the probe was sent from
		}
		rip, e1 := netip.ParseAddr(res.IP)
		pip, e2 := netip.ParseAddr(p.IP)
		if e1 == nil && e2 == nil && rip.Unmap().Is4() == pip.Unmap().Is4() {
			score += 16
		}
		return score
	}
	best := rs[0]
	for _, r := range rs[1:] {
		if rank(r) > rank(best) {
			best = r
		}
	}
	return best
}

func codesText(res dnsbl.Result) string {
	var parts []string
	for i, c := range res.Codes {
		if i < len(res.Meanings) && res.Meanings[i] != "" {
			parts = append(parts, c+" "+res.Meanings[i])
		} else {
			parts = append(parts, c)
		}
	}
	return strings.Join(parts, ", ")
}

// rejections correlates every refusing probe with the DNSBL results.
func (a *analysis) rejections() {
	for _, pr := range a.probes {
		p := pr.p
		if p.Status == smtpcheck.StatusRejected || p.Status == smtpcheck.StatusTempfail {
			a.causeStep(pr)
		}
		if !isRefusal(p) || rePTRRefusal(p) {
			continue
		}
		text := replyText(p)
		ev := map[string]string{
			"domain": pr.domain, "mx": pr.mx, "ip": p.IP, "stage": string(p.Stage),
			"reply": text, "cited_list": textsafe.Clean(p.CitedList), "echoed_ip": p.EchoedClientIP,
		}
		who := fmt.Sprintf("%s %s %s", mxLabel(pr), verb(p), stageWord(p.Stage))
		if p.CitedList != "" {
			a.citedList(pr, who, ev)
			continue
		}
		if in := providerInternal(pr, text); in != nil {
			target := a.target(p)
			ev["provider_list"] = in.name
			a.add(KindRejectionProvider, SevProblem, fmt.Sprintf("%s: %s %s", who, target, in.msg), ev)
			a.stepAt(prioCause, fmt.Sprintf(in.step, target))
			continue
		}
		if p.Class != smtpcheck.ClassBlocklisted {
			continue // a policy refusal with nothing to correlate
		}
		listed := a.blockListings()
		msg := who + " citing a blocklist without naming it"
		if len(listed) > 0 {
			var zs []string
			for _, l := range listed {
				if !containsStr(zs, l.Zone) {
					zs = append(zs, l.Zone)
				}
			}
			msg += "; DNSBL: listed in " + strings.Join(zs, ", ") + ", probably the reason"
			ev["zone"] = strings.Join(zs, ",")
		} else {
			msg += "; the DNSBL check found no listing: the MX uses a list blprobe did not check, or its own reputation data"
		}
		a.add(KindRejectionUnattributed, SevProblem, msg, ev)
	}
}

// causeSteps are the causes whose next step comes from the classifier's
// table (smtpcheck.Cause.NextStep): a cited listing and PTR refusals get
// theirs from the listing and PTR correlations, with the evidence.
var causeSteps = map[smtpcheck.Cause]bool{
	smtpcheck.CauseIPReputation: true, smtpcheck.CauseRateLimited: true, smtpcheck.CauseHELOInvalid: true,
	smtpcheck.CauseSenderRejected: true, smtpcheck.CauseAuthFailed: true, smtpcheck.CauseRelayDenied: true,
	smtpcheck.CauseMailboxUnavailable: true, smtpcheck.CausePolicyOther: true,
}

// causeStep adds the next step of a refusal's cause (one per cause and
// address: identical steps are merged).
func (a *analysis) causeStep(pr probeRef) {
	p := pr.p
	if !causeSteps[p.Cause] {
		return
	}
	list := ""
	if p.Cause == smtpcheck.CauseIPReputation {
		list = "the provider of " + pr.domain
	}
	if s := p.Cause.NextStep(a.target(p), list); s != "" {
		a.stepAt(prioCause, pr.domain+": "+s)
	}
}

func rePTRRefusal(p *smtpcheck.Probe) bool {
	if p.Reply == nil || p.CitedList != "" {
		return false
	}
	return rePTR.MatchString(p.Reply.Enhanced) || rePTR.MatchString(p.Reply.Text)
}

// target names the address a refusal concerns: the echoed IP, else the checked one.
func (a *analysis) target(p *smtpcheck.Probe) string {
	if p.EchoedClientIP != "" {
		return p.EchoedClientIP
	}
	if len(a.checked) > 0 {
		return a.checked[0].String()
	}
	return "the sending IP"
}

func (a *analysis) citedList(pr probeRef, who string, ev map[string]string) {
	p := pr.p
	cited := textsafe.Clean(p.CitedList)
	who += " citing " + cited
	// Exact zone matches first, then provider matches.
	var zones []string
	if a.r.DNSBL != nil {
		seen := map[string]bool{}
		for pass := 0; pass < 2 && len(zones) == 0; pass++ {
			for _, res := range a.r.DNSBL.Results {
				ex, prov := zoneMatches(cited, res.Zone)
				if (pass == 0 && ex || pass == 1 && prov) && !seen[res.Zone] && a.zoneType(res.Zone) == dnsbl.TypeBlock {
					seen[res.Zone] = true
					zones = append(zones, res.Zone)
				}
			}
		}
	}
	var listed, clean, failed []dnsbl.Result
	for _, z := range zones {
		res := pickResult(a.resultsFor(z), p)
		switch res.Status {
		case dnsbl.StatusListed:
			listed = append(listed, res)
		case dnsbl.StatusClean:
			clean = append(clean, res)
		default:
			failed = append(failed, res)
		}
	}
	switch {
	case len(listed) > 0:
		var parts, codes, meanings []string
		for _, l := range listed {
			parts = append(parts, fmt.Sprintf("%s (%s)", l.Zone, codesText(l)))
			codes = append(codes, l.Codes...)
			meanings = append(meanings, l.Meanings...)
		}
		ev["zone"] = listed[0].Zone
		ev["checked_ip"] = listed[0].IP
		ev["code"] = strings.Join(codes, ",")
		ev["meaning"] = strings.Join(meanings, ",")
		a.add(KindRejectionMatchesListing, SevProblem,
			fmt.Sprintf("%s; DNSBL: %s listed in %s", who, listed[0].IP, strings.Join(parts, "; ")), ev)
	case len(clean) > 0:
		ev["zone"], ev["checked_ip"] = clean[0].Zone, clean[0].IP
		msg := fmt.Sprintf("%s, a list that the DNSBL check found clean for %s: the listing may be new or just removed (the MX may cache it), or the MX sees another address", who, clean[0].IP)
		if p.EchoedClientIP != "" && p.EchoedClientIP != clean[0].IP {
			msg += fmt.Sprintf(" (it saw %s)", p.EchoedClientIP)
		}
		a.add(KindRejectionCitesUnlisted, SevProblem, msg, ev)
	case len(failed) > 0:
		ev["zone"], ev["checked_ip"] = failed[0].Zone, failed[0].IP
		detail := string(failed[0].Status)
		if failed[0].Error != "" {
			detail = failed[0].Error
		}
		a.add(KindRejectionCitesUnchecked, SevProblem,
			fmt.Sprintf("%s, which the DNSBL check could not check (%s)", who, detail), ev)
	default:
		suggest := a.suggestZone(cited)
		msg := who + ", a list that the DNSBL check did not query"
		if suggest != "" {
			msg += "; run with --zone " + suggest
			ev["zone"] = suggest
		}
		a.add(KindRejectionCitesUnchecked, SevProblem, msg, ev)
		if in := providerInternal(pr, replyText(p)); in != nil && providerOf(cited) == "" {
			a.stepAt(prioCause, fmt.Sprintf(in.step, a.target(p)))
		}
		if suggest != "" {
			a.stepAt(prioCause, fmt.Sprintf("check the list the MX cited: blprobe check --zone %s %s", suggest, a.target(p)))
		}
	}
}

// suggestZone proposes a zone for a cited list that was not queried: the
// cited text when it looks like a zone, else a catalogue zone of the same
// provider (preferring default zones).
func (a *analysis) suggestZone(cited string) string {
	c := normCited(cited)
	if strings.Contains(c, ".") && !strings.ContainsAny(c, " /") {
		return c
	}
	pc := providerOf(c)
	if pc == "" {
		return ""
	}
	var best string
	var keys []string
	for k := range a.zones {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		z := a.zones[k]
		if providerOf(z.Zone) == pc && z.Type == dnsbl.TypeBlock && (best == "" || z.Default) {
			best = z.Zone
			if z.Default {
				break
			}
		}
	}
	return best
}

// listedButAccepted: listed on a block zone, yet every MX of a domain
// accepted at RCPT. Rejections after DATA stay invisible to the probe.
func (a *analysis) listedButAccepted() {
	listed := a.blockListings()
	if len(listed) == 0 || a.r.SMTP == nil {
		return
	}
	var zones []string
	for _, l := range listed {
		if !containsStr(zones, l.Zone) {
			zones = append(zones, l.Zone)
		}
	}
	for _, d := range a.r.SMTP.Domains {
		accepted, other := 0, 0
		var mxs []string
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				if p.Status == smtpcheck.StatusAccepted {
					accepted++
					if !containsStr(mxs, mx.Host) {
						mxs = append(mxs, mx.Host)
					}
				} else {
					other++
				}
			}
		}
		if accepted == 0 || other > 0 {
			continue
		}
		zs := strings.Join(zones, ", ")
		a.add(KindListedButAccepted, SevWarning,
			fmt.Sprintf("listed in %s, yet every MX of %s accepted at RCPT: these MX do not use %s, other receivers may (and a rejection after DATA would not show here)", zs, d.Domain, zs),
			map[string]string{"zone": strings.Join(zones, ","), "domain": d.Domain, "mx": strings.Join(mxs, ","), "checked_ip": listed[0].IP})
	}
}
