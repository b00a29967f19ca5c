// The client IP an MX echoed in its EHLO reply vs the checked IP.

package check

import (
	"fmt"
	"net/netip"
	"strings"
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
	for _, e := range order {
		g := groups[e]
		eip := netip.MustParseAddr(e).Unmap()
		ev := map[string]string{"echoed_ip": e, "mx": strings.Join(g.hosts, ","), "ip": strings.Join(g.ips, ","), "domain": g.refs[0].domain}
		if containsAddr(a.checked, eip) {
			ev["checked_ip"] = eip.String()
			a.add(KindEchoedIPMatch, SevInfo, fmt.Sprintf("%s saw %s, the checked IP: the DNSBL results apply to the address mail leaves from", joinAnd(g.mxs), e), ev)
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
		a.step(fmt.Sprintf("check the address your mail really leaves from: blprobe check %s", e))
	}
}
