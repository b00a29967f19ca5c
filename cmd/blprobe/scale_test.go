package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
