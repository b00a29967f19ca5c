package mailauth

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/textsafe"
)

// DMARC is the DMARC policy that applies to mail whose From: domain is Domain.
type DMARC struct {
	Domain string `json:"domain"`
	// Query is the name whose TXT record held the policy, e.g.
	// "_dmarc.example.com"; "" when no policy was found.
	Query string `json:"query,omitempty"`
	// OrgDomain is set when Domain has no record of its own and the policy
	// came from its organisational domain (RFC 7489 §6.6.3).
	OrgDomain string `json:"org_domain,omitempty"`
	Record    string `json:"record,omitempty"`
	// Policy is what applies to Domain: none, quarantine or reject ("" when
	// there is no usable record). From an organisational domain's record it
	// is sp= when present (RFC 7489 §6.3).
	Policy string `json:"policy,omitempty"`
	// Percent is the share of failing mail the policy is applied to (pct=).
	Percent int `json:"pct"`
	// SPFAlignment and DKIMAlignment are "r" (relaxed) or "s" (strict).
	SPFAlignment  string   `json:"aspf,omitempty"`
	DKIMAlignment string   `json:"adkim,omitempty"`
	Error         string   `json:"error,omitempty"` // the lookup failed: could not be checked
	Problems      []string `json:"problems"`
}

// CheckDMARC looks up the DMARC policy of domain (RFC 7489 §6.6.3): the TXT
// records of _dmarc.DOMAIN, then of _dmarc.ORGDOMAIN when there is none,
// keeping exactly one record that starts with "v=DMARC1".
func CheckDMARC(ctx context.Context, ex dnsclient.Exchanger, domain string) DMARC {
	c := dnsclient.Resolve(ex)
	domain = normName(domain)
	d := DMARC{Domain: domain, Problems: []string{}}
	names := []string{domain}
	if org, err := publicsuffix.EffectiveTLDPlusOne(domain); err == nil && org != domain {
		names = append(names, org)
	}
	for i, name := range names {
		q := "_dmarc." + name
		txts, err := c.LookupTXT(ctx, q)
		if err != nil && !dnsclient.IsNXDomain(err) {
			d.Error = fmt.Sprintf("DMARC lookup of %s failed: %v", q, err)
			return d
		}
		var recs []string
		for _, t := range txts {
			if isDMARC(t) {
				recs = append(recs, textsafe.Clean(t))
			}
		}
		if len(recs) > 1 {
			d.Query = q
			d.Problems = append(d.Problems, fmt.Sprintf("%s has %d DMARC records: receivers apply no DMARC at all (RFC 7489 §6.6.3); keep one", q, len(recs)))
			return d
		}
		if len(recs) == 0 {
			continue
		}
		d.Query, d.Record = q, recs[0]
		if i > 0 {
			d.OrgDomain = name
		}
		rec, err := dmarc.Parse(recs[0])
		if err != nil {
			d.Problems = append(d.Problems, fmt.Sprintf("the DMARC record at %s is invalid (%v): receivers ignore it, or treat it as p=none when it has a valid rua= (RFC 7489 §6.6.3)", q, err))
			return d
		}
		d.Policy = string(rec.Policy)
		if i > 0 && rec.SubdomainPolicy != "" {
			d.Policy = string(rec.SubdomainPolicy)
		}
		d.Percent = 100
		if rec.Percent != nil {
			d.Percent = *rec.Percent
		}
		d.SPFAlignment, d.DKIMAlignment = string(rec.SPFAlignment), string(rec.DKIMAlignment)
		return d
	}
	d.Problems = append(d.Problems, fmt.Sprintf("%s publishes no DMARC record (_dmarc.%s): receivers apply their own rules, and large mailbox providers require one for bulk senders", domain, domain))
	return d
}

// isDMARC reports whether a TXT record starts with the v=DMARC1 tag
// (RFC 7489 §6.6.3 discards the others; the version value is case-sensitive,
// §6.4).
func isDMARC(t string) bool {
	first, _, _ := strings.Cut(t, ";")
	k, v, ok := strings.Cut(first, "=")
	return ok && strings.TrimSpace(k) == "v" && strings.TrimSpace(v) == "DMARC1"
}

// Effect says in one sentence what a receiver that applies DMARC does with
// mail from Domain sent from the address of s (SPF for the envelope sender
// domain). DKIM signatures do not depend on the sending address.
func Effect(d DMARC, s SPF) string {
	const dkim = "DKIM is not bound to the IP: mail signed with a valid DKIM key aligned with the From: domain keeps passing DMARC after the move"
	if s.Result == Pass {
		return fmt.Sprintf("SPF passes for %s, so DMARC passes through SPF when the envelope sender is aligned with the From: domain; %s", s.IP, dkim)
	}
	if d.Error != "" {
		return fmt.Sprintf("SPF gives %s for %s and the DMARC policy could not be read; %s", s.Result, s.IP, dkim)
	}
	fails := fmt.Sprintf("mail from %s fails SPF for %s (%s)", s.IP, s.Domain, s.Result)
	pct := ""
	if d.Percent < 100 {
		pct = fmt.Sprintf(" (pct=%d: to %d%% of failing mail)", d.Percent, d.Percent)
	}
	switch d.Policy {
	case "reject":
		return fmt.Sprintf("%s: with DMARC p=reject receivers reject it%s unless it carries a valid DKIM signature aligned with %s; %s", fails, pct, d.Domain, dkim)
	case "quarantine":
		return fmt.Sprintf("%s: with DMARC p=quarantine receivers put it in spam%s unless it carries a valid DKIM signature aligned with %s; %s", fails, pct, d.Domain, dkim)
	case "none":
		return fmt.Sprintf("%s: DMARC p=none asks receivers to deliver it and only report it, but the SPF %s itself still counts against it (and some receivers reject on SPF fail); %s", fails, s.Result, dkim)
	}
	return fmt.Sprintf("%s: without a usable DMARC policy each receiver applies its own rules (an SPF fail with -all is often rejected outright); %s", fails, dkim)
}
