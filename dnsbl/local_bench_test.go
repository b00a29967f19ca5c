package dnsbl

import (
	"errors"

	"context"
	"fmt"
	"github.com/miekg/dns"
	"strings"
	"testing"

	"github.com/blprobe/blprobe/dnsbl/zonefile"
)

// BenchmarkLocalZones checks a /16 against three zones answered from
// rbldnsd data files (--zone-file): no DNS at all. The target is well under
// a second per run.
func BenchmarkLocalZones(b *testing.B) { benchLocal(b, false) }

func benchLocal(b *testing.B, compact bool) {
	var zones []Zone
	for i, f := range []zonefile.Format{zonefile.IP4Set, zonefile.IP4TSet, zonefile.IP4Trie} {
		var data strings.Builder
		data.WriteString(":127.0.0.2:listed $\n127.0.0.2\n10.9.0.0/20\n!10.9.3.3\n")
		for k := 0; k < 5000; k++ {
			fmt.Fprintf(&data, "10.9.%d.%d\n", 16+k/250, k%250)
		}
		if f == zonefile.IP4TSet {
			data.Reset()
			data.WriteString(":127.0.0.2:listed $\n127.0.0.2\n10.9.200.1\n")
		}
		d, err := zonefile.Parse(strings.NewReader(data.String()), f)
		if err != nil {
			b.Fatal(err)
		}
		z := Generic(fmt.Sprintf("local%d.test", i))
		z.Kind, z.Local = KindIP4, d
		zones = append(zones, z)
	}
	c := mustChecker(b, Options{Resolver: failExchanger{}})
	plan, err := c.Plan(context.Background(), mustTargets(b, "10.9.0.0/16"), zones)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if compact {
			run := c.RunSet(context.Background(), plan, nil)
			if run.Set.Len() != 65536*3 {
				b.Fatalf("%d results", run.Set.Len())
			}
			continue
		}
		run := c.Run(context.Background(), plan)
		if len(run.Results) != 65536*3 {
			b.Fatalf("%d results", len(run.Results))
		}
	}
}

// failExchanger fails every query: local zones must never reach it.
type failExchanger struct{}

func (failExchanger) Exchange(context.Context, *dns.Msg) (*dns.Msg, error) {
	return nil, errors.New("a local zone sent a DNS query")
}

// BenchmarkLocalZonesSet is BenchmarkLocalZones with compact results
// (Checker.RunSet, what the dnsbl command uses).
func BenchmarkLocalZonesSet(b *testing.B) {
	benchLocal(b, true)
}
