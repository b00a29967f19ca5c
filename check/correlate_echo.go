// The client IP an MX echoed in its EHLO reply vs the checked IP.

package check

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// echoedIP compares the client IP each MX echoed with the checked IPs
// (the client IP an MX echoes in its EHLO reply, RFC 5321 §4.1.1.1 leaves
// its text free, is the address SMTP really leaves from, whatever DNS-based
// egress detection says).
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

// unconfirmedSource flags MX that accepted a probe sent from an address
// other than the checked ones without echoing the client IP they saw: the
// acceptance then says nothing about the checked address (e.g. "check
// 203.0.113.7" run on a laptop). Behind NAT the echo settles it
// (echoedIP); when the checked IP is this network's egress address (auto),
// the probes left through it by definition.
func (a *analysis) unconfirmedSource() {
	if len(a.checked) == 0 || (a.r.Egress != nil && a.r.Egress.IPSource) {
		return
	}
	var mxs, hosts, ips, sources []string
	domain := ""
	for _, pr := range a.probes {
		p := pr.p
		src, err := netip.ParseAddr(p.SourceIP)
		if p.Status != smtpcheck.StatusAccepted || err != nil || containsAddr(a.checked, src.Unmap()) {
			continue
		}
		if _, err := netip.ParseAddr(p.EchoedClientIP); err == nil {
			continue // the echo says which address the MX saw (echoedIP)
		}
		if l := mxLabel(pr); !containsStr(mxs, l) {
			mxs, ips = append(mxs, l), append(ips, p.IP)
		}
		if !containsStr(hosts, pr.mx) {
			hosts = append(hosts, pr.mx)
		}
		if !containsStr(sources, p.SourceIP) {
			sources = append(sources, p.SourceIP)
		}
		if domain == "" {
			domain = pr.domain
		}
	}
	if len(mxs) == 0 {
		return
	}
	checked := joinAddrs(a.checked)
	a.add(KindSMTPSourceUnconfirmed, SevProblem,
		fmt.Sprintf("%s accepted the probe from %s, not from the checked %s, and did not echo the client IP it saw: that does not show mail from %s is accepted",
			joinAnd(mxs), strings.Join(sources, ", "), checked, checked),
		map[string]string{"mx": strings.Join(hosts, ","), "ip": strings.Join(ips, ","), "source_ip": strings.Join(sources, ","), "checked_ip": checked, "domain": domain})
	a.stepAt(prioCheck, fmt.Sprintf("run blprobe check --to %s on the mail server itself (from %s) to test SMTP from that address", domain, checked))
}
