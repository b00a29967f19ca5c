// Package rdns checks the reverse-DNS readiness of a sending IP:
// its PTR records, forward-confirmed reverse DNS (FCrDNS), whether the PTR
// name looks generic or dynamic (what policy lists such as Spamhaus PBL and
// SpamRATS Dyna target), and whether the HELO name fits the IP.
//
// A failed lookup (SERVFAIL, timeout) is reported in Error, never as a
// "no PTR" verdict: only NXDOMAIN or an empty answer means there is no PTR.
package rdns

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/logctx"
	"github.com/blprobe/blprobe/internal/textsafe"
)

// maxPTR bounds the PTR names examined (and forward-resolved) per IP.
const maxPTR = 8

// Check looks up the PTR records of ip, forward-confirms them, judges
// whether they look generic, and checks helo (skipped when empty). Every
// issue found is described in plain language in Problems.
func Check(ctx context.Context, ex dnsclient.Exchanger, ip netip.Addr, helo string) Result {
	c := dnsclient.Resolve(ex)
	ip = ip.Unmap()
	ctx = logctx.Unit(ctx, "rdns", ip.String())
	r := Result{IP: ip.String(), PTR: []string{}, Problems: []string{}}
	if !ip.IsValid() {
		r.Error = "invalid IP address"
		return r
	}
	ptrs, err := c.LookupPTR(ctx, ip)
	var errs []string
	switch {
	case err != nil && !dnsclient.IsNXDomain(err):
		// SERVFAIL, REFUSED, timeout: could not check.
		errs = append(errs, fmt.Sprintf("PTR lookup for %s failed: %v", ip, err))
	default:
		seen := map[string]bool{}
		for _, p := range ptrs {
			p = strings.ToLower(textsafe.Clean(strings.TrimSuffix(p, ".")))
			if p == "" || seen[p] {
				continue
			}
			seen[p] = true
			if len(r.PTR) < maxPTR {
				r.PTR = append(r.PTR, p)
			}
		}
		if len(r.PTR) == 0 {
			// Gmail requires a PTR (550-5.7.25, https://support.google.com/a/answer/81126).
			r.Problems = append(r.Problems, fmt.Sprintf("no PTR record for %s: Gmail rejects with 5.7.25 and many receivers refuse mail from IPs without reverse DNS", ip))
		}
	}
	if len(r.PTR) > 1 {
		r.Problems = append(r.Problems, fmt.Sprintf("%s has %d PTR records (%s): receivers may check any one of them; keep a single PTR", ip, len(r.PTR), strings.Join(r.PTR, ", ")))
	}
	if len(r.PTR) > 0 {
		errs = append(errs, forwardConfirm(ctx, c, ip, &r)...)
		for _, p := range r.PTR {
			if g, why := Generic(p, ip); g {
				r.Generic = true
				r.GenericWhy = p + ": " + why
				r.Problems = append(r.Problems, fmt.Sprintf("PTR %s looks generic/dynamic (%s): policy lists such as Spamhaus PBL and SpamRATS Dyna target these; use a name like mail.example.com", p, why))
				break
			}
		}
	}
	if helo != "" {
		h, herr := checkHELO(ctx, c, ip, helo, r.PTR)
		r.HELO = h
		r.Problems = append(r.Problems, heloProblems(ip, h, len(r.PTR) > 0)...)
		if herr != "" {
			errs = append(errs, herr)
		}
	}
	r.Error = strings.Join(errs, "; ")
	return r
}

// forwardConfirm resolves every PTR name (same family as ip) and sets
// ForwardConfirmed; it returns lookup failures.
func forwardConfirm(ctx context.Context, c *dnsclient.Resolver, ip netip.Addr, r *Result) []string {
	type res struct {
		addrs []netip.Addr
		err   error
	}
	out := make([]res, len(r.PTR))
	var wg sync.WaitGroup
	for i, name := range r.PTR {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := c.LookupAddrs(ctx, name, ip.Is4(), ip.Is6())
			out[i] = res{a, err}
		}()
	}
	wg.Wait()
	r.Forward = map[string][]string{}
	var failed []string
	var unconfirmed []string
	for i, name := range r.PTR {
		fw := []string{}
		for _, a := range out[i].addrs {
			fw = append(fw, a.Unmap().String())
			if a.Unmap() == ip {
				r.ForwardConfirmed = true
			}
		}
		r.Forward[name] = fw
		if err := out[i].err; err != nil && !dnsclient.IsNXDomain(err) && !contains(fw, ip.String()) {
			failed = append(failed, fmt.Sprintf("forward lookup of PTR name %s failed: %v", name, err))
			continue
		}
		if !contains(fw, ip.String()) {
			unconfirmed = append(unconfirmed, name)
		}
	}
	// Only a definite answer is a verdict: if every PTR that did not
	// confirm was answered (NXDOMAIN or other addresses), FCrDNS fails.
	if !r.ForwardConfirmed && len(failed) == 0 {
		for _, name := range unconfirmed {
			r.Problems = append(r.Problems, fmt.Sprintf("PTR name %s does not resolve back to %s (not forward-confirmed): Gmail and others require forward-confirmed reverse DNS", name, ip))
		}
	}
	return failed
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// checkHELO examines the HELO/EHLO name against ip and its PTR names.
func checkHELO(ctx context.Context, c *dnsclient.Resolver, ip netip.Addr, helo string, ptrs []string) (*HELOCheck, string) {
	name := textsafe.Clean(strings.TrimSpace(helo))
	h := &HELOCheck{Name: name, Resolves: []string{}}
	// Address literal, RFC 5321 §4.1.3: [192.0.2.1] or [IPv6:2001:db8::1].
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		lit := strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
		if len(lit) > 5 && strings.EqualFold(lit[:5], "ipv6:") {
			lit = lit[5:]
		}
		if a, err := netip.ParseAddr(lit); err == nil {
			h.Resolves = []string{a.Unmap().String()}
			h.ResolvesToIP = a.Unmap() == ip
		}
		return h, ""
	}
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	h.FQDN = isFQDN(n)
	for _, p := range ptrs {
		if p == n {
			h.MatchesPTR = true
		}
	}
	if !h.FQDN {
		return h, ""
	}
	addrs, err := c.LookupAddrs(ctx, n, true, true)
	for _, a := range addrs {
		h.Resolves = append(h.Resolves, a.Unmap().String())
		if a.Unmap() == ip {
			h.ResolvesToIP = true
		}
	}
	if err != nil && !dnsclient.IsNXDomain(err) && !h.ResolvesToIP {
		h.Error = fmt.Sprintf("resolving HELO name %s failed: %v", n, err)
		return h, h.Error
	}
	return h, ""
}

// isFQDN reports whether n is a syntactically valid host name with at least
// two labels, a non-numeric top-level label and no address form.
func isFQDN(n string) bool {
	if len(n) > 253 || !strings.Contains(n, ".") {
		return false
	}
	if _, err := netip.ParseAddr(n); err == nil {
		return false
	}
	labels := strings.Split(n, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return strings.Trim(tld, "0123456789") != ""
}

func heloProblems(ip netip.Addr, h *HELOCheck, hasPTR bool) []string {
	var p []string
	if strings.HasPrefix(h.Name, "[") {
		if !h.ResolvesToIP {
			p = append(p, fmt.Sprintf("HELO %s is an address literal that is not %s", h.Name, ip))
		} else {
			p = append(p, fmt.Sprintf("HELO %s is an address literal: it is allowed (RFC 5321 §4.1.3), but many receivers score it as spam; use a name that resolves to %s", h.Name, ip))
		}
		return p
	}
	if !h.FQDN {
		// Postfix: 504 5.5.2 ... need fully-qualified hostname
		// (reject_non_fqdn_helo_hostname, https://www.postfix.org/postconf.5.html).
		return append(p, fmt.Sprintf("HELO name %s is not fully qualified: receivers such as Postfix with reject_non_fqdn_helo_hostname refuse it", h.Name))
	}
	if h.Error == "" && !h.ResolvesToIP {
		if len(h.Resolves) == 0 {
			p = append(p, fmt.Sprintf("HELO name %s does not resolve to the IP %s (it has no address)", h.Name, ip))
		} else {
			rs := append([]string(nil), h.Resolves...)
			sort.Strings(rs)
			p = append(p, fmt.Sprintf("HELO name %s does not resolve to the IP %s (it resolves to %s)", h.Name, ip, strings.Join(rs, ", ")))
		}
	}
	if hasPTR && !h.MatchesPTR {
		p = append(p, fmt.Sprintf("HELO name %s does not match the PTR name of %s", h.Name, ip))
	}
	return p
}
