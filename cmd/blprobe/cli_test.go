package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mattn/go-runewidth"
	"github.com/miekg/dns"

	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/blprobe/blprobe/report"
)

// The CLI behaves like the tools admins know (issue 10, "The CLI").
func TestCLIFriendlyErrors(t *testing.T) {
	l := newLab(t)
	r := l.resolver()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"two dashes and a suggestion", nil, []string{"dnsbl", "--resolver", r, "--zonee", "zen.test", "127.0.0.2"}, "unknown flag --zonee (did you mean --zone?)"},
		{"unknown flag before the command", nil, []string{"--formt", "json", "dnsbl", "127.0.0.2"}, "unknown flag --formt (did you mean --format?)"},
		{"common flag without a command", nil, []string{"--format", "json"}, "--format goes with a command"},
		{"duration without unit", nil, []string{"dnsbl", "--resolver", r, "--timeout", "5", "127.0.0.2"}, `invalid --timeout "5": use a duration such as 5s`},
		{"smtp duration", nil, []string{"smtp", "--resolver", r, "--connect-timeout", "ten", "example.test"}, "invalid --connect-timeout \"ten\": use a duration such as 5s"},
		{"not a number", nil, []string{"dnsbl", "--resolver", r, "--concurrency", "many", "127.0.0.2"}, `invalid --concurrency "many": use a whole number`},
		{"missing value", nil, []string{"dnsbl", "127.0.0.2", "--timeout"}, "--timeout needs a value: use a duration"},
		{"bad env int", map[string]string{"BLPROBE_RETRIES": "abc"}, []string{"dnsbl", "--resolver", r, "127.0.0.2"}, `invalid BLPROBE_RETRIES="abc" (for --retries): use a whole number`},
		{"bad env duration", map[string]string{"BLPROBE_TIMEOUT": "3"}, []string{"dnsbl", "--resolver", r, "127.0.0.2"}, `invalid BLPROBE_TIMEOUT="3" (for --timeout): use a duration such as 5s`},
		{"bad format names what is accepted", nil, []string{"dnsbl", "--resolver", r, "--format", "xml", "127.0.0.2"}, "accepted: text, json, markdown (or md)"},
		{"bad width", nil, []string{"dnsbl", "--resolver", r, "--width", "10", "127.0.0.2"}, "invalid --width 10"},
		{"dns concurrency", nil, []string{"dnsbl", "--resolver", r, "--dns-concurrency", "0", "127.0.0.2"}, "--dns-concurrency"},
		{"smtp concurrency old name", nil, []string{"smtp", "--resolver", r, "--concurrency", "0", "example.test"}, "--smtp-concurrency"},
		{"check smtp concurrency", nil, []string{"check", "--resolver", r, "--smtp-concurrency", "0", "--to", "example.test", "127.0.0.2"}, "--smtp-concurrency"},
		{"bad server", nil, []string{"smtp", "--resolver", r, "--server", "mx.example.test:99999", "example.test"}, "invalid --server"},
		{"literal with domains", nil, []string{"smtp", "--resolver", r, "[127.0.0.1]", "example.test"}, "must be the only target"},
		{"server and literal", nil, []string{"smtp", "--resolver", r, "--server", "127.0.0.1", "[127.0.0.1]"}, "either --server or an address literal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			before := l.dns.Queries.Load()
			res := runCLI(t, "", tc.args...)
			if res.code != report.ExitUsage {
				t.Errorf("exit %d, want 2; stderr %q", res.code, res.stderr)
			}
			lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr %q: want one line with %q", res.stderr, tc.want)
			}
			if strings.Contains(res.stderr, "strconv.") || strings.Contains(res.stderr, "parse error") || strings.Contains(res.stderr, " -"+strings.TrimPrefix(tc.want, "--")) {
				t.Errorf("raw parser error: %q", res.stderr)
			}
			if n := l.dns.Queries.Load() - before; n != 0 {
				t.Errorf("%d DNS queries sent for bad input", n)
			}
		})
	}
}

// Common flags work before the command, and -o - is stdout.
func TestCLIGlobalFlagsAndFormats(t *testing.T) {
	l := newLab(t)
	for _, args := range [][]string{
		{"--format", "json", "dnsbl", "--resolver", l.resolver(), "--zone", "zen.test", "127.0.0.10"},
		{"--format=JSON", "--resolver", l.resolver(), "dnsbl", "127.0.0.10", "--zone", "zen.test"},
		{"dnsbl", "--resolver", l.resolver(), "--zone", "zen.test", "--format", "Json", "-o", "-", "127.0.0.10"},
	} {
		res := runCLI(t, "", args...)
		var r report.Report
		if res.code != 1 || json.Unmarshal([]byte(res.stdout), &r) != nil || r.Verdict != report.VerdictListed {
			t.Errorf("%q: exit %d, stdout %.200q stderr %q", args, res.code, res.stdout, res.stderr)
		}
	}
	for _, f := range []string{"md", "MARKDOWN", "Md"} {
		res := runCLI(t, "", "dnsbl", "--resolver", l.resolver(), "--zone", "zen.test", "--format", f, "127.0.0.10")
		if res.code != 1 || !strings.HasPrefix(res.stdout, "# blprobe report: LISTED") {
			t.Errorf("--format %s: exit %d stdout %.100q stderr %q", f, res.code, res.stdout, res.stderr)
		}
	}
	if _, err := os.Stat("-"); err == nil {
		t.Error(`-o - created a file named "-"`)
	}
}

// --help works after arguments, groups the options with the one a user
// needs first, uses real placeholders and shows examples and exit codes.
func TestCLIHelp(t *testing.T) {
	for _, args := range [][]string{{"dnsbl", "127.0.0.2", "--help"}, {"dnsbl", "--help"}, {"--format", "json", "dnsbl", "-h", "127.0.0.2"}} {
		res := runCLI(t, "", args...)
		if res.code != 0 || !strings.Contains(res.stdout, "blprobe dnsbl - look addresses up") {
			t.Errorf("%q: exit %d, stdout %.200q", args, res.code, res.stdout)
		}
	}
	res := runCLI(t, "", "check", "--help")
	out := res.stdout
	for _, want := range []string{"TARGET OPTIONS:\n   --to DOMAIN", "--timeout DURATION", "--dns-concurrency N, --concurrency N",
		"--smtp-concurrency N", "--width N", "EXAMPLES:\n   blprobe check", "EXIT CODES:\n   0  everything was checked"} {
		if !strings.Contains(out, want) {
			t.Errorf("check --help lacks %q:\n%s", want, out)
		}
	}
	order := []string{"TARGET OPTIONS", "DNSBL OPTIONS", "SMTP OPTIONS", "EGRESS OPTIONS", "DNS OPTIONS", "OUTPUT OPTIONS", "EXAMPLES", "EXIT CODES"}
	last := -1
	for _, h := range order {
		i := strings.Index(out, h)
		if i < last {
			t.Errorf("%s out of order in check --help", h)
		}
		last = i
	}
	if strings.Count(out, "blprobe check") < 4 {
		t.Errorf("check --help has fewer than three examples:\n%s", out)
	}
	if z := runCLI(t, "", "zones", "--help"); !strings.Contains(z.stdout, "COMMANDS:\n   test") || strings.Contains(z.stdout, "   help ") {
		t.Errorf("zones --help does not list zones test:\n%s", z.stdout)
	}
	if s := runCLI(t, "", "smtp", "--help"); !strings.Contains(s.stdout, "TARGET OPTIONS:\n   --server HOST[:PORT]") {
		t.Errorf("smtp --help lacks --server first:\n%s", s.stdout)
	}
	if e := runCLI(t, "", "egress", "--help"); strings.Contains(e.stdout, "--zone") || strings.Contains(e.stdout, "--rcpt") {
		t.Errorf("egress --help shows flags of other commands:\n%s", e.stdout)
	}
	for _, args := range [][]string{{"--version"}, {"-V"}, {"version"}} {
		v := runCLI(t, "", args...)
		if v.code != 0 || !strings.HasPrefix(v.stdout, "blprobe version ") {
			t.Errorf("%q: exit %d stdout %q stderr %q", args, v.code, v.stdout, v.stderr)
		}
	}
}

// smtp --server probes one host for the domain instead of its MX; an
// address literal is a target; an IDN domain is converted and shown both
// ways.
func TestCLISMTPServerAndIDN(t *testing.T) {
	l := newLab(t)
	srv, port := l.smtp("127.0.0.1", smtptest.Config{})
	base := []string{"smtp", "--resolver", l.resolver(), "--helo", "mail.probe.test", "--connect-timeout", "2s"}

	// example.test has no MX in the lab: --server is the only way to reach it.
	r, res := jsonReport(t, append(base, "--server", "127.0.0.1:"+port, "example.test")...)
	if res.code != 0 || len(r.SMTP.Domains) != 1 || r.SMTP.Domains[0].MX[0].Host != "127.0.0.1" || strconv.Itoa(r.SMTP.Port) != port {
		t.Fatalf("--server: exit %d stderr %q domains %+v", res.code, res.stderr, r.SMTP.Domains)
	}
	if got := srv.Conns()[len(srv.Conns())-1].Commands; !strings.Contains(strings.Join(got, " "), "RCPT TO:<postmaster@example.test>") {
		t.Errorf("the server was not asked about the domain: %q", got)
	}
	l.add("mx.lab.test. 60 IN A 127.0.0.1\n")
	if _, res := jsonReport(t, append(base, "--server", "mx.lab.test:"+port, "example.test")...); res.code != 0 {
		t.Errorf("--server by name: exit %d stderr %q", res.code, res.stderr)
	}

	r, res = jsonReport(t, append(base, "--port", port, "[127.0.0.1]")...)
	if res.code != 0 || r.SMTP.Domains[0].Domain != "[127.0.0.1]" {
		t.Fatalf("address literal: exit %d stderr %q", res.code, res.stderr)
	}
	if got := srv.Conns()[len(srv.Conns())-1].Commands; !strings.Contains(strings.Join(got, " "), "RCPT TO:<postmaster@[127.0.0.1]>") {
		t.Errorf("literal target: %q", got)
	}

	l.mx("xn--bcher-kva.example", "127.0.0.1")
	res = runCLI(t, "", append(base, "--port", port, "bücher.example")...)
	if res.code != 0 || !strings.Contains(res.stdout, "xn--bcher-kva.example") ||
		!strings.Contains(res.stdout, "bücher.example is xn--bcher-kva.example in DNS and SMTP") {
		t.Errorf("IDN: exit %d stderr %q stdout:\n%s", res.code, res.stderr, res.stdout)
	}
}

// Every SMTP outcome that is not a verdict has a next step, and smtp
// prints next steps.
func TestCLISMTPNextSteps(t *testing.T) {
	l := newLab(t)
	l.mx("grey.test", "127.0.0.4")
	l.mx("down.test", "127.0.0.5")
	l.add("null.test. 60 IN MX 0 .\n")
	l.add("nomx.test. 60 IN MX 10 gone.nomx.test.\n")
	grey, port := l.smtp("127.0.0.4", smtptest.Config{Rcpt: "450 4.2.0 Greylisted, try again later"})
	_ = grey
	base := []string{"smtp", "--resolver", l.resolver(), "--port", port, "--helo", "mail.probe.test", "--connect-timeout", "1s"}
	for domain, want := range map[string]string{
		"grey.test":     "greylisted the probe: this is normal",
		"down.test":     "refused the connection",
		"null.test":     "null MX (RFC 7505)",
		"nxdomain.test": "does not exist (NXDOMAIN)",
		"nomx.test":     "does not resolve to an address",
	} {
		r, res := jsonReport(t, append(base, domain)...)
		if res.code != 3 || !strings.Contains(strings.Join(r.NextSteps, "\n"), want) {
			t.Errorf("%s: exit %d, next steps %q, want %q", domain, res.code, r.NextSteps, want)
		}
	}
	// The text report of smtp has a next steps section too.
	res := runCLI(t, "", append(base, "--server", "127.0.0.1:"+freePort(t), "example.test")...)
	if res.code != 3 || !strings.Contains(res.stdout, "Next steps\n  1. 127.0.0.1 [127.0.0.1] refused the connection") {
		t.Errorf("--server refused: exit %d\n%s", res.code, res.stdout)
	}
}

// The width comes from --width, else $COLUMNS when stdout is not a
// terminal; a file gets no limit.
func TestCLIWidth(t *testing.T) {
	l := newLab(t)
	args := []string{"dnsbl", "--resolver", l.resolver(), "--zone", "zen.test", "127.0.0.10"}
	fits := func(s string, w int) bool {
		for _, line := range strings.Split(s, "\n") {
			if runewidth.StringWidth(line) > w {
				return false
			}
		}
		return true
	}
	if res := runCLI(t, "", append(args, "--width", "60")...); !fits(res.stdout, 60) {
		t.Errorf("--width 60:\n%s", res.stdout)
	}
	t.Setenv("COLUMNS", "70")
	if res := runCLI(t, "", args...); !fits(res.stdout, 70) || fits(res.stdout, 50) && !strings.Contains(res.stdout, "\n") {
		t.Errorf("COLUMNS=70:\n%s", res.stdout)
	}
	out := filepath.Join(t.TempDir(), "r.txt")
	runCLI(t, "", append(args, "-o", out)...)
	b, _ := os.ReadFile(out)
	if fits(string(b), 70) {
		t.Errorf("a report file was fitted to $COLUMNS:\n%s", b)
	}
	if !strings.HasPrefix(lastLineOf(string(b)), "Verdict: LISTED") {
		t.Errorf("the last line is not the verdict: %q", lastLineOf(string(b)))
	}
}

func lastLineOf(s string) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return ls[len(ls)-1]
}

// A resolver that refuses every DNSBL query is one diagnosis with one next
// step, not a REFUSED line per zone and lookup.
func TestCLIResolverRefusesDNSBL(t *testing.T) {
	l := newLab(t)
	l.dns.Handle("zen.test.", dnstest.Rcode(dns.RcodeRefused))
	l.dns.Handle("clean.test.", dnstest.Rcode(dns.RcodeRefused))
	res := runCLI(t, "", "dnsbl", "--resolver", l.resolver(), "--zone", "zen.test", "--zone", "clean.test", "--width", "100",
		"127.0.0.10", "127.0.0.11", "127.0.0.12")
	if res.code != 3 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	want := "your resolver refuses DNSBL queries (REFUSED from " + l.resolver() + " for 2 of 2 zones): use your own recursive resolver"
	flat := strings.Join(strings.Fields(res.stdout), " ")
	if !strings.Contains(flat, want) {
		t.Errorf("no diagnosis %q:\n%s", want, res.stdout)
	}
	if n := strings.Count(res.stdout, "REFUSED"); n > 3 {
		t.Errorf("REFUSED %d times:\n%s", n, res.stdout)
	}
	if !strings.Contains(flat, "1. use your own recursive resolver") {
		t.Errorf("next step missing:\n%s", res.stdout)
	}
}

// TestCLIHelpWidth: every help text fits an 80-column terminal, the
// continuation of a wrapped line indented under its text.
func TestCLIHelpWidth(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"check", "--help"}, {"dnsbl", "--help"}, {"smtp", "--help"},
		{"egress", "--help"}, {"zones", "--help"}, {"zones", "test", "--help"}, {"migrate", "--help"},
		{"diff", "--help"}, {"serve", "--help"}, {"version", "--help"}} {
		res := runCLI(t, "", args...)
		if res.code != 0 {
			t.Errorf("%q: exit %d", args, res.code)
		}
		for _, line := range strings.Split(res.stdout, "\n") {
			if runewidth.StringWidth(line) > 80 {
				t.Errorf("%q: line wider than 80 columns: %q", args, line)
			}
		}
	}
	if res := runCLI(t, "", "--help"); !strings.Contains(res.stdout, "\n      1  listed on a block list, or an MX refused with a 5xx caused by the\n"+
		"         sending IP, its reputation") {
		t.Errorf("the exit codes are not wrapped under their text:\n%s", res.stdout)
	}
}

// TestCLIFlagWithoutCommand: a command's flag given with no command names
// the commands that take it (migrate and diff included), on one line.
func TestCLIFlagWithoutCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--zone", "zen.test"}, "blprobe: --zone goes with a command: blprobe COMMAND --zone … (commands that take it: check, dnsbl, zones test, migrate)\n"},
		{[]string{"--format", "json"}, "blprobe: --format goes with a command: blprobe COMMAND --format … (commands that take it: check, dnsbl, smtp, egress, zones, zones test, migrate, diff)\n"},
	} {
		res := runCLI(t, "", tc.args...)
		if res.code != 2 || res.stderr != tc.want || res.stdout != "" {
			t.Errorf("%q: exit %d stdout %q stderr %q, want %q", tc.args, res.code, res.stdout, res.stderr, tc.want)
		}
	}
}
