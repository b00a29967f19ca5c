package dnsclient

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/miekg/dns"
)

func directPair(t *testing.T, zone string) (*Direct, []*dnstest.Server, *dnstest.QueryLog) {
	t.Helper()
	log := &dnstest.QueryLog{}
	a := dnstest.StartOn(t, "127.0.0.81", zone)
	b := dnstest.StartOnPort(t, "127.0.0.82", a.Port(), zone)
	for _, s := range []*dnstest.Server{a, b} {
		s.Handle(".", s.Record(log, nil))
	}
	d, err := NewDirect([]NameServer{{"ns1.example", a.Addr}, {"ns2.example", b.Addr}}, 200*time.Millisecond, 1)
	if err != nil {
		t.Fatal(err)
	}
	return d, []*dnstest.Server{a, b}, log
}

func query(name string, qt uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qt)
	m.RecursionDesired = true
	return m
}

// Queries go out without recursion, alternate between the servers, and the
// caller's message is left as it was.
func TestDirectRotatesWithoutRecursion(t *testing.T) {
	d, srv, log := directPair(t, "2.0.0.127.bl.example. 60 IN A 127.0.0.2\n")
	for i := 0; i < 6; i++ {
		m := query("2.0.0.127.bl.example.", dns.TypeA)
		resp, err := d.Exchange(context.Background(), m)
		if err != nil || len(resp.Answer) != 1 {
			t.Fatalf("answer %v, err %v", resp, err)
		}
		if !m.RecursionDesired || m.IsEdns0() != nil {
			t.Fatal("the caller's message was modified")
		}
	}
	if a, b := srv[0].Queries.Load(), srv[1].Queries.Load(); a != 3 || b != 3 {
		t.Errorf("queries per server %d, %d; want 3, 3", a, b)
	}
	for _, q := range log.All() {
		if q.RD {
			t.Errorf("%s sent with RD set", q.Name)
		}
	}
	if got := d.Answered(); len(got) != 2 || got[0] != "ns1.example" {
		t.Errorf("Answered() = %v", got)
	}
}

// A truncated UDP answer is fetched again over TCP.
func TestDirectTCPOnTruncation(t *testing.T) {
	big := strings.Repeat(`"`+strings.Repeat("x", 250)+`" `, 8)
	d, _, log := directPair(t, "big.bl.example. 60 IN TXT "+big+"\n")
	resp, err := d.Exchange(context.Background(), query("big.bl.example.", dns.TypeTXT))
	if err != nil || resp.Truncated || len(resp.Answer) != 1 || len(resp.Answer[0].(*dns.TXT).Txt) != 8 {
		t.Fatalf("answer %v, err %v", resp, err)
	}
	q := log.All()
	if len(q) != 2 || q[0].TCP || !q[1].TCP {
		t.Errorf("queries %+v, want UDP then TCP", q)
	}
}

// A server that does not answer is skipped for the next one.
func TestDirectTimeoutMovesOn(t *testing.T) {
	d, srv, _ := directPair(t, "2.0.0.127.bl.example. 60 IN A 127.0.0.2\n")
	srv[0].Handle(".", dnstest.Drop())
	for i := 0; i < 2; i++ {
		if _, err := d.Exchange(context.Background(), query("2.0.0.127.bl.example.", dns.TypeA)); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.Answered(); len(got) != 1 || got[0] != "ns2.example" {
		t.Errorf("Answered() = %v", got)
	}
	srv[1].Handle(".", dnstest.Drop())
	_, err := d.Exchange(context.Background(), query("2.0.0.127.bl.example.", dns.TypeA))
	if !IsTimeout(err) || !strings.Contains(err.Error(), "ns") {
		t.Errorf("err = %v, want a timeout naming the servers", err)
	}
	if _, err := NewDirect(nil, 0, 0); err == nil {
		t.Error("NewDirect without servers")
	}
}

func TestReferral(t *testing.T) {
	ref := new(dns.Msg)
	ref.SetReply(query("2.0.0.127.bl.example.", dns.TypeA))
	ref.Ns = []dns.RR{&dns.NS{Hdr: dns.RR_Header{Name: "bl.example.", Rrtype: dns.TypeNS, Class: dns.ClassINET}, Ns: "ns.bl.example."}}
	if !Referral(ref) {
		t.Error("a referral not recognised")
	}
	ref.Authoritative = true
	if Referral(ref) {
		t.Error("an authoritative NODATA taken for a referral")
	}
	nx := new(dns.Msg)
	nx.SetRcode(query("x.", dns.TypeA), dns.RcodeNameError)
	if Referral(nx) || Referral(nil) {
		t.Error("NXDOMAIN or nil taken for a referral")
	}
}

// A lame server (REFUSED, SERVFAIL, or a referral) is skipped for the next
// one, as a resolver does; when every server tried is lame, its answer is
// returned as it is.
func TestDirectLameServerMovesOn(t *testing.T) {
	referral := func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Ns = []dns.RR{&dns.NS{Hdr: dns.RR_Header{Name: "bl.example.", Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 60}, Ns: "ns9.example."}}
		return m
	}
	for name, lame := range map[string]dnstest.Behavior{
		"REFUSED":  dnstest.Rcode(dns.RcodeRefused),
		"SERVFAIL": dnstest.Rcode(dns.RcodeServerFailure),
		"referral": referral,
	} {
		t.Run(name, func(t *testing.T) {
			d, srv, _ := directPair(t, "2.0.0.127.bl.example. 60 IN A 127.0.0.2\n")
			srv[0].Handle(".", lame)
			for i := 0; i < 4; i++ { // every other query starts at the lame server
				resp, err := d.Exchange(context.Background(), query("2.0.0.127.bl.example.", dns.TypeA))
				if err != nil || resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
					t.Fatalf("query %d: answer %v, err %v", i, resp, err)
				}
			}
			if got := d.Answered(); len(got) != 1 || got[0] != "ns2.example" {
				t.Errorf("Answered() = %v", got)
			}
		})
	}
	d, srv, _ := directPair(t, "2.0.0.127.bl.example. 60 IN A 127.0.0.2\n")
	for _, s := range srv {
		s.Handle(".", dnstest.Rcode(dns.RcodeRefused))
	}
	resp, err := d.Exchange(context.Background(), query("2.0.0.127.bl.example.", dns.TypeA))
	if err != nil || resp.Rcode != dns.RcodeRefused {
		t.Errorf("every server refuses: answer %v, err %v; want the REFUSED answer", resp, err)
	}
}
