package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/blprobe/blprobe/internal/smtptest"
)

// A --debug run logs each DNS exchange (with its zone) and each SMTP step
// (with its MX address) on stderr, as text or JSON, secrets redacted.
func TestDebugLog(t *testing.T) {
	_, _, args := checkLab(t, smtptest.Config{})
	const key = "abcdefghijklmnopqrstuvwxyz"
	args = append(args, "--zone", "zen.spamhaus.org", "--dqs-key", key, "127.0.0.20")

	text := runCLI(t, "", append(args, "--debug")...)
	for _, want := range []string{
		`msg="dns exchange" zone=zen.test name=20.0.0.127.zen.test. type=A rcode=NXDOMAIN`,
		`msg="dns exchange" name=mx.example.test. type=A rcode=NOERROR answers=1`,
		`msg="dns exchange" rdns=127.0.0.20 name=20.0.0.127.in-addr.arpa. type=PTR`,
		`msg=smtp mx=mx.example.test addr=127.0.0.1:`,
		`dir=C line="RCPT TO:<postmaster@example.test>"`,
		`dir=S line="250 2.1.5 Ok"`,
		`msg="smtp probe done" mx=mx.example.test`,
		`msg="dnsbl part done"`,
	} {
		if !strings.Contains(text.stderr, want) {
			t.Errorf("debug log lacks %q", want)
		}
	}
	if strings.Contains(text.stderr, key) || !strings.Contains(text.stderr, "127.REDACTED.zen.dq.spamhaus.net.") {
		t.Error("the DQS key is not redacted from the log")
	}

	js := runCLI(t, "", append(args, "--debug", "--log-format", "json")...)
	var dnsLines, smtpLines int
	for _, line := range strings.Split(strings.TrimSpace(js.stderr), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue // the public-resolver warning and the like
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		switch rec["msg"] {
		case "dns exchange":
			dnsLines++
		case "smtp":
			if rec["mx"] != "mx.example.test" || rec["dir"] == nil {
				t.Errorf("smtp record %v", rec)
			}
			smtpLines++
		}
	}
	if dnsLines == 0 || smtpLines < 6 {
		t.Errorf("%d DNS and %d SMTP JSON records", dnsLines, smtpLines)
	}

	// -v logs the parts only; no flag logs nothing.
	v := runCLI(t, "", append(args, "-v")...)
	if !strings.Contains(v.stderr, `msg="smtp part done"`) || strings.Contains(v.stderr, "dns exchange") {
		t.Errorf("-v log:\n%s", v.stderr)
	}
	if quiet := runCLI(t, "", args...); strings.Contains(quiet.stderr, "level=") {
		t.Errorf("log without -v/--debug:\n%s", quiet.stderr)
	}
	// A failed connect is logged with its MX address too.
	refused := runCLI(t, "", append(args[:len(args):len(args)], "--debug", "--port", freePort(t))...)
	if !strings.Contains(refused.stderr, `msg="smtp connect" mx=mx.example.test`) || !strings.Contains(refused.stderr, "connection refused") {
		t.Errorf("refused connect not logged:\n%s", refused.stderr)
	}
	if bad := runCLI(t, "", append(args, "--log-format", "xml")...); bad.code != 2 {
		t.Errorf("--log-format xml: exit %d", bad.code)
	}
}

// --format jsonl starts writing only once the plan is valid: bad input
// leaves stdout empty (exit 2).
func TestJSONLBadInputWritesNothing(t *testing.T) {
	l := newLab(t)
	res := runCLI(t, "", "dnsbl", "--resolver", l.resolver(), "--format", "jsonl", "--zone", "dbl.spamhaus.org", "192.0.2.1")
	if res.code != 2 || res.stdout != "" {
		t.Errorf("exit %d, stdout %q; want 2 and nothing", res.code, res.stdout)
	}
	ok := runCLI(t, "", "dnsbl", "--resolver", l.resolver(), "--format", "jsonl", "--zone", "zen.test", "127.0.0.10")
	if ok.code != 1 || strings.Count(ok.stdout, "\n") < 3 {
		t.Errorf("exit %d, stdout %q; want 1 and run, result and summary lines", ok.code, ok.stdout)
	}
}
