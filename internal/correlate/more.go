package correlate

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

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

// echoedIP compares the client IP each MX echoed with the checked IPs
// (FACTS §4/§5: the echoed IP is the ground truth for SMTP).
func (a *analysis) echoedIP() {
	type group struct {
		mxs, hosts, ips []string
		refs            []probeRef
	}
	groups := map[string]*group{}
	var order []string
	for _, pr := range a.probes {
		e := pr.p.EchoedClientIP
		if _, err := netip.ParseAddr(e); err != nil {
			continue
		}
		g, ok := groups[e]
		if !ok {
			g = &group{}
			groups[e] = g
			order = append(order, e)
		}
		if l := mxLabel(pr); !containsStr(g.mxs, l) {
			g.mxs = append(g.mxs, l)
			g.ips = append(g.ips, pr.p.IP)
		}
		if !containsStr(g.hosts, pr.mx) {
			g.hosts = append(g.hosts, pr.mx)
		}
		g.refs = append(g.refs, pr)
	}
	// Matches are one correlation: a range probed from each of its
	// addresses would otherwise say the same thing for every address.
	var matched, matchMXs []string
	var matchEv map[string]string
	for _, e := range order {
		g := groups[e]
		eip := netip.MustParseAddr(e).Unmap()
		ev := map[string]string{"echoed_ip": e, "mx": strings.Join(g.hosts, ","), "ip": strings.Join(g.ips, ","), "domain": g.refs[0].domain}
		if containsAddr(a.checked, eip) {
			matched = append(matched, e)
			if len(matchEv) == 0 {
				ev["checked_ip"] = eip.String()
				matchEv, matchMXs = ev, g.mxs
			}
			for _, m := range g.mxs {
				if !containsStr(matchMXs, m) {
					matchMXs = append(matchMXs, m)
				}
			}
			continue
		}
		if len(a.checked) == 0 {
			// Nothing was checked (the smtp command): no mismatch, but the
			// address the MX saw is the one to check.
			a.step(fmt.Sprintf("check the address the MX saw: blprobe check --to %s %s", g.refs[0].domain, e))
			continue
		}
		var same []string
		for _, c := range a.checked {
			if c.Is4() == eip.Is4() {
				same = append(same, c.String())
			}
		}
		if len(same) == 0 {
			ev["checked_ip"] = joinAddrs(a.checked)
			fam := "IPv4"
			if eip.Is6() {
				fam = "IPv6"
			}
			msg := fmt.Sprintf("%s saw %s: mail leaves over %s from an address that was not checked", joinAnd(g.mxs), e, fam)
			if len(a.checked) > 0 {
				msg += " (only " + joinAddrs(a.checked) + " was)"
			}
			a.add(KindEchoedIPMismatch, SevWarning, msg, ev)
		} else {
			ev["checked_ip"] = strings.Join(same, ",")
			a.add(KindEchoedIPMismatch, SevProblem,
				fmt.Sprintf("%s saw %s, not %s: mail leaves through another address (NAT, a second uplink or a new ISP), so the DNSBL and PTR results above are for the wrong IP", joinAnd(g.mxs), e, strings.Join(same, " or ")), ev)
		}
		a.stepAt(prioCause, fmt.Sprintf("check the address your mail really leaves from: blprobe check %s", e))
	}
	switch {
	case len(matched) == 1:
		a.add(KindEchoedIPMatch, SevInfo, fmt.Sprintf("%s saw %s, the checked IP: the DNSBL results apply to the address mail leaves from", joinAnd(matchMXs), matched[0]), matchEv)
	case len(matched) > 1:
		r := report.AddrRanges(matched)
		matchEv["echoed_ip"], matchEv["checked_ip"] = r, r
		matchEv["mx"] = strings.Join(matchMXs, ",")
		a.add(KindEchoedIPMatch, SevInfo, fmt.Sprintf("%s saw each of the %d checked addresses it was probed from (%s): the DNSBL results apply to the addresses mail leaves from", named(matchMXs), len(matched), r), matchEv)
	}
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

// ptrIssue describes what is wrong with an rDNS entry ("" when fine or unknown).
func ptrIssue(d report.RDNS) string {
	switch {
	case d.Error != "" && len(d.PTR) == 0:
		return ""
	case len(d.PTR) == 0:
		return "no PTR record"
	case !d.ForwardConfirmed && d.Error == "":
		return fmt.Sprintf("PTR %s is not forward-confirmed", strings.Join(d.PTR, ", "))
	case d.Generic:
		return fmt.Sprintf("PTR looks generic (%s)", d.GenericWhy)
	}
	return ""
}

// ptr relates PTR problems to reverse-DNS rejections (FACTS §6: Gmail
// 550-5.7.25, Postfix "cannot find your reverse hostname").
func (a *analysis) ptr() {
	var refs []probeRef
	for _, pr := range a.probes {
		if (pr.p.Status == smtpcheck.StatusRejected || pr.p.Status == smtpcheck.StatusTempfail) && rePTRRefusal(pr.p) {
			refs = append(refs, pr)
		}
	}
	issues := map[string]string{}    // evidence: "no PTR record"
	sentences := map[string]string{} // messages: "192.0.2.1 has no PTR record"
	heloBad := map[string][]string{} // step template → addresses
	var heloOrder []string
	for _, d := range a.r.RDNS {
		if is := ptrIssue(d); is != "" {
			issues[d.IP] = is
			sentences[d.IP] = ptrSentence(d)
		}
		var tmpl string
		if d.HELO != nil && d.HELO.Error == "" && d.HELO.FQDN && !d.HELO.ResolvesToIP {
			tmpl = "use a HELO name that resolves to %s (and matches its PTR), not " + d.HELO.Name
		} else if d.HELO != nil && !d.HELO.FQDN && !strings.HasPrefix(d.HELO.Name, "[") {
			tmpl = "use a fully qualified HELO name that resolves to %s, not " + d.HELO.Name
		}
		if tmpl != "" {
			if _, ok := heloBad[tmpl]; !ok {
				heloOrder = append(heloOrder, tmpl)
			}
			heloBad[tmpl] = append(heloBad[tmpl], d.IP)
		}
	}
	for _, tmpl := range heloOrder {
		if ips := heloBad[tmpl]; len(ips) > 1 {
			name := tmpl[strings.LastIndex(tmpl, " ")+1:]
			a.step(fmt.Sprintf("give each sending address (%s) a HELO name that resolves to that address and matches its PTR, not %s", report.AddrRanges(ips), name))
			continue
		}
		a.step(fmt.Sprintf(tmpl, heloBad[tmpl][0]))
	}
	for _, pr := range refs {
		p := pr.p
		target := a.target(p)
		ev := map[string]string{"domain": pr.domain, "mx": pr.mx, "ip": p.IP, "reply": replyText(p), "echoed_ip": p.EchoedClientIP, "checked_ip": target}
		who := fmt.Sprintf("%s %s %s for reverse DNS", mxLabel(pr), verb(p), stageWord(p.Stage))
		if is, ok := issues[target]; ok {
			ev["ptr_problem"] = is
			a.add(KindPTRRejection, SevProblem, fmt.Sprintf("%s, and the rDNS check agrees: %s", who, sentences[target]), ev)
			continue
		}
		checkedOK := false
		for _, d := range a.r.RDNS {
			checkedOK = checkedOK || (d.IP == target && d.Error == "")
		}
		if checkedOK {
			a.add(KindPTRRejection, SevProblem, fmt.Sprintf("%s, yet the rDNS check of %s found no problem: the MX may see another address, or a DNS change has not reached its cache", who, target), ev)
		} else {
			a.add(KindPTRRejection, SevProblem, fmt.Sprintf("%s; the rDNS of %s was not checked or could not be", who, target), ev)
		}
	}
	kinds, groups := a.ptrGroups()
	for _, k := range kinds {
		ips := groups[k]
		prio := prioRisk
		if len(refs) > 0 {
			prio = prioCause
		} else if len(ips) == 1 {
			a.add(KindPTRRejection, SevWarning,
				fmt.Sprintf("%s; no MX rejected for it in this run, but Gmail (5.7.25) and many others do", sentences[ips[0]]),
				map[string]string{"checked_ip": ips[0], "ptr_problem": issues[ips[0]]})
		} else {
			a.add(KindPTRRejection, SevWarning,
				fmt.Sprintf("%s; no MX rejected for it in this run, but Gmail (5.7.25) and many others do", ptrGroupSentence(k, ips)),
				map[string]string{"checked_ip": report.AddrRanges(ips), "ptr_problem": k})
		}
		a.stepAt(prio, a.ptrStep(k, ips))
	}
}

// exampleName proposes a PTR name: the HELO name if it is a real FQDN, else mail.example.com.
func (a *analysis) exampleName(ip string) string {
	for _, d := range a.r.RDNS {
		if d.IP == ip && d.HELO != nil && d.HELO.FQDN {
			return d.HELO.Name
		}
	}
	if a.r.SMTP != nil && strings.Count(a.r.SMTP.HELO, ".") >= 1 && !strings.HasPrefix(a.r.SMTP.HELO, "[") {
		return a.r.SMTP.HELO
	}
	return "mail.example.com"
}

// port25 reports a local block of outbound port 25 (FACTS §7).
func (a *analysis) port25() {
	if a.r.SMTP == nil || !a.r.SMTP.Port25Blocked {
		return
	}
	n := 0
	for _, pr := range a.probes {
		if pr.p.Class == smtpcheck.ClassConnectTimeout {
			n++
		}
	}
	a.add(KindPort25Blocked, SevProblem,
		fmt.Sprintf("every connection to port 25 timed out (%d of %d addresses): outbound port 25 appears blocked by this network, so the SMTP probes say nothing about the receivers", n, len(a.probes)),
		map[string]string{"timeouts": fmt.Sprint(n), "probes": fmt.Sprint(len(a.probes))})
	a.stepAt(prioCause, "outbound port 25 is blocked by this network: ask the provider to open it or relay through a smarthost")
}

// zoneHealth reports zones that failed their RFC 5782 §5 test entries,
// blaming a public resolver when one is in use (FACTS §2).
func (a *analysis) zoneHealth() {
	if a.r.DNSBL == nil {
		return
	}
	public := ""
	for _, s := range a.r.Resolvers {
		if n := dnsclient.PublicResolver(s); n != "" {
			public = n + " (" + s + ")"
			break
		}
	}
	if public == "" {
		for _, w := range a.r.Warnings {
			if strings.Contains(strings.ToLower(w), "public resolver") {
				public = "a public resolver"
				break
			}
		}
	}
	if _, ok := report.ResolverRefusal(a.r); ok {
		a.stepAt(prioCause, "use your own recursive resolver (e.g. unbound on this host, --resolver 127.0.0.1): the resolver in use refuses DNSBL queries, so no list could be checked")
		return
	}
	for _, h := range a.r.DNSBL.Zones {
		if h.Health != dnsbl.HealthUnhealthy {
			continue
		}
		var failed []string
		for _, e := range h.Evidence {
			if e.OK {
				continue
			}
			got := e.Rcode
			if len(e.Codes) > 0 {
				got = strings.Join(e.Codes, ",")
			}
			if e.Error != "" {
				got = e.Error
			}
			failed = append(failed, fmt.Sprintf("%s expected %s, got %s", e.Query, strings.ReplaceAll(e.Expect, "_", " "), got))
		}
		ev := map[string]string{"zone": h.Zone, "problem": h.Problem, "test_entries": strings.Join(failed, "; ")}
		msg := fmt.Sprintf("%s failed its RFC 5782 test entries", h.Zone)
		if h.Problem != "" {
			msg += " (" + h.Problem + ")"
		}
		if public != "" {
			ev["resolver"] = public
			a.add(KindZoneUnhealthy, SevProblem, msg+"; a public resolver is in use ("+public+"), which many DNSBLs refuse or answer falsely: its results were not used", ev)
			a.stepAt(prioHealth, "use a local recursive resolver (e.g. unbound) instead of a public one: Spamhaus and other DNSBLs block or mislead public resolvers")
		} else {
			a.add(KindZoneUnhealthy, SevWarning, msg+": the zone may be dead, wildcarded or blocking your resolver, so its results were not used", ev)
			a.stepAt(prioHealth, fmt.Sprintf("stop using %s or check your resolver: it failed its RFC 5782 test entries", h.Zone))
		}
	}
}

// listingSteps adds one delisting step per listed block zone and codes,
// naming its addresses as ranges; a listing an MX cited comes first.
func (a *analysis) listingSteps() {
	keys, ips, first := a.listingGroups()
	for _, k := range keys {
		l := first[k]
		who := report.AddrRanges(ips[k])
		name := a.zoneName(l.Zone)
		url := a.delistURL(l.Zone)
		var s string
		if a.policyOnly(l) {
			s = fmt.Sprintf("%s %s on %s (%s) by policy, not for spam: ask your ISP to set the address up as an MTA (or remove it yourself if it really is a mail server), or send through your provider's smarthost", who, isAre(len(ips[k])), name, codesText(l))
		} else {
			s = fmt.Sprintf("find and fix the cause of the %s listing of %s (%s), then request delisting", name, who, codesText(l))
		}
		if url != "" {
			s += ": " + url
		}
		prio := prioListing
		if a.cited(l.Zone) {
			prio = prioCause
		}
		a.stepAt(prio, s)
	}
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// summary writes the facts of the one-paragraph summary, without a verdict:
// report.Finalize, which alone decides the verdict, puts it in front.
func (a *analysis) summary() string {
	r := a.r
	who := joinAddrs(a.checked)
	if who == "" {
		who = "the address"
	}
	var parts []string
	// DNSBL.
	if r.DNSBL != nil {
		blockZones, checkedZones, errZones := map[string]bool{}, map[string]bool{}, map[string]bool{}
		var listedNames []string
		for _, res := range r.DNSBL.Results {
			if a.zoneType(res.Zone) != dnsbl.TypeBlock {
				continue
			}
			blockZones[res.Zone] = true
			switch res.Status {
			case dnsbl.StatusListed, dnsbl.StatusClean:
				checkedZones[res.Zone] = true
			case dnsbl.StatusError, dnsbl.StatusNotDone:
				errZones[res.Zone] = true
			}
		}
		for _, l := range a.blockListings() {
			n := a.zoneName(l.Zone)
			if a.policyOnly(l) {
				n += " (policy)"
			}
			if !containsStr(listedNames, n) {
				listedNames = append(listedNames, n)
			}
		}
		s := ""
		if len(a.checked) > 1 {
			s = a.rangeDNSBLFacts()
		} else if len(listedNames) > 0 {
			s = fmt.Sprintf("%s is listed on %d of %d block lists (%s)", who, len(listedNames), len(blockZones), strings.Join(listedNames, ", "))
		} else if len(checkedZones) > 0 {
			s = fmt.Sprintf("%s is not listed on any of the %d block lists checked", who, len(checkedZones))
		} else if len(blockZones) > 0 {
			s = fmt.Sprintf("the block lists could not be checked for %s", who)
		}
		if s != "" {
			if n := len(errZones); n > 0 && len(checkedZones) > 0 {
				s += fmt.Sprintf(" (%d could not be checked)", n)
			}
			parts = append(parts, s)
		}
	}
	// SMTP.
	if r.SMTP != nil {
		if r.SMTP.Port25Blocked {
			parts = append(parts, "outbound port 25 is blocked by this network, so no MX could be asked")
		} else if s := a.smtpSummary(); s != "" {
			parts = append(parts, s)
		}
	}
	// rDNS.
	parts = append(parts, a.rdnsFacts()...)
	for _, c := range a.out {
		if c.Kind == KindEchoedIPMismatch {
			parts = append(parts, "an MX saw "+c.Evidence["echoed_ip"]+", so mail leaves through another address than the one checked")
			break
		}
	}
	return strings.Join(parts, "; ")
}

func (a *analysis) smtpSummary() string {
	type mxState struct{ refused, untied, accepted, failed bool }
	states := map[string]*mxState{}
	var order []string
	cited := map[string]bool{}
	var citedOrder []string
	for _, pr := range a.probes {
		k := pr.domain + "|" + pr.mx
		st, ok := states[k]
		if !ok {
			st = &mxState{}
			states[k] = st
			order = append(order, k)
		}
		switch {
		case isRefusal(pr.p) || rePTRRefusal(pr.p):
			st.refused = true
			c := pr.p.CitedList
			if c == "" {
				if in := providerInternal(pr, replyText(pr.p)); in != nil {
					c = in.name
				}
			}
			if c != "" && !cited[c] {
				cited[c] = true
				citedOrder = append(citedOrder, c)
			}
		case pr.p.Status == smtpcheck.StatusRejected:
			if _, ok := report.SenderCause(*pr.p); ok {
				st.refused = true
			} else {
				st.untied = true
			}
		case pr.p.Status == smtpcheck.StatusAccepted:
			st.accepted = true
		default:
			st.failed = true
		}
	}
	if len(order) == 0 {
		return ""
	}
	ref, untied, acc, fail := 0, 0, 0, 0
	for _, k := range order {
		switch st := states[k]; {
		case st.refused:
			ref++
		case st.untied:
			untied++
		case st.failed:
			fail++
		case st.accepted:
			acc++
		}
	}
	obj := "it" // the checked address
	if len(a.checked) == 0 {
		obj = "the probe" // the smtp command checks no address
	}
	var s []string
	if ref > 0 {
		x := fmt.Sprintf("%d of %d MX rejected %s", ref, len(order), obj)
		if len(citedOrder) > 0 {
			x += " citing " + joinAnd(citedOrder)
		}
		s = append(s, x)
	}
	if untied > 0 {
		s = append(s, fmt.Sprintf("%d of %d MX refused %s for a reason that could not be tied to the sending IP or sender", untied, len(order), obj))
	}
	if acc > 0 {
		s = append(s, fmt.Sprintf("%d of %d MX accepted at RCPT", acc, len(order)))
	}
	if fail > 0 {
		s = append(s, fmt.Sprintf("%d of %d MX could not be tested", fail, len(order)))
	}
	return strings.Join(s, ", ")
}
