package mailauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/textsafe"
)

// Result is an SPF result (RFC 7208 §2.6).
type Result string

// SPF results.
const (
	Pass      Result = "pass"
	Fail      Result = "fail"
	SoftFail  Result = "softfail"
	Neutral   Result = "neutral"
	None      Result = "none"
	PermError Result = "permerror"
	TempError Result = "temperror"
)

// Limits of RFC 7208.
const (
	// LookupLimit is the most DNS-querying terms (include, a, mx, ptr,
	// exists, redirect) an evaluation may use (RFC 7208 §4.6.4).
	LookupLimit = 10
	// VoidLimit is the most lookups answering NXDOMAIN or nothing that an
	// evaluation should tolerate (RFC 7208 §4.6.4).
	VoidLimit = 2
	// MaxRecordBytes is the size an SPF record should stay under so that the
	// whole DNS answer fits in 512 bytes (RFC 7208 §3.4).
	MaxRecordBytes = 450
	// maxMXNames is the most MX names one "mx" term may resolve (RFC 7208 §4.6.4).
	maxMXNames = 10
	// maxWalkQueries bounds the DNS queries of the lookup count walk.
	maxWalkQueries = 60
)

// SPF is the SPF evaluation of one address for one domain.
type SPF struct {
	Domain string `json:"domain"`
	IP     string `json:"ip"`
	Result Result `json:"result"`
	// Reason is why the evaluation ended, e.g. "matched ip", "matched all",
	// "lookup limit reached", or the DNS failure behind a temperror.
	Reason string `json:"reason,omitempty"`
	// Record is the domain's published SPF record ("" when there is none).
	Record string `json:"record,omitempty"`
	Bytes  int    `json:"bytes"` // length of Record
	// Lookups counts the DNS-querying terms of the whole record tree
	// (includes and redirects followed), which is what an address that
	// matches no term costs; LookupLimit is RFC 7208's limit of 10.
	Lookups     int `json:"lookups"`
	LookupLimit int `json:"lookup_limit"`
	// VoidLookups counts terms whose lookup answered NXDOMAIN or no record.
	VoidLookups int      `json:"void_lookups"`
	VoidLimit   int      `json:"void_limit"`
	Problems    []string `json:"problems"`
	Notes       []string `json:"notes,omitempty"`

	nxdomain bool // the domain itself does not exist (NXDOMAIN)
}

// DomainMissing reports whether the domain itself does not exist (NXDOMAIN),
// as opposed to existing without an SPF record.
func (s SPF) DomainMissing() bool { return s.nxdomain }

// Authorised reports whether the result authorises the address.
func (s SPF) Authorised() bool { return s.Result == Pass }

// CheckSPF evaluates ip against domain's SPF record, as a receiver does for
// mail whose envelope sender (RFC 5321 MAIL FROM) is in domain, and counts
// the record's lookups.
func CheckSPF(ctx context.Context, ex dnsclient.Exchanger, domain string, ip netip.Addr) SPF {
	return checkSPF(ctx, &resolver{c: dnsclient.Resolve(ex), v6: ip.Unmap().Is6()}, domain, ip)
}

func checkSPF(ctx context.Context, r *resolver, domain string, ip netip.Addr) SPF {
	ip = ip.Unmap()
	domain = normName(domain)
	s := SPF{Domain: domain, IP: ip.String(), LookupLimit: LookupLimit, VoidLimit: VoidLimit, Problems: []string{}}
	res, err := spf.CheckHostWithSender(ip.AsSlice(), domain, "postmaster@"+domain,
		spf.WithContext(ctx), spf.WithResolver(r))
	s.Result = Result(res)
	if err != nil {
		s.Reason = textsafe.Clean(err.Error())
	}
	if errors.Is(err, spf.ErrMultipleRecords) {
		s.Problems = append(s.Problems, fmt.Sprintf("%s publishes more than one SPF record: that is a permerror (RFC 7208 §4.5); merge them into one", domain))
	}

	rec, ferr := fetchRecord(ctx, r, domain)
	if ferr != nil || rec == "" {
		switch {
		case s.Result == None && isNotFound(ferr):
			// Not a missing record: the name is absent, most often a typo.
			// Receivers refuse envelope senders in domains that do not exist
			// (e.g. Postfix reject_unknown_sender_domain,
			// https://www.postfix.org/postconf.5.html#reject_unknown_sender_domain).
			s.nxdomain = true
			s.Problems = append(s.Problems, fmt.Sprintf("%s does not exist (NXDOMAIN): check the domain's spelling; receivers reject mail whose envelope sender is in a domain that does not exist, whatever its SPF", domain))
		case s.Result == None:
			s.Problems = append(s.Problems, fmt.Sprintf("%s has no SPF record: receivers cannot tell authorised senders from forgeries", domain))
		}
		return s
	}
	s.Record = rec
	s.Bytes = len(rec)
	if bad := syntaxError(rec); bad != "" && s.Result != PermError && s.Result != TempError {
		// RFC 7208 §4.6: the record's syntax is validated first, and a
		// syntax error anywhere in it is a permerror without evaluation.
		// The library evaluates lazily and can return a result from the
		// terms before the error: receivers that validate first do not.
		s.Result = PermError
		s.Reason = "syntax error: " + bad
		s.Problems = append(s.Problems, fmt.Sprintf("the record of %s has a syntax error (%s): receivers validate the whole record first and return permerror for every address (RFC 7208 §4.6)", domain, bad))
	}
	w := &walker{r: r, seen: map[string]bool{domain: true}}
	w.walk(ctx, domain, rec, 0)
	s.Lookups, s.VoidLookups = w.lookups, w.void
	s.Notes = w.notes
	s.Problems = append(s.Problems, w.problems...)
	if s.Lookups > LookupLimit {
		s.Problems = append(s.Problems, fmt.Sprintf("the record of %s needs %d DNS lookups, over the limit of %d (RFC 7208 §4.6.4): receivers return permerror; replace includes with ip4:/ip6: terms", domain, s.Lookups, LookupLimit))
	}
	if s.VoidLookups > VoidLimit {
		s.Problems = append(s.Problems, fmt.Sprintf("the record of %s has %d void lookups (NXDOMAIN or no answer), over the limit of %d (RFC 7208 §4.6.4): receivers may return permerror; remove the terms naming absent hosts", domain, s.VoidLookups, VoidLimit))
	}
	if s.Bytes > MaxRecordBytes {
		s.Problems = append(s.Problems, fmt.Sprintf("the record of %s is %d bytes, over %d (RFC 7208 §3.4): the DNS answer may not fit in UDP", domain, s.Bytes, MaxRecordBytes))
	}
	return s
}

// fetchRecord returns the SPF record of domain: the one TXT record that is
// "v=spf1" or starts with "v=spf1 " (RFC 7208 §4.5), "" when there is none.
func fetchRecord(ctx context.Context, r *resolver, domain string) (string, error) {
	txts, err := r.LookupTXT(ctx, domain)
	if err != nil {
		return "", err
	}
	var recs []string
	for _, t := range txts {
		if isSPF(t) {
			recs = append(recs, t)
		}
	}
	switch len(recs) {
	case 0:
		return "", nil
	case 1:
		return textsafe.Clean(recs[0]), nil
	}
	return "", spf.ErrMultipleRecords
}

func isSPF(t string) bool {
	l := strings.ToLower(t)
	return l == "v=spf1" || strings.HasPrefix(l, "v=spf1 ")
}

// mechanisms are the mechanism names of RFC 7208 §5.
var mechanisms = map[string]bool{"all": true, "include": true, "a": true, "mx": true, "ptr": true, "ip4": true, "ip6": true, "exists": true}

// syntaxError returns what makes rec invalid under the RFC 7208 §12 ABNF,
// checked conservatively (unknown mechanisms, ip4/ip6 values that are no
// address or network, include/exists/redirect without a domain, a repeated
// redirect or exp modifier), or "" when nothing is found. Unknown
// modifiers are allowed (§6).
func syntaxError(rec string) string {
	seen := map[string]bool{}
	for _, t := range parseTerms(rec) {
		if t.qual == 0 { // modifier
			if (t.name == "redirect" || t.name == "exp") && (t.value == "" || seen[t.name]) {
				return fmt.Sprintf("%q: %s needs one domain and may appear once (RFC 7208 §6)", t.raw, t.name)
			}
			seen[t.name] = true
			continue
		}
		if !mechanisms[t.name] {
			return fmt.Sprintf("%q is not a mechanism (RFC 7208 §5)", t.raw)
		}
		switch t.name {
		case "ip4", "ip6":
			v := t.value
			if v == "" || !strings.Contains(strings.ToLower(t.raw), t.name+":") {
				return fmt.Sprintf("%q: %s needs an address (RFC 7208 §5.6)", t.raw, t.name)
			}
			a, err := netip.ParseAddr(v)
			if err != nil {
				p, perr := netip.ParsePrefix(v)
				if perr != nil {
					return fmt.Sprintf("%q: not an address or network (RFC 7208 §5.6)", t.raw)
				}
				a = p.Addr()
			}
			if a.Is4() != (t.name == "ip4") {
				return fmt.Sprintf("%q: the address family does not match %s (RFC 7208 §5.6)", t.raw, t.name)
			}
		case "include", "exists":
			if t.value == "" {
				return fmt.Sprintf("%q: %s needs a domain (RFC 7208 §5.2, §5.7)", t.raw, t.name)
			}
		case "all":
			if t.value != "" {
				return fmt.Sprintf("%q: all takes no argument (RFC 7208 §5.1)", t.raw)
			}
		}
	}
	return ""
}

// term is one directive or modifier of a record.
type term struct {
	qual  byte   // '+', '-', '~', '?' (0 for a modifier)
	name  string // lower-case mechanism or modifier name: "ip4", "include", "redirect"…
	value string // what follows ':' or '=' (may be empty)
	raw   string
}

// parseTerms splits a record into terms (RFC 7208 §4.6.1), skipping the version.
func parseTerms(rec string) []term {
	var out []term
	for _, f := range strings.Fields(rec) {
		if !strings.EqualFold(f, "v=spf1") {
			out = append(out, parseTerm(f))
		}
	}
	return out
}

// parseTerm parses one field: a modifier "name=value" or a directive
// "[qualifier]mechanism[:value][/cidr]".
func parseTerm(f string) term {
	t := term{raw: f}
	if i := strings.IndexByte(f, '='); i > 0 && !strings.ContainsAny(f[:i], ":/") {
		t.name, t.value = strings.ToLower(f[:i]), f[i+1:]
		return t
	}
	t.qual = '+'
	if f != "" && strings.IndexByte("+-~?", f[0]) >= 0 {
		t.qual, f = f[0], f[1:]
	}
	name, value := f, ""
	if i := strings.IndexAny(f, ":/"); i >= 0 {
		name, value = f[:i], strings.TrimPrefix(f[i:], ":")
	}
	t.name, t.value = strings.ToLower(name), value
	return t
}

// hasAll reports whether terms hold an "all" mechanism; then a redirect is
// ignored (RFC 7208 §6.1).
func hasAll(terms []term) bool {
	for _, t := range terms {
		if t.qual != 0 && t.name == "all" {
			return true
		}
	}
	return false
}

// walker counts the DNS-querying terms of a record tree (RFC 7208 §4.6.4),
// following include and redirect, as an evaluation that matches no term does.
type walker struct {
	r        *resolver
	lookups  int
	void     int
	queries  int
	seen     map[string]bool // the records on the current include/redirect path
	problems []string
	notes    []string
}

// target is the domain a term queries: its value without a CIDR suffix, or
// the current domain.
func target(t term, domain string) string {
	v := t.value
	if i := strings.IndexByte(v, '/'); i >= 0 {
		v = v[:i]
	}
	if v == "" {
		return domain
	}
	return normName(v)
}

func (w *walker) walk(ctx context.Context, domain, rec string, depth int) {
	terms := parseTerms(rec)
	all := hasAll(terms)
	for _, t := range terms {
		if w.queries >= maxWalkQueries {
			w.notes = append(w.notes, fmt.Sprintf("the lookup count stopped after %d DNS queries", maxWalkQueries))
			return
		}
		switch {
		case t.qual != 0 && (t.name == "include"):
			w.lookups++
			w.follow(ctx, t, target(t, domain), depth)
		case t.qual == 0 && t.name == "redirect":
			if all {
				w.notes = append(w.notes, fmt.Sprintf("%s: redirect=%s is ignored because the record has an all term (RFC 7208 §6.1)", domain, t.value))
				continue
			}
			w.lookups++
			w.follow(ctx, t, target(t, domain), depth)
		case t.qual != 0 && t.name == "a", t.qual != 0 && t.name == "exists":
			w.lookups++
			name := target(t, domain)
			if strings.Contains(name, "%") {
				w.notes = append(w.notes, fmt.Sprintf("%s: %s uses macros: its target depends on the sender and was not looked up for the count", domain, t.raw))
				continue
			}
			w.queries++
			var n int
			var err error
			if t.name == "exists" {
				var addrs []netip.Addr
				addrs, err = w.r.c.LookupAddrs(ctx, name, true, false) // exists always asks A (RFC 7208 §5.7)
				n = len(addrs)
			} else {
				var ips []net.IPAddr
				ips, err = w.r.LookupIPAddr(ctx, name)
				n = len(ips)
			}
			w.countVoid(n, err)
		case t.qual != 0 && t.name == "mx":
			w.lookups++
			name := target(t, domain)
			if strings.Contains(name, "%") {
				w.notes = append(w.notes, fmt.Sprintf("%s: %s uses macros: not looked up for the count", domain, t.raw))
				continue
			}
			w.queries++
			mxs, err := w.r.LookupMX(ctx, name)
			w.countVoid(len(mxs), err)
			if len(mxs) > maxMXNames {
				w.problems = append(w.problems, fmt.Sprintf("%s: %s names %d MX hosts, over the %d an evaluation may resolve (RFC 7208 §4.6.4): permerror", domain, t.raw, len(mxs), maxMXNames))
			}
		case t.qual != 0 && t.name == "ptr":
			w.lookups++
			w.problems = append(w.problems, fmt.Sprintf("%s: the ptr mechanism should not be used (RFC 7208 §5.5): it is slow and many receivers ignore it", domain))
		}
	}
}

func (w *walker) countVoid(n int, err error) {
	if (err == nil && n == 0) || isNotFound(err) {
		w.void++
	}
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return dnsclient.IsNXDomain(err) || errors.As(err, &de) && de.IsNotFound
}

// follow counts the record an include or redirect points to.
func (w *walker) follow(ctx context.Context, t term, name string, depth int) {
	if strings.Contains(name, "%") {
		w.notes = append(w.notes, fmt.Sprintf("%s uses macros: the record it names depends on the sender and was not counted", t.raw))
		return
	}
	if w.seen[name] {
		w.problems = append(w.problems, fmt.Sprintf("%s names %s again: the records loop, and an evaluation runs into the lookup limit (permerror)", t.raw, name))
		return
	}
	w.seen[name] = true // on the current include path only: a record included twice elsewhere counts twice
	defer delete(w.seen, name)
	w.queries++
	rec, err := fetchRecord(ctx, w.r, name)
	switch {
	case err != nil && !isNotFound(err):
		w.notes = append(w.notes, fmt.Sprintf("%s: the record of %s could not be fetched (%v); its lookups are not counted", t.raw, name, err))
		return
	case rec == "":
		w.void++
		w.problems = append(w.problems, fmt.Sprintf("%s: %s has no SPF record, which makes the evaluation a permerror (RFC 7208 §5.2, §6.1)", t.raw, name))
		return
	}
	w.walk(ctx, name, rec, depth+1)
}
