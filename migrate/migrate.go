// Package migrate decides whether a new sending address (or range) is ready
// to take over mail from an old one: listings, reverse DNS and HELO, SPF and
// DMARC of the sender domains, SMTP acceptance and outbound port 25, old and
// new side by side, each row pass / fail / warn / not checked with its fix.
//
// It works on results gathered elsewhere (dnsbl, rdns, mailauth, smtpcheck),
// so it runs without a network; the blprobe migrate command gathers them.
// Its JSON document has its own schema, "blprobe.migrate/v1"
// (schema/migrate.v1.json).
package migrate

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/mailauth"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// SchemaV1 is the value of the "schema" field of a migrate report.
const SchemaV1 = "blprobe.migrate/v1"

// Status is the state of one readiness cell.
type Status string

// Cell statuses, best first.
const (
	Pass       Status = "pass"
	Warn       Status = "warn"        // works, but something is worth fixing
	NotChecked Status = "not_checked" // could not be checked (or cannot be from here)
	Fail       Status = "fail"        // stops mail: a blocker in the new column
)

func rank(s Status) int { return map[Status]int{Pass: 0, Warn: 1, NotChecked: 2, Fail: 3}[s] }

// Verdicts of a migrate report.
const (
	VerdictReady        = "ready"        // exit 0: every new-column cell passed or warned
	VerdictBlocked      = "blocked"      // exit 1: a new-column cell failed
	VerdictInconclusive = "inconclusive" // exit 3: nothing failed, but something was not checked
)

// Row items.
const (
	ItemListings = "listings"
	ItemRDNS     = "rdns"        // PTR present and forward-confirmed
	ItemGeneric  = "generic_ptr" // the PTR name looks dynamic
	ItemHELO     = "helo"        // the HELO name resolves to the address
	ItemSPF      = "spf"
	ItemDMARC    = "dmarc"
	ItemSMTP     = "smtp"
	ItemPort25   = "port25"
)

// PBLFix is the fix for a new address on a policy list such as Spamhaus PBL.
const PBLFix = "ask the new ISP to remove it from the PBL / use their smarthost"

// Cell is one side of a readiness row.
type Cell struct {
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Row is one readiness item, old and new side by side. A nil side does not
// apply (e.g. the generic-PTR check of an address without PTR).
type Row struct {
	Item    string `json:"item"`
	Subject string `json:"subject,omitempty"` // the domain of spf, dmarc and smtp rows
	Old     *Cell  `json:"old"`
	New     *Cell  `json:"new"`
}

// Blocker is a failed cell of one new address.
type Blocker struct {
	Address string `json:"address"`
	Item    string `json:"item"`
	Subject string `json:"subject,omitempty"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix"`
}

// Aggregate counts a new range's addresses.
type Aggregate struct {
	Addresses        int            `json:"addresses"` // in the range
	Checked          int            `json:"checked"`   // given as inputs (a large range is capped)
	Listed           int            `json:"listed"`    // on at least one block list
	PolicyListed     int            `json:"policy_listed"`
	WithPTR          int            `json:"with_ptr"`
	ForwardConfirmed int            `json:"forward_confirmed"`
	SPFAuthorised    map[string]int `json:"spf_authorised"` // domain → addresses whose SPF result is pass
	BlockerAddresses []string       `json:"blocker_addresses"`
}

// Side is everything gathered for one address.
type Side struct {
	Addr  netip.Addr
	DNSBL []dnsbl.Result // its results (other addresses' are ignored)
	RDNS  *report.RDNS   // nil: not checked
	SPF   []mailauth.SPF // one per Inputs.Domains entry, same order
	// SMTP is the SMTP run from this address (nil: none could run from it);
	// SMTPNote says where it really came from when that differs.
	SMTP     *smtpcheck.Result
	SMTPNote string
}

// Inputs is what Build needs.
type Inputs struct {
	Tool      report.Tool
	Command   []string // argv, secrets already redacted
	Started   time.Time
	Finished  time.Time
	Resolvers []string
	Old       Side
	New       []Side // one per address of the new target that was checked
	// NewTarget is the new address or CIDR as given; RangeSize its number
	// of addresses (more than len(New) when the check was capped).
	NewTarget   string
	RangeSize   int
	Zones       []dnsbl.ZoneHealth
	Catalog     []dnsbl.Zone
	Domains     []string               // --domain: sender domains
	DMARC       []mailauth.DMARC       // one per Domains entry
	Suggestions []*mailauth.Suggestion // one per Domains entry; nil when the new target passes
	SMTPDomains []string               // --to
	HELO        string
	Interrupted bool
	Warnings    []string
}

// Report is a blprobe.migrate/v1 document.
type Report struct {
	Schema      string      `json:"schema"`
	Tool        report.Tool `json:"tool"`
	Command     []string    `json:"command"`
	Started     time.Time   `json:"started"`
	Finished    time.Time   `json:"finished"`
	Resolvers   []string    `json:"resolvers"`
	Interrupted bool        `json:"interrupted"`
	From        string      `json:"from"` // the old address
	To          string      `json:"to"`   // the new address or CIDR
	Domains     []string    `json:"domains"`
	SMTPDomains []string    `json:"smtp_domains"`
	HELO        string      `json:"helo,omitempty"`
	Verdict     string      `json:"verdict"`
	ExitCode    int         `json:"exit_code"`
	Rows        []Row       `json:"rows"`
	Blockers    []Blocker   `json:"blockers"`
	Aggregate   *Aggregate  `json:"aggregate"` // null unless the new target is a range
	Warnings    []string    `json:"warnings"`
	Evidence    Evidence    `json:"evidence"`
}

// Evidence is the raw results behind the rows, shaped as the checkers
// report them (the same shapes as in blprobe.report/v1).
type Evidence struct {
	Zones       []dnsbl.ZoneHealth           `json:"zones"`
	DNSBL       []dnsbl.Result               `json:"dnsbl"`
	RDNS        []report.RDNS                `json:"rdns"`
	SPF         []mailauth.SPF               `json:"spf"`
	Suggestions []mailauth.Suggestion        `json:"spf_suggestions"`
	DMARC       []mailauth.DMARC             `json:"dmarc"`
	SMTP        map[string]*smtpcheck.Result `json:"smtp"` // source address → its run
}

// Build decides every row, the blockers and the verdict.
func Build(in Inputs) *Report {
	r := &Report{
		Schema: SchemaV1, Tool: in.Tool, Command: nonNil(in.Command), Started: in.Started, Finished: in.Finished,
		Resolvers: nonNil(in.Resolvers), Interrupted: in.Interrupted, From: in.Old.Addr.String(), To: in.NewTarget,
		Domains: nonNil(in.Domains), SMTPDomains: nonNil(in.SMTPDomains), HELO: in.HELO,
		Rows: []Row{}, Blockers: []Blocker{}, Warnings: nonNil(in.Warnings),
	}
	r.Evidence = evidence(in)
	b := builder{in: in, types: map[string]dnsbl.ListType{}, cat: map[string]dnsbl.Zone{}, byIP: map[string][]dnsbl.Result{}}
	for _, s := range append([]Side{in.Old}, in.New...) {
		for _, res := range s.DNSBL {
			b.byIP[res.IP] = append(b.byIP[res.IP], res)
		}
	}
	for _, z := range in.Catalog {
		b.cat[z.Zone] = z
	}
	for _, z := range in.Zones {
		b.types[z.Zone] = z.Type
	}

	b.row(r, ItemListings, "", b.listing)
	b.row(r, ItemRDNS, "", b.rdns)
	b.row(r, ItemGeneric, "", b.generic)
	if in.HELO != "" {
		b.row(r, ItemHELO, "", b.helo)
	}
	for i, d := range in.Domains {
		b.row(r, ItemSPF, d, func(s Side, isNew bool) *Cell { return b.spf(s, i, isNew) })
		b.row(r, ItemDMARC, d, func(s Side, isNew bool) *Cell { return b.dmarc(s, i) })
	}
	if len(in.SMTPDomains) > 0 {
		for _, d := range in.SMTPDomains {
			b.row(r, ItemSMTP, d, func(s Side, isNew bool) *Cell { return b.smtp(s, d) })
		}
		b.row(r, ItemPort25, "", b.port25)
	}
	if len(in.New) > 1 || in.RangeSize > 1 {
		r.Aggregate = b.aggregate(r)
	}

	worst := Pass
	for _, row := range r.Rows {
		if row.New != nil && rank(row.New.Status) > rank(worst) {
			worst = row.New.Status
		}
	}
	switch {
	case in.Interrupted:
		r.Verdict, r.ExitCode = VerdictInconclusive, report.ExitInconclusive
		r.Warnings = append(r.Warnings, "the run was interrupted: unfinished checks are not_checked")
	case worst == Fail:
		r.Verdict, r.ExitCode = VerdictBlocked, report.ExitProblem
	case worst == NotChecked || len(in.New) == 0:
		r.Verdict, r.ExitCode = VerdictInconclusive, report.ExitInconclusive
	default:
		r.Verdict, r.ExitCode = VerdictReady, report.ExitClean
	}
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func evidence(in Inputs) Evidence {
	ev := Evidence{Zones: in.Zones, DNSBL: []dnsbl.Result{}, RDNS: []report.RDNS{}, SPF: []mailauth.SPF{},
		Suggestions: []mailauth.Suggestion{}, DMARC: in.DMARC, SMTP: map[string]*smtpcheck.Result{}}
	if ev.Zones == nil {
		ev.Zones = []dnsbl.ZoneHealth{}
	}
	if ev.DMARC == nil {
		ev.DMARC = []mailauth.DMARC{}
	}
	for _, s := range append([]Side{in.Old}, in.New...) {
		ev.DNSBL = append(ev.DNSBL, s.DNSBL...)
		if s.RDNS != nil {
			ev.RDNS = append(ev.RDNS, *s.RDNS)
		}
		ev.SPF = append(ev.SPF, s.SPF...)
		if s.SMTP != nil {
			ev.SMTP[s.Addr.String()] = s.SMTP
		}
	}
	for _, sg := range in.Suggestions {
		if sg != nil {
			ev.Suggestions = append(ev.Suggestions, *sg)
		}
	}
	return ev
}

type builder struct {
	in    Inputs
	types map[string]dnsbl.ListType
	cat   map[string]dnsbl.Zone
	byIP  map[string][]dnsbl.Result // every side's results by looked-up address
}

// row adds a row whose new cell combines the cells of every new address,
// and records each failed new cell as a blocker.
func (b *builder) row(r *Report, item, subject string, cell func(Side, bool) *Cell) {
	row := Row{Item: item, Subject: subject, Old: cell(b.in.Old, false)}
	var cells []*Cell
	var addrs []netip.Addr
	for _, s := range b.in.New {
		c := cell(s, true)
		if c == nil {
			continue
		}
		cells = append(cells, c)
		addrs = append(addrs, s.Addr)
		if c.Status == Fail {
			r.Blockers = append(r.Blockers, Blocker{Address: s.Addr.String(), Item: item, Subject: subject, Detail: c.Detail, Fix: c.Fix})
		}
	}
	row.New = combine(cells, addrs)
	if row.Old == nil && row.New == nil {
		return
	}
	r.Rows = append(r.Rows, row)
}

// combine summarises the cells of a range: the worst status, and a count
// of each status with the first address of the worst one.
func combine(cells []*Cell, addrs []netip.Addr) *Cell {
	switch len(cells) {
	case 0:
		return nil
	case 1:
		return cells[0]
	}
	worst := 0
	counts := map[Status]int{}
	same := true
	for i, c := range cells {
		counts[c.Status]++
		if rank(c.Status) > rank(cells[worst].Status) {
			worst = i
		}
		if c.Status != cells[0].Status {
			same = false
		}
	}
	w := cells[worst]
	if same {
		return &Cell{Status: w.Status, Detail: fmt.Sprintf("all %d addresses %s; e.g. %s: %s", len(cells), w.Status, addrs[worst], w.Detail), Fix: w.Fix}
	}
	var parts []string
	for _, s := range []Status{Fail, NotChecked, Warn, Pass} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return &Cell{Status: w.Status, Detail: fmt.Sprintf("%s of %d addresses; e.g. %s: %s", strings.Join(parts, ", "), len(cells), addrs[worst], w.Detail), Fix: w.Fix}
}

// isBlock reports whether hits on zone count (block lists; a zone missing
// from the health list is treated as one, as report does).
func (b *builder) isBlock(zone string) bool {
	t, ok := b.types[zone]
	return !ok || t == dnsbl.TypeBlock
}

// policyOnly reports whether every code of a listing is a policy code of
// its zone (Spamhaus PBL 127.0.0.10/11: "not meant to send mail directly").
func (b *builder) policyOnly(res dnsbl.Result) bool {
	z, ok := b.cat[res.Zone]
	if !ok || len(z.PolicyCodes) == 0 || len(res.Codes) == 0 {
		return false
	}
	for _, c := range res.Codes {
		if !slices.Contains(z.PolicyCodes, c) {
			return false
		}
	}
	return true
}

func (b *builder) listing(s Side, isNew bool) *Cell {
	ip := s.Addr.String()
	// An IPv6 range is looked up per /64 (IPv6 DNSBLs list /64 networks):
	// its addresses' results carry the /64's network address.
	net64 := ""
	if s.Addr.Is6() && !s.Addr.Is4In6() {
		if p, err := s.Addr.Prefix(64); err == nil {
			net64 = p.Addr().String()
		}
	}
	results := s.DNSBL
	if net64 != "" && net64 != ip {
		results = append(append([]dnsbl.Result{}, results...), b.byIP[net64]...)
	}
	var listed, policy []string
	var fixes []string
	errs, zones, na := 0, 0, 0
	seen := map[[2]string]bool{}
	for _, res := range results {
		if res.IP != ip && (net64 == "" || res.IP != net64) || seen[[2]string{res.IP, res.Zone}] {
			continue
		}
		seen[[2]string{res.IP, res.Zone}] = true
		if res.Status == dnsbl.StatusError && res.ErrorKind == dnsbl.ErrNotApplicable {
			na++ // e.g. an IPv6 address against an IPv4-only zone
			continue
		}
		zones++
		switch res.Status {
		case dnsbl.StatusListed:
			if !b.isBlock(res.Zone) {
				continue
			}
			what := res.Zone + " (" + strings.Join(res.Codes, ", ")
			if len(res.Meanings) > 0 && res.Meanings[0] != "" {
				what += ": " + strings.Join(res.Meanings, "; ")
			}
			what += ")"
			if b.policyOnly(res) {
				policy = append(policy, what)
				continue
			}
			listed = append(listed, what)
			fix := "request removal from " + res.Zone
			if u := b.cat[res.Zone].DelistURL; u != "" {
				fix += " at " + u
			}
			fixes = append(fixes, fix+" before moving mail, after fixing the cause")
		case dnsbl.StatusError, dnsbl.StatusNotDone:
			errs++
		}
	}
	for _, z := range b.in.Zones {
		if z.Health != dnsbl.HealthHealthy {
			errs++
		}
	}
	switch {
	case len(listed)+len(policy) > 0:
		c := &Cell{Status: Fail, Detail: "listed on " + strings.Join(append(listed, policy...), ", ")}
		if len(policy) > 0 {
			c.Detail += "; a policy listing means the address is not meant to send mail directly"
			fixes = append(fixes, PBLFix)
		}
		c.Fix = strings.Join(fixes, "; ")
		return c
	case zones == 0 && na > 0:
		return &Cell{Status: NotChecked, Detail: fmt.Sprintf("none of the %d selected zones lists addresses like %s", na, ip), Fix: "select a zone that lists this address family (--zone)"}
	case zones == 0:
		return &Cell{Status: NotChecked, Detail: "no blocklist result for " + ip, Fix: "run blprobe dnsbl " + ip}
	case errs > 0:
		return &Cell{Status: NotChecked, Detail: fmt.Sprintf("not listed where checked, but %d lookups or zones could not be checked (see the evidence)", errs), Fix: "re-run with a working recursive resolver (--resolver)"}
	}
	return &Cell{Status: Pass, Detail: fmt.Sprintf("not listed on %d zones", zones)}
}

func (b *builder) rdns(s Side, isNew bool) *Cell {
	d := s.RDNS
	ip := s.Addr.String()
	if d == nil {
		return &Cell{Status: NotChecked, Detail: "reverse DNS was not checked for " + ip}
	}
	switch {
	case len(d.PTR) == 0 && d.Error != "":
		return &Cell{Status: NotChecked, Detail: d.Error, Fix: "re-run with a working recursive resolver"}
	case len(d.PTR) == 0:
		return &Cell{Status: Fail, Detail: "no PTR record: Gmail rejects with 5.7.25 and many receivers refuse mail from addresses without reverse DNS",
			Fix: fmt.Sprintf("ask the owner of %s (the ISP) to set its PTR to your mail host name, and give that name an A/AAAA record pointing back to %s", ip, ip)}
	case !d.ForwardConfirmed && d.Error != "":
		return &Cell{Status: NotChecked, Detail: fmt.Sprintf("PTR %s; forward confirmation failed: %s", strings.Join(d.PTR, ", "), d.Error)}
	case !d.ForwardConfirmed:
		return &Cell{Status: Fail, Detail: fmt.Sprintf("PTR %s does not resolve back to %s (no forward-confirmed reverse DNS)", strings.Join(d.PTR, ", "), ip),
			Fix: fmt.Sprintf("add an A/AAAA record %s → %s, or have the ISP point the PTR at a name that resolves to %s", d.PTR[0], ip, ip)}
	case len(d.PTR) > 1:
		return &Cell{Status: Warn, Detail: fmt.Sprintf("%d PTR records (%s), forward-confirmed", len(d.PTR), strings.Join(d.PTR, ", ")), Fix: "keep a single PTR record"}
	}
	return &Cell{Status: Pass, Detail: fmt.Sprintf("PTR %s, forward-confirmed", d.PTR[0])}
}

func (b *builder) generic(s Side, isNew bool) *Cell {
	d := s.RDNS
	if d == nil || len(d.PTR) == 0 {
		return nil
	}
	if d.Generic {
		return &Cell{Status: Warn, Detail: "the PTR looks generic/dynamic: " + d.GenericWhy + "; policy lists such as Spamhaus PBL and SpamRATS Dyna target these",
			Fix: "ask the ISP for a PTR naming your mail host, e.g. mail.example.com"}
	}
	return &Cell{Status: Pass, Detail: "the PTR does not look generic"}
}

// helo checks the HELO name the server will use after the move (--helo):
// it applies to the new addresses only.
func (b *builder) helo(s Side, isNew bool) *Cell {
	if !isNew {
		return nil
	}
	d := s.RDNS
	if d == nil || d.HELO == nil {
		return &Cell{Status: NotChecked, Detail: "the HELO name was not checked"}
	}
	h := d.HELO
	ip := s.Addr.String()
	switch {
	case strings.HasPrefix(h.Name, "["):
		return &Cell{Status: Warn, Detail: fmt.Sprintf("HELO %s is an address literal", h.Name), Fix: "use a host name that resolves to " + ip}
	case !h.FQDN:
		return &Cell{Status: Fail, Detail: fmt.Sprintf("HELO %s is not fully qualified: receivers with reject_non_fqdn_helo_hostname refuse it", h.Name), Fix: "set the HELO name (Postfix smtp_helo_name) to a fully qualified name that resolves to " + ip}
	case h.Error != "":
		return &Cell{Status: NotChecked, Detail: "HELO lookup failed: " + h.Error}
	case !h.ResolvesToIP:
		to := "has no address"
		if len(h.Resolves) > 0 {
			to = "resolves to " + strings.Join(h.Resolves, ", ")
		}
		return &Cell{Status: Fail, Detail: fmt.Sprintf("HELO %s does not resolve to %s (it %s)", h.Name, ip, to),
			Fix: fmt.Sprintf("add an A/AAAA record %s → %s, or set the HELO name (Postfix smtp_helo_name) to a name that resolves to %s", h.Name, ip, ip)}
	case len(d.PTR) > 0 && !h.MatchesPTR:
		return &Cell{Status: Warn, Detail: fmt.Sprintf("HELO %s resolves to %s but is not its PTR name (%s)", h.Name, ip, strings.Join(d.PTR, ", ")), Fix: "make the PTR and the HELO name the same"}
	}
	return &Cell{Status: Pass, Detail: fmt.Sprintf("HELO %s resolves to %s", h.Name, ip)}
}

func (b *builder) spf(s Side, i int, isNew bool) *Cell {
	if i >= len(s.SPF) {
		return &Cell{Status: NotChecked, Detail: "SPF was not checked"}
	}
	sp := s.SPF[i]
	detail := fmt.Sprintf("%s for %s", sp.Result, sp.IP)
	if sp.Record != "" {
		detail += fmt.Sprintf(" (%q, %d/%d DNS lookups)", sp.Record, sp.Lookups, sp.LookupLimit)
	}
	switch sp.Result {
	case mailauth.Pass:
		if len(sp.Problems) > 0 {
			return &Cell{Status: Warn, Detail: detail + "; " + strings.Join(sp.Problems, "; ")}
		}
		return &Cell{Status: Pass, Detail: detail}
	case mailauth.TempError:
		return &Cell{Status: NotChecked, Detail: detail + ": " + sp.Reason, Fix: "re-run when the domain's DNS answers"}
	case mailauth.None:
		// A domain that exists and publishes no SPF record gives "none" for
		// every address (RFC 7208 §2.6.1): the move does not change SPF's
		// outcome, so it is a warning with the record to publish, not a
		// blocker. A domain that does not exist stays a failure: receivers
		// refuse its mail before and after (see mailauth.CheckSPF).
		if !sp.DomainMissing() && b.oldSPF(i) == mailauth.None {
			c := &Cell{Status: Warn, Detail: detail + "; " + sp.Domain + " publishes no SPF record: the outcome is none before and after the move",
				Fix: fmt.Sprintf("publish an SPF record at %s authorising %s (and %s during the move)", sp.Domain, b.newTarget(), b.in.Old.Addr)}
			if isNew && i < len(b.in.Suggestions) && b.in.Suggestions[i] != nil {
				sg := b.in.Suggestions[i]
				c.Fix += fmt.Sprintf(": %q", sg.Record)
				if len(sg.Warnings) > 0 {
					c.Fix += " (" + strings.Join(sg.Warnings, "; ") + ")"
				}
			}
			return c
		}
	}
	c := &Cell{Status: Fail, Detail: detail}
	if len(sp.Problems) > 0 {
		c.Detail += "; " + strings.Join(sp.Problems, "; ")
	}
	if isNew && i < len(b.in.Suggestions) && b.in.Suggestions[i] != nil {
		sg := b.in.Suggestions[i]
		c.Fix = fmt.Sprintf("publish at %s: %q", sg.Domain, sg.Record)
		if len(sg.Warnings) > 0 {
			c.Fix += " (" + strings.Join(sg.Warnings, "; ") + ")"
		}
	} else if sp.Result == mailauth.PermError {
		c.Fix = "fix the SPF record of " + sp.Domain + " (see the problems)"
	} else if !isNew {
		c.Fix = "the old address is not authorised either: mail from it fails SPF today"
	}
	return c
}

// oldSPF is the old address's SPF result for domain i ("" when not checked).
func (b *builder) oldSPF(i int) mailauth.Result {
	if i >= len(b.in.Old.SPF) {
		return ""
	}
	return b.in.Old.SPF[i].Result
}

// newTarget names the new address or range.
func (b *builder) newTarget() string {
	if b.in.NewTarget != "" {
		return b.in.NewTarget
	}
	if len(b.in.New) > 0 {
		return b.in.New[0].Addr.String()
	}
	return "the new address"
}

func (b *builder) dmarc(s Side, i int) *Cell {
	if i >= len(b.in.DMARC) || i >= len(s.SPF) {
		return &Cell{Status: NotChecked, Detail: "DMARC was not checked"}
	}
	d, sp := b.in.DMARC[i], s.SPF[i]
	effect := mailauth.Effect(d, sp)
	policy := "no DMARC policy"
	if d.Policy != "" {
		policy = fmt.Sprintf("p=%s", d.Policy)
		if d.OrgDomain != "" {
			policy += " (from " + d.Query + ")"
		}
	}
	dkimFix := fmt.Sprintf("make SPF pass (the SPF row), or DKIM-sign all mail with a key aligned with %s: DKIM does not depend on the address", d.Domain)
	switch {
	case d.Error != "":
		return &Cell{Status: NotChecked, Detail: d.Error}
	case sp.Result == mailauth.TempError:
		return &Cell{Status: NotChecked, Detail: policy + ": SPF could not be evaluated"}
	case sp.Result == mailauth.Pass && d.Policy == "":
		return &Cell{Status: Warn, Detail: policy + "; " + effect, Fix: fmt.Sprintf("publish a DMARC record at _dmarc.%s (start with p=none and rua= reports)", d.Domain)}
	case sp.Result == mailauth.Pass:
		return &Cell{Status: Pass, Detail: policy + "; " + effect}
	case d.Policy == "reject" || d.Policy == "quarantine":
		return &Cell{Status: Fail, Detail: policy + "; " + effect, Fix: dkimFix}
	}
	return &Cell{Status: Warn, Detail: policy + "; " + effect, Fix: dkimFix}
}

func (b *builder) smtp(s Side, domain string) *Cell {
	if s.SMTP == nil {
		return &Cell{Status: NotChecked, Detail: s.Addr.String() + " is not an address of this machine: SMTP could not be tried from it",
			Fix: "run `blprobe check --to " + strings.Join(b.in.SMTPDomains, " --to ") + "` from the new network after cut-over"}
	}
	note := ""
	if s.SMTPNote != "" {
		note = " (" + s.SMTPNote + ")"
	}
	for _, d := range s.SMTP.Domains {
		if !strings.EqualFold(d.Domain, domain) {
			continue
		}
		switch d.Status {
		case smtpcheck.DomainError:
			return &Cell{Status: NotChecked, Detail: "mail hosts could not be resolved: " + d.Error}
		case smtpcheck.DomainNullMX, smtpcheck.DomainNoMailHost:
			// Nothing could be probed: no verdict on the address (as check
			// treats a domain that accepts no mail, RFC 7505).
			return &Cell{Status: NotChecked, Detail: domain + " accepts no mail (" + string(d.Status) + "): no MX to probe, so SMTP acceptance of " + s.Addr.String() + " was not tested",
				Fix: "pick a --to domain that receives mail"}
		}
		var acc, rej, other, total int
		var rejWhat, rejFix, otherWhat, echoWhat string
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				total++
				// The probe was sent from its SourceIP (s.Addr, or another
				// address that SMTPNote names): an MX that saw a third one
				// answered about an address nobody checked.
				src := s.Addr
				if a, err := netip.ParseAddr(p.SourceIP); err == nil {
					src = a
				}
				if echoWhat == "" && p.EchoedClientIP != "" && !sameAddr(p.EchoedClientIP, src) {
					echoWhat = fmt.Sprintf("%s [%s] saw the client as %s, not %s: mail left through another address (NAT or a different route), so this answer is not about %s",
						mx.Host, p.IP, p.EchoedClientIP, src, s.Addr)
				}
				// The same rule as check's verdict: a refusal whose cause is the
				// sending IP, its PTR/HELO or the sender is a blocker.
				cause, tied := report.SenderCause(p)
				switch {
				case p.Status == smtpcheck.StatusAccepted:
					acc++
				case tied:
					rej++
					if rejWhat == "" {
						rejWhat = fmt.Sprintf("%s [%s] rejected at %s (%s): %s", mx.Host, p.IP, p.Stage, cause, replyText(p))
						rejFix = p.Cause.NextStep(s.Addr.String(), p.CitedList)
					}
				default:
					other++
					if otherWhat == "" {
						otherWhat = fmt.Sprintf("%s [%s] %s at %s: %s", mx.Host, p.IP, p.Class, p.Stage, replyText(p))
					}
				}
			}
		}
		switch {
		case rej > 0:
			// The classifier's next step for the cause (e.g. a --mail-from
			// whose domain exists for a sender refusal), else the generic one.
			if rejFix == "" {
				rejFix = "fix what the reply names (listing, PTR) for this address"
			}
			return &Cell{Status: Fail, Detail: fmt.Sprintf("%d of %d MX addresses refused the probe%s; %s", rej, total, note, rejWhat),
				Fix: rejFix + ", then ask " + domain + "'s postmaster if it persists"}
		case total == 0:
			return &Cell{Status: NotChecked, Detail: "no MX address could be probed" + mxErrors(d)}
		case echoWhat != "":
			return &Cell{Status: NotChecked, Detail: echoWhat + note,
				Fix: "find the address mail really leaves from (the MX's echo) and check that one, or route mail from " + s.Addr.String()}
		case other > 0:
			return &Cell{Status: NotChecked, Detail: fmt.Sprintf("%d of %d MX addresses accepted%s; %s", acc, total, note, otherWhat)}
		}
		if total == 1 {
			return &Cell{Status: Pass, Detail: "the only MX address accepted the recipient at RCPT" + note}
		}
		return &Cell{Status: Pass, Detail: fmt.Sprintf("all %d MX addresses accepted the recipient at RCPT%s", total, note)}
	}
	return &Cell{Status: NotChecked, Detail: domain + " was not probed"}
}

// sameAddr reports whether the echoed client IP text is addr (IPv4-mapped
// forms compare equal); text that is no address never matches.
func sameAddr(echoed string, addr netip.Addr) bool {
	e, err := netip.ParseAddr(strings.Trim(echoed, "[]"))
	return err == nil && e.Unmap() == addr.Unmap()
}

func replyText(p smtpcheck.Probe) string {
	if p.Reply != nil {
		s := fmt.Sprint(p.Reply.Code)
		if p.Reply.Enhanced != "" {
			s += " " + p.Reply.Enhanced
		}
		return s + " " + strings.ReplaceAll(p.Reply.Text, "\n", " ")
	}
	return p.Error
}

func (b *builder) port25(s Side, isNew bool) *Cell {
	if s.SMTP == nil {
		return &Cell{Status: NotChecked, Detail: "outbound port 25 could not be tried from " + s.Addr.String(),
			Fix: "run `blprobe check --to " + strings.Join(b.in.SMTPDomains, " --to ") + "` from the new network after cut-over"}
	}
	if s.SMTP.Port25Blocked {
		return &Cell{Status: Fail, Detail: "every MX connection timed out: outbound port 25 is blocked from this network",
			Fix: "ask the ISP to open outbound port 25, or relay through their smarthost"}
	}
	probes := 0
	var why []string
	for _, d := range s.SMTP.Domains {
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				probes++
				if p.Stage != smtpcheck.StageConnect {
					return &Cell{Status: Pass, Detail: fmt.Sprintf("outbound port %d is open (%s answered)", s.SMTP.Port, mx.Host)}
				}
			}
		}
		if e := mxErrors(d); e != "" {
			why = append(why, d.Domain+e)
		}
	}
	if probes == 0 {
		return &Cell{Status: NotChecked, Detail: fmt.Sprintf("no connection was tried from %s: no MX address could be probed (%s)", s.Addr, orNone(why)),
			Fix: "probe a --to domain whose MX has an address of the same family as " + s.Addr.String()}
	}
	return &Cell{Status: NotChecked, Detail: "no MX connection got past connect, but not every one timed out"}
}

// mxErrors is ": " and the distinct reasons why d's MX hosts were not
// probed (e.g. no address of the source address's family), or "".
func mxErrors(d smtpcheck.Domain) string {
	var errs []string
	for _, mx := range d.MX {
		if mx.Error != "" && !slices.Contains(errs, mx.Error) {
			errs = append(errs, mx.Error)
		}
	}
	if len(errs) == 0 {
		return ""
	}
	return ": " + strings.Join(errs, "; ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no reason recorded"
	}
	return strings.Join(s, "; ")
}

func (b *builder) aggregate(r *Report) *Aggregate {
	a := &Aggregate{Addresses: b.in.RangeSize, Checked: len(b.in.New), SPFAuthorised: map[string]int{}, BlockerAddresses: []string{}}
	if a.Addresses < a.Checked {
		a.Addresses = a.Checked
	}
	for _, d := range b.in.Domains {
		a.SPFAuthorised[d] = 0
	}
	for _, s := range b.in.New {
		c := b.listing(s, true)
		if c.Status == Fail {
			a.Listed++
			if strings.Contains(c.Fix, PBLFix) {
				a.PolicyListed++
			}
		}
		if s.RDNS != nil && len(s.RDNS.PTR) > 0 {
			a.WithPTR++
			if s.RDNS.ForwardConfirmed {
				a.ForwardConfirmed++
			}
		}
		for i, sp := range s.SPF {
			if i < len(b.in.Domains) && sp.Result == mailauth.Pass {
				a.SPFAuthorised[b.in.Domains[i]]++
			}
		}
	}
	seen := map[string]bool{}
	for _, bl := range r.Blockers {
		if !seen[bl.Address] {
			seen[bl.Address] = true
			a.BlockerAddresses = append(a.BlockerAddresses, bl.Address)
		}
	}
	return a
}

// evidenceJSON has Evidence's fields and tags but not its MarshalJSON method.
type evidenceJSON Evidence

// MarshalJSON writes the evidence with every list [] rather than null (the
// README's contract for every JSON document). The DNSBL, rDNS and SMTP parts
// are marshalled through report.Report, whose normalisation is the
// reference for those shapes, so they match blprobe.report/v1 exactly.
func (e Evidence) MarshalJSON() ([]byte, error) {
	parts, err := reportParts(&report.Report{DNSBL: &report.DNSBL{Zones: e.Zones, Results: e.DNSBL}, RDNS: nonNilRDNS(e.RDNS)})
	if err != nil {
		return nil, err
	}
	var sec struct {
		Zones   json.RawMessage `json:"zones"`
		Results json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(parts["dnsbl"], &sec); err != nil {
		return nil, fmt.Errorf("marshalling migrate evidence: %w", err)
	}
	smtp := make(map[string]json.RawMessage, len(e.SMTP))
	for src, res := range e.SMTP {
		if res == nil {
			smtp[src] = json.RawMessage("null")
			continue
		}
		p, err := reportParts(&report.Report{SMTP: res})
		if err != nil {
			return nil, err
		}
		smtp[src] = p["smtp"]
	}
	out := struct {
		evidenceJSON
		Zones json.RawMessage            `json:"zones"`
		DNSBL json.RawMessage            `json:"dnsbl"`
		RDNS  json.RawMessage            `json:"rdns"`
		SMTP  map[string]json.RawMessage `json:"smtp"`
	}{evidenceJSON(e), sec.Zones, sec.Results, parts["rdns"], smtp}
	// Copies: marshalling never writes to the report.
	out.evidenceJSON.SPF = append([]mailauth.SPF{}, e.SPF...)
	out.evidenceJSON.Suggestions = append([]mailauth.Suggestion{}, e.Suggestions...)
	out.evidenceJSON.DMARC = append([]mailauth.DMARC{}, e.DMARC...)
	for i := range out.evidenceJSON.SPF {
		out.evidenceJSON.SPF[i].Problems = nonNil(out.evidenceJSON.SPF[i].Problems)
	}
	for i := range out.evidenceJSON.DMARC {
		out.evidenceJSON.DMARC[i].Problems = nonNil(out.evidenceJSON.DMARC[i].Problems)
	}
	for i := range out.evidenceJSON.Suggestions {
		out.evidenceJSON.Suggestions[i].Warnings = nonNil(out.evidenceJSON.Suggestions[i].Warnings)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("marshalling migrate evidence: %w", err)
	}
	return b, nil
}

// reportParts marshals r (a report holding only evidence sections) and
// returns its top-level fields.
func reportParts(r *report.Report) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("marshalling migrate evidence: %w", err)
	}
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return nil, fmt.Errorf("marshalling migrate evidence: %w", err)
	}
	return parts, nil
}

func nonNilRDNS(r []report.RDNS) []report.RDNS {
	if r == nil {
		return []report.RDNS{}
	}
	return r
}
