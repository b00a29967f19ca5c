package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/blprobe/blprobe/report"
)

// lab is a loopback world for CLI tests: one DNS server holding the test
// DNSBL zones, MX and PTR records, and scripted SMTP servers.
type lab struct {
	t   *testing.T
	dns *dnstest.Server
}

// listed returns zone-text lines listing addr in zone with codes and a TXT.
func listed(addr, zone, txt string, codes ...string) string {
	name := dnsbl.QueryName(netip.MustParseAddr(addr), zone) + "."
	var b strings.Builder
	for _, c := range codes {
		fmt.Fprintf(&b, "%s 60 IN A %s\n", name, c)
	}
	if txt != "" {
		fmt.Fprintf(&b, "%s 60 IN TXT %q\n", name, txt)
	}
	return b.String()
}

// healthy returns the RFC 5782 §5 positive test entries of zone.
func healthy(zone string) string {
	return listed("127.0.0.2", zone, "", "127.0.0.2") + listed("::ffff:7f00:2", zone, "", "127.0.0.2")
}

func newLab(t *testing.T) *lab {
	t.Helper()
	zone := healthy("zen.test") + healthy("clean.test") + healthy("slow.test") +
		listed("127.0.0.10", "zen.test", "Listed in zen.test: see http://zen.test/q?ip=127.0.0.10", "127.0.0.2", "127.0.0.4") +
		listed("192.0.2.10", "zen.test", "Listed in zen.test", "127.0.0.2") +
		listed("2001:db8::10", "zen.test", "v6 listed", "127.0.0.3")
	l := &lab{t: t, dns: dnstest.Start(t, zone)}
	return l
}

func (l *lab) add(zone string) { l.dns.AddZone(l.t, zone) }

// mx makes domain's single MX point at an SMTP server on ip.
func (l *lab) mx(domain, ip string) {
	l.add(fmt.Sprintf("%s. 60 IN MX 10 mx.%s.\nmx.%s. 60 IN A %s\n", domain, domain, domain, ip))
}

// ptr gives ip a PTR name that resolves back to it (forward-confirmed).
func (l *lab) ptr(ip, name string, confirmed bool) {
	rev, _ := dns.ReverseAddr(ip)
	l.add(fmt.Sprintf("%s 60 IN PTR %s.\n", rev, name))
	if confirmed {
		l.add(fmt.Sprintf("%s. 60 IN A %s\n", name, ip))
	}
}

// smtp starts a scripted SMTP server on ip and returns its port.
func (l *lab) smtp(ip string, cfg smtptest.Config) (*smtptest.Server, string) {
	cfg.IP = ip
	s := smtptest.Start(l.t, cfg)
	return s, strconv.Itoa(s.Port)
}

// result of one CLI run.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs blprobe with args (without the program name) and stdin.
func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"blprobe"}, args...), strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// jsonReport runs blprobe with --format json, validates the report against
// the v1 JSON Schema and decodes it.
func jsonReport(t *testing.T, args ...string) (*report.Report, result) {
	t.Helper()
	res := runCLI(t, "", append(args, "--format", "json")...)
	if err := report.Validate([]byte(res.stdout)); err != nil {
		t.Fatalf("report does not validate: %v\nstdout: %s\nstderr: %s", err, res.stdout, res.stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != res.code {
		t.Errorf("report exit_code %d, process exit %d", r.ExitCode, res.code)
	}
	return &r, res
}

func (l *lab) resolver() string { return l.dns.Addr }

// freePort is a loopback port nobody listens on (connect is refused).
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return p
}
