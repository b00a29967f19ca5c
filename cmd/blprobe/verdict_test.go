package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/blprobe/blprobe/report"
)

// problemLines renders the report's problems as "verdict: message".
func problemLines(r *report.Report) string {
	var b strings.Builder
	for _, p := range r.Problems() {
		b.WriteString(string(p.Verdict) + ": " + p.Message + "\n")
	}
	return b.String()
}

// TestCheckVerdicts drives `blprobe check` against scripted MXs for every
// row of issue 7's table that is a verdict matter: none of them is clean.
func TestCheckVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     smtptest.Config
		setup   func(l *lab)
		ip      string
		code    int
		verdict report.Verdict
		problem string // a problem line must contain it
		summary string // the summary must start with it
	}{
		{name: "banner 554 without a list", cfg: smtptest.Config{Banner: "554 No SMTP service here"}, ip: "127.0.0.20",
			code: 1, verdict: report.VerdictRejected, problem: "rejected: mx.example.test [127.0.0.1] rejected at banner", summary: "Rejected: "},
		{name: "550 5.2.1 mailbox unavailable for postmaster", cfg: smtptest.Config{Rcpt: "550 5.2.1 Mailbox unavailable"}, ip: "127.0.0.20",
			code: 3, verdict: report.VerdictInconclusive, problem: "every domain must accept mail for postmaster (RFC 5321 §4.5.1)", summary: "Inconclusive: "},
		{name: "Exim bare Administrative prohibition", cfg: smtptest.Config{Rcpt: "550 Administrative prohibition"}, ip: "127.0.0.20",
			code: 3, verdict: report.VerdictInconclusive, problem: "550 Administrative prohibition", summary: "Inconclusive: "},
		{name: "IP reputation too low", cfg: smtptest.Config{Rcpt: "550 your IP reputation is too low for this MX"}, ip: "127.0.0.20",
			code: 1, verdict: report.VerdictRejected, problem: "rejected: mx.example.test [127.0.0.1] rejected at rcpt", summary: "Rejected: "},
		{name: "553 5.1.8 sender domain not found", cfg: smtptest.Config{Rcpt: "553 5.1.8 <postmaster@mail.probe.test>: Sender address rejected: Domain not found"}, ip: "127.0.0.20",
			code: 1, verdict: report.VerdictRejected, problem: "(sender_rejected: 5.1.8", summary: "Rejected: "},
		{name: "echoed IP mismatch", cfg: smtptest.Config{EHLO: "250-mx Hello [198.51.100.99]\n250 8BITMIME"}, ip: "127.0.0.20",
			code: 3, verdict: report.VerdictInconclusive, problem: "saw 198.51.100.99, not 127.0.0.20", summary: "Inconclusive: "},
		{name: "PTR SERVFAIL", ip: "127.0.0.20", setup: func(l *lab) {
			l.dns.Handle("20.0.0.127.in-addr.arpa", dnstest.Rcode(dns.RcodeServerFailure))
		}, code: 3, verdict: report.VerdictInconclusive, problem: "the reverse DNS of 127.0.0.20 could not be checked", summary: "Inconclusive: "},
		{name: "accepted from a forward-confirmed IP is clean", ip: "127.0.0.20", setup: func(l *lab) { l.ptr("127.0.0.20", "mail.probe.test", true) },
			code: 0, verdict: report.VerdictClean, summary: "Clean: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _, args := checkLab(t, tc.cfg)
			if tc.setup != nil {
				tc.setup(l)
			}
			r, res := jsonReport(t, append(args, tc.ip)...)
			if res.code != tc.code || r.Verdict != tc.verdict {
				t.Errorf("exit %d verdict %s, want %d %s; problems:\n%s", res.code, r.Verdict, tc.code, tc.verdict, problemLines(r))
			}
			if tc.problem != "" && !strings.Contains(problemLines(r), tc.problem) {
				t.Errorf("problems lack %q:\n%s", tc.problem, problemLines(r))
			}
			if tc.problem == "" && len(r.Problems()) > 0 {
				t.Errorf("unexpected problems:\n%s", problemLines(r))
			}
			if !strings.HasPrefix(r.Summary, tc.summary) {
				t.Errorf("summary %q does not start with %q", r.Summary, tc.summary)
			}
			if strings.Contains(r.Summary, "could not be tested") && r.Verdict != report.VerdictInconclusive {
				t.Errorf("summary %q contradicts verdict %s", r.Summary, r.Verdict)
			}
		})
	}
}

// TestCheckNullMX: a domain that accepts no mail is never clean.
func TestCheckNullMX(t *testing.T) {
	l, _, args := checkLab(t, smtptest.Config{})
	l.ptr("127.0.0.20", "mail.probe.test", true)
	l.add("null.test. 60 IN MX 0 .\n")
	for i, a := range args {
		if a == "example.test" {
			args[i] = "null.test"
		}
	}
	r, res := jsonReport(t, append(args, "127.0.0.20")...)
	if res.code != 3 || r.Verdict != report.VerdictInconclusive {
		t.Errorf("exit %d verdict %s, want 3 inconclusive", res.code, r.Verdict)
	}
	if !strings.Contains(problemLines(r), "inconclusive: null.test accepts no mail") {
		t.Errorf("problems:\n%s", problemLines(r))
	}
	text := runCLI(t, "", append(args, "127.0.0.20")...)
	if !strings.Contains(text.stdout, "null.test accepts no mail") || !strings.Contains(text.stdout, "INCONCLUSIVE") {
		t.Errorf("text report:\n%s", text.stdout)
	}
}

// TestReportWriteFailure: a run whose report cannot be written exits 4
// and says what was lost; it is not a usage error.
func TestReportWriteFailure(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	l, _, args := checkLab(t, smtptest.Config{})
	l.ptr("127.0.0.20", "mail.probe.test", true)
	for _, format := range []string{"text", "json"} {
		res := runCLI(t, "", append(args, "-o", "/dev/full", "--format", format, "127.0.0.20")...)
		if res.code != report.ExitWriteFailed {
			t.Errorf("%s: exit %d, want 4; stderr %s", format, res.code, res.stderr)
		}
		for _, want := range []string{"verdict clean", "could not be written to /dev/full", "lost"} {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("%s: stderr %q lacks %q", format, res.stderr, want)
			}
		}
		if strings.Contains(res.stderr, "usage") || strings.Count(strings.TrimSpace(res.stderr), "\n") > 0 {
			t.Errorf("stderr must be one line, no usage error: %q", res.stderr)
		}
	}
}

// TestReportClosedPipe: the real binary writing into a closed pipe exits 4
// with a message instead of dying of SIGPIPE.
func TestReportClosedPipe(t *testing.T) {
	bin := buildBinary(t)
	_, _, args := checkLab(t, smtptest.Config{})
	cmd := exec.Command(bin, append(args, "--format", "json", "127.0.0.20")...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Close() // nobody reads: the write fails with EPIPE
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = pw, &stderr
	err = cmd.Run()
	pw.Close()
	if code := cmd.ProcessState.ExitCode(); code != report.ExitWriteFailed {
		t.Errorf("exit %d (%v), want 4; stderr %s", code, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "could not be written to standard output") {
		t.Errorf("stderr %q", stderr.String())
	}
}

// TestSMTPBanner554 covers the smtp command: a banner 554 naming no list is
// a rejection (exit 1), not clean.
func TestSMTPBanner554(t *testing.T) {
	l := newLab(t)
	l.mx("example.test", "127.0.0.1")
	_, port := l.smtp("127.0.0.1", smtptest.Config{Banner: "554 No SMTP service here"})
	r, res := jsonReport(t, "smtp", "--resolver", l.resolver(), "--port", port, "--helo", "probe.example.test", "example.test")
	if res.code != 1 || r.Verdict != report.VerdictRejected {
		t.Errorf("exit %d verdict %s; problems:\n%s", res.code, r.Verdict, problemLines(r))
	}
	// jsonReport validated the report: the schema rejects null lists.
	if ps := probes(r); len(ps) != 1 || ps[0].Rcpts == nil || ps[0].Extensions == nil {
		t.Errorf("probe lists must be [] in JSON: %+v", ps)
	}
}

// TestDNSBLIPv6Coverage: an IPv6 address checked next to an IPv4 one against
// a zone that publishes only IPv4 data is visible in dnsbl.coverage and in a
// warning, also when no zone applies to it at all.
func TestDNSBLIPv6Coverage(t *testing.T) {
	l := newLab(t)
	cat := filepath.Join(t.TempDir(), "catalog.json")
	os.WriteFile(cat, []byte(`[
  {"zone": "zen.test", "name": "v4 only", "kind": "ip4", "type": "block", "default": true},
  {"zone": "clean.test", "name": "both", "kind": "ip4+ip6", "type": "block", "default": true}
]`), 0o644)
	r, res := jsonReport(t, "dnsbl", "--resolver", l.resolver(), "--catalog", cat, "127.0.0.20", "2001:db8::20")
	if res.code != 0 {
		t.Errorf("exit %d: %s", res.code, problemLines(r))
	}
	c := r.DNSBL.Coverage
	if c == nil || c.IPv4.Addresses != 1 || c.IPv4.Zones != 2 || len(c.IPv4.NotApplicable) != 0 ||
		c.IPv6.Addresses != 1 || c.IPv6.Zones != 1 || strings.Join(c.IPv6.NotApplicable, ",") != "zen.test" {
		t.Errorf("coverage %+v", c)
	}
	want := "1 IPv6 address was checked against 1 of the 2 zones of this run: zen.test publishes no IPv6 data"
	if !strings.Contains(strings.Join(r.Warnings, "\n"), want) {
		t.Errorf("warnings %q lack %q", r.Warnings, want)
	}

	// Only the IPv4-only zone: the IPv6 address has no result at all, and
	// still counts.
	r, _ = jsonReport(t, "dnsbl", "--resolver", l.resolver(), "--catalog", cat, "--zone", "zen.test", "127.0.0.20", "2001:db8::20")
	if c := r.DNSBL.Coverage; c == nil || c.IPv6.Addresses != 1 || c.IPv6.Zones != 0 {
		t.Errorf("coverage %+v", c)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "1 IPv6 address was checked against 0 of the 1 zones of this run") {
		t.Errorf("warnings %q", r.Warnings)
	}
}
