package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/dnsbl/zonefile"
	"github.com/blprobe/blprobe/internal/dnsclient"
)

// The same rbldnsd data files, served by rbldnsd and loaded with
// --zone-file, must give the same result for every pair.
const (
	eqIP4Set = `# ip4set: defaults, $n and $, ranges, exclusions, per-entry values
$SOA 0 ns.eq.test. hostmaster.eq.test. 0 600 300 86400 300
$1 http://bl.eq.test/lookup
:127.0.0.2:Listed, see $1?ip=$
127.0.0.2
10.20.0.7
10.20.1 :3:Whole /24: $ costs $$5
!10.20.1.128
10.20.2.0/25 :127.0.0.4:
10.20.3.10-10.20.3.40 :5
10.20.4.1-99 own text for $
10.20.8/21
!10.20.9.0/24
10.20.9.77 :6:inside an exclusion
10.20.15.255 ; a comment
`
	eqIP4TSet = `:127.0.0.9:trivial $
127.0.0.2
10.20.0.1
10.20.7.7
10.20.15.0
`
	eqIP6Trie = `:127.0.0.2:v6 listed: $
::ffff:7f00:2
2001:db8:0:10::/60
2001:db8:0:20 :3:a /64 with its own text
!2001:db8:0:1f::/64
2001:db8:0:80::/57 :4:
`
	eqBase = `# the "$=" base template example of rbldnsd(8)
$= See http://www.example.com/bl?$= ($) for details
127.0.0.2
10.20.14.2	r123
10.20.14.3
10.20.14.4	=See other blocklists for details about $
:127.0.0.5:default text $
10.20.14.6
10.20.14.7 :7:
10.20.14.8 :8
10.20.14.16/28 $1 and $$
$MAXRANGE4 /24
10.20.12.0/23 wider than $MAXRANGE4: ignored
10.20.13.128/25 within it
`
	eqDNSet = `:127.0.1.2:domain $ listed
test
spam.example
*.wild.example
.both.example :127.0.1.4:both $
!ok.wild.example
`
)

// rbldnsd starts rbldnsd on a free loopback port serving zone:type:file
// specs and returns its host:port.
func rbldnsd(t *testing.T, dir string, specs ...string) string {
	t.Helper()
	bin, err := exec.LookPath("rbldnsd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/rbldnsd", "/sbin/rbldnsd"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rbldnsd is not installed; CI needs it (Debian package rbldnsd)")
		}
		t.Skip("rbldnsd is not installed (Debian package rbldnsd): skipping the rbldnsd-vs-zone-file equivalence test")
	}
	for attempt := 0; attempt < 5; attempt++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		args := []string{"-n", "-b", fmt.Sprintf("127.0.0.1/%d", port), "-w", dir}
		if os.Getuid() == 0 {
			args = append(args, "-u", "nobody")
		}
		cmd := exec.Command(bin, append(args, specs...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cl := &dnsclient.Client{Servers: []string{addr}, Timeout: 200 * time.Millisecond}
		for i := 0; i < 25; i++ {
			if _, err := cl.Query(context.Background(), "2.0.0.127."+strings.Split(specs[0], ":")[0], 1); err == nil {
				t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
				return addr
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Logf("rbldnsd on port %d did not answer: %s", port, stderr.String())
	}
	t.Fatal("could not start rbldnsd")
	return ""
}

func TestRbldnsdZoneFileEquivalence(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"set.txt": eqIP4Set, "tset.txt": eqIP4TSet, "names.txt": eqDNSet, "six.txt": eqIP6Trie, "base.txt": eqBase}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := rbldnsd(t, dir, "set.eq.test:ip4set:set.txt", "tset.eq.test:ip4tset:tset.txt", "names.eq.test:dnset:names.txt", "six.eq.test:ip6trie:six.txt", "base.eq.test:ip4set:base.txt")

	type zf struct {
		zone, file string
		kind       dnsbl.Kind
		format     zonefile.Format
	}
	zfs := []zf{
		{"set.eq.test", "set.txt", dnsbl.KindIP4, zonefile.IP4Set},
		{"tset.eq.test", "tset.txt", dnsbl.KindIP4, zonefile.IP4TSet},
		{"names.eq.test", "names.txt", dnsbl.KindDomain, zonefile.DNSet},
		{"six.eq.test", "six.txt", dnsbl.KindIP6, zonefile.IP6Trie},
		{"base.eq.test", "base.txt", dnsbl.KindIP4, zonefile.IP4Set},
	}
	var dnsZones, fileZones []dnsbl.Zone
	for _, f := range zfs {
		z := dnsbl.Generic(f.zone)
		z.Kind = f.kind
		dnsZones = append(dnsZones, z)
		d, err := zonefile.Load(filepath.Join(dir, f.file), f.format)
		if err != nil {
			t.Fatal(err)
		}
		z.Local = d
		fileZones = append(fileZones, z)
	}
	targets := func(in ...string) []dnsbl.Target {
		var out []dnsbl.Target
		for _, s := range in {
			tg, err := dnsbl.ParseTarget(s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tg)
		}
		return out
	}
	addrs := targets("10.20.0.0/20")
	six := targets("2001:db8::/56") // 256 /64 networks
	hosts := targets("spam.example", "a.b.wild.example", "ok.wild.example", "wild.example", "both.example", "x.both.example", "clean.example")
	run := func(zones []dnsbl.Zone) *dnsbl.Run {
		// Address zones take the /20, the domain zone the hostnames (a
		// plan with both would resolve the hostnames).
		switch zones[0].Kind {
		case dnsbl.KindDomain:
			return runPlan(t, addr, hosts, zones)
		case dnsbl.KindIP6:
			return runPlan(t, addr, six, zones)
		}
		return runPlan(t, addr, addrs, zones)
	}
	merge := func(zones []dnsbl.Zone) *dnsbl.Run {
		a := run(zones[:2])
		for _, z := range zones[2:] {
			b := run([]dnsbl.Zone{z})
			a.Zones = append(a.Zones, b.Zones...)
			a.Results = append(a.Results, b.Results...)
		}
		return a
	}
	viaDNS, viaFile := merge(dnsZones), merge(fileZones)
	if len(viaDNS.Results) != 4096*3+7+256 || len(viaFile.Results) != len(viaDNS.Results) {
		t.Fatalf("results: %d via DNS, %d via file", len(viaDNS.Results), len(viaFile.Results))
	}
	for i := range viaDNS.Zones {
		// Only the path differs: who answered (the resolver, or the file).
		if viaDNS.Zones[i].Path != dnsbl.PathResolver || viaFile.Zones[i].Path != dnsbl.PathLocal {
			t.Errorf("zone %s: path %q via DNS, %q via file; want %q and %q", viaDNS.Zones[i].Zone,
				viaDNS.Zones[i].Path, viaFile.Zones[i].Path, dnsbl.PathResolver, dnsbl.PathLocal)
		}
		fz := viaFile.Zones[i]
		fz.Path = viaDNS.Zones[i].Path
		if viaDNS.Zones[i].Health != dnsbl.HealthHealthy || !reflect.DeepEqual(viaDNS.Zones[i], fz) {
			t.Errorf("zone health differs:\nDNS  %+v\nfile %+v", viaDNS.Zones[i], viaFile.Zones[i])
		}
	}
	listed, withTXT, listed6 := 0, 0, 0
	for i := range viaDNS.Results {
		d, f := viaDNS.Results[i], viaFile.Results[i]
		d.RTTms = 0
		if !reflect.DeepEqual(d, f) {
			t.Errorf("result %d differs:\nDNS  %+v\nfile %+v", i, d, f)
		}
		if d.Status == dnsbl.StatusListed {
			listed++
			if d.Zone == "six.eq.test" {
				listed6++
			}
			if d.Reason != "" {
				withTXT++
			}
		}
	}
	// The data must exercise listings with and without TXT, and exclusions.
	if listed < 1000 || withTXT < 500 || listed == withTXT || listed6 < 100 {
		t.Errorf("%d listed (%d IPv6), %d with a TXT reason: the data does not exercise what it should", listed, listed6, withTXT)
	}
}

func runPlan(t *testing.T, addr string, targets []dnsbl.Target, zones []dnsbl.Zone) *dnsbl.Run {
	t.Helper()
	cl := &dnsclient.Client{Servers: []string{addr}, Timeout: 2 * time.Second, Retries: 2}
	c, err := dnsbl.New(dnsbl.Options{Resolver: cl, Concurrency: 64})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := c.Plan(context.Background(), targets, zones)
	if err != nil {
		t.Fatal(err)
	}
	return c.Run(context.Background(), plan)
}
