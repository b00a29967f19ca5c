package dnsbl

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/dnstest"
)

// BenchmarkCheck runs the real engine against a loopback server that delays
// every answer by 20 ms: N addresses × 40 generic zones (all healthy, a few
// addresses listed) at concurrency 256. It reports the achieved time, the
// lower bound ceil(queries/concurrency)×latency, their ratio, and the heap
// bytes retained per result.
func BenchmarkCheck(b *testing.B) {
	for _, tc := range []struct {
		name   string
		prefix string
	}{{"slash24", "10.1.0.0/24"}, {"slash22", "10.4.0.0/22"}} {
		b.Run(tc.name, func(b *testing.B) { benchCheck(b, tc.prefix) })
	}
}

func benchCheck(b *testing.B, prefix string) {
	const (
		nZones      = 40
		concurrency = 256
		latency     = 20 * time.Millisecond
	)
	var zt strings.Builder
	var zones []Zone
	for i := 0; i < nZones; i++ {
		z := fmt.Sprintf("bl%d.bench.test", i)
		zones = append(zones, Generic(z))
		zt.WriteString(testEntries(z))
		// A few listed addresses per zone (with a TXT reason).
		for _, ip := range []string{"10.1.0.7", "10.1.0.200", "10.4.1.9"} {
			zt.WriteString(rec(ip, z, "listed for the benchmark", "127.0.0.2"))
		}
	}
	srv := dnstest.Start(b, zt.String())
	srv.SetDelay(latency)
	cl := &dnsclient.Client{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Retries: 1}
	c := mustChecker(b, Options{Resolver: cl, Concurrency: concurrency})
	plan, err := c.Plan(context.Background(), mustTargets(b, prefix), zones)
	if err != nil {
		b.Fatal(err)
	}
	var elapsed time.Duration
	var queries int64
	var heap, rtt float64
	var nrtt int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		q0 := srv.Queries.Load()
		start := time.Now()
		run := c.Run(context.Background(), plan)
		elapsed += time.Since(start)
		queries += srv.Queries.Load() - q0
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap += float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(run.Results))
		for _, r := range run.Results {
			rtt += r.RTTms
			nrtt++
			if r.Status != StatusClean && r.Status != StatusListed {
				b.Fatalf("result %+v", r)
			}
		}
		runtime.KeepAlive(run)
	}
	b.StopTimer()
	n := float64(b.N)
	achieved := float64(elapsed.Milliseconds()) / n
	perRun := float64(queries) / n
	lower := math.Ceil(perRun/concurrency) * float64(latency.Milliseconds())
	b.ReportMetric(achieved, "ms")
	b.ReportMetric(lower, "lower-ms")
	b.ReportMetric(achieved/lower, "ratio")
	b.ReportMetric(heap/n, "heapB/result")
	b.ReportMetric(perRun, "queries")
	meanRTT := rtt / float64(nrtt)
	b.ReportMetric(meanRTT, "mean-rtt-ms")
	// Ratio against the RTT actually observed: isolates the engine's own
	// scheduling overhead from RTT inflation on a busy machine.
	b.ReportMetric(achieved/(math.Ceil(perRun/concurrency)*meanRTT), "ratio-vs-rtt")
	b.ReportMetric(float64(plan.Pairs()), "results")
}
