package check

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/egress"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// KindEgressFromEcho says the checked IP is the client IP the MXs echoed,
// because the egress detection over DNS failed.
const KindEgressFromEcho = "egress_from_echo"

// Why the egress detection over DNS gave no address.
const (
	egressDisagree   = "sources disagree"
	egressNoneAnswer = "none answered"
)

// echoEgress is an egress IP taken from the MXs' EHLO echoes.
type echoEgress struct {
	ip      netip.Addr
	mx      []string // MX hosts (with domain) that echoed it
	why     string   // egressDisagree or egressNoneAnswer
	checked bool     // the DNSBL and rDNS parts ran for ip
}

func (e *echoEgress) correlation() report.Correlation {
	return report.Correlation{
		Kind:     KindEgressFromEcho,
		Severity: SevWarning,
		Evidence: map[string]string{"ip": e.ip.String(), "mx": strings.Join(e.mx, ", "), "egress_detection": e.why},
		Message: fmt.Sprintf("the egress IP could not be detected over DNS (%s); %s is the client IP that %s echoed in EHLO, so it was checked as the egress IP",
			e.why, e.ip, joinAnd(e.mx)),
	}
}

// egressTargets decides the IP to check when none was given: the egress IP
// the DNS sources agree on, or else — when domains are given — the client
// IP that every MX echoing one echoed (the SMTP part runs first, then, and
// its result stays in the report). ok is false when no IP could be decided;
// the report then says why.
func (x *run) egressTargets(ctx context.Context) (targets []dnsbl.Target, echo *echoEgress, ok bool) {
	o, r := x.o, x.r
	if w := egress.SingleSourceWarning(o.Egress.Sources); w != "" {
		x.warn("%s", w)
	}
	r.Egress = egress.Detect(ctx, o.Egress)
	r.Egress.IPSource = true
	for _, ip := range r.Egress.IPs() {
		if t, err := dnsbl.ParseTarget(ip); err == nil {
			targets = append(targets, t)
		}
	}
	if len(targets) > 0 {
		return targets, nil, true
	}
	why := egressFailure(r.Egress)
	o.Logger.Info("egress detection failed", "why", why)
	if len(o.Domains) == 0 || ctx.Err() != nil {
		x.warn("could not determine the egress IP (%s): give the IP to check as an argument, or --to DOMAIN to learn it from the MXs' EHLO replies", why)
		return nil, nil, false
	}
	r.SMTP = x.smtpFrom(ctx, nil)
	ip, mxs, disagree := echoedIP(r.SMTP)
	if !ip.IsValid() {
		msg := "no MX echoed the client IP in its EHLO reply"
		if disagree != "" {
			msg = "the MXs echoed different client IPs: " + disagree
		}
		x.warn("could not determine the egress IP (egress detection: %s; %s): give the IP to check as an argument", why, msg)
		return nil, nil, false
	}
	// r.Egress.IPSource stays set: the egress detection that was asked for
	// failed, so the run cannot be clean, whatever the echoed IP shows.
	echo = &echoEgress{ip: ip, mx: mxs, why: why}
	x.warn("egress detection over DNS failed (%s): checking %s, the client IP that %s echoed in EHLO", why, ip, joinAnd(mxs))
	t, err := dnsbl.ParseTarget(ip.String())
	if err != nil {
		return nil, nil, false
	}
	return []dnsbl.Target{t}, echo, true
}

// egressFailure says which of "sources disagree" and "none answered"
// happened.
func egressFailure(e *egress.Result) string {
	for _, f := range []egress.Family{e.IPv4, e.IPv6} {
		if f.Answered > 0 && !f.Agree {
			return egressDisagree
		}
	}
	return egressNoneAnswer
}

// echoedIP returns the client IP the MXs echoed when they all echoed the
// same one, with the MX hosts that did ("mx.example (example)"); when they
// echoed different IPs it returns who said what in disagree.
func echoedIP(res *smtpcheck.Result) (ip netip.Addr, mxs []string, disagree string) {
	by := map[netip.Addr][]string{}
	for _, d := range res.Domains {
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				a, err := netip.ParseAddr(p.EchoedClientIP)
				if err != nil {
					continue
				}
				name := mx.Host
				if !containsStr(by[a.Unmap()], name) {
					by[a.Unmap()] = append(by[a.Unmap()], name)
				}
			}
		}
	}
	switch len(by) {
	case 0:
		return netip.Addr{}, nil, ""
	case 1:
		for a, m := range by {
			return a, m, ""
		}
	}
	var parts []string
	for a, m := range by {
		parts = append(parts, joinAnd(m)+" echoed "+a.String())
	}
	sort.Strings(parts)
	return netip.Addr{}, nil, strings.Join(parts, "; ")
}
