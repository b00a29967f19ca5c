package check

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/blprobe/blprobe/rdns"
	"github.com/blprobe/blprobe/smtpcheck"
)

// BenchmarkCheckParallel measures check.Run against loopback servers — DNS
// answers (DNSBL, PTR, MX) delayed 20 ms, three MX domains whose banners
// come after 1 s, 2 s and 3 s — and, in the same run, each part alone
// (DNSBL lookups, reverse DNS, SMTP). It reports the whole run against its
// slowest part (ratio; 1.0 is perfect overlap, the sum of the parts would
// be about 1 + fast/slowest) and against the sum of the parts.
//
//	go test -run '^$' -bench CheckParallel -benchtime 1x ./check
func BenchmarkCheckParallel(b *testing.B) {
	w := newWorld(b)
	const ip = "127.0.0.20"
	w.dns.AddZone(b, "20.0.0.127.in-addr.arpa. 60 IN PTR mail.probe.test.\nmail.probe.test. 60 IN A 127.0.0.20\n")
	port := 0
	var domains []string
	for i, d := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		dom := fmt.Sprintf("slow%d.test", i+1)
		mxIP := fmt.Sprintf("127.0.1.%d", i+1)
		s := smtptest.Start(b, smtptest.Config{IP: mxIP, Port: port, BannerDelay: d})
		port = s.Port
		w.dns.AddZone(b, fmt.Sprintf("%s. 60 IN MX 10 mx.%s.\nmx.%s. 60 IN A %s\n", dom, dom, dom, mxIP))
		domains = append(domains, dom)
	}
	w.dns.SetDelay(20 * time.Millisecond)
	tgt, _ := dnsbl.ParseTarget(ip)
	ctx := context.Background()

	var whole, dnsblPart, rdnsPart, smtpPart time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// Each part alone, with fresh clients (no memo carried over).
		fresh := func() Options {
			o := w.options(port, domains...)
			o.Targets = []dnsbl.Target{tgt}
			o.SMTP.CommandTimeout = 10 * time.Second
			return o
		}
		o := fresh()
		start := time.Now()
		plan, err := o.DNSBL.Plan(ctx, o.Targets, o.Zones)
		if err != nil {
			b.Fatal(err)
		}
		o.DNSBL.Run(ctx, plan)
		dnsblPart += time.Since(start)

		o = fresh()
		start = time.Now()
		rdns.Check(ctx, o.Resolver, netip.MustParseAddr(ip), o.SMTP.HELO)
		rdnsPart += time.Since(start)

		o = fresh()
		o.SMTP.Resolver = o.Resolver
		start = time.Now()
		res := smtpcheck.RunFrom(ctx, domains, []netip.Addr{netip.MustParseAddr(ip)}, o.SMTP)
		smtpPart += time.Since(start)
		for _, d := range res.Domains {
			if d.MX[0].Addresses[0].Status != smtpcheck.StatusAccepted {
				b.Fatalf("%s: %+v", d.Domain, d.MX[0].Addresses[0])
			}
		}

		o = fresh()
		b.StartTimer()
		start = time.Now()
		r, err := Run(ctx, o)
		whole += time.Since(start)
		b.StopTimer()
		if err != nil || r.Verdict != "clean" {
			b.Fatalf("verdict %s, err %v, problems %v", r.Verdict, err, r.Problems())
		}
	}
	n := float64(b.N)
	slowest := max(dnsblPart, rdnsPart, smtpPart)
	sum := dnsblPart + rdnsPart + smtpPart
	b.ReportMetric(float64(dnsblPart.Milliseconds())/n, "dnsbl-ms")
	b.ReportMetric(float64(rdnsPart.Milliseconds())/n, "rdns-ms")
	b.ReportMetric(float64(smtpPart.Milliseconds())/n, "smtp-ms")
	b.ReportMetric(float64(whole.Milliseconds())/n, "check-ms")
	b.ReportMetric(float64(whole)/float64(slowest), "ratio-to-slowest")
	b.ReportMetric(float64(whole)/float64(sum), "ratio-to-sum")
}
