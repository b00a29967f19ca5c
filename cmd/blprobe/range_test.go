package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/internal/smtptest"
)

// checkWidth fails for every line wider than width terminal columns.
func checkWidth(t *testing.T, out string, width int) {
	t.Helper()
	for i, l := range strings.Split(out, "\n") {
		if w := runewidth.StringWidth(l); w > width {
			t.Errorf("line %d is %d columns wide, more than %d: %q", i+1, w, width, l)
		}
	}
}

// section returns the lines of the text report under heading, up to the
// next blank line.
func section(out, heading string) []string {
	_, after, ok := strings.Cut(out, "\n"+heading+"\n")
	if !ok {
		return nil
	}
	body, _, _ := strings.Cut(after, "\n\n")
	return strings.Split(body, "\n")
}

// steps are the numbered next steps, joined back into one line each.
func steps(out string) []string {
	var s []string
	for _, l := range section(out, "Next steps") {
		t := strings.TrimSpace(l)
		if len(t) > 2 && t[0] >= '1' && t[0] <= '9' && strings.Contains(t[:4], ". ") {
			s = append(s, t)
		} else if len(s) > 0 {
			s[len(s)-1] += " " + t
		}
	}
	return s
}

// A /28 with four listed addresses, every address local (127/8 is), each
// probing the one MX: counts in the summary, one step per kind with the
// addresses as ranges in numeric order, grouped SMTP rows with their
// sources, every line within the width.
func TestRangeReport28(t *testing.T) {
	l := newLab(t)
	l.add(listed("127.0.0.17", "zen.test", "", "127.0.0.2") + listed("127.0.0.18", "zen.test", "", "127.0.0.2") +
		listed("127.0.0.19", "zen.test", "", "127.0.0.2") + listed("127.0.0.30", "zen.test", "", "127.0.0.4"))
	l.mx("example.test", "127.0.0.1")
	l.ptr("127.0.0.16", "mail16.probe.test", true)
	l.ptr("127.0.0.20", "mail20.probe.test", true)
	_, port := l.smtp("127.0.0.1", smtptest.Config{})
	for _, width := range []int{80, 120} {
		res := runCLI(t, "", "check", "--resolver", l.resolver(), "--port", port, "--zone", "zen.test", "--zone", "clean.test",
			"--helo", "mail16.probe.test", "--to", "example.test", "--width", strconv.Itoa(width), "127.0.0.16/28")
		if res.code != 1 {
			t.Fatalf("exit %d: %s\n%s", res.code, res.stderr, res.stdout)
		}
		out := res.stdout
		checkWidth(t, out, width)
		flat := strings.Join(strings.Fields(out), " ")
		for _, want := range []string{
			"Listed: 4 of 16 addresses are listed (zen.test: 4); 12 clean",
			"14 addresses have no PTR record: 127.0.0.17–127.0.0.19 (3 addresses) and 127.0.0.21–127.0.0.31 (11 addresses)",
			"2 addresses of 16 have forward-confirmed reverse DNS",
		} {
			if !strings.Contains(flat, want) {
				t.Errorf("width %d: report lacks %q:\n%s", width, want, out)
			}
		}
		st := steps(out)
		var ptr, delist int
		for _, s := range st {
			if strings.Contains(s, "set a PTR for") {
				ptr++
				if !strings.Contains(s, "127.0.0.17–127.0.0.19 (3 addresses) and 127.0.0.21–127.0.0.31 (11 addresses)") {
					t.Errorf("PTR step does not name the ranges in numeric order: %q", s)
				}
			}
			if strings.Contains(s, "zen.test listing of") {
				delist++
			}
		}
		if ptr != 1 || delist != 2 || len(st) > 5 {
			t.Errorf("width %d: want one grouped PTR step and two delisting steps (one per code), got %d steps:\n%s", width, len(st), strings.Join(st, "\n"))
		}
		if !strings.Contains(flat, "1. find and fix the cause of the zen.test listing of 127.0.0.17–127.0.0.19 (3 addresses)") {
			t.Errorf("the first step is not the grouped listing: %s", strings.Join(st, "\n"))
		}
		if !strings.Contains(flat, "from 127.0.0.16–127.0.0.31 (16 addresses):") || strings.Count(out, "mx.example.test  10") != 1 {
			t.Errorf("width %d: want the 16 sources' identical probes as one row:\n%s", width, out)
		}
		if !strings.HasPrefix(lastLine(out), "Verdict: LISTED (exit code 1)") {
			t.Errorf("last line is not the verdict: %q", lastLine(out))
		}
		golden(t, "range28.w"+strconv.Itoa(width)+".golden", normalise(out, map[string]string{
			l.resolver(): "127.0.0.1:RESOLVERPORT", ":" + port: ":SMTPPORT", "port " + port: "port SMTPPORT"}))
	}
	// The Markdown of the range groups too: reverse DNS per outcome, one
	// SMTP row with its sources, evidence as a nested list.
	res := runCLI(t, "", "check", "--resolver", l.resolver(), "--port", port, "--zone", "zen.test", "--zone", "clean.test",
		"--helo", "mail16.probe.test", "--to", "example.test", "--format", "md", "127.0.0.16/28")
	for _, want := range []string{
		"| No PTR, HELO mail16.probe.test does not fit | 14 | 127.0.0.17–127.0.0.19 (3 addresses) and 127.0.0.21–127.0.0.31 (11 addresses) |",
		"| From | MX |", "| 127.0.0.16–127.0.0.31 (16 addresses) | `mx.example.test` |",
		"  - Checked address: `127.0.0.16–127.0.0.31 (16 addresses)`",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "=127.0") {
		t.Errorf("key=value evidence in the Markdown:\n%s", res.stdout)
	}
}

// A /24 check interrupted during the DNSBL lookups: unfinished work is
// not_done and said once per kind (not 256 "context canceled"), within
// the width. The reverse-DNS part ran beside the lookups and finished.
func TestRangeReport24Interrupted(t *testing.T) {
	l := newLab(t)
	l.dns.Handle("1.0.127.zen.test.", dnstest.Drop())   // the /24's lookups never answer
	l.dns.Handle("1.0.127.clean.test.", dnstest.Drop()) // (the zones' test entries do)
	l.mx("example.test", "127.0.0.1")
	for _, width := range []int{80, 120} {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		var out, errb bytes.Buffer
		code := run(ctx, []string{"blprobe", "check", "--resolver", l.resolver(), "--timeout", "5s", "--zone", "zen.test", "--zone", "clean.test",
			"--helo", "mail.probe.test", "--to", "example.test", "--width", strconv.Itoa(width), "127.0.1.0/24"}, strings.NewReader(""), &out, &errb)
		cancel()
		if code != 3 {
			t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
		}
		s := out.String()
		checkWidth(t, s, width)
		if strings.Contains(s, "context canceled") {
			t.Errorf("the report repeats context errors:\n%s", s)
		}
		flat := strings.Join(strings.Fields(s), " ")
		for _, want := range []string{
			"zen.test: 256 lookups not done (interrupted)",
			"no PTR, HELO mail.probe.test does not fit: 127.0.1.0–127.0.1.255 (256 addresses)",
		} {
			if strings.Count(flat, want) != 1 {
				t.Errorf("width %d: want %q once:\n%s", width, want, s)
			}
		}
		if n := strings.Count(s, "not done"); n > 8 {
			t.Errorf("width %d: %d mentions of not done, want a handful:\n%s", width, n, s)
		}
		golden(t, "range24.interrupted.w"+strconv.Itoa(width)+".golden", normalise(s, map[string]string{l.resolver(): "127.0.0.1:RESOLVERPORT"}))
	}
}

func lastLine(s string) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return ls[len(ls)-1]
}
