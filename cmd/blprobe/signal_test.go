package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/blprobe/blprobe/report"
	"github.com/miekg/dns"
)

// buildBinary builds blprobe once for the tests that need a real process.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "blprobe")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestInterruptWritesPartialReport starts the real binary on a slow DNS
// server, sends SIGINT mid-run and checks the partial report: valid v1,
// interrupted, exit 3, every (address, zone) pair present, the unfinished
// ones "not_done".
func TestInterruptWritesPartialReport(t *testing.T) {
	bin := buildBinary(t)
	l := newLab(t)
	l.mx("example.test", "127.0.0.1")
	_, port := l.smtp("127.0.0.1", smtptest.Config{})
	l.dns.SetDelay(40 * time.Millisecond)
	// Count the DNSBL queries only: rDNS and SMTP run beside the lookups and
	// ask the same server.
	var zoneQueries atomic.Int64
	for _, z := range []string{"zen.test", "clean.test"} {
		l.dns.Handle(z, func(req *dns.Msg, _ net.Addr, _ bool) *dns.Msg {
			zoneQueries.Add(1)
			return l.dns.Lookup(req)
		})
	}

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "check", "--resolver", l.resolver(), "--zone", "zen.test", "--zone", "clean.test",
		"--concurrency", "2", "--format", "json", "--port", port, "--helo", "probe.example.test", "--to", "example.test", "127.0.0.64/27")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the health checks and some lookups have been answered
	// (64 lookups need ~1.3 s): polling the server's query count rather than
	// sleeping keeps the test right on a loaded machine, where the binary may
	// take longer to start.
	deadline := time.Now().Add(20 * time.Second)
	for zoneQueries.Load() < 24 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("blprobe did not stop within 10 s of SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code != report.ExitInconclusive {
		t.Errorf("exit %d, want 3; stderr %s", code, stderr.String())
	}
	if err := report.Validate(stdout.Bytes()); err != nil {
		t.Fatalf("partial report invalid: %v\n%s", err, stdout.String())
	}
	var r report.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || r.Verdict != report.VerdictInconclusive || r.DNSBL == nil {
		t.Fatalf("interrupted %v verdict %s", r.Interrupted, r.Verdict)
	}
	counts := map[dnsbl.Status]int{}
	for _, x := range r.DNSBL.Results {
		counts[x.Status]++
	}
	if len(r.DNSBL.Results) != 64 || counts[dnsbl.StatusNotDone] == 0 || counts[dnsbl.StatusClean] == 0 {
		t.Errorf("%d results, by status %v: want all 64 pairs, some done and some not_done", len(r.DNSBL.Results), counts)
	}
	if r.SMTP == nil || len(r.SMTP.Domains) != 1 {
		t.Fatalf("smtp section %+v: the domain asked for must be reported", r.SMTP)
	}
	if d := r.SMTP.Domains[0]; len(d.MX) == 0 && !strings.Contains(d.Error, "not done") {
		t.Errorf("domain %+v: want it marked not done", d)
	}
	// SMTP runs beside the DNSBL lookups: a probe finished before the
	// interrupt keeps its result, the others are not_done.
	for _, mx := range r.SMTP.Domains[0].MX {
		for _, p := range mx.Addresses {
			if p.Status != "not_done" && p.Status != "accepted" {
				t.Errorf("probe after interrupt: %s", p.Status)
			}
		}
	}
	t.Logf("partial: %v; smtp domain %+v", counts, r.SMTP.Domains[0])
}

// The first signal cancels the run (the partial report is still written);
// the second exits at once.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	var stderr bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		onSignals(sigs, cancel, &stderr, func(code int) { exited <- code })
	}()
	sigs <- os.Interrupt
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the first signal did not cancel the run")
	}
	select {
	case code := <-exited:
		t.Fatalf("exited (%d) at the first signal", code)
	case <-time.After(50 * time.Millisecond):
	}
	sigs <- syscall.SIGTERM
	select {
	case code := <-exited:
		if code != report.ExitInconclusive {
			t.Errorf("exit %d, want 3", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second signal did not exit")
	}
	<-done
	if !strings.Contains(stderr.String(), "exiting without a report") {
		t.Errorf("stderr %q", stderr.String())
	}
}
