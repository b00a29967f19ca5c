package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/textsafe"
	"github.com/blprobe/blprobe/smtpcheck"
)

// maxProblems caps the problems listed before "… and N more".
const maxProblems = 25

// renderer holds what the text and Markdown renderers share.
type renderer struct {
	r       *Report
	secrets []string
}

// safe makes any string printable: secrets redacted, control characters
// (ANSI escapes, newlines, bidi overrides) removed.
func (rd *renderer) safe(s string) string {
	return textsafe.Clean(Redact(s, rd.secrets...))
}

// dnsblView is the dnsbl section grouped for display. Clean results are
// only counted (and the first few addresses remembered), never kept.
type dnsblView struct {
	listed, allowed  []dnsbl.Result
	errGroups        []errGroup
	counts           map[dnsbl.Status]int
	omitted          map[dnsbl.Status]int // results --only left out
	zoneCounts       map[dnsbl.Health]int
	zoneProblems     []dnsbl.ZoneHealth // zones to show with evidence: the unhealthy ones, or all of them in a health report
	healthReport     bool               // a section without results ("blprobe zones test")
	delist, zoneName map[string]string
	nClean           int                        // clean results shown
	cleanIPs         int                        // distinct addresses with a clean result shown
	cleanZones       map[string]map[string]bool // ip → zones where it is clean (first maxCleanIPs addresses)
	cleanOrder       []string                   // every distinct clean address, in result order
}

// errGroup is the results of one zone that failed the same way.
type errGroup struct {
	zone    string
	kind    string // error kind, or "not_done"
	n       int
	example string
	ips     []string
}

// maxCleanIPs bounds the addresses whose clean zones are listed by name.
const maxCleanIPs = 6

func newDNSBLView(d *DNSBL) *dnsblView {
	v := &dnsblView{
		counts:     map[dnsbl.Status]int{},
		omitted:    map[dnsbl.Status]int{},
		zoneCounts: map[dnsbl.Health]int{},
		delist:     map[string]string{},
		zoneName:   map[string]string{},
		cleanZones: map[string]map[string]bool{},
	}
	idx := map[[2]string]int{}
	seenClean := map[string]bool{}
	total := 0
	d.each(func(res *dnsbl.Result) bool {
		total++
		v.counts[res.Status]++
		if !d.Shown(res.Status) {
			v.omitted[res.Status]++
			return true
		}
		switch res.Status {
		case dnsbl.StatusListed:
			v.listed = append(v.listed, *res)
		case dnsbl.StatusAllowed:
			v.allowed = append(v.allowed, *res)
		case dnsbl.StatusClean:
			v.nClean++
			if !seenClean[res.IP] {
				seenClean[res.IP] = true
				v.cleanIPs++
				if len(v.cleanOrder) < maxCleanIPs {
					v.cleanZones[res.IP] = map[string]bool{}
				}
				v.cleanOrder = append(v.cleanOrder, res.IP) // one per address, not per pair: for the ranges line
			}
			if m := v.cleanZones[res.IP]; m != nil {
				m[res.Zone] = true
			}
		default:
			kind := string(res.ErrorKind)
			if res.Status == dnsbl.StatusNotDone {
				kind = "not_done"
			} else if kind == "" {
				kind = string(res.Status)
			}
			k := [2]string{res.Zone, kind}
			i, ok := idx[k]
			if !ok {
				i = len(v.errGroups)
				idx[k] = i
				v.errGroups = append(v.errGroups, errGroup{zone: res.Zone, kind: kind, example: res.Error})
			}
			g := &v.errGroups[i]
			g.n++
			g.ips = append(g.ips, res.IP)
			if g.example == "" {
				g.example = res.Error
			}
		}
		return true
	})
	for _, z := range d.Zones {
		v.zoneCounts[z.Health]++
		v.delist[z.Zone] = z.DelistURL
		v.zoneName[z.Zone] = z.Name
		if z.Health != dnsbl.HealthHealthy || total == 0 {
			v.zoneProblems = append(v.zoneProblems, z)
		}
	}
	v.healthReport = total == 0
	return v
}

// omittedLine says what --only left out, or "" when nothing was.
func (v *dnsblView) omittedLine(only []dnsbl.Status) string {
	var parts []string
	for _, s := range []dnsbl.Status{dnsbl.StatusListed, dnsbl.StatusClean, dnsbl.StatusAllowed, dnsbl.StatusError, dnsbl.StatusNotDone} {
		if n := v.omitted[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	var o []string
	for _, s := range only {
		o = append(o, string(s))
	}
	return fmt.Sprintf("not shown (--only %s): %s", strings.Join(o, ","), strings.Join(parts, ", "))
}

func (v *dnsblView) countLine() string {
	unhealthy := 0
	for h, n := range v.zoneCounts {
		if h != dnsbl.HealthHealthy {
			unhealthy += n
		}
	}
	return fmt.Sprintf("%d listed, %d clean, %d allowed, %d error, %d not_done; zones: %d healthy, %d unhealthy/unknown",
		v.counts[dnsbl.StatusListed], v.counts[dnsbl.StatusClean], v.counts[dnsbl.StatusAllowed],
		v.counts[dnsbl.StatusError], v.counts[dnsbl.StatusNotDone], v.zoneCounts[dnsbl.HealthHealthy], unhealthy)
}

func (g errGroup) ipList() string { return AddrRanges(g.ips) }

// smtpCounts counts probes per status.
func smtpCounts(s *smtpcheck.Result) string {
	c := map[smtpcheck.Status]int{}
	total := 0
	for _, d := range s.Domains {
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				c[p.Status]++
				total++
			}
		}
	}
	return fmt.Sprintf("%d probes: %d accepted, %d rejected, %d tempfail, %d error, %d not_done",
		total, c[smtpcheck.StatusAccepted], c[smtpcheck.StatusRejected], c[smtpcheck.StatusTempfail],
		c[smtpcheck.StatusError], c[smtpcheck.StatusNotDone])
}

func statusClass(p smtpcheck.Probe) string {
	if string(p.Status) == string(p.Class) || p.Class == "" {
		return string(p.Status)
	}
	return string(p.Status) + "/" + string(p.Class)
}

func tlsShort(t *smtpcheck.TLSInfo) string {
	if t == nil {
		return "-"
	}
	s := t.Version
	if !t.Verified {
		s += " (unverified)"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func fmtMs(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", ms)
}

// timeRange renders start, finish and duration in UTC, without time.Now.
func timeRange(r *Report) string {
	const layout = "2006-01-02 15:04:05Z07:00"
	s := "started " + r.Started.UTC().Format(layout)
	if !r.Finished.IsZero() {
		s += ", finished " + r.Finished.UTC().Format(layout)
		if d := r.Finished.Sub(r.Started); d >= 0 {
			s += " (" + d.Round(time.Millisecond).String() + ")"
		}
	}
	return s
}

func familyLine(f EgressFamily) string {
	var parts []string
	if f.IP != "" {
		parts = append(parts, f.IP)
	} else {
		parts = append(parts, "not found")
	}
	switch {
	case f.Answered == 0 && f.Problem == "":
		parts = append(parts, "no source answered")
	case f.Answered == 0:
	case f.Agree:
		parts = append(parts, fmt.Sprintf("%s agree", plural(f.Answered, "source")))
	default:
		parts = append(parts, fmt.Sprintf("%s answered, they disagree", plural(f.Answered, "source")))
	}
	if f.Problem != "" {
		parts = append(parts, f.Problem)
	}
	return strings.Join(parts, "; ")
}

func answerText(a EgressAnswer) string {
	if a.Error != "" {
		return "error: " + a.Error
	}
	if len(a.IPs) == 0 {
		return "-"
	}
	return strings.Join(a.IPs, ", ")
}

// evidenceLine says what one RFC 5782 test query should have answered and
// what it did: "2.0.0.127.zen.example should be listed: answered 127.0.0.2
// (as expected)".
func evidenceLine(e dnsbl.Evidence) string {
	want := "expect " + e.Expect
	switch e.Expect {
	case "listed":
		want = "should be listed"
	case "not_listed":
		want = "should not be listed"
	}
	var got string
	switch {
	case e.Error != "":
		got = "no answer: " + e.Error
	case len(e.Codes) > 0:
		got = "answered " + strings.Join(e.Codes, ", ")
		if e.Rcode != "" && e.Rcode != "NOERROR" {
			got += " (" + e.Rcode + ")"
		}
	case e.Rcode != "":
		got = "answered " + e.Rcode
	default:
		got = "answered nothing"
	}
	s := e.Query + " " + want + ": " + got
	switch {
	case e.OK:
		return s + " (as expected)"
	case e.Error != "":
		return s
	}
	return s + " (WRONG)"
}

// heloLine says in words what the HELO check found: "HELO mail.example.org:
// fully qualified, resolves to 198.51.100.20 (not to this IP), does not
// match the PTR".
func heloLine(h *HELOCheck) string {
	var facts []string
	if h.FQDN {
		facts = append(facts, "fully qualified")
	} else {
		facts = append(facts, "not a fully-qualified domain name")
	}
	switch {
	case h.ResolvesToIP:
		facts = append(facts, "resolves to this IP")
	case len(h.Resolves) > 0:
		facts = append(facts, "resolves to "+strings.Join(h.Resolves, ", ")+" (not to this IP)")
	case h.Error != "":
		facts = append(facts, "could not be resolved")
	default:
		facts = append(facts, "does not resolve")
	}
	if h.MatchesPTR {
		facts = append(facts, "matches the PTR")
	} else {
		facts = append(facts, "does not match the PTR")
	}
	s := fmt.Sprintf("HELO %s: %s", h.Name, strings.Join(facts, ", "))
	if h.Error != "" {
		s += "; error: " + h.Error
	}
	return s
}

// ptrLookupError splits x.Error into the failure of the PTR lookup itself
// ("" when it answered, NXDOMAIN and NODATA included: that is "no PTR") and
// the rest (forward confirmation). The HELO lookup's failure, which
// internal/rdns appends last after "; ", is in neither: the HELO line shows it.
func ptrLookupError(x RDNS) (ptr, rest string) {
	if x.Error == RDNSNotDone {
		return "", x.Error
	}
	e := x.Error
	if x.HELO != nil && x.HELO.Error != "" && strings.HasSuffix(e, x.HELO.Error) {
		e = strings.TrimSuffix(strings.TrimSuffix(e, x.HELO.Error), "; ")
	}
	if e == "" || len(x.PTR) > 0 {
		return "", e
	}
	// "PTR lookup for IP failed: ERR" → "ERR": the line names the IP already.
	if after, ok := strings.CutPrefix(e, "PTR lookup for "+x.IP+" failed: "); ok && after != "" {
		e = after
	}
	return e, ""
}

// domainRcpts is what d's MXs were asked at RCPT: d.Rcpts, or for a result
// made without it, the rule of smtpcheck.RcptsFor.
func domainRcpts(s *smtpcheck.Result, d smtpcheck.Domain) []string {
	if d.Rcpts != nil {
		return d.Rcpts
	}
	return smtpcheck.RcptsFor(d.Domain, s.Rcpts)
}

// rcptHeader names the recipients of an SMTP run per domain, e.g.
// "postmaster@DOMAIN; a@example.com for example.com": each asked-for
// recipient goes only to its own domain, every other domain gets postmaster@.
func rcptHeader(s *smtpcheck.Result) string {
	if len(s.Rcpts) == 0 {
		return "postmaster@DOMAIN"
	}
	if len(s.Domains) == 0 {
		return strings.Join(s.Rcpts, ", ")
	}
	var postmaster bool
	var parts []string
	for _, d := range s.Domains {
		rc := domainRcpts(s, d)
		if len(rc) == 1 && strings.EqualFold(rc[0], "postmaster@"+d.Domain) {
			postmaster = true
			continue
		}
		parts = append(parts, strings.Join(rc, ", ")+" for "+d.Domain)
	}
	if postmaster {
		parts = append([]string{"postmaster@DOMAIN"}, parts...)
	}
	return strings.Join(parts, "; ")
}

func ptrLine(x RDNS) string {
	if x.Error == RDNSNotDone {
		return "not done (interrupted)"
	}
	if len(x.PTR) == 0 {
		if e, _ := ptrLookupError(x); e != "" {
			return "lookup failed: " + e
		}
		return "no PTR"
	}
	s := strings.Join(x.PTR, ", ")
	if x.ForwardConfirmed {
		return s + " (forward-confirmed)"
	}
	return s + " (NOT forward-confirmed)"
}

func genericText(x RDNS) string {
	if e, _ := ptrLookupError(x); e != "" || x.Error == RDNSNotDone {
		return "unknown: the PTR lookup failed"
	}
	if !x.Generic {
		return "no"
	}
	if x.GenericWhy == "" {
		return "yes"
	}
	return "yes: " + x.GenericWhy
}

func rtt(ms float64) string { return fmtMs(ms) }

// smtpRow is one line of an SMTP table: probes with the same outcome from
// several sources share one row that names the sources as ranges.
type smtpRow struct {
	sources []string
	cells   []string // MX, PREF, IP, STATUS, STAGE, TLS, ECHOED IP, CITED LIST, REPLY
}

// sameAsSource is the echoed-IP cell of a probe whose MX saw its source.
const sameAsSource = "= source"

// smtpSources counts the distinct source addresses of a result's probes.
func smtpSources(s *smtpcheck.Result) int {
	seen := map[string]bool{}
	for _, d := range s.Domains {
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				seen[p.SourceIP] = true
			}
		}
	}
	return len(seen)
}

// smtpRows are the table rows of one domain; with multi (probes from more
// than one source) probes whose outcome is the same are grouped.
func smtpRows(d smtpcheck.Domain, multi bool) []smtpRow {
	var rows []smtpRow
	idx := map[string]int{}
	for _, mx := range d.MX {
		host := mx.Host
		if mx.Implicit {
			host += " (implicit)"
		}
		pref := fmt.Sprint(mx.Preference)
		if mx.Error != "" {
			rows = append(rows, smtpRow{cells: []string{host, pref, "-", "error", "-", "-", "-", "-", mx.Error}})
		}
		for _, p := range mx.Addresses {
			echoed := p.EchoedClientIP
			if multi && echoed != "" && echoed == p.SourceIP {
				echoed = sameAsSource
			}
			cells := []string{host, pref, p.IP, statusClass(p), string(p.Stage), tlsShort(p.TLS), echoed, p.CitedList, replyLine(p.Reply, p.Error)}
			if multi {
				k := strings.Join(cells, "\x00")
				if i, ok := idx[k]; ok {
					rows[i].sources = append(rows[i].sources, p.SourceIP)
					continue
				}
				idx[k] = len(rows)
			}
			rows = append(rows, smtpRow{sources: []string{p.SourceIP}, cells: cells})
		}
	}
	return rows
}

// sourceCell names the sources of a row: "default" for the system's choice.
func (row smtpRow) sourceCell() string {
	if len(row.sources) == 1 && row.sources[0] == "" {
		return "default"
	}
	return AddrRanges(row.sources)
}

// domainLine says how the mail hosts of a domain resolved, e.g.
// "example.com: 2 MX hosts, 3 addresses".
func domainLine(d smtpcheck.Domain) string {
	switch d.Status {
	case smtpcheck.DomainOK:
		addrs := probeCount(d)
		mx := plural(len(d.MX), "MX host")
		if len(d.MX) == 1 && d.MX[0].Implicit {
			mx = "no MX, its own address (implicit MX, RFC 5321 §5.1)"
		}
		return fmt.Sprintf("%s: %s, %s", d.Domain, mx, AddrCount(addrs))
	case smtpcheck.DomainNullMX:
		return d.Domain + ": null MX (RFC 7505), accepts no mail"
	case smtpcheck.DomainNoMailHost:
		return d.Domain + ": no MX and no address, accepts no mail"
	}
	s := d.Domain + ": mail hosts not resolved"
	if d.Error != "" {
		s += ": " + d.Error
	}
	return s
}

// evidenceLabels name the evidence keys of correlations in words.
var evidenceLabels = map[string]string{
	"domain": "domain", "mx": "MX", "ip": "MX address", "stage": "stage", "reply": "reply",
	"cited_list": "cited list", "echoed_ip": "address the MX saw", "checked_ip": "checked address",
	"zone": "zone", "code": "codes", "meaning": "meaning", "ptr_problem": "PTR problem",
	"provider_list": "provider list", "resolver": "resolver", "problem": "problem",
	"test_entries": "test entries", "timeouts": "connect timeouts", "probes": "probes",
}

// evidenceItems renders correlation evidence as "label: value" items in a
// stable order.
func evidenceItems(m map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		label := evidenceLabels[k]
		if label == "" {
			label = strings.ReplaceAll(k, "_", " ")
		}
		out = append(out, label+": "+m[k])
	}
	return out
}

// egressOnly reports whether the report is an egress detection alone.
func egressOnly(r *Report) bool {
	return r.Egress != nil && r.DNSBL == nil && r.SMTP == nil && r.RDNS == nil
}

// egressHeadline is the first line of a successful egress detection.
func egressHeadline(e *Egress) string {
	var parts []string
	for _, f := range []struct {
		name string
		fam  EgressFamily
	}{{"IPv4", e.IPv4}, {"IPv6", e.IPv6}} {
		if f.fam.IP != "" {
			parts = append(parts, f.name+" "+f.fam.IP)
		} else {
			parts = append(parts, f.name+" not found")
		}
	}
	return "Egress: " + strings.Join(parts, ", ")
}

// rdnsGroup is the addresses whose reverse DNS ended the same way.
type rdnsGroup struct {
	label string
	ips   []string
}

// rdnsGroups groups the reverse-DNS entries of many addresses by outcome:
// no PTR, fine, not forward-confirmed, not checked, not done; a HELO name
// that does not fit is part of the outcome.
func rdnsGroups(rs []RDNS) []rdnsGroup {
	var order []string
	groups := map[string]*rdnsGroup{}
	for _, x := range rs {
		var label string
		switch {
		case x.Error == RDNSNotDone:
			label = "not done (interrupted)"
		case len(x.PTR) == 0 && func() bool { e, _ := ptrLookupError(x); return e != "" }():
			label = "PTR lookup failed"
		case len(x.PTR) == 0:
			label = "no PTR"
		case !x.ForwardConfirmed:
			label = "PTR not forward-confirmed"
		case x.Generic:
			label = "PTR looks generic"
		default:
			label = "PTR forward-confirmed"
		}
		if x.HELO != nil && (!x.HELO.ResolvesToIP || !x.HELO.FQDN) {
			label += ", HELO " + x.HELO.Name + " does not fit"
		}
		g, ok := groups[label]
		if !ok {
			g = &rdnsGroup{label: label}
			groups[label] = g
			order = append(order, label)
		}
		g.ips = append(g.ips, x.IP)
	}
	out := make([]rdnsGroup, 0, len(order))
	for _, l := range order {
		out = append(out, *groups[l])
	}
	return out
}
