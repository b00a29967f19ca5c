package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blprobe/blprobe/dnsbl/zonefile"
	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/logctx"
	"github.com/blprobe/blprobe/internal/textsafe"
	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// Exchanger sends one DNS query; it is the lookup layer's interface
// (*dnsclient.Client implements it).
type Exchanger = dnsclient.Exchanger

// Defaults of Options.
const (
	DefaultConcurrency  = 64
	DefaultMaxAddresses = 65536
)

// Options configure a Checker.
type Options struct {
	Resolver     Exchanger             // required
	Concurrency  int                   // queries in flight; default 64
	QPS          float64               // max queries per second per zone; 0 = unlimited
	DQSKey       string                // Spamhaus DQS key: switches zones with a "dqs" name
	MaxAddresses int                   // cap on distinct addresses of a run; default 65536
	Progress     func(done, total int) // optional; called from workers, must be cheap
	// Direct queries (direct.go): when to ask a zone's own nameservers.
	Direct         DirectMode    // auto (default), always or never
	PublicResolver bool          // Resolver is a well-known public one: NXDOMAIN for a positive test entry means refused
	DirectPort     int           // port of the zones' nameservers; 0 = 53
	DirectTimeout  time.Duration // per direct query attempt; 0 = the dnsclient default
}

// Checker runs DNSBL checks. It is safe for concurrent use.
type Checker struct {
	opts Options
	key  string // DQS key, lower-case (DNS names are case-insensitive)
}

// redacted replaces the DQS key in every name and string shown.
const redacted = "REDACTED"

// New validates opts and returns a Checker.
func New(opts Options) (*Checker, error) {
	if opts.Resolver == nil {
		return nil, errors.New("dnsbl: no resolver given")
	}
	if opts.Concurrency < 0 {
		return nil, fmt.Errorf("dnsbl: concurrency %d: want a positive number", opts.Concurrency)
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.QPS < 0 || math.IsNaN(opts.QPS) || math.IsInf(opts.QPS, 0) {
		return nil, errors.New("dnsbl: qps: want a non-negative number (0 = unlimited)")
	}
	if opts.MaxAddresses < 0 {
		return nil, fmt.Errorf("dnsbl: max addresses %d: want a positive number", opts.MaxAddresses)
	}
	if opts.MaxAddresses == 0 {
		opts.MaxAddresses = DefaultMaxAddresses
	}
	c := &Checker{opts: opts}
	var err error
	if c.opts.Direct, err = ParseDirectMode(string(opts.Direct)); err != nil {
		return nil, fmt.Errorf("dnsbl: %w", err)
	}
	if opts.DQSKey != "" {
		if err := checkDQSKey(opts.DQSKey); err != nil {
			return nil, err
		}
		c.key = strings.ToLower(opts.DQSKey)
	}
	return c, nil
}

// checkDQSKey accepts one DNS label of 8-63 letters and digits, the
// Spamhaus DQS key of "your_DQS_key.zen.dq.spamhaus.net"
// (https://github.com/spamhaus/spamassassin-dqs); the error never echoes
// the key.
func checkDQSKey(k string) error {
	ok := len(k) >= 8 && len(k) <= 63
	for i := 0; ok && i < len(k); i++ {
		c := k[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if !ok {
		return errors.New("invalid --dqs-key: want your Spamhaus DQS key, one DNS label of 8 to 63 letters and digits")
	}
	return nil
}

// scrub removes the DQS key (in any letter case) from s.
func (c *Checker) scrub(s string) string {
	if c.key == "" || len(s) < len(c.key) {
		return s
	}
	lower := strings.ToLower(s)
	if !strings.Contains(lower, c.key) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, c.key)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(redacted)
		s, lower = s[i+len(c.key):], lower[i+len(c.key):]
	}
}

// zoneRT is a zone compiled for a run.
type zoneRT struct {
	z        Zone
	display  string // zone name shown in results (DQS key redacted)
	query    string // zone name used in queries
	hasKey   bool   // query contains the DQS key
	needsKey bool   // the zone needs a key we do not have
	codes    codeTable
	errCodes codeTable

	lim     *rate.Limiter
	ex      Exchanger // the zone's own nameservers (direct.go); nil: Options.Resolver
	health  ZoneHealth
	errKind ErrorKind // error kind of results when not healthy
	errText string
	errRef  uint32 // errText in the run's ResultSet (0: not stored yet)
}

func (c *Checker) compileZone(z Zone) (*zoneRT, error) {
	z = z.clone()
	z.Zone = normZone(z.Zone)
	if z.Name == "" {
		z.Name = z.Zone
	}
	if err := validateZone(z); err != nil {
		return nil, fmt.Errorf("zone %q: %w", z.Zone, err)
	}
	zr := &zoneRT{z: z, display: z.Zone, query: z.Zone}
	var err error
	if zr.codes, err = newCodeTable(z.Codes); err != nil {
		return nil, fmt.Errorf("zone %q: %w", z.Zone, err)
	}
	if zr.errCodes, err = newCodeTable(z.ErrorCodes); err != nil {
		return nil, fmt.Errorf("zone %q: %w", z.Zone, err)
	}
	switch {
	case z.Local != nil:
		// Local list data: no DNS, no key needed.
	case z.DQS != "" && c.key != "":
		// Spamhaus DQS: <reversed-ip>.<KEY>.zen.dq.spamhaus.net
		// (https://github.com/spamhaus/spamassassin-dqs, sh.cf)
		dqs := normZone(z.DQS)
		zr.query = c.key + "." + dqs
		zr.display = redacted + "." + dqs
		zr.hasKey = true
	case z.NeedsKey:
		zr.needsKey = true
	}
	if c.opts.QPS > 0 {
		zr.lim = rate.NewLimiter(rate.Limit(c.opts.QPS), 1)
	}
	return zr, nil
}

// Run is the outcome of a run: the health of every zone used and one result
// per (address or domain, zone) pair, in address order then zone order.
type Run struct {
	Zones []ZoneHealth
	// Results holds every result (Checker.Run); nil from Checker.RunSet,
	// whose results are in Set.
	Results     []Result
	Set         *ResultSet // the compact results of the run
	Interrupted bool       // the context ended before every lookup finished
}

// Run checks the health of every zone the plan uses (once), then queries
// every pair on healthy zones. Pairs on unhealthy or unknown zones get an
// error result without a query; pairs not finished when ctx ends get
// StatusNotDone. Every pair appears exactly once. Run materialises every
// result; RunSet keeps them compact.
func (c *Checker) Run(ctx context.Context, plan *Plan) *Run {
	run := c.RunSet(ctx, plan, nil)
	run.Results = run.Set.All()
	return run
}

// job is one pair to query.
type job struct {
	idx  int
	s    *source
	a    netip.Addr
	host string
	z    *zoneRT
}

// RunSet is Run with compact results (Run.Set; Run.Results stays nil):
// memory grows by about 12 bytes per clean pair. onResult, if not nil, is
// called with every result as it completes (in completion order, one call
// at a time); the *Result is only valid during the call.
func (c *Checker) RunSet(ctx context.Context, plan *Plan, onResult func(*Result)) *Run {
	run := &Run{}
	zones := make([]*zoneRT, len(plan.zones))
	for i, z := range plan.zones {
		cp := *z // fresh health and limiter state per run
		if c.opts.QPS > 0 {
			cp.lim = rate.NewLimiter(rate.Limit(c.opts.QPS), 1)
		}
		zones[i] = &cp
	}
	used := make([]bool, len(zones))
	six := make([]bool, len(zones))
	mark := func(idx []int, n int, v6 bool) {
		if n == 0 {
			return
		}
		for _, i := range idx {
			used[i] = true
			six[i] = six[i] || v6
		}
	}
	mark(plan.z4, plan.n4, false)
	mark(plan.z6, plan.n6, true)
	mark(plan.zd, plan.nd, false)
	var hz []*zoneRT
	var hsix []bool
	for i, z := range zones {
		if used[i] {
			hz = append(hz, z)
			hsix = append(hsix, six[i])
		}
	}
	c.checkHealth(ctx, hz, hsix)
	for _, z := range hz {
		run.Zones = append(run.Zones, z.health)
		if z.health.Health == HealthNotDone {
			run.Interrupted = true
		}
	}

	set := newResultSet(c, plan, zones)
	run.Set = set
	total := plan.pairs
	var done atomic.Int64
	var emitMu sync.Mutex
	// finish records a finished pair and reports it.
	finish := func(j *job, r *Result) {
		set.set(j.idx, r)
		d := done.Add(1)
		if c.opts.Progress != nil {
			c.opts.Progress(int(d), total)
		}
		if onResult != nil {
			set.ident(r, j.s, j.a, j.host, j.z)
			emitMu.Lock()
			onResult(r)
			emitMu.Unlock()
		}
	}
	// A fixed pool of workers: no goroutine (and stack growth) per pair.
	jobs := make(chan job, c.opts.Concurrency)
	var wg sync.WaitGroup
	workers := min(c.opts.Concurrency, max(total, 1))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r Result
			for j := range jobs {
				r = Result{Status: StatusNotDone}
				if ctx.Err() == nil {
					c.lookupPair(ctx, j.z, &r, j.a, j.host)
				}
				finish(&j, &r)
			}
		}()
	}
	i := 0
	var r Result
	plan.walk(func(s *source, a netip.Addr, host string) bool {
		for _, zi := range plan.zonesFor(a, host) {
			if i >= total {
				return false // cannot happen: Plan counted these pairs
			}
			j := job{idx: i, s: s, a: a, host: host, z: zones[zi]}
			i++
			r = Result{Status: StatusNotDone}
			switch z := j.z; {
			case z.health.Health == HealthNotDone || ctx.Err() != nil:
				finish(&j, &r)
			case z.health.Health != HealthHealthy:
				r.Status, r.ErrorKind = StatusError, z.errKind
				if z.errRef == 0 {
					z.errRef = set.addExtra(extra{err: z.errText})
				}
				set.recs[j.idx] = pairRec{status: statusIndex(StatusError), kind: kindIndex(z.errKind), extra: z.errRef}
				r.Error = z.errText
				d := done.Add(1)
				if c.opts.Progress != nil {
					c.opts.Progress(int(d), total)
				}
				if onResult != nil {
					set.ident(&r, j.s, j.a, j.host, j.z)
					emitMu.Lock()
					onResult(&r)
					emitMu.Unlock()
				}
			case z.z.Local != nil:
				c.lookupLocal(z, &r, a, host) // a map lookup: no goroutine
				finish(&j, &r)
			default:
				jobs <- j
			}
		}
		return true
	})
	close(jobs)
	wg.Wait()
	for k := range set.recs {
		if set.recs[k].status == 0 {
			run.Interrupted = true
			break
		}
	}
	return run
}

// exchange waits for the zone's rate limiter and sends one query.
func (c *Checker) exchange(ctx context.Context, z *zoneRT, name string, qtype uint16) (*dns.Msg, time.Duration, error) {
	if z.lim != nil {
		if err := z.lim.Wait(ctx); err != nil {
			return nil, 0, fmt.Errorf("rate limit wait for %s: %w", name, context.Canceled)
		}
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	ex := c.opts.Resolver
	if z.ex != nil {
		ex = z.ex
	}
	ctx = logctx.Unit(ctx, "zone", z.z.Zone) // one logger per zone (no cost unless debugging)
	start := time.Now()
	resp, err := ex.Exchange(ctx, m)
	rtt := time.Since(start)
	if err != nil {
		return nil, rtt, err
	}
	if resp == nil {
		return nil, rtt, fmt.Errorf("dns query for %s: no response", name)
	}
	if len(resp.Question) > 0 && !strings.EqualFold(resp.Question[0].Name, name) {
		return nil, rtt, fmt.Errorf("dns query for %s: answer is for another name", name)
	}
	return resp, rtt, nil
}

// failure classifies a transport error; ok is false when the run was
// interrupted (the pair is not done, not failed).
func failure(ctx context.Context, err error) (ErrorKind, bool) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return "", false
	}
	// A socket deadline derived from ctx can fire before ctx's own timer
	// marks it done: an expired ctx deadline is an interruption too.
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return "", false
	}
	if dnsclient.IsTimeout(err) {
		return ErrTimeout, true
	}
	return ErrDNS, true
}

// txtText joins the character-strings of a TXT record and undoes the
// presentation-format escapes miekg/dns applies (\DDD for non-printable
// bytes, \" and \\), so the reason reads as the list wrote it; control
// characters are removed afterwards by textsafe.Clean.
func txtText(strs []string) string {
	var b strings.Builder
	for _, s := range strs {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c != '\\' || i+1 >= len(s) {
				b.WriteByte(c)
				continue
			}
			if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
				if v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); v < 256 {
					b.WriteByte(byte(v))
					i += 3
					continue
				}
			}
			b.WriteByte(s[i+1])
			i++
		}
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// maxReason bounds the TXT text kept per result.
const maxReason = 512

func (c *Checker) lookupPair(ctx context.Context, z *zoneRT, r *Result, a netip.Addr, host string) {
	if z.z.Local != nil {
		c.lookupLocal(z, r, a, host)
		return
	}
	var name string
	if host != "" {
		name = DomainQueryName(host, z.query) + "."
	} else {
		name = QueryName(a, z.query) + "."
	}
	resp, rtt, err := c.exchange(ctx, z, name, dns.TypeA)
	r.RTTms = math.Round(float64(rtt.Microseconds())/10) / 100
	if err != nil {
		kind, ok := failure(ctx, err)
		if !ok {
			r.RTTms = 0
			return // StatusNotDone
		}
		r.Status, r.ErrorKind, r.Error = StatusError, kind, c.scrub(textsafe.Clean(err.Error()))
		return
	}
	o := z.decode(resp)
	r.Status, r.ErrorKind, r.Error = o.status, o.kind, c.scrub(o.err)
	r.Codes, r.Meanings = o.codes, o.meanings
	if o.status != StatusListed {
		return
	}
	// RFC 5782 §2.1: the TXT record gives the reason; fetched only for listings.
	tresp, _, err := c.exchange(ctx, z, name, dns.TypeTXT)
	if err != nil || tresp.Rcode != dns.RcodeSuccess {
		return
	}
	r.Reason = c.reason(reasonTexts(tresp))
}

// reasonTexts returns the TXT texts of resp that belong to the name asked
// (or the CNAME chain from it); TXT records of other names are dropped, as
// their A records are in decode.
func reasonTexts(resp *dns.Msg) []string {
	owners := answerOwners(resp)
	var texts []string
	for _, rr := range resp.Answer {
		if t, ok := rr.(*dns.TXT); ok && (owners == nil || owners[strings.ToLower(t.Hdr.Name)]) {
			texts = append(texts, txtText(t.Txt))
		}
	}
	return texts
}

// localAnswer looks a unit up in the zone's local data and decodes it as
// the same answer from DNS would be: NXDOMAIN when not listed, else NOERROR
// with the entry's A record.
func (z *zoneRT) localAnswer(a netip.Addr, host string) (outcome, zonefile.Answer) {
	var ans zonefile.Answer
	var ok bool
	if host != "" {
		ans, ok = z.z.Local.LookupName(host)
	} else {
		ans, ok = z.z.Local.Lookup(a)
	}
	if !ok {
		return z.decodeAddrs(dns.RcodeNameError, nil), ans
	}
	return z.decodeAddrs(dns.RcodeSuccess, []netip.Addr{ans.A}), ans
}

// lookupLocal fills r from the zone's local data (no DNS, RTT 0).
func (c *Checker) lookupLocal(z *zoneRT, r *Result, a netip.Addr, host string) {
	o, ans := z.localAnswer(a, host)
	r.Status, r.ErrorKind, r.Error = o.status, o.kind, c.scrub(o.err)
	r.Codes, r.Meanings = o.codes, o.meanings
	if o.status == StatusListed && ans.HasTXT {
		r.Reason = c.reason([]string{ans.TXT})
	}
}

// reason joins TXT texts into a result's reason: at most maxReason bytes,
// control characters removed, DQS key redacted.
func (c *Checker) reason(texts []string) string {
	var parts []string
	size := 0
	for _, s := range texts {
		if size+len(s) > maxReason {
			s = s[:maxReason-size]
		}
		size += len(s)
		parts = append(parts, s)
		if size >= maxReason {
			break
		}
	}
	return c.scrub(strings.ToValidUTF8(textsafe.Clean(strings.Join(parts, "; ")), ""))
}

// CheckHealth tests the RFC 5782 §5 entries of zones (both address
// families for ip4+ip6 zones) and returns their health in zone order.
func (c *Checker) CheckHealth(ctx context.Context, zones []Zone) []ZoneHealth {
	out := make([]ZoneHealth, len(zones))
	var zrs []*zoneRT
	var six []bool
	var at []int
	for i, z := range zones {
		zr, err := c.compileZone(z)
		if err != nil {
			out[i] = ZoneHealth{Zone: c.scrub(normZone(z.Zone)), Name: z.Name, Type: z.Type, Kind: z.Kind,
				Health: HealthUnknown, Problem: c.scrub(err.Error()), Evidence: []Evidence{}}
			continue
		}
		zrs, six, at = append(zrs, zr), append(six, true), append(at, i)
	}
	c.checkHealth(ctx, zrs, six)
	for k, zr := range zrs {
		out[at[k]] = zr.health
	}
	return out
}

// testEntry is one RFC 5782 §5 test query.
type testEntry struct {
	name, display string
	positive      bool
	label         string // the test entry, e.g. "127.0.0.2"
}

var (
	test4Pos = netip.MustParseAddr("127.0.0.2")
	test4Neg = netip.MustParseAddr("127.0.0.1")
	test6Pos = netip.MustParseAddr("::ffff:7f00:2") // an IPv6 query, not 127.0.0.2 (RFC 5782 §5)
	test6Neg = netip.MustParseAddr("::ffff:7f00:1")
)

// tests lists a zone's test entries (RFC 5782 §5). ip4+ip6 zones test the
// IPv4 pair always and the IPv6 pair when v6 addresses are checked: we test
// the entries of what we are about to ask, and a zone that fails either pair
// is not trusted for any family.
func (z *zoneRT) tests(v6 bool) []testEntry {
	var out []testEntry
	addr := func(a netip.Addr, pos bool) {
		out = append(out, testEntry{QueryName(a, z.query) + ".", QueryName(a, z.display), pos, a.String()})
	}
	dom := func(d string, pos bool) {
		out = append(out, testEntry{DomainQueryName(d, z.query) + ".", DomainQueryName(d, z.display), pos, d})
	}
	switch z.z.Kind {
	case KindIP4:
		addr(test4Pos, true)
		addr(test4Neg, false)
	case KindIP6:
		addr(test6Pos, true)
		addr(test6Neg, false)
	case KindIP46:
		addr(test4Pos, true)
		addr(test4Neg, false)
		if v6 {
			addr(test6Pos, true)
			addr(test6Neg, false)
		}
	case KindDomain:
		pos := "test"
		if z.z.TestName != "" {
			pos = normZone(z.z.TestName)
		}
		dom(pos, true)
		dom("invalid", false)
	}
	return out
}

// testResult is a test query's evidence and verdict.
type testResult struct {
	ev       Evidence
	bad      string    // proves the zone unhealthy
	fail     string    // the test could not be run
	failKind ErrorKind // kind of fail
	notDone  bool
}

func (c *Checker) checkHealth(ctx context.Context, zones []*zoneRT, six []bool) {
	type job struct {
		z  int
		te testEntry
	}
	c.directFirst(ctx, zones)
	var jobs []job
	for i, z := range zones {
		z.health = ZoneHealth{Zone: z.display, Name: c.scrub(z.z.Name), Type: z.z.Type, Kind: z.z.Kind,
			DelistURL: z.z.DelistURL, Evidence: []Evidence{}}
		if z.needsKey {
			z.health.Health = HealthUnknown
			z.health.Problem = "the zone needs an account key that was not given (Spamhaus DQS: --dqs-key)"
			z.errKind, z.errText = ErrNeedsKey, z.health.Problem
			continue
		}
		for _, te := range z.tests(six[i]) {
			jobs = append(jobs, job{i, te})
		}
	}
	res := make([]testResult, len(jobs))
	var g errgroup.Group
	g.SetLimit(c.opts.Concurrency)
	for k, j := range jobs {
		if ctx.Err() != nil {
			res[k].notDone = true
			continue
		}
		g.Go(func() error {
			res[k] = c.runTest(ctx, zones[j.z], j.te)
			return nil
		})
	}
	g.Wait()
	byZone := make([][]testResult, len(zones))
	for k, j := range jobs {
		byZone[j.z] = append(byZone[j.z], res[k])
	}
	for i, z := range zones {
		if z.needsKey {
			continue
		}
		h := &z.health
		var bad, fail string
		var failKind ErrorKind
		notDone := false
		for _, tr := range byZone[i] {
			notDone = notDone || tr.notDone
			h.Evidence = append(h.Evidence, tr.ev)
			if tr.bad != "" && bad == "" {
				bad = tr.bad
			}
			if tr.fail != "" && fail == "" {
				fail, failKind = tr.fail, tr.failKind
			}
		}
		switch {
		case bad != "":
			h.Health, h.Problem = HealthUnhealthy, c.scrub(bad)
			z.errKind = ErrZoneUnhealthy
			z.errText = "not queried: the zone failed its RFC 5782 test entries: " + h.Problem
		case notDone:
			h.Health = HealthNotDone
		case fail != "":
			h.Health, h.Problem = HealthUnknown, c.scrub(fail)
			z.errKind = failKind
			z.errText = "not queried: the zone's RFC 5782 test entries could not be checked: " + h.Problem
		default:
			h.Health = HealthHealthy
		}
	}
	c.directFallback(ctx, zones, six)
}

// runTest sends one test query and judges it (RFC 5782 §5: the test entries).
func (c *Checker) runTest(ctx context.Context, z *zoneRT, te testEntry) testResult {
	tr := testResult{ev: Evidence{Query: te.display, Expect: "not_listed"}}
	if te.positive {
		tr.ev.Expect = "listed"
	}
	var o outcome
	if z.z.Local != nil {
		a, _ := netip.ParseAddr(te.label)
		host := ""
		if !a.IsValid() {
			host = te.label
		}
		o, _ = z.localAnswer(a, host)
	} else {
		resp, _, err := c.exchange(ctx, z, te.name, dns.TypeA)
		if err != nil {
			kind, ok := failure(ctx, err)
			if !ok {
				tr.notDone = true
				return tr
			}
			tr.ev.Error = c.scrub(textsafe.Clean(err.Error()))
			tr.fail, tr.failKind = fmt.Sprintf("test entry %s: %s", te.label, tr.ev.Error), kind
			return tr
		}
		o = z.decode(resp)
	}
	tr.ev.Rcode, tr.ev.Codes = o.rcode, o.codes
	codes := strings.Join(o.codes, ", ")
	switch o.status {
	case StatusListed, StatusAllowed:
		tr.ev.OK = te.positive
		if !te.positive {
			tr.bad = fmt.Sprintf("the negative test entry %s is listed (%s): the zone lists everything (wildcard, dead or hijacked zone)", te.label, codes)
		}
	case StatusClean:
		tr.ev.OK = !te.positive
		if te.positive {
			tr.bad = fmt.Sprintf("the positive test entry %s is not listed (%s): the zone lists nothing, is dead, or refuses this resolver", te.label, o.rcode)
		}
	default:
		tr.ev.Error = c.scrub(o.err)
		switch o.kind {
		case ErrZoneErrorCode, ErrBadAnswer:
			tr.bad = fmt.Sprintf("test entry %s: %s", te.label, tr.ev.Error)
		default:
			tr.fail, tr.failKind = fmt.Sprintf("test entry %s: %s", te.label, tr.ev.Error), o.kind
		}
	}
	return tr
}
