package dnsclient

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/dnstest"
)

// resolveZone exercises the address rules: CNAME chains (the loopback server
// does not chase them, so the Resolver must), IPv4-mapped AAAA, NODATA and
// NXDOMAIN.
const resolveZone = `
both.test.      60 IN A     192.0.2.1
both.test.      60 IN AAAA  2001:db8::1
v4.test.        60 IN A     192.0.2.2
v4.test.        60 IN TXT   "only A and TXT"
alias.test.     60 IN CNAME hop.test.
hop.test.       60 IN CNAME both.test.
dangling.test.  60 IN CNAME nx.test.
loop1.test.     60 IN CNAME loop2.test.
loop2.test.     60 IN CNAME loop1.test.
mapped.test.    60 IN AAAA  ::ffff:192.0.2.3
dup.test.       60 IN A     192.0.2.4
dup.test.       60 IN AAAA  ::ffff:192.0.2.4
mx.test.        60 IN MX    10 both.test.
mxalias.test.   60 IN CNAME mx.test.
`

func TestLookupAddrsTable(t *testing.T) {
	s := dnstest.Start(t, resolveZone)
	s.Handle("fail.test", dnstest.Rcode(dns.RcodeServerFailure))
	r := NewResolver(newClient(t, s), false)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		v4, v6 bool
		want   []string
		nx     bool // NXDOMAIN
		fail   bool // another error
	}{
		{"both.test", true, true, []string{"192.0.2.1", "2001:db8::1"}, false, false},
		{"both.test", false, true, []string{"2001:db8::1"}, false, false},
		{"v4.test", true, true, []string{"192.0.2.2"}, false, false}, // AAAA NODATA
		{"v4.test", false, true, nil, false, false},                  // NODATA is not NXDOMAIN
		{"alias.test", true, true, []string{"192.0.2.1", "2001:db8::1"}, false, false},
		{"dangling.test", true, false, nil, true, false}, // the chain ends in NXDOMAIN
		{"loop1.test", true, false, nil, false, true},
		{"mapped.test", false, true, []string{"192.0.2.3"}, false, false},
		{"dup.test", true, true, []string{"192.0.2.4"}, false, false},
		{"nx.test", true, true, nil, true, false},
		{"x.fail.test", true, true, nil, false, true},
	} {
		got, err := r.LookupAddrs(ctx, tc.name, tc.v4, tc.v6)
		var gs []string
		for _, a := range got {
			gs = append(gs, a.String())
		}
		if !slices.Equal(gs, tc.want) || IsNXDomain(err) != tc.nx || (err != nil && !IsNXDomain(err)) != tc.fail {
			t.Errorf("LookupAddrs(%s, v4=%v, v6=%v) = %v, %v; want %v nx=%v fail=%v", tc.name, tc.v4, tc.v6, gs, err, tc.want, tc.nx, tc.fail)
		}
	}
}

func TestLookupFollowsChainInAnswer(t *testing.T) {
	// A recursive resolver returns the whole chain in one answer; only the
	// records at its end count, not unrelated ones.
	s := dnstest.Start(t, "")
	s.Handle("www.test", func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		for _, z := range []string{
			"www.test. 60 IN CNAME edge.test.",
			"edge.test. 60 IN A 192.0.2.9",
			"other.test. 60 IN A 192.0.2.66",
		} {
			rr, _ := dns.NewRR(z)
			m.Answer = append(m.Answer, rr)
		}
		return m
	})
	r := NewResolver(newClient(t, s), false)
	got, err := r.LookupAddrs(context.Background(), "www.test", true, false)
	if err != nil || len(got) != 1 || got[0] != netip.MustParseAddr("192.0.2.9") {
		t.Errorf("got %v, %v; want [192.0.2.9]", got, err)
	}
	if n := s.Queries.Load(); n != 1 {
		t.Errorf("%d queries, want 1 (the chain was in the answer)", n)
	}
}

func TestLookupMXTXTPTRTable(t *testing.T) {
	s := dnstest.Start(t, resolveZone+"3.2.0.192.in-addr.arpa. 60 IN PTR mapped.test.\n")
	r := NewResolver(newClient(t, s), false)
	ctx := context.Background()
	for _, name := range []string{"mx.test", "mxalias.test"} {
		mx, err := r.LookupMX(ctx, name)
		if err != nil || len(mx) != 1 || mx[0].Mx != "both.test." {
			t.Errorf("LookupMX(%s) = %v, %v", name, mx, err)
		}
	}
	if mx, err := r.LookupMX(ctx, "v4.test"); err != nil || len(mx) != 0 {
		t.Errorf("NODATA MX = %v, %v", mx, err)
	}
	if txt, err := r.LookupTXT(ctx, "v4.test"); err != nil || !slices.Equal(txt, []string{"only A and TXT"}) {
		t.Errorf("LookupTXT = %q, %v", txt, err)
	}
	if ptr, err := r.LookupPTR(ctx, netip.MustParseAddr("::ffff:192.0.2.3")); err != nil || !slices.Equal(ptr, []string{"mapped.test"}) {
		t.Errorf("LookupPTR of a mapped address = %q, %v", ptr, err)
	}
	if _, err := r.LookupPTR(ctx, netip.MustParseAddr("192.0.2.99")); !IsNXDomain(err) {
		t.Errorf("missing PTR: %v, want NXDOMAIN", err)
	}
}

func TestMemoKeepsNoServerFailure(t *testing.T) {
	s := dnstest.Start(t, resolveZone)
	var fail atomic.Bool
	fail.Store(true)
	s.Handle("flaky.test", func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		if fail.Load() {
			return dnstest.Rcode(dns.RcodeServerFailure)(req, nil, false)
		}
		m := new(dns.Msg)
		m.SetReply(req)
		rr, _ := dns.NewRR("flaky.test. 60 IN A 192.0.2.7")
		m.Answer = append(m.Answer, rr)
		return m
	})
	r := NewResolver(newClient(t, s), true)
	ctx := context.Background()
	if _, err := r.LookupAddrs(ctx, "flaky.test", true, false); err == nil || IsNXDomain(err) {
		t.Fatalf("first lookup: %v, want SERVFAIL", err)
	}
	fail.Store(false)
	got, err := r.LookupAddrs(ctx, "flaky.test", true, false)
	if err != nil || len(got) != 1 {
		t.Fatalf("after SERVFAIL: %v, %v; the failure must not be remembered", got, err)
	}
	before := s.Queries.Load()
	r.LookupAddrs(ctx, "flaky.test", true, false)
	if s.Queries.Load() != before {
		t.Error("the answer was not remembered")
	}
}

func TestConcurrentLookupsCoalesce(t *testing.T) {
	s := dnstest.Start(t, resolveZone)
	s.SetDelay(50 * time.Millisecond)
	r := NewResolver(newClient(t, s), false)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a, err := r.LookupAddrs(context.Background(), "v4.test", true, false); err != nil || len(a) != 1 {
				t.Errorf("got %v, %v", a, err)
			}
		}()
	}
	wg.Wait()
	if n := s.Queries.Load(); n > 2 {
		t.Errorf("%d queries for 20 concurrent identical lookups, want 1", n)
	}
}

func TestCancelledSharedLookupDoesNotFailOthers(t *testing.T) {
	s := dnstest.Start(t, resolveZone)
	s.SetDelay(100 * time.Millisecond)
	r := NewResolver(newClient(t, s), false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.LookupAddrs(ctx, "v4.test", true, false)
	}()
	for s.Queries.Load() == 0 { // the first lookup is in flight
		time.Sleep(time.Millisecond)
	}
	var got []netip.Addr
	var err error
	second := make(chan struct{})
	go func() {
		defer close(second)
		got, err = r.LookupAddrs(context.Background(), "v4.test", true, false)
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	<-done
	<-second
	if err != nil || len(got) != 1 {
		t.Errorf("a caller that did not give up got %v, %v", got, err)
	}
}

func TestFormErrRetriedWithoutEDNS(t *testing.T) {
	// RFC 6891 §7: an old server answers FORMERR (without OPT) to EDNS.
	s := dnstest.Start(t, "old.test. 60 IN A 192.0.2.5")
	var withOPT, without atomic.Int64
	s.Handle("old.test", func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		if req.IsEdns0() != nil {
			withOPT.Add(1)
			m := new(dns.Msg)
			m.SetRcode(req, dns.RcodeFormatError)
			return m
		}
		without.Add(1)
		return s.Lookup(req)
	})
	c := newClient(t, s)
	got, err := c.LookupAddrs(context.Background(), "old.test", true, false)
	if err != nil || len(got) != 1 || withOPT.Load() != 1 || without.Load() != 1 {
		t.Errorf("got %v, %v after %d EDNS and %d plain queries; want the plain answer after one of each", got, err, withOPT.Load(), without.Load())
	}
	// A FORMERR that carries an OPT record is the server's real answer.
	s.Handle("edns.test", func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		m.SetEdns0(1232, false)
		return m
	})
	before := s.Queries.Load()
	resp, err := c.Query(context.Background(), "edns.test", dns.TypeA)
	if err != nil || resp.Rcode != dns.RcodeFormatError || s.Queries.Load()-before != 1 {
		t.Errorf("FORMERR with OPT: %v, %v, %d queries; want it final", resp, err, s.Queries.Load()-before)
	}
}

func TestCloseReleasesPooledSockets(t *testing.T) {
	s := dnstest.Start(t, "a.test. 60 IN A 192.0.2.1")
	c := newClient(t, s)
	if _, err := c.Query(context.Background(), "a.test", dns.TypeA); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	pooled := c.idle[s.Addr]
	c.mu.Unlock()
	if len(pooled) != 1 {
		t.Fatalf("%d pooled sockets, want 1", len(pooled))
	}
	c.Close()
	if len(c.idle) != 0 {
		t.Error("Close left sockets in the pool")
	}
	if err := pooled[0].SetDeadline(time.Now()); err == nil {
		t.Error("the pooled socket is still open after Close")
	}
	if _, err := c.Query(context.Background(), "a.test", dns.TypeA); err != nil {
		t.Errorf("client unusable after Close: %v", err)
	}
	c.Close()
}

func TestResolveSharesClientResolver(t *testing.T) {
	c := &Client{Servers: []string{"127.0.0.1:1"}, Memo: true}
	first, second := Resolve(c), Resolve(c)
	if first != second || !first.memo {
		t.Error("a Client must hand out one memoizing Resolver")
	}
	r := NewResolver(c, false)
	if Resolve(r) != r {
		t.Error("Resolve of a Resolver must be itself")
	}
}
