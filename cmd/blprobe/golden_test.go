package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/blprobe/blprobe/internal/smtptest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// normalise replaces what changes from run to run: loopback ports,
// timestamps and durations.
func normalise(s string, repl map[string]string) string {
	for from, to := range repl {
		s = strings.ReplaceAll(s, from, to)
	}
	for _, r := range []struct {
		re *regexp.Regexp
		to string
	}{ // in this order: durations in brackets before other milliseconds
		{regexp.MustCompile(`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z`), "2026-01-01 00:00:00Z"},
		{regexp.MustCompile(`\(\d+(\.\d+)?(ms|s|µs)\)`), "(DURATION)"},
		{regexp.MustCompile(`\b\d+(\.\d+)? ?ms\b`), "N ms"},
		// A narrow report may wrap before the duration or not, by its length.
		{regexp.MustCompile(`\n +\(DURATION\)`), " (DURATION)"},
	} {
		s = r.re.ReplaceAllString(s, r.to)
	}
	return s
}

// TestCheckMarkdownGolden pins the ticket-ready Markdown of a full check:
// a listed IP rejected by one MX, accepted by another, with correlations
// and transcripts in <details> blocks.
func TestCheckMarkdownGolden(t *testing.T) {
	l := newLab(t)
	l.add("example.test. 60 IN MX 10 mx1.example.test.\nexample.test. 60 IN MX 20 mx2.example.test.\n" +
		"mx1.example.test. 60 IN A 127.0.0.1\nmx2.example.test. 60 IN A 127.0.0.3\n")
	l.ptr("127.0.0.10", "mail.probe.test", true)
	s1, port := l.smtp("127.0.0.1", smtptest.Config{Banner: "220 mx1.example.test ESMTP Postfix", Rcpt: spamhausReject})
	l.smtp("127.0.0.3", smtptest.Config{Port: s1.Port, Banner: "220 mx2.example.test ESMTP Exim", EHLO: "250-mx2.example.test Hello mail.probe.test [127.0.0.10]\n250 8BITMIME"})
	res := runCLI(t, "", "check", "--format", "markdown", "--resolver", l.resolver(), "--port", port,
		"--zone", "zen.test", "--zone", "clean.test", "--helo", "mail.probe.test", "--to", "example.test", "127.0.0.10")
	if res.code != 1 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	got := normalise(res.stdout, map[string]string{l.resolver(): "127.0.0.1:RESOLVERPORT", ":" + port: ":SMTPPORT", "port " + port: "port SMTPPORT"})
	path := filepath.Join("testdata", "check.md.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/blprobe -run Golden -update)", err)
	}
	if got != string(want) {
		t.Errorf("markdown differs from %s (go test ./cmd/blprobe -run Golden -update to accept):\n%s", path, got)
	}
	for _, must := range []string{"<details>", "</details>", "rejection_matches_listing", "Verdict"} {
		if !strings.Contains(got, must) {
			t.Errorf("markdown lacks %q", must)
		}
	}
}

// golden compares got with testdata/name; go test -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/blprobe -run %s -update writes it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./cmd/blprobe -run %s -update to accept):\n%s", path, t.Name(), got)
	}
}
