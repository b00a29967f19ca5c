package dnsbl

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/blprobe/blprobe/internal/dnsclient"
	"github.com/blprobe/blprobe/internal/dnstest"
)

// rec returns zone-text lines listing addr in zone with the given codes and
// an optional TXT reason.
func rec(addr, zone, txt string, codes ...string) string {
	name := QueryName(netip.MustParseAddr(addr), zone) + "."
	var b strings.Builder
	for _, c := range codes {
		fmt.Fprintf(&b, "%s 60 IN A %s\n", name, c)
	}
	if txt != "" {
		fmt.Fprintf(&b, "%s 60 IN TXT %q\n", name, txt)
	}
	return b.String()
}

// testEntries returns the RFC 5782 §5 positive entries of zone (v4 and v6).
func testEntries(zone string) string {
	return rec("127.0.0.2", zone, "test entry", "127.0.0.2") + rec("::ffff:7f00:2", zone, "", "127.0.0.2")
}

func client(srv *dnstest.Server) *dnsclient.Client {
	return &dnsclient.Client{Servers: []string{srv.Addr}, Timeout: 100 * time.Millisecond, Retries: 0}
}

func mustChecker(t testing.TB, opts Options) *Checker {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustTargets(t testing.TB, in ...string) []Target {
	t.Helper()
	ts, err := ReadTargets(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func resultFor(t testing.TB, run *Run, ip, zone string) Result {
	t.Helper()
	for _, r := range run.Results {
		if r.IP == ip && r.Zone == zone {
			return r
		}
	}
	t.Fatalf("no result for %s on %s", ip, zone)
	return Result{}
}

func healthFor(t testing.TB, run *Run, zone string) ZoneHealth {
	t.Helper()
	for _, h := range run.Zones {
		if h.Zone == zone {
			return h
		}
	}
	t.Fatalf("no health for %s", zone)
	return ZoneHealth{}
}
