// Correlation ties the sections of a report together: it matches SMTP
// rejections against DNSBL listings (correlate_listing.go), compares the
// client IP an MX echoed with the checked IP (correlate_echo.go), relates PTR
// problems to reverse-DNS rejections (correlate_ptr.go), recognises a blocked
// port 25 (correlate_port25.go), flags unhealthy zones (zones.go), and turns
// all of it into correlations, next steps (nextsteps.go, smtp_steps.go,
// ordered by group.go) and a summary (summary.go; group.go gathers the
// facts of many addresses). It never decides the verdict: report.Finalize does, after it.

package check

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/textsafe"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// Correlation kinds.
const (
	KindRejectionMatchesListing = "rejection_matches_listing"
	KindRejectionCitesUnlisted  = "rejection_cites_unlisted"
	KindRejectionCitesUnchecked = "rejection_cites_unchecked"
	KindRejectionProvider       = "rejection_provider_reputation"
	KindRejectionUnattributed   = "rejection_unattributed"
	KindListedButAccepted       = "listed_but_accepted"
	KindEchoedIPMismatch        = "echoed_ip_mismatch"
	KindEchoedIPMatch           = "echoed_ip_match"
	KindSMTPSourceUnconfirmed   = "smtp_source_unconfirmed"
	KindPTRRejection            = "ptr_rejection"
	KindPort25Blocked           = "port25_blocked"
	KindZoneUnhealthy           = "zone_unhealthy"
)

// Severities.
const (
	SevProblem = "problem"
	SevWarning = "warning"
	SevInfo    = "info"
)

// maxReply caps the reply text copied into evidence.
const maxReply = 300

// analysis is the state of one Correlate call.
type analysis struct {
	r       *report.Report
	zones   map[string]dnsbl.Zone // lower-case zone → catalogue entry
	checked []netip.Addr
	out     []report.Correlation
	steps   []string
	prio    map[string]int // step → priority (see stepAt)
	probes  []probeRef
}

type probeRef struct {
	domain string
	mx     string
	p      *smtpcheck.Probe
}

// Correlate fills r.Correlations, appends next steps to r.NextSteps
// (without duplicates) and gives r the facts of its summary. It decides no
// verdict: call it once every section is filled and before report.Finalize,
// which counts problem correlations and writes the verdict into the
// summary. catalog describes the zones (names, policy codes, delist URLs);
// checked are the addresses the DNSBL and rDNS checks were run on.
func Correlate(r *report.Report, catalog []dnsbl.Zone, checked []netip.Addr) {
	if r == nil {
		return
	}
	a := &analysis{r: r, zones: map[string]dnsbl.Zone{}}
	for _, z := range catalog {
		a.zones[strings.ToLower(z.Zone)] = z
	}
	for _, ip := range checked {
		if ip.IsValid() {
			a.checked = append(a.checked, ip.Unmap())
		}
	}
	if len(a.checked) == 0 {
		a.checked = a.impliedChecked()
	}
	if r.SMTP != nil {
		for di := range r.SMTP.Domains {
			d := &r.SMTP.Domains[di]
			for mi := range d.MX {
				mx := &d.MX[mi]
				for pi := range mx.Addresses {
					a.probes = append(a.probes, probeRef{d.Domain, mx.Host, &mx.Addresses[pi]})
				}
			}
		}
	}
	a.rejections()
	a.listedButAccepted()
	a.echoedIP()
	a.unconfirmedSource()
	a.ptr()
	a.port25()
	a.zoneHealth()
	a.listingSteps()
	a.smtpSteps()
	r.Correlations = append(r.Correlations[:0:0], a.out...)
	if r.Correlations == nil {
		r.Correlations = []report.Correlation{}
	}
	seen := map[string]bool{}
	var steps []string
	for _, s := range append(append([]string{}, r.NextSteps...), a.orderedSteps()...) {
		if !seen[s] {
			seen[s] = true
			steps = append(steps, s)
		}
	}
	if steps == nil {
		steps = []string{}
	}
	r.NextSteps = steps
	r.SetSummaryFacts(a.summary())
}

// impliedChecked returns the distinct IPs of the DNSBL results and rDNS
// entries when the caller gave none.
func (a *analysis) impliedChecked() []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(s string) {
		if ip, err := netip.ParseAddr(s); err == nil && !seen[ip.Unmap()] {
			seen[ip.Unmap()] = true
			out = append(out, ip.Unmap())
		}
	}
	if a.r.DNSBL != nil {
		for _, res := range a.r.DNSBL.Results {
			add(res.IP)
		}
	}
	for _, d := range a.r.RDNS {
		add(d.IP)
	}
	return out
}

func (a *analysis) add(kind, sev, msg string, ev map[string]string) {
	for k, v := range ev {
		if v == "" {
			delete(ev, k)
		}
	}
	a.out = append(a.out, report.Correlation{Kind: kind, Severity: sev, Evidence: ev, Message: msg})
}

func (a *analysis) step(s string) { a.steps = append(a.steps, s) }

// zoneType is the list type of a zone: catalogue first, then zone health.
func (a *analysis) zoneType(zone string) dnsbl.ListType {
	if z, ok := a.zones[strings.ToLower(zone)]; ok && z.Type != "" {
		return z.Type
	}
	if a.r.DNSBL != nil {
		for _, h := range a.r.DNSBL.Zones {
			if strings.EqualFold(h.Zone, zone) && h.Type != "" {
				return h.Type
			}
		}
	}
	return dnsbl.TypeBlock
}

func (a *analysis) zoneName(zone string) string {
	if z, ok := a.zones[strings.ToLower(zone)]; ok && z.Name != "" {
		return z.Name
	}
	if a.r.DNSBL != nil {
		for _, h := range a.r.DNSBL.Zones {
			if strings.EqualFold(h.Zone, zone) && h.Name != "" {
				return h.Name
			}
		}
	}
	return zone
}

func (a *analysis) delistURL(zone string) string {
	if z, ok := a.zones[strings.ToLower(zone)]; ok && z.DelistURL != "" {
		return z.DelistURL
	}
	if a.r.DNSBL != nil {
		for _, h := range a.r.DNSBL.Zones {
			if strings.EqualFold(h.Zone, zone) {
				return h.DelistURL
			}
		}
	}
	return ""
}

// policyOnly reports whether every code of a listing is a policy code (e.g.
// Spamhaus PBL 127.0.0.10/11): "not an MTA IP", not spam evidence.
func (a *analysis) policyOnly(res dnsbl.Result) bool {
	z, ok := a.zones[strings.ToLower(res.Zone)]
	if !ok || len(z.PolicyCodes) == 0 || len(res.Codes) == 0 {
		return false
	}
	for _, c := range res.Codes {
		if !containsStr(z.PolicyCodes, c) {
			return false
		}
	}
	return true
}

// blockListings returns the listed results on block zones.
func (a *analysis) blockListings() []dnsbl.Result {
	if a.r.DNSBL == nil {
		return nil
	}
	var out []dnsbl.Result
	for _, res := range a.r.DNSBL.Results {
		if res.Status == dnsbl.StatusListed && a.zoneType(res.Zone) == dnsbl.TypeBlock {
			out = append(out, res)
		}
	}
	return out
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

func joinAddrs(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}

// joinAnd joins "a", "a and b", "a, b and c".
func joinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func replyText(p *smtpcheck.Probe) string {
	if p.Reply == nil {
		return ""
	}
	s := fmt.Sprint(p.Reply.Code)
	if p.Reply.Enhanced != "" {
		s += " " + p.Reply.Enhanced
	}
	s += " " + strings.ReplaceAll(p.Reply.Text, "\n", " ")
	s = textsafe.Clean(s)
	if len(s) > maxReply {
		s = s[:maxReply] + "…"
	}
	return s
}

func stageWord(s smtpcheck.Stage) string {
	switch s {
	case smtpcheck.StageRcpt:
		return "at RCPT"
	case smtpcheck.StageMail:
		return "at MAIL FROM"
	case smtpcheck.StageBanner, smtpcheck.StageConnect:
		return "at the banner"
	case smtpcheck.StageEHLO:
		return "at EHLO"
	case smtpcheck.StageSTARTTLS:
		return "at STARTTLS"
	}
	return "at " + string(s)
}

func verb(p *smtpcheck.Probe) string {
	if p.Status == smtpcheck.StatusTempfail {
		return "deferred"
	}
	return "rejected"
}

func mxLabel(pr probeRef) string {
	return fmt.Sprintf("%s [%s]", pr.mx, pr.p.IP)
}

// isRefusal reports whether a probe ended with a blocklist/policy refusal.
func isRefusal(p *smtpcheck.Probe) bool {
	return (p.Status == smtpcheck.StatusRejected || p.Status == smtpcheck.StatusTempfail) &&
		(p.Class == smtpcheck.ClassBlocklisted || p.Class == smtpcheck.ClassPolicy || p.CitedList != "")
}
