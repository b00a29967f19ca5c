package check

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/blprobe/blprobe/smtpcheck"
)

// smtpFrom runs the SMTP part from every local checked address (at most
// MaxSMTPSources), or from SMTP.SourceIP when set, or — when no checked
// address is local — from the address the system picks, saying so.
func (x *run) smtpFrom(ctx context.Context, checked []netip.Addr) *smtpcheck.Result {
	o := x.o.SMTP
	var sources []netip.Addr
	if !o.SourceIP.IsValid() {
		for _, a := range checked {
			if x.o.IsLocal(a) {
				if len(sources) == MaxSMTPSources {
					x.warn("SMTP ran from the first %d local addresses of the target only", MaxSMTPSources)
					break
				}
				sources = append(sources, a)
			}
		}
	}
	if len(sources) == 0 {
		sources = []netip.Addr{o.SourceIP} // invalid: the system picks
	}
	res := smtpcheck.RunFrom(ctx, x.o.Domains, sources, o)
	if len(checked) > 0 && !sourcesCovered(checked, res) {
		x.warn("the SMTP part ran from %s, not from the checked address %s (it is not an address of this machine); behind NAT the MX may still see the checked address: compare the IP each MX echoed back",
			orUnknown(UsedSources(res)), shortAddrs(checked))
	}
	return res
}

// UsedSources lists the distinct source addresses the probes of res used.
func UsedSources(res *smtpcheck.Result) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range res.Domains {
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				if p.SourceIP != "" && !seen[p.SourceIP] {
					seen[p.SourceIP] = true
					out = append(out, p.SourceIP)
				}
			}
		}
	}
	return out
}

// sourcesCovered reports whether every probe that connected used one of the
// checked addresses.
func sourcesCovered(checked []netip.Addr, res *smtpcheck.Result) bool {
	set := map[string]bool{}
	for _, a := range checked {
		set[a.String()] = true
	}
	for _, s := range UsedSources(res) {
		if !set[s] {
			return false
		}
	}
	return true
}

func orUnknown(s []string) string {
	if len(s) == 0 {
		return "this machine's default address"
	}
	return strings.Join(s, ", ")
}

// shortAddrs lists at most five addresses.
func shortAddrs(a []netip.Addr) string {
	var s []string
	for i, x := range a {
		if i == 5 {
			s = append(s, fmt.Sprintf("… (%d in all)", len(a)))
			break
		}
		s = append(s, x.String())
	}
	return strings.Join(s, ", ")
}
