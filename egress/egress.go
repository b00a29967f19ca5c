// Package egress finds the public IPv4 and IPv6 addresses this host's
// traffic leaves from, by asking DNS services that answer with the address
// that reached them: OpenDNS (myip.opendns.com), Google
// (o-o.myaddr.l.google.com TXT, https://developers.google.com/speed/public-dns/faq),
// Akamai (whoami.akamai.net) and Cloudflare (whoami.cloudflare CH TXT).
//
// Each family is detected separately: a source's server reached over IPv4
// reveals the IPv4 egress, reached over IPv6 the IPv6 egress. Sources are
// asked concurrently and their answers compared; the address is reported
// only when every answering source agrees.
//
// DNS over UDP can leave through a different NAT than SMTP over TCP/25, so
// the address an MX echoes back remains the ground truth for mail.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/logctx"
	"github.com/blprobe/blprobe/internal/textsafe"
)

// Source names.
const (
	OpenDNS    = "opendns"
	Google     = "google"
	Akamai     = "akamai"
	Cloudflare = "cloudflare"
)

// Family names used in Answer.Family.
const (
	FamilyIPv4 = "ipv4"
	FamilyIPv6 = "ipv6"
)

// DefaultTimeout bounds one query attempt when Options.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// maxIPs bounds the addresses kept from one answer.
const maxIPs = 8

// Source is one egress service: Name is opendns, google, akamai or
// cloudflare; Server is HOST:PORT. A host name is resolved through
// Options.Resolver (A for the IPv4 run, AAAA for the IPv6 run); an IP literal
// fixes the family the source is asked over.
type Source struct {
	Name   string
	Server string
}

// DefaultSources returns the four public services at their usual servers.
// Cloudflare is given by name (one.one.one.one = 1.1.1.1 and
// 2606:4700:4700::1111) so that it can be asked over both families.
func DefaultSources() []Source {
	return []Source{
		{OpenDNS, "resolver1.opendns.com:53"},
		{Google, "ns1.google.com:53"},
		{Akamai, "ns1-1.akamaitech.net:53"},
		{Cloudflare, "one.one.one.one:53"},
	}
}

var sourceNames = []string{OpenDNS, Google, Akamai, Cloudflare}

// ParseSource parses an --egress-server flag value, "NAME=HOST:PORT" (the
// port may be omitted and defaults to 53).
func ParseSource(flag string) (Source, error) {
	want := "want NAME=HOST:PORT with NAME one of " + strings.Join(sourceNames, ", ")
	name, server, ok := strings.Cut(strings.TrimSpace(flag), "=")
	if !ok {
		return Source{}, fmt.Errorf("invalid --egress-server %q: %s", flag, want)
	}
	name = strings.ToLower(strings.TrimSpace(name))
	known := false
	for _, n := range sourceNames {
		known = known || n == name
	}
	if !known {
		return Source{}, fmt.Errorf("invalid --egress-server %q: unknown source %q, %s", flag, name, want)
	}
	hp, err := dnsclient.NormalizeServer(server)
	if err != nil {
		return Source{}, fmt.Errorf("invalid --egress-server %q: %w; %s", flag, err, want)
	}
	if host, _, _ := net.SplitHostPort(hp); !validHost(host) {
		return Source{}, fmt.Errorf("invalid --egress-server %q: bad host %q; %s", flag, host, want)
	}
	return Source{Name: name, Server: hp}, nil
}

// validHost accepts an IP address or a host name of letters, digits, '-',
// '_' and '.'.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// SingleSourceWarning says when sources (DefaultSources when empty) come
// from fewer than two services, so that whether independent sources agree
// on the egress IP cannot be checked; "" otherwise.
func SingleSourceWarning(sources []Source) string {
	if len(sources) == 0 {
		sources = DefaultSources()
	}
	names := map[string]bool{}
	for _, s := range sources {
		names[s.Name] = true
	}
	if len(names) < 2 {
		return "only one egress source is asked: whether independent sources agree on the egress IP cannot be checked (give two or more --egress-server)"
	}
	return ""
}

// Options configures Detect.
type Options struct {
	// Sources to ask; DefaultSources when empty.
	Sources []Source
	// Resolver resolves server host names; needed only for sources given by name.
	Resolver dnsclient.Exchanger
	// Timeout bounds one query attempt (DefaultTimeout when zero).
	Timeout time.Duration
	// Retries is the number of extra attempts per source after a timeout.
	Retries int
	// IPv4 and IPv6 select the families to detect; both when neither is set.
	IPv4, IPv6 bool
	// SourceIP, if valid, is the local address queries of its family are sent from.
	SourceIP netip.Addr
}

// query describes how one source is asked.
type query struct {
	name  string
	qtype uint16
	class uint16
	rd    bool
}

func queryFor(source string, v6 bool) (query, error) {
	addrType := dns.TypeA
	if v6 {
		addrType = dns.TypeAAAA
	}
	switch source {
	case OpenDNS:
		// resolver1.opendns.com answers myip.opendns.com with the client address.
		return query{"myip.opendns.com.", addrType, dns.ClassINET, true}, nil
	case Google:
		// Authoritative ns1.google.com answers with the address that reached it.
		return query{"o-o.myaddr.l.google.com.", dns.TypeTXT, dns.ClassINET, false}, nil
	case Akamai:
		return query{"whoami.akamai.net.", addrType, dns.ClassINET, false}, nil
	case Cloudflare:
		// Only the CHAOS class query is answered with the client address.
		return query{"whoami.cloudflare.", dns.TypeTXT, dns.ClassCHAOS, true}, nil
	}
	return query{}, fmt.Errorf("unknown egress source %q (want one of %s)", source, strings.Join(sourceNames, ", "))
}

func (q query) String() string {
	s := strings.TrimSuffix(q.name, ".") + " "
	if q.class != dns.ClassINET {
		s += dns.ClassToString[q.class] + " "
	}
	return s + dns.TypeToString[q.qtype]
}

type job struct {
	src Source
	v6  bool
	ans Answer
}

// Detect asks every source over each selected family, concurrently, and
// reports each answer and, per family, the agreed address or the problem.
// It returns when every query has finished or ctx is done.
func Detect(ctx context.Context, o Options) *Result {
	sources := o.Sources
	if len(sources) == 0 {
		sources = DefaultSources()
	}
	doV4, doV6 := o.IPv4, o.IPv6
	if !doV4 && !doV6 {
		doV4, doV6 = true, true
	}
	var jobs []*job
	for _, v6 := range []bool{false, true} {
		if (v6 && !doV6) || (!v6 && !doV4) {
			continue
		}
		for _, s := range sources {
			if a, ok := literalHost(s.Server); ok && a.Is6() != v6 {
				continue // an IP literal fixes the family
			}
			jobs = append(jobs, &job{src: s, v6: v6})
		}
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.ans = ask(ctx, o, j.src, j.v6)
		}()
	}
	wg.Wait()

	e := &Result{Answers: []Answer{}}
	var v4ans, v6ans []Answer
	for _, j := range jobs {
		e.Answers = append(e.Answers, j.ans)
		if j.v6 {
			v6ans = append(v6ans, j.ans)
		} else {
			v4ans = append(v4ans, j.ans)
		}
	}
	e.IPv4 = summarize("IPv4", doV4, v4ans)
	e.IPv6 = summarize("IPv6", doV6, v6ans)
	return e
}

func literalHost(server string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(server)
	if err != nil {
		host = server
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// ask queries one source over one family.
func ask(ctx context.Context, o Options, s Source, v6 bool) Answer {
	fam := FamilyIPv4
	if v6 {
		fam = FamilyIPv6
	}
	ctx = logctx.Unit(ctx, "egress_source", s.Name, "family", fam)
	ans := Answer{Source: s.Name, Server: s.Server, Family: fam}
	q, err := queryFor(s.Name, v6)
	if err != nil {
		ans.Error = err.Error()
		return ans
	}
	ans.Query = q.String()
	server, err := resolveServer(ctx, o.Resolver, s.Server, v6)
	if err != nil {
		ans.Error = err.Error()
		return ans
	}
	if server != s.Server {
		ans.Server = s.Server + " (" + server + ")"
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c := &dnsclient.Client{Servers: []string{server}, Timeout: timeout, Retries: max(o.Retries, 0)}
	defer c.Close() // this client lives for one question: release its socket
	if o.SourceIP.IsValid() && o.SourceIP.Unmap().Is6() == v6 {
		c.LocalAddr = o.SourceIP.Unmap()
	}
	m := new(dns.Msg)
	m.SetQuestion(q.name, q.qtype)
	m.Question[0].Qclass = q.class
	m.RecursionDesired = q.rd
	start := time.Now()
	resp, err := c.Exchange(ctx, m)
	ans.RTTms = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		ans.Error = fmt.Sprintf("%s via %s: %v", s.Name, server, err)
		return ans
	}
	ips, err := parseAnswer(resp, q, v6)
	if err != nil {
		ans.Error = fmt.Sprintf("%s via %s: %s: %v", s.Name, server, q, err)
		return ans
	}
	for _, a := range ips {
		ans.IPs = append(ans.IPs, a.String())
	}
	return ans
}

// resolveServer turns HOST:PORT into IP:PORT of the wanted family.
func resolveServer(ctx context.Context, r dnsclient.Exchanger, server string, v6 bool) (string, error) {
	hp, err := dnsclient.NormalizeServer(server)
	if err != nil {
		return "", err
	}
	host, port, _ := net.SplitHostPort(hp)
	if a, ok := literalHost(hp); ok {
		return net.JoinHostPort(a.String(), port), nil
	}
	if r == nil {
		return "", fmt.Errorf("cannot resolve egress server %s: no resolver given", host)
	}
	fam := "IPv4 (A)"
	if v6 {
		fam = "IPv6 (AAAA)"
	}
	addrs, err := dnsclient.Resolve(r).LookupAddrs(ctx, host, !v6, v6)
	if err != nil {
		return "", fmt.Errorf("resolving egress server %s to %s: %w", host, fam, err)
	}
	for _, a := range addrs {
		if a.Unmap().Is6() == v6 {
			return net.JoinHostPort(a.Unmap().String(), port), nil
		}
	}
	return "", fmt.Errorf("egress server %s has no %s address", host, fam)
}

// parseAnswer extracts and validates the egress address(es) of one reply.
func parseAnswer(resp *dns.Msg, q query, v6 bool) ([]netip.Addr, error) {
	if resp.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("answered %s", rcodeName(resp.Rcode))
	}
	var raw []string
	for _, rr := range resp.Answer {
		h := rr.Header()
		if h.Rrtype != q.qtype || !strings.EqualFold(h.Name, q.name) {
			continue // e.g. a CNAME on the way
		}
		switch v := rr.(type) {
		case *dns.A:
			raw = append(raw, v.A.String())
		case *dns.AAAA:
			raw = append(raw, v.AAAA.String())
		case *dns.TXT:
			txt := strings.TrimSpace(strings.Join(v.Txt, ""))
			// Google adds "edns0-client-subnet a.b.c.0/24" when ECS is used.
			if strings.HasPrefix(strings.ToLower(txt), "edns0-client-subnet") {
				continue
			}
			raw = append(raw, txt)
		}
	}
	if len(raw) == 0 {
		return nil, errors.New("no answer")
	}
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, s := range raw {
		a, err := ParseAddress(s, v6)
		if err != nil {
			return nil, err
		}
		if !seen[a] && len(out) < maxIPs {
			seen[a] = true
			out = append(out, a)
		}
	}
	if len(out) > 1 {
		strs := make([]string, len(out))
		for i, a := range out {
			strs[i] = a.String()
		}
		return nil, fmt.Errorf("answered several addresses (%s)", strings.Join(strs, ", "))
	}
	return out, nil
}

// ParseAddress validates one egress answer: an address of the expected
// family (quotes and spaces around it are tolerated), usable as a source
// address (not unspecified, multicast or broadcast).
func ParseAddress(s string, v6 bool) (netip.Addr, error) {
	t := strings.TrimSpace(strings.Trim(strings.TrimSpace(s), `"`))
	a, err := netip.ParseAddr(t)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("answer %s is not an IP address", quoteShort(s))
	}
	if !v6 {
		a = a.Unmap()
	}
	fam := "IPv4"
	if v6 {
		fam = "IPv6"
	}
	if a.Is6() != v6 {
		return netip.Addr{}, fmt.Errorf("answer %s is not an %s address", a, fam)
	}
	if a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.Addr{}, fmt.Errorf("answer %s cannot be a source address", a)
	}
	return a, nil
}

func quoteShort(s string) string {
	s = textsafe.Clean(s)
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("rcode %d", rc)
}

// summarize computes one family's verdict from its answers.
func summarize(fam string, asked bool, answers []Answer) Family {
	var f Family
	if !asked {
		f.Problem = fam + " egress not checked"
		return f
	}
	if len(answers) == 0 {
		f.Problem = "no egress source can be asked over " + fam
		return f
	}
	bySource := map[string][]string{} // address → sources
	var order []string
	var errs []string
	for _, a := range answers {
		if a.Error != "" || len(a.IPs) == 0 {
			if a.Error != "" {
				errs = append(errs, a.Error)
			}
			continue
		}
		f.Answered++
		ip := a.IPs[0]
		if _, ok := bySource[ip]; !ok {
			order = append(order, ip)
		}
		bySource[ip] = append(bySource[ip], a.Source)
	}
	switch {
	case f.Answered == 0:
		f.Problem = "no egress source answered for " + fam
		if len(errs) > 0 {
			sort.Strings(errs)
			f.Problem += " (" + strings.Join(errs, "; ") + ")"
		}
	case len(order) == 1:
		f.IP, f.Agree = order[0], true
	default:
		var parts []string
		for _, ip := range order {
			srcs := bySource[ip]
			verb := " says "
			if len(srcs) > 1 {
				verb = " say "
			}
			parts = append(parts, joinAnd(srcs)+verb+ip)
		}
		f.Problem = "sources disagree: " + strings.Join(parts, ", ")
	}
	return f
}

// joinAnd joins "a", "a and b", "a, b and c".
func joinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
