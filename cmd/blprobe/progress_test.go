package main

import (
	"bytes"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/blprobe/blprobe/internal/smtptest"
)

// ptyRun runs the binary on a pseudo-terminal (stdout and stderr) and
// returns everything it printed with the time each chunk arrived.
type chunk struct {
	at   time.Duration
	text string
}

func ptyRun(t *testing.T, bin string, args ...string) ([]chunk, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cmd.Environ(), "NO_COLOR=1")
	start := time.Now()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 100})
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer f.Close()
	var (
		mu     sync.Mutex
		chunks []chunk
		all    bytes.Buffer
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				mu.Lock()
				chunks = append(chunks, chunk{time.Since(start), string(buf[:n])})
				all.Write(buf[:n])
				mu.Unlock()
			}
			if err != nil {
				if err != io.EOF {
					return // EIO once the child has exited
				}
				return
			}
		}
	}()
	cmd.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]chunk(nil), chunks...), all.String()
}

// On a terminal, a run still going after about a second shows a status
// line on stderr with what it waits for, within 1.5 s, and the line is
// cleared before the report is printed.
func TestProgressLineOnSlowRun(t *testing.T) {
	bin := buildBinary(t)
	_, port := newLab(t).smtp("127.0.0.1", smtptest.Config{BannerDelay: 3 * time.Second})
	chunks, all := ptyRun(t, bin, "smtp", "--resolver", "127.0.0.1:9", "--helo", "mail.probe.test",
		"--server", "127.0.0.1:"+port, "example.test")

	var first time.Duration = -1
	var seen strings.Builder
	for _, c := range chunks {
		seen.WriteString(c.text)
		if strings.Contains(seen.String(), "waiting for 127.0.0.1 banner") {
			first = c.at
			break
		}
	}
	if first < 0 {
		t.Fatalf("no progress line naming the banner wait; output:\n%q", all)
	}
	t.Logf("status line naming the banner wait after %v", first)
	if first > 1500*time.Millisecond {
		t.Errorf("progress line appeared after %v, want within 1.5 s", first)
	}
	if first < 900*time.Millisecond {
		t.Errorf("progress line appeared after %v, before about a second", first)
	}
	if !strings.Contains(all, "blprobe: SMTP") {
		t.Errorf("progress line does not name the phase:\n%q", all)
	}
	// The last status line is cleared, and the report starts after it.
	last := strings.LastIndex(all, "blprobe: SMTP")
	clear := strings.Index(all[last:], "\r\x1b[K")
	verdict := strings.Index(all[last:], "Verdict:")
	if clear < 0 || verdict < 0 || clear > verdict {
		t.Errorf("progress line not cleared before the report:\n%q", all[last:])
	}
	for _, l := range strings.Split(all[last+clear:], "\n") {
		if strings.Contains(l, "waiting for") {
			t.Errorf("a status line remains in the report: %q", l)
		}
	}
}

// A run that ends within the delay prints no status line at all.
func TestNoProgressLineOnFastRun(t *testing.T) {
	bin := buildBinary(t)
	_, port := newLab(t).smtp("127.0.0.1", smtptest.Config{})
	_, all := ptyRun(t, bin, "smtp", "--resolver", "127.0.0.1:9", "--helo", "mail.probe.test",
		"--server", "127.0.0.1:"+port, "example.test")
	if strings.Contains(all, "blprobe: SMTP") || strings.Contains(all, "\x1b[K") {
		t.Errorf("a fast run drew a status line:\n%q", all)
	}
	if !strings.Contains(all, "Verdict: CLEAN") {
		t.Errorf("no report on the terminal:\n%q", all)
	}
}

// The SMTP command verb is recognised in plain text only, not in TLS data.
func TestCommandVerb(t *testing.T) {
	for in, want := range map[string]string{
		"EHLO mail.example.org\r\n": "EHLO", "MAIL FROM:<a@b>\r\n": "MAIL", "RCPT TO:<a@b>\r\n": "RCPT",
		"STARTTLS\r\n": "STARTTLS", "\x16\x03\x01\x02\x00": "", "GET / HTTP/1.1": "",
	} {
		if got := commandVerb([]byte(in)); got != want {
			t.Errorf("commandVerb(%q) = %q, want %q", in, got, want)
		}
	}
}

// The DNSBL phase shows the line too, naming the DNS answer it waits for.
func TestProgressLineOnSlowDNSBL(t *testing.T) {
	bin := buildBinary(t)
	l := newLab(t)
	l.dns.SetDelay(1800 * time.Millisecond)
	chunks, all := ptyRun(t, bin, "dnsbl", "--resolver", l.resolver(), "--timeout", "5s", "--zone", "zen.test", "127.0.0.10")
	var seen strings.Builder
	first := time.Duration(-1)
	for _, c := range chunks {
		seen.WriteString(c.text)
		if strings.Contains(seen.String(), "blprobe: DNSBL") && strings.Contains(seen.String(), "waiting for the DNS answer for") {
			first = c.at
			break
		}
	}
	t.Logf("DNSBL status line after %v", first)
	if first < 0 || first > 1500*time.Millisecond {
		t.Errorf("DNSBL progress line at %v (want within 1.5 s):\n%q", first, all)
	}
	if !strings.Contains(all, "Verdict: LISTED") {
		t.Errorf("no report:\n%q", all)
	}
}
