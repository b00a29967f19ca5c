package main

import (
	"strings"
	"testing"

	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/blprobe/blprobe/report"
)

// user@DOMAIN probes DOMAIN with that recipient; a --rcpt outside the probed
// domains is a relay test and a usage error before any query; the report
// says which HELO and MAIL FROM were sent.
func TestRcptAndToDoWhatWasAsked(t *testing.T) {
	l := newLab(t)
	srv, port := l.smtp("127.0.0.61", smtptest.Config{})
	l.mx("example.test", "127.0.0.61")
	l.mx("other.test", "127.0.0.61")
	base := []string{"--resolver", l.resolver(), "--port", port, "--helo", "mail.probe.test", "--connect-timeout", "2s", "--command-timeout", "2s"}
	tests := []struct {
		name  string
		args  []string
		code  int               // -1: any verdict (the rDNS part of check is not set up here)
		rcpts map[string]string // domain → RCPTs sent; nil for a usage error
		err   string            // substring of the usage error
	}{
		{name: "smtp user@domain", args: []string{"smtp", "user@example.test"}, code: report.ExitClean,
			rcpts: map[string]string{"example.test": "user@example.test"}},
		{name: "check --to user@domain", args: []string{"check", "--to", "User@Example.test", "--to", "other.test", "--zone", "clean.test", "127.0.0.1"}, code: -1,
			rcpts: map[string]string{"example.test": "User@Example.test", "other.test": "postmaster@other.test"}},
		{name: "--rcpt of the probed domain", args: []string{"smtp", "--rcpt", "a@example.test", "example.test", "other.test"}, code: report.ExitClean,
			rcpts: map[string]string{"example.test": "a@example.test", "other.test": "postmaster@other.test"}},
		{name: "--rcpt of another domain: relay test refused", args: []string{"smtp", "--rcpt", "a@elsewhere.test", "example.test"},
			code: report.ExitUsage, err: "relay"},
		{name: "check --rcpt of another domain", args: []string{"check", "--rcpt", "a@elsewhere.test", "--to", "example.test", "127.0.0.1"},
			code: report.ExitUsage, err: "elsewhere.test"},
		{name: "bad user@domain", args: []string{"smtp", "a b@example.test"}, code: report.ExitUsage, err: "a b@example.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.Conns())
			args := append(append([]string{}, tc.args[:1]...), append(append([]string{}, base...), tc.args[1:]...)...)
			if tc.rcpts == nil {
				res := runCLI(t, "", args...)
				if res.code != tc.code || !strings.Contains(res.stderr, tc.err) || strings.Count(strings.TrimSpace(res.stderr), "\n") > 0 {
					t.Errorf("exit %d stderr %q, want exit %d and one line naming %q", res.code, res.stderr, tc.code, tc.err)
				}
				if n := len(srv.Conns()) - before; n != 0 {
					t.Errorf("%d SMTP connections after a usage error", n)
				}
				return
			}
			r, res := jsonReport(t, args...)
			if res.code != tc.code && (tc.code != -1 || res.code == report.ExitUsage) {
				t.Errorf("exit %d, want %d: %s", res.code, tc.code, res.stderr)
			}
			got := map[string]string{}
			for _, d := range r.SMTP.Domains {
				for _, mx := range d.MX {
					for _, p := range mx.Addresses {
						var rs []string
						for _, rc := range p.Rcpts {
							rs = append(rs, rc.Rcpt)
						}
						got[d.Domain] = strings.Join(rs, ",")
					}
				}
			}
			for d, want := range tc.rcpts {
				if got[d] != want {
					t.Errorf("%s: RCPT %q, want %q", d, got[d], want)
				}
			}
			if r.SMTP.HELO != "mail.probe.test" || r.SMTP.From != "postmaster@mail.probe.test" {
				t.Errorf("report says HELO %q from %q", r.SMTP.HELO, r.SMTP.From)
			}
		})
	}
}
