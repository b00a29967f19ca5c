package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/blprobe/blprobe/internal/smtptest"
)

var nagiosLine = regexp.MustCompile(`^BLPROBE (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+( \| [^\n]+)?$`)

// TestNagiosFormat drives dnsbl, smtp and check with --format nagios: one
// plugin status line, long output below, Nagios exit codes.
func TestNagiosFormat(t *testing.T) {
	l := newLab(t)
	l.mx("example.test", "127.0.0.1")
	l.mx("reject.test", "127.0.0.3")
	acc, port := l.smtp("127.0.0.1", smtptest.Config{})
	l.smtp("127.0.0.3", smtptest.Config{Port: acc.Port, Rcpt: spamhausReject})
	dnsbl := []string{"dnsbl", "--resolver", l.resolver(), "--zone", "zen.test", "--zone", "clean.test", "--format", "nagios"}
	smtp := []string{"smtp", "--resolver", l.resolver(), "--port", port, "--helo", "probe.example.test", "--connect-timeout", "1s", "--command-timeout", "2s", "--format", "nagios"}
	check := []string{"check", "--resolver", l.resolver(), "--port", port, "--zone", "zen.test", "--zone", "clean.test",
		"--helo", "mail.probe.test", "--connect-timeout", "1s", "--command-timeout", "2s", "--format", "nagios"}
	tests := []struct {
		name  string
		args  []string
		code  int
		first string // prefix of the status line
		perf  string
	}{
		{"clean", append(dnsbl, "127.0.0.20"), 0, "BLPROBE OK - 127.0.0.20 not listed on 2 lists | listed=0;0;0;0 clean=2 errors=0 time=", ""},
		{"listed, default thresholds", append(dnsbl, "127.0.0.10"), 2, "BLPROBE CRITICAL - 127.0.0.10 listed on 1 of 2 lists (zen.test) | listed=1;0;0;0 clean=1 errors=0 time=", ""},
		{"listed, warning", append(dnsbl, "127.0.0.10", "--warning", "0", "--critical", "1"), 1, "BLPROBE WARNING - 127.0.0.10 listed on 1 of 2 lists (zen.test) | listed=1;0;1;0 ", ""},
		{"listed, tolerated", append(dnsbl, "127.0.0.10", "--warning=1", "--critical=2"), 0, "BLPROBE OK - 127.0.0.10 listed on 1 of 2 lists", ""},
		{"CIDR", append(dnsbl, "127.0.0.8/30"), 2, "BLPROBE CRITICAL - 1 of 4 addresses listed (127.0.0.10) on 1 of 2 lists (zen.test) | listed=1;0;0;0 clean=7 errors=0", ""},
		{"smtp accepted", append(smtp, "example.test"), 0, "BLPROBE OK - all 1 MX addresses accept | rejected=0;;;0 accepted=1 smtp_errors=0 time=", ""},
		{"smtp rejected", append(smtp, "reject.test"), 2, "BLPROBE CRITICAL - 1 of 1 MX addresses reject (reject.test mx.reject.test [127.0.0.3]) | rejected=1;;;0", ""},
		{"check", append(check, "127.0.0.10", "--to", "reject.test"), 2, "BLPROBE CRITICAL - 127.0.0.10 listed on 1 of 2 lists (zen.test); 1 of 1 MX addresses reject", ""},
		{"bad threshold", append(dnsbl, "127.0.0.10", "--warning", "5:1"), 3, `BLPROBE UNKNOWN - --warning: invalid threshold "5:1": start is greater than end`, ""},
		{"usage error", append(dnsbl, "not a target"), 3, "BLPROBE UNKNOWN - invalid target", ""},
		{"unknown flag", append(dnsbl, "127.0.0.10", "--frob"), 3, "BLPROBE UNKNOWN - unknown flag --frob", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, "", tt.args...)
			first, long, _ := strings.Cut(res.stdout, "\n")
			if res.code != tt.code || !strings.HasPrefix(first, tt.first) || !nagiosLine.MatchString(first) {
				t.Errorf("exit %d, want %d\ngot  %q\nwant %q…\nstderr %s", res.code, tt.code, first, tt.first, res.stderr)
			}
			if tt.code == 2 && !strings.Contains(long, "listed in zen.test") && !strings.Contains(long, "rejected at rcpt") {
				t.Errorf("no long output:\n%s", res.stdout)
			}
		})
	}
}
