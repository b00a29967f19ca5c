// Package smtpcheck probes the mail exchangers of domains at the RCPT stage,
// the way an administrator would with telnet: connect, banner, EHLO (HELO as
// a fallback), STARTTLS when offered, MAIL FROM, RCPT TO, RSET, QUIT. It
// never sends DATA, so no mail is ever delivered. Each reply is classified
// (accepted, blocklisted, policy, greylisted…) and the blocklist a rejection
// cites is named, so that "the MX refuses us because of Spamhaus" can be told
// apart from "unknown user" or "port 25 is blocked on this network".
package smtpcheck

import (
	"context"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"

	"github.com/blprobe/blprobe/internal/dnsclient"
)

// Exchanger sends one DNS query; it is the lookup layer's interface
// (*dnsclient.Client implements it).
type Exchanger = dnsclient.Exchanger

// TLSMode says how STARTTLS is used.
type TLSMode string

// TLS modes.
const (
	TLSOpportunistic TLSMode = "opportunistic" // use STARTTLS when offered; a bad certificate is recorded, not fatal
	TLSRequired      TLSMode = "required"      // no STARTTLS, or a certificate that does not verify, is tls_failed
	TLSOff           TLSMode = "off"           // never send STARTTLS
)

// Defaults used for zero Options fields.
const (
	DefaultPort           = 25
	DefaultConnectTimeout = 10 * time.Second
	DefaultCommandTimeout = 30 * time.Second
	DefaultConcurrency    = 16
)

// Options configure a run. Only Resolver is required.
type Options struct {
	Resolver Exchanger
	// HELO is the EHLO/HELO argument (DefaultHELO gives this machine's);
	// "" uses the address literal of each connection's local address
	// ("[192.0.2.1]", "[IPv6:2001:db8::1]") and says so in Result.Notes.
	HELO string
	// From is the MAIL FROM address, or NullReversePath; "" is
	// DefaultFrom(HELO).
	From string
	// Rcpts are the RCPT TO addresses. Each is sent only to the MXs of its
	// own domain (to another domain's MX it would be a relay attempt); a
	// domain with none gets "postmaster@DOMAIN" (RFC 5321 §4.5.1: every
	// domain must accept postmaster).
	Rcpts []string
	// SourceIP binds outgoing connections; it also restricts the address
	// family probed.
	SourceIP netip.Addr
	// Port is the SMTP port (default 25).
	Port int
	// TLS is the STARTTLS mode (default opportunistic).
	TLS TLSMode
	// RootCAs verifies server certificates; nil uses the system roots.
	RootCAs *x509.CertPool
	// ConnectTimeout bounds the TCP connect (default 10s).
	ConnectTimeout time.Duration
	// CommandTimeout bounds each command and its whole reply, however
	// slowly it drips in, and the TLS handshake (default 30s).
	CommandTimeout time.Duration
	// Concurrency caps simultaneous probes (default 16). One address is
	// never probed by two connections at once.
	Concurrency int
	// IPv4Only and IPv6Only restrict the addresses probed (-4 / -6).
	IPv4Only, IPv6Only bool
	// Rand shuffles MX hosts of equal preference; nil seeds one randomly.
	Rand *rand.Rand
	// Progress, if set, is called after each probe (serially).
	Progress func(done, total int)
	// DialContext, if set, replaces the TCP dialer (proxies, tests). It
	// receives "tcp4" or "tcp6" and "ip:port"; SourceIP is then its job.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
}

// NullReversePath is the empty MAIL FROM path "<>" (RFC 5321 §4.5.5).
const NullReversePath = "<>"

// DefaultHELO returns this machine's name when it is a fully-qualified
// domain name, the EHLO argument RFC 5321 §4.1.1.1 asks for; otherwise ""
// (each connection then uses the address literal of its source address,
// RFC 5321 §4.1.4).
func DefaultHELO() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if !IsFQDN(h) {
		return ""
	}
	return h
}

// IsFQDN reports whether name is a fully-qualified host name usable as an
// EHLO argument: at least two labels of letters, digits and hyphens, not an
// IP address.
func IsFQDN(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if len(name) == 0 || len(name) > 253 || !strings.Contains(name, ".") {
		return false
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range strings.ToLower(l) {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// DefaultFrom is the MAIL FROM used with helo when none is given:
// postmaster@helo for a host name; the null reverse-path "<>" for an
// address literal or "" (RFC 5321 §4.5.5 requires servers to accept it,
// while postmaster@[IP] is rejected by many MXs as an unknown sender domain).
func DefaultFrom(helo string) string {
	if IsFQDN(helo) {
		return "postmaster@" + strings.ToLower(strings.TrimSuffix(helo, "."))
	}
	return NullReversePath
}

// RcptsFor returns the recipients of rcpts whose domain is domain
// (case-insensitive), or postmaster@domain when there is none.
func RcptsFor(domain string, rcpts []string) []string {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	var out []string
	for _, r := range rcpts {
		if strings.EqualFold(RcptDomain(r), domain) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		out = []string{"postmaster@" + domain}
	}
	return out
}

// RcptDomain returns the domain of a recipient address (after the last @),
// lower-cased and without a trailing dot.
func RcptDomain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	return strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
}

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Port <= 0 || o.Port > 65535 {
		o.Port = DefaultPort
	}
	if o.TLS == "" {
		o.TLS = TLSOpportunistic
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return o
}

// Notes added to every result.
const noteNoData = "no DATA is sent: rejections that happen after DATA (content filters, some blocklist checks) are invisible to this probe"

// Run resolves the mail hosts of every domain and probes every address of
// every MX. It always returns a complete result: when ctx is cancelled,
// probes that did not finish are marked not_done.
func Run(ctx context.Context, domains []string, opts Options) *Result {
	return RunFrom(ctx, domains, nil, opts)
}

// RunFrom is Run with every address probed once from each of sources (local
// addresses to bind, e.g. the local addresses of a CIDR being checked),
// skipping addresses of the other family. Each domain is resolved once, and
// the probes of one MX address from several sources still never overlap.
// With no sources it probes from opts.SourceIP.
func RunFrom(ctx context.Context, domains []string, sources []netip.Addr, opts Options) *Result {
	opts = opts.withDefaults()
	if len(sources) == 0 {
		sources = []netip.Addr{opts.SourceIP}
	}
	resolveOpts := opts
	if len(sources) > 1 {
		resolveOpts.SourceIP = netip.Addr{} // families are filtered per source below
	}
	from := opts.From
	if from == "" {
		from = DefaultFrom(opts.HELO)
	}
	res := &Result{
		HELO:    opts.HELO,
		From:    from,
		Rcpts:   append([]string{}, opts.Rcpts...),
		Port:    opts.Port,
		TLSMode: string(opts.TLS),
		Domains: make([]Domain, len(domains)),
	}
	// The shared Rand is not safe for concurrent use: derive one per domain.
	seeds := make([]uint64, len(domains))
	for i := range seeds {
		seeds[i] = opts.Rand.Uint64()
	}
	var g errgroup.Group
	g.SetLimit(opts.Concurrency)
	for i, d := range domains {
		g.Go(func() error {
			o := resolveOpts
			o.Rand = rand.New(rand.NewPCG(seeds[i], 0))
			res.Domains[i] = ResolveDomain(ctx, d, o)
			res.Domains[i].Rcpts = RcptsFor(res.Domains[i].Domain, opts.Rcpts)
			return nil
		})
	}
	g.Wait()

	// Probes of one ip:port run one after another in one goroutine, so a
	// probe never holds a concurrency slot while it waits for the address:
	// several domains often share MX hosts, and two simultaneous probes of
	// one address (or one per source) look abusive.
	type job struct {
		d, m, a int
		src     netip.Addr
	}
	var (
		groups = map[string][]job{}
		order  []string
		total  int
	)
	for di := range res.Domains {
		for mi := range res.Domains[di].MX {
			mx := &res.Domains[di].MX[mi]
			var probes []Probe
			var srcs []netip.Addr
			for _, p := range mx.Addresses {
				ip, err := netip.ParseAddr(p.IP)
				for _, src := range sources {
					if err == nil && src.IsValid() && src.Unmap().Is4() != ip.Unmap().Is4() {
						continue // a bound socket cannot reach the other family
					}
					if src.IsValid() {
						p.SourceIP = src.Unmap().String()
					}
					probes = append(probes, p)
					srcs = append(srcs, src)
				}
			}
			if len(probes) == 0 && len(mx.Addresses) > 0 && mx.Error == "" {
				mx.Error = "no address of the source addresses' family"
			}
			mx.Addresses = probes
			for ai, p := range probes {
				key := p.IP
				if ip, err := netip.ParseAddr(p.IP); err == nil {
					key = netip.AddrPortFrom(ip, uint16(opts.Port)).String()
				}
				if _, ok := groups[key]; !ok {
					order = append(order, key)
				}
				groups[key] = append(groups[key], job{di, mi, ai, srcs[ai]})
				total++
			}
		}
	}
	var (
		pmu  sync.Mutex
		done int
	)
	if opts.Progress != nil {
		opts.Progress(0, total)
	}
	for _, key := range order {
		g.Go(func() error {
			for _, j := range groups[key] {
				dom := &res.Domains[j.d]
				mx := &dom.MX[j.m]
				p := &mx.Addresses[j.a]
				if ip, err := netip.ParseAddr(p.IP); err == nil && ctx.Err() == nil {
					o := opts
					o.SourceIP = j.src
					*p = ProbeAddress(ctx, mx.Host, ip, dom.Domain, o)
					if p.SourceIP == "" && j.src.IsValid() {
						p.SourceIP = j.src.Unmap().String() // failed before binding: say which source it was
					}
				}
				pmu.Lock()
				done++
				if opts.Progress != nil {
					opts.Progress(done, total)
				}
				pmu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	res.Notes = append(res.Notes, noteNoData)
	describeSent(res, opts)
	noteTLSFallbacks(res)
	detectPort25Blocked(res)
	return res
}

// describeSent fills Result.HELO with the EHLO argument(s) actually sent,
// and notes when they were address literals.
func describeSent(res *Result, opts Options) {
	if opts.HELO != "" {
		return
	}
	var lits []string
	seen := map[string]bool{}
	for _, d := range res.Domains {
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				a, err := netip.ParseAddr(p.SourceIP)
				if err != nil || !sentGreeting(p) {
					continue
				}
				if l := addressLiteral(a); !seen[l] {
					seen[l] = true
					lits = append(lits, l)
				}
			}
		}
	}
	if len(lits) == 0 {
		res.HELO = "(address literal of the source address; no EHLO was sent)"
		return
	}
	res.HELO = strings.Join(lits, ", ")
	res.Notes = append(res.Notes, fmt.Sprintf(
		"no HELO name was set and this machine's name is not a fully-qualified domain name, so EHLO used the address literal %s of the source address (RFC 5321 §4.1.3): many MXs reject address literals (e.g. Postfix reject_non_fqdn_helo_hostname), which is not how your MTA introduces itself; MAIL FROM was %s; give --helo (and --from) with your MTA's names for a faithful test",
		res.HELO, res.From))
}

// sentGreeting reports whether the probe sent EHLO or HELO.
func sentGreeting(p Probe) bool {
	for _, l := range p.Transcript {
		if l.Dir == "C" && (strings.HasPrefix(l.Line, "EHLO ") || strings.HasPrefix(l.Line, "HELO ")) {
			return true
		}
	}
	return false
}

// noteTLSFallbacks says when probes fell back to plain text after a failed
// STARTTLS handshake (opportunistic mode).
func noteTLSFallbacks(res *Result) {
	n := 0
	for _, d := range res.Domains {
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				if strings.HasPrefix(p.StartTLS, StartTLSHandshakeFailed) {
					n++
				}
			}
		}
	}
	if n > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf(
			"%d probe(s) failed the STARTTLS handshake and were retried in plain text, as a sending MTA with opportunistic TLS would; their verdict comes from the plain-text session and their starttls field says what failed (with --tls required they would be tls_failed)", n))
	}
}

// detectPort25Blocked sets Port25Blocked when every probe that ran ended in
// a connect timeout, on at least two addresses: uniform connect timeouts to unrelated MX
// point at a local/egress block, as clouds that block outbound port 25 do
// (e.g. https://cloud.google.com/compute/docs/tutorials/sending-mail).
func detectPort25Blocked(res *Result) {
	addrs, hosts := map[string]bool{}, map[string]bool{}
	for _, d := range res.Domains {
		for _, mx := range d.MX {
			for _, p := range mx.Addresses {
				if p.Status == StatusNotDone {
					continue
				}
				if p.Class != ClassConnectTimeout {
					return
				}
				addrs[p.IP] = true
				hosts[mx.Host] = true
			}
		}
	}
	if len(addrs) < 2 {
		return
	}
	res.Port25Blocked = true
	res.Notes = append(res.Notes, fmt.Sprintf(
		"every connection to port %d timed out (%d addresses of %d hosts): outbound port %d appears blocked on this network (ISP or cloud filter), rather than every host being down",
		res.Port, len(addrs), len(hosts), res.Port))
}

// sortMX orders MX records by preference, shuffling equal preferences with r
// (RFC 5321 §5.1: equal preferences MUST be randomised).
func sortMX(mxs []*dns.MX, r *rand.Rand) {
	sort.SliceStable(mxs, func(i, j int) bool {
		if mxs[i].Preference != mxs[j].Preference {
			return mxs[i].Preference < mxs[j].Preference
		}
		return mxs[i].Mx < mxs[j].Mx // deterministic base order for a seeded Rand
	})
	for i := 0; i < len(mxs); {
		j := i
		for j < len(mxs) && mxs[j].Preference == mxs[i].Preference {
			j++
		}
		grp := mxs[i:j]
		r.Shuffle(len(grp), func(a, b int) { grp[a], grp[b] = grp[b], grp[a] })
		i = j
	}
}
