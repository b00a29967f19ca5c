package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blprobe/blprobe/report"
)

// blprobeRun runs blprobe with args and returns stdout, stderr and the exit code.
func blprobeRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	r := runCLI(t, "", args...)
	return r.stdout, r.stderr, r.code
}

// writeZoneFile writes an rbldnsd ip4set listing the RFC 5782 test entry and
// 192.0.2.0/30 except 192.0.2.2.
func writeZoneFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "local.txt")
	data := ":127.0.0.3:Listed locally: $\n127.0.0.2\n192.0.2.0/30\n!192.0.2.2\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestZoneFile(t *testing.T) {
	p := writeZoneFile(t)
	// The resolver is a closed port: a local zone must never query it.
	out, stderr, code := blprobeRun(t, "dnsbl", "--resolver", "127.0.0.1:9", "--timeout", "100ms", "--retries", "0",
		"--zone-file", "local.test=ip4set:"+p, "--format", "json", "192.0.2.0/29")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (listed); stderr %s", code, stderr)
	}
	var rep struct {
		DNSBL struct {
			Zones []struct {
				Zone, Health string
			}
			Results []struct {
				IP, Zone, Status, Reason string
				Codes                    []string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.DNSBL.Zones) != 1 || rep.DNSBL.Zones[0].Health != "healthy" {
		t.Fatalf("zones %+v", rep.DNSBL.Zones)
	}
	var listed []string
	for _, r := range rep.DNSBL.Results {
		if r.Status == "listed" {
			listed = append(listed, r.IP)
			if r.Reason != "Listed locally: "+r.IP || len(r.Codes) != 1 || r.Codes[0] != "127.0.0.3" {
				t.Errorf("result %+v", r)
			}
		}
	}
	if got := strings.Join(listed, " "); got != "192.0.2.0 192.0.2.1 192.0.2.3" || len(rep.DNSBL.Results) != 8 {
		t.Errorf("listed %q of %d results", got, len(rep.DNSBL.Results))
	}
}

func TestZoneFileErrors(t *testing.T) {
	p := writeZoneFile(t)
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("10.0.0.1\n10.0.0.999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--zone-file", "nozone"}, "ZONE=[TYPE:]PATH"},
		{[]string{"--zone-file", "x.test=/nonexistent/file"}, "/nonexistent/file"},
		{[]string{"--zone-file", "x.test=ip9set:" + p}, "dataset type"},
		{[]string{"--zone-file", "x.test=" + bad}, "line 2"},
		{[]string{"--zone-file", "dbl.spamhaus.org=ip4set:" + p}, "cannot answer for a domain zone"},
	} {
		args := append([]string{"dnsbl", "--resolver", "127.0.0.1:9"}, tc.args...)
		_, stderr, code := blprobeRun(t, append(args, "192.0.2.1")...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestJSONLines: --format jsonl writes a run line, one line per result and
// a summary line, all valid against the schema fragments; --only filters.
func TestJSONLines(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		only  []string
		lines int // result lines
	}{{nil, 16}, {[]string{"--only", "listed"}, 1}, {[]string{"--only", "listed,clean"}, 16}} {
		args := append([]string{"dnsbl", "--resolver", l.resolver(), "--zone", "zen.test", "--zone", "clean.test", "--format", "jsonl"}, tc.only...)
		res := runCLI(t, "", append(args, "192.0.2.8/29")...)
		if res.code != 1 {
			t.Fatalf("%v: exit %d, stderr %s", tc.only, res.code, res.stderr)
		}
		if err := report.ValidateJSONL([]byte(res.stdout)); err != nil {
			t.Fatalf("%v: %v\n%s", tc.only, err, res.stdout)
		}
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		if len(lines)-2 != tc.lines {
			t.Errorf("%v: %d result lines, want %d:\n%s", tc.only, len(lines)-2, tc.lines, res.stdout)
		}
		var sum struct {
			Verdict string
			Counts  map[string]int
			Omitted map[string]map[string]int
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Verdict != "listed" || sum.Counts["listed"] != 1 || sum.Counts["clean"] != 15 {
			t.Errorf("%v: summary %+v", tc.only, sum)
		}
		if len(tc.only) > 0 && tc.lines == 1 && (sum.Omitted["zen.test"]["clean"] != 7 || sum.Omitted["clean.test"]["clean"] != 8) {
			t.Errorf("%v: omitted %+v", tc.only, sum.Omitted)
		}
	}
	// jsonl is for dnsbl only.
	if res := runCLI(t, "", "check", "--resolver", l.resolver(), "--format", "jsonl", "192.0.2.1"); res.code != 2 || !strings.Contains(res.stderr, "jsonl") {
		t.Errorf("check --format jsonl: exit %d, %s", res.code, res.stderr)
	}
}

// TestOnly: --only filters the results of every format; the verdict still
// covers every result.
func TestOnly(t *testing.T) {
	l := newLab(t)
	base := []string{"dnsbl", "--resolver", l.resolver(), "--zone", "zen.test", "--zone", "clean.test", "--only", "clean"}
	rep, res := jsonReport(t, append(base, "192.0.2.8/30", "192.0.2.10")...)
	if res.code != 1 || rep.Verdict != report.VerdictListed {
		t.Fatalf("exit %d verdict %s: --only must not change the verdict", res.code, rep.Verdict)
	}
	for _, r := range rep.DNSBL.Results {
		if r.Status != "clean" {
			t.Errorf("result %+v written despite --only clean", r)
		}
	}
	if len(rep.DNSBL.Results) != 7 || rep.DNSBL.Omitted["zen.test"]["listed"] != 1 || len(rep.DNSBL.Only) != 1 {
		t.Errorf("%d results, omitted %v, only %v", len(rep.DNSBL.Results), rep.DNSBL.Omitted, rep.DNSBL.Only)
	}
	for _, format := range []string{"text", "markdown"} {
		res := runCLI(t, "", append(base, "--format", format, "-v", "192.0.2.8/30")...)
		if !strings.Contains(res.stdout, "not shown (--only clean): 1 listed") || strings.Contains(res.stdout, "Listed in zen.test") {
			t.Errorf("%s: --only not applied:\n%s", format, res.stdout)
		}
	}
	if res := runCLI(t, "", append(base[:len(base)-1], "bogus", "192.0.2.1")...); res.code != 2 || !strings.Contains(res.stderr, "--only") {
		t.Errorf("--only bogus: exit %d %s", res.code, res.stderr)
	}
}

// TestDailyLimitRefusal: a plan over a zone's free daily limit is refused
// with exit 2 naming the zone and the numbers, before any query;
// --i-have-permission runs it.
func TestDailyLimitRefusal(t *testing.T) {
	l := newLab(t)
	cat := filepath.Join(t.TempDir(), "cat.json")
	data := `[{"zone": "zen.test", "kind": "ip4", "type": "block", "daily_limit": 10, "default": true}]`
	if err := os.WriteFile(cat, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	before := l.dns.Queries.Load()
	for _, cmd := range []string{"dnsbl", "check"} {
		target := "192.0.2.0/29" // 8 addresses + 2 test queries: at the limit
		if cmd == "dnsbl" {
			target = "192.0.2.0/28" // 16 + 2 = 18 queries
		}
		res := runCLI(t, "", cmd, "--resolver", l.resolver(), "--catalog", cat, target)
		if cmd == "check" {
			// check takes one address: 1 + 2 queries, under the limit.
			res = runCLI(t, "", cmd, "--resolver", l.resolver(), "--catalog", cat, "--max-addresses", "16", "192.0.2.1")
			if res.code == 2 {
				t.Errorf("check under the limit refused: %s", res.stderr)
			}
			continue
		}
		if res.code != 2 || !strings.Contains(res.stderr, "zen.test needs 18 queries, more than its free limit of 10 queries a day") ||
			!strings.Contains(res.stderr, "--i-have-permission") {
			t.Errorf("%s: exit %d, stderr %q", cmd, res.code, res.stderr)
		}
		if n := l.dns.Queries.Load(); n != before {
			t.Errorf("%s: %d queries sent before refusing", cmd, n-before)
		}
	}
	res := runCLI(t, "", "dnsbl", "--resolver", l.resolver(), "--catalog", cat, "--i-have-permission", "192.0.2.0/28")
	if res.code != 1 { // 192.0.2.10 is listed in the lab
		t.Errorf("--i-have-permission: exit %d, stderr %s", res.code, res.stderr)
	}
}
