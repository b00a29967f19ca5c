// Package diff compares two blprobe reports of the same kind — two
// blprobe.report/v1 reports of any command, or two blprobe.migrate/v1
// reports — and says what changed: listings added and removed per address
// and zone, MX outcomes, PTR and forward-confirmation changes, SPF results,
// migrate rows, and the problems that appeared or went away. Its JSON
// document has the schema "blprobe.diff/v1" (schema/diff.v1.json).
package diff

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/mailauth"
	"github.com/blprobe/blprobe/migrate"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// SchemaV1 is the value of the "schema" field of a diff document.
const SchemaV1 = "blprobe.diff/v1"

// Exit codes of blprobe diff.
const (
	ExitSame       = 0 // no new problem (things may still have changed)
	ExitNewProblem = 1 // a new listing, rejection or blocker appeared
	ExitUsage      = 2 // unreadable input, unknown schema, different kinds
)

// Change kinds.
const (
	ListingAdded   = "listing_added"
	ListingRemoved = "listing_removed"
	ListingChanged = "listing_changed" // other codes
	MXChanged      = "mx_changed"
	MXAdded        = "mx_added"
	MXRemoved      = "mx_removed"
	PTRChanged     = "ptr_changed"
	SPFChanged     = "spf_changed"
	RowChanged     = "row_changed" // a migrate readiness cell
	VerdictChanged = "verdict_changed"
)

// Change is one difference between the two reports.
type Change struct {
	Kind    string `json:"kind"`
	Address string `json:"address,omitempty"`
	Zone    string `json:"zone,omitempty"`
	Domain  string `json:"domain,omitempty"`
	MX      string `json:"mx,omitempty"`
	Item    string `json:"item,omitempty"` // migrate row item
	Before  string `json:"before"`
	After   string `json:"after"`
	// Worse is set when the change makes delivery worse (a listing, a
	// rejection, a lost PTR, SPF no longer passing, a cell now failing).
	Worse bool `json:"worse"`
}

// Problem is one problem that appeared or went away, with the verdict it
// carries in its report (listed, rejected, inconclusive; blocked for a
// migrate blocker).
type Problem struct {
	Verdict string `json:"verdict"`
	Message string `json:"message"`

	// key identifies the problem across runs ("" means Message): what a
	// remote server says varies from session to session (queue and
	// session IDs, timestamps), so the same refusal must not count as a
	// new problem because its reply text changed.
	key string
}

func (p Problem) id() string {
	if p.key != "" {
		return p.key
	}
	return p.Message
}

// Source describes one of the compared reports.
type Source struct {
	File     string   `json:"file"`
	Schema   string   `json:"schema"`
	Command  []string `json:"command"`
	Started  string   `json:"started"`
	Verdict  string   `json:"verdict"`
	ExitCode int      `json:"exit_code"`
}

// Diff is a blprobe.diff/v1 document.
type Diff struct {
	Schema       string      `json:"schema"`
	Tool         report.Tool `json:"tool"`
	Before       Source      `json:"before"`
	After        Source      `json:"after"`
	Changes      []Change    `json:"changes"`
	NewProblems  []Problem   `json:"new_problems"`
	GoneProblems []Problem   `json:"gone_problems"`
	// NewProblem is true when a new listing, rejection or migrate blocker
	// appeared (exit 1); new inconclusive items are listed but do not count,
	// so that a transient timeout does not page anyone.
	NewProblem bool `json:"new_problem"`
	ExitCode   int  `json:"exit_code"`
}

// InputError is an input that cannot be compared (exit 2).
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// head is the part of any blprobe document that says what it is.
type head struct {
	Schema *string `json:"schema"`
}

// kind reads the schema of a document and checks the document against it.
func kind(name string, data []byte) (string, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return "", &InputError{fmt.Sprintf("%s is not a blprobe JSON report: %v", name, oneLine(err.Error()))}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", &InputError{fmt.Sprintf("%s is not a blprobe JSON report: it holds a JSON %s, not an object (write one with --format json)", name, jsonType(v))}
	}
	sv, ok := obj["schema"]
	if !ok || sv == nil {
		return "", &InputError{fmt.Sprintf("%s has no \"schema\" field: not a blprobe JSON report (write one with --format json)", name)}
	}
	str, ok := sv.(string)
	if !ok {
		return "", &InputError{fmt.Sprintf("%s is not a blprobe JSON report: its \"schema\" is a JSON %s, not a string such as %q", name, jsonType(sv), report.SchemaV1)}
	}
	h := head{Schema: &str}
	var err error
	switch *h.Schema {
	case report.SchemaV1:
		err = report.Validate(data)
	case migrate.SchemaV1:
		err = migrate.Validate(data)
	default:
		return "", &InputError{fmt.Sprintf("%s has schema %q, which this blprobe does not know (it reads %s and %s)", name, *h.Schema, report.SchemaV1, migrate.SchemaV1)}
	}
	if err != nil {
		return "", &InputError{fmt.Sprintf("%s is not a valid %s document: %s", name, *h.Schema, oneLine(err.Error()))}
	}
	return *h.Schema, nil
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Compare compares two reports (the JSON documents and their file names).
// It returns an *InputError for an unreadable document, an unknown schema
// version, or two documents of different kinds.
func Compare(tool report.Tool, beforeName string, before []byte, afterName string, after []byte) (*Diff, error) {
	kb, err := kind(beforeName, before)
	if err != nil {
		return nil, err
	}
	ka, err := kind(afterName, after)
	if err != nil {
		return nil, err
	}
	if kb != ka {
		return nil, &InputError{fmt.Sprintf("cannot compare %s (%s) with %s (%s): both must be of the same kind", beforeName, kb, afterName, ka)}
	}
	d := &Diff{Schema: SchemaV1, Tool: tool, Changes: []Change{}, NewProblems: []Problem{}, GoneProblems: []Problem{}}
	if kb == report.SchemaV1 {
		var b, a report.Report
		if err := errors.Join(json.Unmarshal(before, &b), json.Unmarshal(after, &a)); err != nil {
			return nil, &InputError{"decoding the reports: " + oneLine(err.Error())}
		}
		d.Before, d.After = reportSource(beforeName, &b), reportSource(afterName, &a)
		if b.DNSBL != nil {
			sortCodes(b.DNSBL.Results)
		}
		if a.DNSBL != nil {
			sortCodes(a.DNSBL.Results)
		}
		compareReports(d, &b, &a)
	} else {
		var b, a migrate.Report
		if err := errors.Join(json.Unmarshal(before, &b), json.Unmarshal(after, &a)); err != nil {
			return nil, &InputError{"decoding the reports: " + oneLine(err.Error())}
		}
		d.Before, d.After = migrateSource(beforeName, &b), migrateSource(afterName, &a)
		sortCodes(b.Evidence.DNSBL)
		sortCodes(a.Evidence.DNSBL)
		compareMigrate(d, &b, &a)
	}
	if d.Before.Verdict != d.After.Verdict {
		d.Changes = append(d.Changes, Change{Kind: VerdictChanged, Before: d.Before.Verdict, After: d.After.Verdict,
			Worse: verdictRank(d.After.Verdict) > verdictRank(d.Before.Verdict)})
	}
	for _, p := range d.NewProblems {
		if p.Verdict != string(report.VerdictInconclusive) {
			d.NewProblem = true
		}
	}
	if d.NewProblem {
		d.ExitCode = ExitNewProblem
	}
	return d, nil
}

// sortCodes puts every result's codes (with their meanings) in address
// order. A listing's A records come in whatever order the resolver chose:
// resolvers rotate the records of an RRset between answers (RFC 1034 §3.6
// leaves the order unspecified; BIND's rrset-order defaults to cyclic), so
// the same listing must compare equal whatever the order.
func sortCodes(results []dnsbl.Result) {
	for i := range results {
		r := &results[i]
		if len(r.Codes) < 2 {
			continue
		}
		idx := make([]int, len(r.Codes))
		for j := range idx {
			idx[j] = j
		}
		less := func(x, y string) bool {
			ax, ex := netip.ParseAddr(x)
			ay, ey := netip.ParseAddr(y)
			if ex == nil && ey == nil {
				return ax.Less(ay)
			}
			return x < y
		}
		sort.SliceStable(idx, func(a, b int) bool { return less(r.Codes[idx[a]], r.Codes[idx[b]]) })
		codes := make([]string, len(r.Codes))
		for j, k := range idx {
			codes[j] = r.Codes[k]
		}
		if len(r.Meanings) == len(r.Codes) {
			meanings := make([]string, len(r.Meanings))
			for j, k := range idx {
				meanings[j] = r.Meanings[k]
			}
			r.Meanings = meanings
		}
		r.Codes = codes
	}
}

func verdictRank(v string) int {
	return map[string]int{"clean": 0, "ready": 0, "inconclusive": 1, "listed": 2, "rejected": 3, "blocked": 3}[v]
}

func reportSource(file string, r *report.Report) Source {
	return Source{File: file, Schema: r.Schema, Command: nonNil(r.Command), Started: r.Started.UTC().Format("2006-01-02T15:04:05Z"), Verdict: string(r.Verdict), ExitCode: r.ExitCode}
}

func migrateSource(file string, r *migrate.Report) Source {
	return Source{File: file, Schema: r.Schema, Command: nonNil(r.Command), Started: r.Started.UTC().Format("2006-01-02T15:04:05Z"), Verdict: r.Verdict, ExitCode: r.ExitCode}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// problems diffs two lists of problems by message.
func problems(d *Diff, before, after []Problem) {
	has := func(list []Problem, p Problem) bool {
		return slices.ContainsFunc(list, func(q Problem) bool { return q.id() == p.id() })
	}
	for _, p := range after {
		if !has(before, p) && !has(d.NewProblems, p) {
			d.NewProblems = append(d.NewProblems, p)
		}
	}
	for _, p := range before {
		if !has(after, p) && !has(d.GoneProblems, p) {
			d.GoneProblems = append(d.GoneProblems, p)
		}
	}
}

func reportProblems(r *report.Report) []Problem {
	replies := replyTexts(r.SMTP)
	addrs := probeAddrs(r.SMTP)
	var out []Problem
	for _, p := range r.Problems() {
		key := p.Message
		for _, t := range replies {
			key = strings.ReplaceAll(key, t, "<reply>")
		}
		for _, a := range addrs {
			key = strings.ReplaceAll(key, a[0], a[1])
		}
		out = append(out, Problem{Verdict: string(p.Verdict), Message: p.Message, key: string(p.Verdict) + " " + key})
	}
	return out
}

// probeAddrs pairs each probe's "host [ip]" with "host [*]": large
// providers answer an MX name with a different address on every lookup
// (Gmail's gmail-smtp-in.l.google.com, Outlook's mail.protection.outlook.com
// pools), so a refusal by the same MX host is the same problem whichever of
// its addresses answered.
func probeAddrs(r *smtpcheck.Result) [][2]string {
	if r == nil {
		return nil
	}
	var out [][2]string
	for _, d := range r.Domains {
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				if p.IP != "" {
					out = append(out, [2]string{mx.Host + " [" + p.IP + "]", mx.Host + " [*]"})
				}
			}
		}
	}
	return out
}

// replyTexts are the remote reply texts of r's probes as problem messages
// quote them (the first line, possibly cut), longest first, so that the
// problem's identity is what blprobe concluded, not what the server said.
// The cause, the stage and any cited list stay in the identity.
func replyTexts(r *smtpcheck.Result) []string {
	if r == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		if len(t) >= 8 && !seen[t] { // short texts ("Ok") could match elsewhere
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, d := range r.Domains {
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				if p.Reply == nil {
					continue
				}
				first, _, _ := strings.Cut(p.Reply.Text, "\n")
				add(first)
				if len(first) > 200 { // messages quote at most 200 bytes, cut on a rune boundary
					cut := 200
					for cut > 0 && first[cut]&0xC0 == 0x80 {
						cut--
					}
					add(first[:cut])
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func compareReports(d *Diff, b, a *report.Report) {
	listings(d, b, a)
	mxOutcomes(d, b.SMTP, a.SMTP)
	ptrs(d, b.RDNS, a.RDNS)
	problems(d, reportProblems(b), reportProblems(a))
}

type pair struct{ ip, zone string }

func listingMap(r *report.Report) (map[pair]dnsbl.Result, map[string]dnsbl.ListType) {
	m := map[pair]dnsbl.Result{}
	types := map[string]dnsbl.ListType{}
	if r.DNSBL == nil {
		return m, types
	}
	for _, z := range r.DNSBL.Zones {
		types[z.Zone] = z.Type
	}
	for _, res := range r.DNSBL.Results {
		m[pair{res.IP, res.Zone}] = res
	}
	return m, types
}

func codes(res dnsbl.Result) string {
	s := strings.Join(res.Codes, ", ")
	if len(res.Meanings) > 0 {
		s += ": " + strings.Join(res.Meanings, "; ")
	}
	return s
}

func listings(d *Diff, b, a *report.Report) {
	bm, _ := listingMap(b)
	am, types := listingMap(a)
	isBlock := func(z string) bool { t, ok := types[z]; return !ok || t == dnsbl.TypeBlock }
	var keys []pair
	for k := range am {
		keys = append(keys, k)
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].ip != keys[j].ip {
			return keys[i].ip < keys[j].ip
		}
		return keys[i].zone < keys[j].zone
	})
	for _, k := range keys {
		br, bok := bm[k]
		ar, aok := am[k]
		bl := bok && br.Status == dnsbl.StatusListed
		al := aok && ar.Status == dnsbl.StatusListed
		switch {
		case al && !bl:
			before := "not listed"
			if bok {
				before = string(br.Status)
			} else {
				before = "not checked"
			}
			d.Changes = append(d.Changes, Change{Kind: ListingAdded, Address: k.ip, Zone: k.zone, Before: before, After: "listed " + codes(ar), Worse: isBlock(k.zone)})
		case bl && !al:
			after := "not checked"
			if aok {
				after = string(ar.Status)
			}
			d.Changes = append(d.Changes, Change{Kind: ListingRemoved, Address: k.ip, Zone: k.zone, Before: "listed " + codes(br), After: after})
		case al && bl && !slices.Equal(br.Codes, ar.Codes):
			d.Changes = append(d.Changes, Change{Kind: ListingChanged, Address: k.ip, Zone: k.zone, Before: "listed " + codes(br), After: "listed " + codes(ar)})
		}
	}
}

type probeKey struct{ domain, mx, ip, source string }

func probeMap(r *smtpcheck.Result) (map[probeKey]smtpcheck.Probe, []probeKey) {
	m := map[probeKey]smtpcheck.Probe{}
	var order []probeKey
	if r == nil {
		return m, nil
	}
	for _, dom := range r.Domains {
		for _, mx := range dom.MX {
			for _, p := range mx.Addresses {
				k := probeKey{dom.Domain, mx.Host, p.IP, p.SourceIP}
				if _, ok := m[k]; !ok {
					order = append(order, k)
				}
				m[k] = p
			}
		}
	}
	return m, order
}

func outcome(p smtpcheck.Probe) string {
	s := string(p.Status)
	if p.Status != smtpcheck.StatusAccepted {
		s += " (" + string(p.Class) + " at " + string(p.Stage) + ")"
	}
	if p.Reply != nil && p.Status != smtpcheck.StatusAccepted {
		r := fmt.Sprint(p.Reply.Code)
		if p.Reply.Enhanced != "" {
			r += " " + p.Reply.Enhanced
		}
		s += ": " + r + " " + strings.ReplaceAll(p.Reply.Text, "\n", " ")
	} else if p.Error != "" {
		s += ": " + p.Error
	}
	return s
}

func isRefusal(p smtpcheck.Probe) bool {
	return p.Status == smtpcheck.StatusRejected && (p.Class == smtpcheck.ClassBlocklisted || p.Class == smtpcheck.ClassPolicy)
}

// hostRefused reports whether a probe of MX host mx of domain was refused.
func hostRefused(m map[probeKey]smtpcheck.Probe, domain, mx string) bool {
	for k, p := range m {
		if k.domain == domain && k.mx == mx && isRefusal(p) {
			return true
		}
	}
	return false
}

// mxOutcomes compares probes by domain, MX host, MX address and source
// address (not by port, so two lab runs on different ports compare).
func mxOutcomes(d *Diff, b, a *smtpcheck.Result) {
	bm, border := probeMap(b)
	am, aorder := probeMap(a)
	for _, k := range aorder {
		ap := am[k]
		bp, ok := bm[k]
		addr := k.ip
		if k.source != "" {
			addr = k.ip + " from " + k.source
		}
		switch {
		case !ok:
			if b != nil {
				// Worse unless the same MX host refused already (from another
				// of its addresses: see probeAddrs).
				worse := isRefusal(ap) && !hostRefused(bm, k.domain, k.mx)
				d.Changes = append(d.Changes, Change{Kind: MXAdded, Domain: k.domain, MX: k.mx, Address: addr, Before: "not probed", After: outcome(ap), Worse: worse})
			}
		case outcome(bp) != outcome(ap):
			d.Changes = append(d.Changes, Change{Kind: MXChanged, Domain: k.domain, MX: k.mx, Address: addr, Before: outcome(bp), After: outcome(ap),
				Worse: isRefusal(ap) && !isRefusal(bp) || bp.Status == smtpcheck.StatusAccepted && ap.Status != smtpcheck.StatusAccepted})
		}
	}
	for _, k := range border {
		if _, ok := am[k]; !ok && a != nil {
			addr := k.ip
			if k.source != "" {
				addr = k.ip + " from " + k.source
			}
			d.Changes = append(d.Changes, Change{Kind: MXRemoved, Domain: k.domain, MX: k.mx, Address: addr, Before: outcome(bm[k]), After: "not probed"})
		}
	}
}

func ptrText(r report.RDNS) string {
	if len(r.PTR) == 0 {
		if r.Error != "" {
			return "lookup failed"
		}
		return "no PTR"
	}
	s := strings.Join(r.PTR, ", ")
	if r.ForwardConfirmed {
		s += " (forward-confirmed)"
	} else {
		s += " (not forward-confirmed)"
	}
	if r.Generic {
		s += " (generic)"
	}
	return s
}

func ptrs(d *Diff, b, a []report.RDNS) {
	bm := map[string]report.RDNS{}
	for _, r := range b {
		bm[r.IP] = r
	}
	for _, ar := range a {
		br, ok := bm[ar.IP]
		if !ok || ptrText(br) == ptrText(ar) {
			continue
		}
		worse := len(br.PTR) > 0 && len(ar.PTR) == 0 && ar.Error == "" || br.ForwardConfirmed && !ar.ForwardConfirmed && len(ar.PTR) > 0 || !br.Generic && ar.Generic
		d.Changes = append(d.Changes, Change{Kind: PTRChanged, Address: ar.IP, Before: ptrText(br), After: ptrText(ar), Worse: worse})
	}
}

func spfs(d *Diff, b, a []mailauth.SPF) {
	type key struct{ domain, ip string }
	bm := map[key]mailauth.SPF{}
	for _, s := range b {
		bm[key{s.Domain, s.IP}] = s
	}
	for _, as := range a {
		bs, ok := bm[key{as.Domain, as.IP}]
		if !ok || (bs.Result == as.Result && bs.Record == as.Record) {
			continue
		}
		d.Changes = append(d.Changes, Change{Kind: SPFChanged, Domain: as.Domain, Address: as.IP,
			Before: fmt.Sprintf("%s (%s)", bs.Result, bs.Record), After: fmt.Sprintf("%s (%s)", as.Result, as.Record),
			Worse: bs.Result == mailauth.Pass && as.Result != mailauth.Pass})
	}
}

func compareMigrate(d *Diff, b, a *migrate.Report) {
	// Listings, PTRs and SPF from the evidence, then every readiness cell.
	lb := &report.Report{DNSBL: &report.DNSBL{Zones: b.Evidence.Zones, Results: b.Evidence.DNSBL}}
	la := &report.Report{DNSBL: &report.DNSBL{Zones: a.Evidence.Zones, Results: a.Evidence.DNSBL}}
	listings(d, lb, la)
	ptrs(d, b.Evidence.RDNS, a.Evidence.RDNS)
	spfs(d, b.Evidence.SPF, a.Evidence.SPF)
	type key struct{ item, subject string }
	bm := map[key]migrate.Row{}
	for _, r := range b.Rows {
		bm[key{r.Item, r.Subject}] = r
	}
	st := func(c *migrate.Cell) string {
		if c == nil {
			return "-"
		}
		return string(c.Status) + ": " + c.Detail
	}
	for _, ar := range a.Rows {
		br := bm[key{ar.Item, ar.Subject}]
		if st(br.New) == st(ar.New) {
			continue
		}
		worse := ar.New != nil && ar.New.Status == migrate.Fail && (br.New == nil || br.New.Status != migrate.Fail)
		d.Changes = append(d.Changes, Change{Kind: RowChanged, Item: ar.Item, Domain: ar.Subject, Before: st(br.New), After: st(ar.New), Worse: worse})
	}
	// Rows of the before report that the after report no longer has (e.g.
	// a --domain or --to dropped between the runs).
	am := map[key]bool{}
	for _, r := range a.Rows {
		am[key{r.Item, r.Subject}] = true
	}
	for _, br := range b.Rows {
		if !am[key{br.Item, br.Subject}] && br.New != nil {
			d.Changes = append(d.Changes, Change{Kind: RowChanged, Item: br.Item, Domain: br.Subject, Before: st(br.New), After: "-"})
		}
	}
	blockers := func(r *migrate.Report) []Problem {
		var out []Problem
		for _, bl := range r.Blockers {
			// A blocker is the same while its address, item and subject are:
			// its detail quotes remote text and counts that vary between runs.
			out = append(out, Problem{Verdict: migrate.VerdictBlocked, Message: fmt.Sprintf("%s %s: %s", bl.Address, migrate.ItemName(bl.Item, bl.Subject), bl.Detail),
				key: strings.Join([]string{bl.Address, bl.Item, bl.Subject}, "\x00")})
		}
		return out
	}
	problems(d, blockers(b), blockers(a))
}
