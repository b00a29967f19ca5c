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
	"sort"
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
	// HELO is the EHLO/HELO argument; "" uses the address literal of each
	// connection's local address ("[192.0.2.1]", "[IPv6:2001:db8::1]").
	HELO string
	// From is the MAIL FROM address; "" is "postmaster@" + the HELO name.
	From string
	// Rcpts are the RCPT TO addresses; empty means "postmaster@DOMAIN"
	// (RFC 5321 §4.5.1: every server must accept postmaster).
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
	res := &Result{
		HELO:    opts.HELO,
		From:    opts.From,
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
			return nil
		})
	}
	g.Wait()

	type job struct {
		d, m, a int
		src     netip.Addr
	}
	var jobs []job
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
			for ai := range probes {
				jobs = append(jobs, job{di, mi, ai, srcs[ai]})
			}
		}
	}
	locks := newAddrLocks()
	var (
		pmu  sync.Mutex
		done int
	)
	if opts.Progress != nil {
		opts.Progress(0, len(jobs))
	}
	for _, j := range jobs {
		g.Go(func() error {
			dom := &res.Domains[j.d]
			mx := &dom.MX[j.m]
			p := &mx.Addresses[j.a]
			ip, err := netip.ParseAddr(p.IP)
			if err == nil {
				key := netip.AddrPortFrom(ip, uint16(opts.Port)).String()
				// RFC-friendly and realistic: several domains often share MX
				// hosts; two simultaneous probes of one address look abusive.
				if locks.lock(ctx, key) {
					o := opts
					o.SourceIP = j.src
					*p = ProbeAddress(ctx, mx.Host, ip, dom.Domain, o)
					locks.unlock(key)
					if p.SourceIP == "" && j.src.IsValid() {
						p.SourceIP = j.src.Unmap().String() // failed before binding: say which source it was
					}
				}
			}
			pmu.Lock()
			done++
			if opts.Progress != nil {
				opts.Progress(done, len(jobs))
			}
			pmu.Unlock()
			return nil
		})
	}
	g.Wait()
	res.Notes = append(res.Notes, noteNoData)
	detectPort25Blocked(res)
	return res
}

// detectPort25Blocked sets Port25Blocked when every probe that ran ended in
// a connect timeout, on at least two addresses (FACTS §7: uniform connect
// timeouts to unrelated MX point at a local/egress block).
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

// addrLocks serialises probes of one ip:port; waiting honours ctx.
type addrLocks struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func newAddrLocks() *addrLocks { return &addrLocks{m: map[string]chan struct{}{}} }

func (l *addrLocks) lock(ctx context.Context, key string) bool {
	l.mu.Lock()
	ch, ok := l.m[key]
	if !ok {
		ch = make(chan struct{}, 1)
		l.m[key] = ch
	}
	l.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (l *addrLocks) unlock(key string) {
	l.mu.Lock()
	ch := l.m[key]
	l.mu.Unlock()
	<-ch
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
