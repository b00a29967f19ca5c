package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/report"
)

func TestUsageErrors(t *testing.T) {
	l := newLab(t)
	r := l.resolver()
	for _, tc := range []struct {
		name string
		args []string
		want string // substring of the one-line error
	}{
		{"no command arg", []string{"dnsbl", "--resolver", r}, "at least one TARGET"},
		{"bad target", []string{"dnsbl", "--resolver", r, "1.2.3"}, `"1.2.3"`},
		{"bad cidr", []string{"dnsbl", "--resolver", r, "192.0.2.0/33"}, "192.0.2.0/33"},
		{"too many", []string{"dnsbl", "--resolver", r, "--max-addresses", "16", "192.0.2.0/24"}, "max-addresses"},
		{"bad format", []string{"dnsbl", "--resolver", r, "--format", "xml", "192.0.2.1"}, "text, json, markdown"},
		{"unknown flag", []string{"dnsbl", "--frobnicate", "192.0.2.1"}, "frobnicate"},
		{"unknown command", []string{"frob"}, "frob"},
		{"bad resolver", []string{"dnsbl", "--resolver", "1.2.3.4:99999", "192.0.2.1"}, "resolver"},
		{"bad concurrency", []string{"dnsbl", "--resolver", r, "--concurrency", "0", "192.0.2.1"}, "--dns-concurrency"},
		{"bad qps", []string{"dnsbl", "--resolver", r, "--qps", "-1", "192.0.2.1"}, "--qps"},
		{"bad dqs key", []string{"dnsbl", "--resolver", r, "--dqs-key", "a.b", "192.0.2.1"}, "key"},
		{"missing file", []string{"dnsbl", "--resolver", r, "@/nonexistent/targets"}, "/nonexistent/targets"},
		{"bad catalog", []string{"dnsbl", "--resolver", r, "--catalog", "/nonexistent.json", "192.0.2.1"}, "--catalog"},
		{"bad timeout", []string{"dnsbl", "--resolver", r, "--timeout", "0s", "192.0.2.1"}, "--timeout"},
		{"smtp no domain", []string{"smtp", "--resolver", r}, "DOMAIN"},
		{"smtp bad domain", []string{"smtp", "--resolver", r, "exa mple.com"}, "exa mple.com"},
		{"smtp bad tls", []string{"smtp", "--resolver", r, "--tls", "maybe", "example.test"}, "opportunistic, required, off"},
		{"smtp bad port", []string{"smtp", "--resolver", r, "--port", "70000", "example.test"}, "--port"},
		{"smtp foreign source", []string{"smtp", "--resolver", r, "--source-ip", "192.0.2.1", "example.test"}, "not an address of this machine"},
		{"smtp bad source", []string{"smtp", "--resolver", r, "--source-ip", "nope", "example.test"}, "--source-ip"},
		{"smtp bad rcpt", []string{"smtp", "--resolver", r, "--rcpt", "no-at-sign", "example.test"}, "no-at-sign"},
		{"empty stdin", []string{"dnsbl", "--resolver", r, "-"}, "no target"},
		{"bad zone", []string{"dnsbl", "--resolver", r, "--zone", ".", "192.0.2.1"}, "--zone"},
		{"bad zone chars", []string{"dnsbl", "--resolver", r, "--zone", "zen test", "192.0.2.1"}, "zen test"},
		{"smtp bad helo", []string{"smtp", "--resolver", r, "--helo", "a b", "example.test"}, "--helo"},
		{"smtp bad helo literal", []string{"smtp", "--resolver", r, "--helo", "[IPv6:192.0.2.1]", "example.test"}, "--helo"},
		{"no applicable zone", []string{"dnsbl", "--resolver", r, "--zone", "dbl.spamhaus.org", "192.0.2.1"}, "none of the selected zones"},
		{"smtp -4 -6", []string{"smtp", "--resolver", r, "-4", "-6", "example.test"}, "-4 and -6"},
		{"check two targets", []string{"check", "--resolver", r, "192.0.2.1", "192.0.2.2"}, "one target"},
		{"check bad target", []string{"check", "--resolver", r, "not_a host!"}, "not_a host!"},
		{"check bad egress server", []string{"check", "--resolver", r, "--egress-server", "bogus"}, "bogus"},
		{"egress args", []string{"egress", "--resolver", r, "extra"}, "no arguments"},
		{"zones sub", []string{"zones", "frob"}, "frob"},
		{"bad output dir", []string{"dnsbl", "--resolver", r, "-o", "/nonexistent/dir/r.json", "192.0.2.1"}, "--output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := l.dns.Queries.Load()
			res := runCLI(t, "", tc.args...)
			if res.code != report.ExitUsage {
				t.Errorf("exit %d, want 2; stderr %q", res.code, res.stderr)
			}
			lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "blprobe: ") || !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr %q: want one line naming %q", res.stderr, tc.want)
			}
			if strings.Contains(res.stderr, "goroutine") || strings.Contains(res.stderr, "panic") {
				t.Errorf("stack trace: %s", res.stderr)
			}
			if n := l.dns.Queries.Load() - before; n != 0 && tc.name != "bad target" {
				t.Errorf("%d DNS queries sent for bad input", n)
			}
		})
	}
}

func TestDNSBLListedAndClean(t *testing.T) {
	l := newLab(t)
	r, res := jsonReport(t, "dnsbl", "--resolver", l.resolver(), "--zone", "zen.test", "--zone", "clean.test", "127.0.0.10", "127.0.0.20", "2001:db8::10")
	if res.code != report.ExitProblem || r.Verdict != report.VerdictListed {
		t.Fatalf("exit %d verdict %s, want 1 listed; stderr %s", res.code, r.Verdict, res.stderr)
	}
	if got := len(r.DNSBL.Results); got != 6 {
		t.Fatalf("%d results, want 3 addresses x 2 zones", got)
	}
	want := map[string]dnsbl.Status{
		"127.0.0.10 zen.test": dnsbl.StatusListed, "127.0.0.10 clean.test": dnsbl.StatusClean,
		"127.0.0.20 zen.test": dnsbl.StatusClean, "127.0.0.20 clean.test": dnsbl.StatusClean,
		"2001:db8::10 zen.test": dnsbl.StatusListed, "2001:db8::10 clean.test": dnsbl.StatusClean,
	}
	for _, x := range r.DNSBL.Results {
		if w := want[x.IP+" "+x.Zone]; x.Status != w {
			t.Errorf("%s on %s: %s, want %s", x.IP, x.Zone, x.Status, w)
		}
		if x.IP == "127.0.0.10" && x.Zone == "zen.test" {
			if !slices.Equal(x.Codes, []string{"127.0.0.2", "127.0.0.4"}) || !strings.Contains(x.Reason, "Listed in zen.test") || x.Query != "10.0.0.127.zen.test" {
				t.Errorf("listed result %+v", x)
			}
		}
	}
	for _, z := range r.DNSBL.Zones {
		if z.Health != dnsbl.HealthHealthy {
			t.Errorf("zone %s health %s", z.Zone, z.Health)
		}
	}

	// The same, clean only: exit 0.
	r, res = jsonReport(t, "dnsbl", "--resolver", l.resolver(), "--zone", "zen.test", "127.0.0.20")
	if res.code != 0 || r.Verdict != report.VerdictClean {
		t.Errorf("clean: exit %d verdict %s", res.code, r.Verdict)
	}
}

func TestDNSBLFlagsAfterArgsAndEnv(t *testing.T) {
	l := newLab(t)
	t.Setenv("BLPROBE_RESOLVER", l.resolver())
	res := runCLI(t, "", "dnsbl", "127.0.0.10", "--zone", "zen.test", "--format", "json")
	if res.code != 1 || report.Validate([]byte(res.stdout)) != nil {
		t.Errorf("exit %d, stderr %s", res.code, res.stderr)
	}
}

func TestDNSBLInconclusive(t *testing.T) {
	l := newLab(t)
	l.dns.Handle("silent.test", dnstest.Drop())
	l.dns.Handle("broken.test", dnstest.Rcode(dns.RcodeServerFailure))
	l.dns.Handle("dead.test", dnstest.Wildcard("127.0.0.2"))
	r, res := jsonReport(t, "dnsbl", "--resolver", l.resolver(), "--timeout", "100ms", "--retries", "0",
		"--zone", "clean.test", "--zone", "silent.test", "--zone", "broken.test", "--zone", "dead.test", "127.0.0.20")
	if res.code != report.ExitInconclusive || r.Verdict != report.VerdictInconclusive {
		t.Fatalf("exit %d verdict %s, want 3 inconclusive", res.code, r.Verdict)
	}
	kinds := map[string]dnsbl.ErrorKind{}
	for _, x := range r.DNSBL.Results {
		kinds[x.Zone] = x.ErrorKind
		if x.Zone != "clean.test" && x.Status != dnsbl.StatusError {
			t.Errorf("%s: status %s, want error", x.Zone, x.Status)
		}
	}
	if kinds["silent.test"] != dnsbl.ErrTimeout || kinds["broken.test"] != dnsbl.ErrServfail || kinds["dead.test"] != dnsbl.ErrZoneUnhealthy {
		t.Errorf("error kinds %v", kinds)
	}
}

func TestDNSBLTargetsFromStdinAndFile(t *testing.T) {
	l := newLab(t)
	f := filepath.Join(t.TempDir(), "targets")
	os.WriteFile(f, []byte("# office\n127.0.0.10\n\n127.0.0.20 # relay\n"), 0o644)
	res := runCLI(t, "127.0.0.30\n127.0.0.10\n", "dnsbl", "--resolver", l.resolver(), "--zone", "zen.test", "--format", "json", "-", "@"+f)
	if err := report.Validate([]byte(res.stdout)); err != nil {
		t.Fatal(err, res.stderr)
	}
	if res.code != 1 {
		t.Errorf("exit %d (127.0.0.10 is listed): %s", res.code, res.stderr)
	}
	var count int
	for _, ip := range []string{"127.0.0.10", "127.0.0.20", "127.0.0.30"} {
		count += strings.Count(res.stdout, `"ip": "`+ip+`"`)
	}
	if count != 3 {
		t.Errorf("want 3 de-duplicated results, got %d", count)
	}
}

func TestDQSKeyNeverPrinted(t *testing.T) {
	l := newLab(t)
	const key = "s3cr3tDQSkey0123456789"
	for _, format := range []string{"json", "text", "markdown"} {
		res := runCLI(t, "", "dnsbl", "--resolver", l.resolver(), "--timeout", "200ms", "--dqs-key", key, "--zone", "zen.spamhaus.org", "--format", format, "-v", "127.0.0.10")
		if strings.Contains(res.stdout+res.stderr, key) {
			t.Errorf("%s output contains the DQS key:\n%s%s", format, res.stdout, res.stderr)
		}
		if format == "json" && !strings.Contains(res.stdout, "dq.spamhaus.net") {
			t.Errorf("DQS zone not used:\n%s", res.stdout)
		}
	}
	t.Setenv("BLPROBE_DQS_KEY", key)
	res := runCLI(t, "", "dnsbl", "--resolver", l.resolver(), "--zone", "zen.spamhaus.org", "--format", "json", "--dqs-key="+key, "127.0.0.10")
	if strings.Contains(res.stdout+res.stderr, key) {
		t.Errorf("key leaked via --dqs-key= form")
	}
}

func TestZones(t *testing.T) {
	res := runCLI(t, "", "zones")
	if res.code != 0 || !strings.Contains(res.stdout, "zen.spamhaus.org") || strings.Contains(res.stdout, "sorbs") {
		t.Errorf("zones: exit %d\n%s", res.code, res.stdout)
	}
	res = runCLI(t, "", "zones", "--all", "--format", "json")
	if res.code != 0 || !strings.Contains(res.stdout, `"schema": "blprobe.catalog/v1"`) || !strings.Contains(res.stdout, "list.dnswl.org") {
		t.Errorf("zones json: exit %d\n%s", res.code, res.stdout)
	}

	l := newLab(t)
	l.dns.Handle("dead.test", dnstest.Wildcard("127.0.0.2"))
	r, res := jsonReport(t, "zones", "test", "--resolver", l.resolver(), "--zone", "zen.test", "--zone", "dead.test")
	if res.code != report.ExitInconclusive {
		t.Errorf("exit %d, want 3 (a zone is unhealthy)", res.code)
	}
	h := map[string]dnsbl.ZoneHealth{}
	for _, z := range r.DNSBL.Zones {
		h[z.Zone] = z
	}
	if h["zen.test"].Health != dnsbl.HealthHealthy || h["dead.test"].Health != dnsbl.HealthUnhealthy || len(h["dead.test"].Evidence) == 0 {
		t.Errorf("health %+v", h)
	}
	text := runCLI(t, "", "zones", "test", "--resolver", l.resolver(), "--zone", "dead.test")
	if !strings.Contains(text.stdout, "dead.test") || !strings.Contains(text.stdout, "unhealthy") {
		t.Errorf("zones test text:\n%s", text.stdout)
	}
}

// A public resolver gets a warning up front. The run stops at the address
// cap, before any query, so nothing is sent to the public address.
func TestPublicResolverWarning(t *testing.T) {
	res := runCLI(t, "", "dnsbl", "--resolver", "8.8.8.8", "--max-addresses", "1", "192.0.2.0/30")
	if res.code != report.ExitUsage || !strings.Contains(res.stderr, "Google Public DNS") || !strings.Contains(res.stderr, "max-addresses") {
		t.Errorf("exit %d stderr %q", res.code, res.stderr)
	}
}

// The progress bar is drawn only on a terminal: never into pipes, files or
// CI logs.
func TestProgressOnlyOnTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if newProgress(f) != nil || newProgress(&strings.Builder{}) != nil {
		t.Error("progress callback for a non-terminal")
	}
}

// --catalog replaces the built-in catalogue: its default zones are used and
// its code meanings and delist URL reach the report.
func TestUserCatalog(t *testing.T) {
	l := newLab(t)
	cat := filepath.Join(t.TempDir(), "catalog.json")
	os.WriteFile(cat, []byte(`[
  {"zone": "zen.test", "name": "Office list", "kind": "ip4", "type": "block", "default": true,
   "codes": {"127.0.0.2": "spam source", "127.0.0.4": "exploited host"}, "delist_url": "https://delist.zen.test/"},
  {"zone": "clean.test", "name": "Opt-in list", "kind": "ip4", "type": "block", "default": false}
]`), 0o644)
	r, res := jsonReport(t, "dnsbl", "--resolver", l.resolver(), "--catalog", cat, "127.0.0.10")
	if res.code != 1 || len(r.DNSBL.Results) != 1 {
		t.Fatalf("exit %d results %+v", res.code, r.DNSBL.Results)
	}
	x := r.DNSBL.Results[0]
	if x.Zone != "zen.test" || !slices.Equal(x.Meanings, []string{"spam source", "exploited host"}) || r.DNSBL.Zones[0].DelistURL != "https://delist.zen.test/" {
		t.Errorf("result %+v zone %+v", x, r.DNSBL.Zones[0])
	}
	list := runCLI(t, "", "zones", "--catalog", cat, "--all")
	if !strings.Contains(list.stdout, "Office list") || !strings.Contains(list.stdout, "Opt-in list") {
		t.Errorf("zones --catalog:\n%s", list.stdout)
	}
}
