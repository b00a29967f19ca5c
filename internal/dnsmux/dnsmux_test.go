package dnsmux

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/dnstest"
)

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	return m
}

// TestConcurrentAnswers: thousands of queries in flight over shared
// sockets each get their own answer, and no socket or reader outlives them.
func TestConcurrentAnswers(t *testing.T) {
	var zone string
	for i := 0; i < 50; i++ {
		zone += fmt.Sprintf("h%d.example. 60 IN A 192.0.2.%d\n", i, i)
	}
	srv := dnstest.Start(t, zone)
	srv.SetDelay(5 * time.Millisecond)
	dc, err := dnsclient.New([]string{srv.Addr}, time.Second, 4) // the loopback server may drop a burst: retries
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(dc)
	if err != nil {
		t.Fatal(err)
	}
	var ex interface {
		Exchange(context.Context, *dns.Msg) (*dns.Msg, error)
	} = c
	if os.Getenv("OLD") != "" {
		ex = dc
	}
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := i % 60 // 50 names exist, 10 do not
			resp, err := ex.Exchange(context.Background(), query(fmt.Sprintf("h%d.example", k), dns.TypeA))
			switch {
			case err != nil:
				errs <- err
			case k >= 50 && resp.Rcode != dns.RcodeNameError:
				errs <- fmt.Errorf("h%d: rcode %d, want NXDOMAIN", k, resp.Rcode)
			case k < 50 && (len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != fmt.Sprintf("192.0.2.%d", k)):
				errs <- fmt.Errorf("h%d: answer %v", k, resp.Answer)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Idle: every socket is closed and its reader gone.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the queries, %d before", n, before)
	}
}

// scripted is a UDP server that answers each query with what reply returns.
func scripted(t *testing.T, reply func(q *dns.Msg) []*dns.Msg) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			for _, r := range reply(q) {
				b, _ := r.Pack()
				pc.WriteTo(b, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func TestForgedAndTimeout(t *testing.T) {
	addr := scripted(t, func(q *dns.Msg) []*dns.Msg {
		if q.Question[0].Name == "silent.example." {
			return nil
		}
		forged := new(dns.Msg)
		forged.SetReply(q)
		forged.Question[0].Name = "other.example." // same ID, another question
		forged.Rcode = dns.RcodeNameError
		real := new(dns.Msg)
		real.SetReply(q)
		real.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 2)}}
		return []*dns.Msg{forged, real}
	})
	dc, _ := dnsclient.New([]string{addr}, 200*time.Millisecond, 1)
	c, err := New(dc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Exchange(context.Background(), query("listed.example", dns.TypeA))
	if err != nil || resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Fatalf("forged answer accepted or real one lost: %v %v", resp, err)
	}
	start := time.Now()
	_, err = c.Exchange(context.Background(), query("silent.example", dns.TypeA))
	if !dnsclient.IsTimeout(err) {
		t.Fatalf("error %v, want a timeout", err)
	}
	if d := time.Since(start); d < 350*time.Millisecond || d > 2*time.Second {
		t.Errorf("two attempts of 200 ms took %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Exchange(ctx, query("silent.example", dns.TypeA)); err == nil || dnsclient.IsTimeout(err) {
		t.Errorf("cancelled: error %v, want a non-timeout error", err)
	}
}

// TestTruncatedUsesFallback: a truncated UDP answer is asked again over
// the fallback exchanger (TCP).
func TestTruncatedUsesFallback(t *testing.T) {
	srv := dnstest.Start(t, "big.example. 60 IN TXT \"tcp answer\"\n")
	udp := scripted(t, func(q *dns.Msg) []*dns.Msg {
		r := new(dns.Msg)
		r.SetReply(q)
		r.Truncated = true
		return []*dns.Msg{r}
	})
	dc, _ := dnsclient.New([]string{udp}, time.Second, 0)
	m, err := New(dc)
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := dnsclient.New([]string{srv.Addr}, time.Second, 0)
	m.fallback = fb
	resp, err := m.Exchange(context.Background(), query("big.example", dns.TypeTXT))
	if err != nil || len(resp.Answer) != 1 {
		t.Fatalf("%v %v", resp, err)
	}
}

// TestRefused: nothing listening (ICMP port unreachable) fails the query at
// once, as a network error rather than a timeout.
func TestRefused(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	dc, _ := dnsclient.New([]string{addr}, 2*time.Second, 0)
	c, err := New(dc)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Exchange(context.Background(), query("x.example", dns.TypeA))
	if err == nil || dnsclient.IsTimeout(err) {
		t.Fatalf("error %v, want connection refused", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v: the refusal was not noticed", d)
	}
}

// TestMalformedThenReal: a packet with the query's ID that is no DNS answer
// (garbage, or the QR bit clear) does not end the query: the real answer
// that follows is taken (RFC 5452 §9.1: unmatched packets are discarded).
// With no real answer the query fails naming the malformed packet.
func TestMalformedThenReal(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			garbage := []byte{byte(q.Id >> 8), byte(q.Id), 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xff} // header, then junk
			notReply := q.Copy()                                                                     // the query echoed: QR clear
			b, _ := notReply.Pack()
			pc.WriteTo(garbage, from)
			pc.WriteTo(b, from)
			if q.Question[0].Name == "junk.example." {
				continue
			}
			real := new(dns.Msg)
			real.SetReply(q)
			real.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 2)}}
			rb, _ := real.Pack()
			pc.WriteTo(rb, from)
		}
	}()
	dc, _ := dnsclient.New([]string{pc.LocalAddr().String()}, 300*time.Millisecond, 0)
	c, err := New(dc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Exchange(context.Background(), query("listed.example", dns.TypeA))
	if err != nil || len(resp.Answer) != 1 {
		t.Fatalf("the real answer after malformed packets was lost: %v %v", resp, err)
	}
	_, err = c.Exchange(context.Background(), query("junk.example", dns.TypeA))
	if err == nil || dnsclient.IsTimeout(err) || !strings.Contains(err.Error(), "malformed answer") {
		t.Fatalf("only malformed packets: error %v, want one naming the malformed answer", err)
	}
}
