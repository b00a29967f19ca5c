package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/dnstest"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/smtpcheck"
)

// The fixed lab of scripts/e2e-postfix.sh (inside the netns).
const (
	mtaAddr     = "127.0.0.1" // Postfix, inet_interfaces
	rbldnsdAddr = "127.0.0.1:53"
	zone        = "zen.test"
	listedIP    = "127.0.0.10"                     // in the zen.test ip4set
	cleanIP     = "127.0.0.20"                     // not in it, and not in Postfix's mynetworks
	noPTRIP     = "127.0.0.30"                     // not listed; Postfix applies reject_unknown_client_hostname to it
	badFrom     = "postmaster@nowhere.sender.test" // NXDOMAIN in the lab's DNS: reject_unknown_sender_domain
	domain      = "example.test"
	mxHost      = "mx.example.test"
	helo        = "probe.example.test"
	from        = "postmaster@probe.example.test"
)

// requireLab skips unless scripts/e2e-postfix.sh prepared the netns.
func requireLab(t *testing.T) {
	t.Helper()
	if os.Getenv("BLPROBE_E2E") != "1" {
		t.Skip("end-to-end test with real Postfix + rbldnsd: run scripts/e2e-postfix.sh (root; it sets BLPROBE_E2E=1 inside a network namespace)")
	}
}

// blprobeBin returns BLPROBE_BIN or builds ./cmd/blprobe (with -race, so
// data races in the CLI fail this test too).
func blprobeBin(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("BLPROBE_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "blprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-race", "-o", bin, "github.com/blprobe/blprobe/cmd/blprobe")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building blprobe: %v\n%s", err, out)
	}
	return bin
}

// run executes blprobe and returns its stdout and exit code; a run that
// does not end within 60 s fails the test.
func run(t *testing.T, bin string, args ...string) ([]byte, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The binary is built with -race: a race makes it exit 66 (an exit code
	// no case expects); atexit_sleep_ms=0 drops the race runtime's 1 s pause
	// at every clean exit.
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "GORACE=atexit_sleep_ms=0")
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("blprobe %s: timed out\nstderr: %s", strings.Join(args, " "), stderr.Bytes())
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("blprobe %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("blprobe %s → exit %d\nstderr: %s", strings.Join(args, " "), code, stderr.Bytes())
	return stdout.Bytes(), code
}

// decode validates out against the v1 schema and decodes it.
func decode(t *testing.T, out []byte) *report.Report {
	t.Helper()
	if err := validateReport(out); err != nil {
		t.Fatalf("report does not validate against the v1 schema: %v\n%s", err, head(out, 8000))
	}
	var r report.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, head(out, 8000))
	}
	if r.Schema != report.SchemaV1 {
		t.Fatalf("schema = %q, want %q", r.Schema, report.SchemaV1)
	}
	return &r
}

// onlyProbe returns the single probe of the single MX address of domain.
func onlyProbe(t *testing.T, r *report.Report) smtpcheck.Probe {
	t.Helper()
	if r.SMTP == nil || len(r.SMTP.Domains) != 1 {
		t.Fatalf("want one smtp domain, got %+v", r.SMTP)
	}
	d := r.SMTP.Domains[0]
	if d.Domain != domain || d.Status != smtpcheck.DomainOK || len(d.MX) != 1 {
		t.Fatalf("domain = %+v, want %s ok with one MX", d, domain)
	}
	mx := d.MX[0]
	if mx.Host != mxHost || mx.Preference != 10 || mx.Implicit || len(mx.Addresses) != 1 {
		t.Fatalf("mx = %+v, want %s pref 10 with one address", mx, mxHost)
	}
	return mx.Addresses[0]
}

// checkTranscript asserts the conversation reached RCPT, ended politely and
// never sent DATA (the tool's promise), and used STARTTLS when offered.
func checkTranscript(t *testing.T, p smtpcheck.Probe, wantTLS bool) {
	t.Helper()
	var sent []string
	for _, l := range p.Transcript {
		if l.Dir == "C" {
			sent = append(sent, strings.ToUpper(strings.Fields(l.Line + " x")[0]))
		}
	}
	joined := strings.Join(sent, " ")
	for _, c := range sent {
		if c == "DATA" || c == "BDAT" {
			t.Errorf("probe sent %s: %q", c, joined)
		}
	}
	for _, want := range []string{"EHLO", "MAIL", "RCPT", "QUIT"} {
		if !strings.Contains(" "+joined+" ", " "+want+" ") {
			t.Errorf("client commands %q lack %s", joined, want)
		}
	}
	if wantTLS {
		if !strings.Contains(joined, "STARTTLS") || p.TLS == nil {
			t.Errorf("Postfix offers STARTTLS but the probe did not use it (commands %q, tls %+v)", joined, p.TLS)
		} else if p.TLS.Verified {
			t.Errorf("self-signed snakeoil certificate reported as verified: %+v", p.TLS)
		}
	}
}

// logSize returns the current size of the log file named by env (0 if
// env is unset), so that fileContains can look only at what came after.
func logSize(t *testing.T, env string) int64 {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		return 0
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("log %s: %v", path, err)
	}
	return fi.Size()
}

// fileContains fails unless the log file named by env contains want after
// offset from.
func fileContains(t *testing.T, env string, from int64, want string) {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		t.Logf("%s not set: not checking the server log for %q", env, want)
		return
	}
	// Postfix writes its log through postlogd: give it a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		if int64(len(b)) >= from {
			b = b[from:]
		}
		if bytes.Contains(b, []byte(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not contain %q; tail:\n%s", path, want, tail(b, 2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func head(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n:n], "\n…"...)
	}
	return b
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// logMarks are the sizes of the server logs before a run.
type logMarks struct{ postfix, rbldnsd int64 }

// TestPostfixRBL probes the real Postfix from a listed and a clean source
// address and checks the reports against what Postfix actually said.
func TestPostfixRBL(t *testing.T) {
	requireLab(t)
	bin := blprobeBin(t)
	wantTLS := os.Getenv("E2E_TLS") == "1"
	// The MX of example.test comes from an in-process DNS server; Postfix
	// itself resolves zen.test through rbldnsd (the netns resolv.conf).
	dns := dnstest.StartOn(t, "127.0.0.1", `
example.test. 300 IN MX 10 mx.example.test.
mx.example.test. 300 IN A `+mtaAddr+`
`)
	smtpArgs := func(src, from string, extra ...string) []string {
		a := []string{"smtp", "--resolver", dns.Addr, "--port", "25", "--source-ip", src,
			"--helo", helo, "--from", from, "--format", "json",
			"--connect-timeout", "5s", "--command-timeout", "10s"}
		return append(append(a, extra...), domain)
	}

	tests := []struct {
		name     string
		src      string
		from     string // default: from
		extra    []string
		wantExit int // -1: any exit except usage (2)
		check    func(t *testing.T, r *report.Report, p smtpcheck.Probe, logs logMarks)
	}{
		{
			name: "listed source is blocklisted at RCPT", src: listedIP, wantExit: report.ExitProblem,
			check: func(t *testing.T, r *report.Report, p smtpcheck.Probe, logs logMarks) {
				if p.Status != smtpcheck.StatusRejected || p.Class != smtpcheck.ClassBlocklisted || p.Stage != smtpcheck.StageRcpt {
					t.Errorf("status/class/stage = %s/%s/%s, want rejected/blocklisted/rcpt", p.Status, p.Class, p.Stage)
				}
				if !strings.Contains(p.CitedList, zone) {
					t.Errorf("cited_list = %q, want it to name %s", p.CitedList, zone)
				}
				if p.Reply == nil || p.Reply.Code != 554 || p.Reply.Enhanced != "5.7.1" ||
					!strings.Contains(p.Reply.Text, "Client host ["+listedIP+"] blocked using "+zone) {
					t.Errorf("reply = %+v, want Postfix's 554 5.7.1 ... blocked using %s", p.Reply, zone)
				}
				if r.Verdict != report.VerdictRejected {
					t.Errorf("verdict = %q, want %q", r.Verdict, report.VerdictRejected)
				}
				// What the real server logged, and the DNSBL query it made
				// (blprobe smtp itself asks only the dnstest server).
				fileContains(t, "E2E_POSTFIX_LOG", logs.postfix, "reject: RCPT from unknown["+listedIP+"]: 554 5.7.1 Service unavailable; Client host ["+listedIP+"] blocked using "+zone)
				fileContains(t, "E2E_RBLDNSD_LOG", logs.rbldnsd, "10.0.0.127."+zone+" A IN: NOERROR")
			},
		},
		{
			name: "clean source is accepted", src: cleanIP, wantExit: report.ExitClean,
			check: func(t *testing.T, r *report.Report, p smtpcheck.Probe, logs logMarks) {
				if p.Status != smtpcheck.StatusAccepted || p.Class != smtpcheck.ClassAccepted || p.Stage != smtpcheck.StageRcpt {
					t.Errorf("status/class/stage = %s/%s/%s, want accepted/accepted/rcpt", p.Status, p.Class, p.Stage)
				}
				if p.CitedList != "" {
					t.Errorf("cited_list = %q, want empty", p.CitedList)
				}
				if p.Reply == nil || p.Reply.Code != 250 {
					t.Errorf("reply = %+v, want 250", p.Reply)
				}
				if r.Verdict != report.VerdictClean {
					t.Errorf("verdict = %q, want %q", r.Verdict, report.VerdictClean)
				}
				fileContains(t, "E2E_RBLDNSD_LOG", logs.rbldnsd, "20.0.0.127."+zone+" A IN: NXDOMAIN")
				fileContains(t, "E2E_POSTFIX_LOG", logs.postfix, "disconnect from unknown["+cleanIP+"]")
			},
		},
		{
			// reject_unknown_sender_domain: the MAIL FROM domain does not
			// exist. With smtpd_delay_reject=yes Postfix says so at RCPT.
			name: "unknown sender domain is rejected", src: cleanIP, from: badFrom, wantExit: report.ExitProblem,
			check: func(t *testing.T, r *report.Report, p smtpcheck.Probe, logs logMarks) {
				t.Logf("class %s, reply %+v", p.Class, p.Reply)
				if p.Status != smtpcheck.StatusRejected || p.Stage != smtpcheck.StageRcpt {
					t.Errorf("status/stage = %s/%s, want rejected/rcpt", p.Status, p.Stage)
				}
				if p.Reply == nil || p.Reply.Code != 550 || p.Reply.Enhanced != "5.1.8" || !strings.Contains(p.Reply.Text, "Sender address rejected: Domain not found") {
					t.Errorf("reply = %+v, want Postfix's 550 5.1.8 Sender address rejected: Domain not found", p.Reply)
				}
				if cause, ok := report.SenderCause(p); !ok {
					t.Errorf("class %s: the verdict does not tie the refusal to the sender", p.Class)
				} else {
					t.Logf("cause: %s", cause)
				}
				if r.Verdict != report.VerdictRejected {
					t.Errorf("verdict = %q, want %q", r.Verdict, report.VerdictRejected)
				}
				fileContains(t, "E2E_POSTFIX_LOG", logs.postfix, "reject: RCPT from unknown["+cleanIP+"]: 550 5.1.8 <"+badFrom+">: Sender address rejected: Domain not found")
			},
		},
		{
			// reject_unknown_client_hostname: the source address has no PTR.
			name: "client without PTR is rejected", src: noPTRIP, wantExit: report.ExitProblem,
			check: func(t *testing.T, r *report.Report, p smtpcheck.Probe, logs logMarks) {
				t.Logf("class %s, reply %+v", p.Class, p.Reply)
				if p.Status != smtpcheck.StatusRejected || p.Stage != smtpcheck.StageRcpt {
					t.Errorf("status/stage = %s/%s, want rejected/rcpt", p.Status, p.Stage)
				}
				if p.Reply == nil || p.Reply.Code != 550 || !strings.HasPrefix(p.Reply.Enhanced, "5.7.") || !strings.Contains(p.Reply.Text, "Client host rejected: cannot find your hostname") {
					t.Errorf("reply = %+v, want Postfix's 550 5.7.x Client host rejected: cannot find your hostname", p.Reply)
				}
				if _, ok := report.SenderCause(p); !ok || p.Class == smtpcheck.ClassUnknownRecipient || p.Class == smtpcheck.ClassAccepted {
					t.Errorf("class %s: the verdict does not tie the refusal to the client", p.Class)
				}
				if r.Verdict != report.VerdictRejected {
					t.Errorf("verdict = %q, want %q", r.Verdict, report.VerdictRejected)
				}
				fileContains(t, "E2E_POSTFIX_LOG", logs.postfix, "reject: RCPT from unknown["+noPTRIP+"]: 550")
				fileContains(t, "E2E_POSTFIX_LOG", logs.postfix, "Client host rejected: cannot find your hostname")
			},
		},
		{
			// Postfix's 550 5.1.1 must not be mistaken for a block
			// (https://www.rfc-editor.org/rfc/rfc3463#section-3.2), and an
			// unknown recipient is no verdict on the IP: inconclusive.
			name: "unknown recipient is not a block", src: cleanIP, wantExit: report.ExitInconclusive,
			extra: []string{"--rcpt", "nobody@" + domain},
			check: func(t *testing.T, r *report.Report, p smtpcheck.Probe, logs logMarks) {
				if p.Status != smtpcheck.StatusRejected || p.Class != smtpcheck.ClassUnknownRecipient || p.Stage != smtpcheck.StageRcpt {
					t.Errorf("status/class/stage = %s/%s/%s, want rejected/unknown_recipient/rcpt", p.Status, p.Class, p.Stage)
				}
				if p.CitedList != "" {
					t.Errorf("cited_list = %q, want empty", p.CitedList)
				}
				if p.Reply == nil || p.Reply.Code != 550 || p.Reply.Enhanced != "5.1.1" {
					t.Errorf("reply = %+v, want 550 5.1.1", p.Reply)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := logMarks{postfix: logSize(t, "E2E_POSTFIX_LOG"), rbldnsd: logSize(t, "E2E_RBLDNSD_LOG")}
			f := tc.from
			if f == "" {
				f = from
			}
			out, code := run(t, bin, smtpArgs(tc.src, f, tc.extra...)...)
			if tc.wantExit >= 0 && code != tc.wantExit || code == report.ExitUsage {
				t.Errorf("exit code = %d, want %d\n%s", code, tc.wantExit, head(out, 8000))
			}
			r := decode(t, out)
			if r.ExitCode != code {
				t.Errorf("report exit_code = %d, process exit = %d", r.ExitCode, code)
			}
			p := onlyProbe(t, r)
			if p.IP != mtaAddr || p.Port != 25 || p.SourceIP != tc.src {
				t.Errorf("probe ip/port/source = %s/%d/%s, want %s/25/%s", p.IP, p.Port, p.SourceIP, mtaAddr, tc.src)
			}
			checkTranscript(t, p, wantTLS)
			tc.check(t, r, p, logs)
		})
	}
}

// TestRbldnsdDNSBL checks `blprobe dnsbl` against the real rbldnsd zone.
func TestRbldnsdDNSBL(t *testing.T) {
	requireLab(t)
	bin := blprobeBin(t)
	tests := []struct {
		ip       string
		wantExit int
		want     dnsbl.Status
	}{
		{listedIP, report.ExitProblem, dnsbl.StatusListed},
		{cleanIP, report.ExitClean, dnsbl.StatusClean},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			out, code := run(t, bin, "dnsbl", "--resolver", rbldnsdAddr, "--zone", zone, "--format", "json", tc.ip)
			if code != tc.wantExit {
				t.Errorf("exit code = %d, want %d\n%s", code, tc.wantExit, head(out, 8000))
			}
			r := decode(t, out)
			if r.DNSBL == nil || len(r.DNSBL.Results) != 1 {
				t.Fatalf("want one dnsbl result, got %+v", r.DNSBL)
			}
			res := r.DNSBL.Results[0]
			if res.IP != tc.ip || res.Zone != zone || res.Status != tc.want {
				t.Errorf("result = %+v, want %s %s on %s", res, tc.ip, tc.want, zone)
			}
			if tc.want == dnsbl.StatusListed {
				if len(res.Codes) != 1 || res.Codes[0] != "127.0.0.2" {
					t.Errorf("codes = %v, want [127.0.0.2]", res.Codes)
				}
				if want := "Listed in zen.test, see http://zen.test/q?ip=" + tc.ip; !strings.Contains(res.Reason, want) {
					t.Errorf("reason = %q, want it to contain %q", res.Reason, want)
				}
			}
			// rbldnsd lists 127.0.0.2 and not 127.0.0.1: RFC 5782 §5 healthy.
			var found bool
			for _, z := range r.DNSBL.Zones {
				if z.Zone == zone {
					found = true
					if z.Health != dnsbl.HealthHealthy {
						t.Errorf("zone health = %s (%s), want healthy", z.Health, z.Problem)
					}
				}
			}
			if !found {
				t.Errorf("no health entry for %s in %+v", zone, r.DNSBL.Zones)
			}
		})
	}
}
