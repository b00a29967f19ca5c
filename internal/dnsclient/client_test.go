package dnsclient

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/dnstest"
)

const zone = `
a.test. 60 IN A 192.0.2.1
a.test. 60 IN AAAA 2001:db8::1
mx.test. 60 IN MX 10 a.test.
txt.test. 60 IN TXT "hello" " world"
1.2.0.192.in-addr.arpa. 60 IN PTR a.test.
`

func newClient(t *testing.T, s *dnstest.Server) *Client {
	t.Helper()
	c, err := New([]string{s.Addr}, 200*time.Millisecond, 1)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLookups(t *testing.T) {
	s := dnstest.Start(t, zone)
	c := newClient(t, s)
	ctx := context.Background()

	addrs, err := c.LookupAddrs(ctx, "a.test", true, true)
	if err != nil || len(addrs) != 2 || addrs[0] != netip.MustParseAddr("192.0.2.1") || addrs[1] != netip.MustParseAddr("2001:db8::1") {
		t.Fatalf("LookupAddrs = %v, %v", addrs, err)
	}
	if v4, _ := c.LookupAddrs(ctx, "a.test", true, false); len(v4) != 1 {
		t.Errorf("v4 only = %v", v4)
	}
	if _, err := c.LookupAddrs(ctx, "nx.test", true, true); !IsNXDomain(err) {
		t.Errorf("nx: err = %v, want NXDOMAIN", err)
	}
	mx, err := c.LookupMX(ctx, "mx.test")
	if err != nil || len(mx) != 1 || mx[0].Preference != 10 || mx[0].Mx != "a.test." {
		t.Errorf("LookupMX = %v, %v", mx, err)
	}
	txt, err := c.LookupTXT(ctx, "txt.test")
	if err != nil || len(txt) != 1 || txt[0] != "hello world" {
		t.Errorf("LookupTXT = %q, %v", txt, err)
	}
	ptr, err := c.LookupPTR(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil || len(ptr) != 1 || ptr[0] != "a.test" {
		t.Errorf("LookupPTR = %q, %v", ptr, err)
	}
}

func TestRcodesAreAnswersNotErrors(t *testing.T) {
	s := dnstest.Start(t, "")
	s.Handle("fail.test", dnstest.Rcode(dns.RcodeServerFailure))
	s.Handle("refused.test", dnstest.Rcode(dns.RcodeRefused))
	c := newClient(t, s)
	for name, want := range map[string]int{"x.fail.test": dns.RcodeServerFailure, "refused.test": dns.RcodeRefused, "nx.test": dns.RcodeNameError} {
		m, err := c.Query(context.Background(), name, dns.TypeA)
		if err != nil || m.Rcode != want {
			t.Errorf("%s: rcode %v err %v, want %s", name, m, err, dns.RcodeToString[want])
		}
	}
	before := s.Queries.Load()
	if _, err := c.Query(context.Background(), "x.fail.test", dns.TypeA); err != nil || s.Queries.Load()-before != 1 {
		t.Errorf("SERVFAIL must not be retried: %d queries, err %v", s.Queries.Load()-before, err)
	}
}

func TestTimeoutRetriesThenTypedError(t *testing.T) {
	s := dnstest.Start(t, "")
	s.Handle("silent.test", dnstest.Drop())
	c, _ := New([]string{s.Addr}, 100*time.Millisecond, 2)
	start := time.Now()
	_, err := c.Query(context.Background(), "silent.test", dns.TypeA)
	if !IsTimeout(err) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	var de *Error
	if !errors.As(err, &de) || de.Name != "silent.test." || !strings.Contains(err.Error(), "silent.test") {
		t.Errorf("error does not name the query: %v", err)
	}
	if n := s.Queries.Load(); n != 3 {
		t.Errorf("%d attempts, want 3 (1 + 2 retries)", n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	s := dnstest.Start(t, "big.test. 60 IN A 192.0.2.9")
	s.Handle("big.test", s.TruncateUDP())
	c := newClient(t, s)
	addrs, err := c.LookupAddrs(context.Background(), "big.test", true, false)
	if err != nil || len(addrs) != 1 {
		t.Fatalf("got %v, %v; want the TCP answer", addrs, err)
	}
}

func TestContextCancel(t *testing.T) {
	s := dnstest.Start(t, "")
	s.Handle("silent.test", dnstest.Drop())
	c, _ := New([]string{s.Addr}, 5*time.Second, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Query(ctx, "silent.test", dns.TypeA); err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancel took %v", d)
	}
}

func TestNormalizeServer(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1", "127.0.0.1:53"},
		{"127.0.0.1:5353", "127.0.0.1:5353"},
		{"::1", "[::1]:53"},
		{"[::1]:5300", "[::1]:5300"},
		{"localhost", "localhost:53"},
		{"localhost:54", "localhost:54"},
		{"", ""},
		{"1.2.3.4:0", ""},
		{"1.2.3.4:99999", ""},
		{"1.2.3.4:x", ""},
		{":53", ""},
		{"a b", ""},
		{"999.1.1.1", ""},
		{"999.1.1.1:53", ""},
		{"1.2.3", ""},
	} {
		got, err := NormalizeServer(tc.in)
		if (err != nil) != (tc.want == "") || got != tc.want {
			t.Errorf("NormalizeServer(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSystemServers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(p, []byte("# test\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\n"), 0o644)
	got, err := SystemServers(p)
	if err != nil || len(got) != 2 || got[0] != "127.0.0.53:53" || got[1] != "[::1]:53" {
		t.Errorf("SystemServers = %v, %v", got, err)
	}
	if _, err := SystemServers(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestPublicResolver(t *testing.T) {
	for in, want := range map[string]string{"8.8.8.8:53": "Google Public DNS", "1.1.1.1": "Cloudflare", "[2620:fe::fe]:53": "Quad9", "127.0.0.1:53": "", "resolver.example:53": ""} {
		if got := PublicResolver(in); got != want {
			t.Errorf("PublicResolver(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUDPSocketsAreReusedAndRotated(t *testing.T) {
	s := dnstest.Start(t, "a.test. 60 IN A 192.0.2.1")
	ports := map[string]int{}
	var mu sync.Mutex
	s.Handle("a.test", func(req *dns.Msg, remote net.Addr, _ bool) *dns.Msg {
		mu.Lock()
		ports[remote.String()]++
		mu.Unlock()
		return s.Lookup(req)
	})
	c := newClient(t, s)
	defer c.Close()
	const n = 2*maxUses + 10
	for i := 0; i < n; i++ {
		if _, err := c.LookupAddrs(context.Background(), "a.test", true, false); err != nil {
			t.Fatal(err)
		}
	}
	// Sequential queries share one socket until it has served maxUses.
	mu.Lock()
	defer mu.Unlock()
	if len(ports) != 3 {
		t.Errorf("%d source ports for %d sequential queries, want 3: %v", len(ports), n, ports)
	}
	for p, k := range ports {
		if k > maxUses {
			t.Errorf("port %s served %d queries, more than %d", p, k, maxUses)
		}
	}
}

func TestSocketDroppedAfterTimeout(t *testing.T) {
	s := dnstest.Start(t, "a.test. 60 IN A 192.0.2.1\nslow.test. 60 IN A 192.0.2.2")
	gaveUp := make(chan struct{})
	answered := make(chan struct{})
	s.Handle("slow.test", func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		<-gaveUp // answers after the client gave up
		defer close(answered)
		return s.Lookup(req)
	})
	c, _ := New([]string{s.Addr}, 50*time.Millisecond, 0)
	defer c.Close()
	if _, err := c.LookupAddrs(context.Background(), "slow.test", true, false); !IsTimeout(err) {
		t.Fatalf("err = %v, want timeout", err)
	}
	close(gaveUp)
	<-answered // the late reply is on its way now
	addrs, err := c.LookupAddrs(context.Background(), "a.test", true, false)
	if err != nil || len(addrs) != 1 || addrs[0].String() != "192.0.2.1" {
		t.Errorf("after a timeout: %v, %v (a late reply must never answer another query)", addrs, err)
	}
}

func TestMemo(t *testing.T) {
	s := dnstest.Start(t, zone)
	s.Handle("silent.test", dnstest.Drop())
	c := newClient(t, s)
	c.Memo = true
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if a, err := c.LookupAddrs(ctx, "A.test", true, false); err != nil || len(a) != 1 {
			t.Fatal(a, err)
		}
		if _, err := c.LookupAddrs(ctx, "nx.test", true, false); !IsNXDomain(err) {
			t.Fatal(err)
		}
	}
	if n := s.Queries.Load(); n != 2 {
		t.Errorf("%d queries, want 2 (answers and NXDOMAIN remembered)", n)
	}
	c.LookupAddrs(ctx, "silent.test", true, false)
	c.LookupAddrs(ctx, "silent.test", true, false)
	if n := s.Queries.Load(); n != 2+2*2 { // timeouts are not remembered: 2 lookups x (1 + 1 retry)
		t.Errorf("%d queries after timeouts, want 6", n)
	}
}
