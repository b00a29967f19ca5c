package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/blprobe/blprobe/internal/smtptest"
	"github.com/blprobe/blprobe/report"
	"github.com/blprobe/blprobe/serve"
)

// serveLab is a lab with zen.test listing 127.0.0.10, and example.test's MX
// rejecting with a Spamhaus-style reply; it returns a serve config for it.
func serveLab(t *testing.T, extra string) (*lab, string) {
	l := newLab(t)
	l.mx("example.test", "127.0.0.1")
	_, port := l.smtp("127.0.0.1", smtptest.Config{Rcpt: spamhausReject})
	cfg := fmt.Sprintf(`resolvers: [%q]
timeout: 1s
retries: 0
custom_zones: [zen.test, clean.test]
zones: [zen.test, clean.test]
intervals:
  dnsbl: 1m
  smtp: 5m
jitter: 0s
smtp:
  helo: mail.probe.test
  port: %s
  connect_timeout: 1s
  command_timeout: 2s
targets:
  - 127.0.0.20
  - target: 127.0.0.10
    to: [example.test]
probe:
  allow_targets: [127.0.0.0/28]
%s`, l.resolver(), port, extra)
	path := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return l, path
}

// TestServeAdapter runs serve jobs through the pipeline adapter against the
// loopback lab: the reports are the ones "blprobe check" would write.
func TestServeAdapter(t *testing.T) {
	l, path := serveLab(t, "")
	cfg, err := serve.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipelineRunner{cfg: cfg, servers: []string{l.resolver()}, catalog: cfg.CatalogZones()}
	ctx := context.Background()

	r, err := p.Run(ctx, serve.Job{Kind: serve.KindDNSBL, Target: "127.0.0.10", Zones: cfg.Zones, QPS: 50})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != report.VerdictListed || r.ExitCode != 1 || r.DNSBL == nil || len(r.DNSBL.Results) != 2 || r.SMTP != nil {
		t.Fatalf("dnsbl job: verdict %s, dnsbl %+v", r.Verdict, r.DNSBL)
	}
	if len(r.RDNS) != 1 || r.RDNS[0].IP != "127.0.0.10" {
		t.Errorf("rdns %+v", r.RDNS)
	}
	if got := strings.Join(r.Command, " "); got != "blprobe serve dnsbl 127.0.0.10 --zone zen.test --zone clean.test --qps 50" {
		t.Errorf("command %q", got)
	}
	var b bytes.Buffer
	if err := report.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if err := report.Validate(b.Bytes()); err != nil {
		t.Errorf("report does not validate: %v", err)
	}

	r, err = p.Run(ctx, serve.Job{Kind: serve.KindDNSBL, Target: "127.0.0.20", Zones: cfg.Zones})
	if err != nil || r.Verdict != report.VerdictClean {
		t.Fatalf("clean target: %v %+v", err, r)
	}

	r, err = p.Run(ctx, serve.Job{Kind: serve.KindSMTP, Target: "127.0.0.10", To: []string{"example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	ps := probes(r)
	if r.Verdict != report.VerdictRejected || len(ps) != 1 || ps[0].SourceIP != "127.0.0.10" || ps[0].CitedList != "zen.test" || r.DNSBL != nil {
		t.Errorf("smtp job: verdict %s probes %+v", r.Verdict, ps)
	}

	if _, err := p.Run(ctx, serve.Job{Kind: serve.KindDNSBL, Target: "bad host"}); err == nil {
		t.Error("a bad target ran")
	}
	// Only domain zones for an address: nothing would be checked, so no "clean".
	if _, err := p.Run(ctx, serve.Job{Kind: serve.KindDNSBL, Target: "127.0.0.20", Zones: []string{"dbl.spamhaus.org"}}); err == nil || !strings.Contains(err.Error(), "none of the selected zones applies") {
		t.Errorf("no applicable zone: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeCommand runs "blprobe serve" against the lab: the scheduled
// checks reach /metrics and /report, /probe answers for an allowed target
// and refuses others, and cancelling (SIGTERM) stops it with exit 0.
func TestServeCommand(t *testing.T) {
	_, path := serveLab(t, "")
	addr := "127.0.0.1:" + freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"blprobe", "serve", "--config", path, "--listen", addr}, strings.NewReader(""), io.Discard, &stderr)
	}()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := httpGet(t, base+"/readyz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready in time; log:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, metrics := httpGet(t, base+"/metrics")
	for _, want := range []string{
		`blprobe_dnsbl_listed{address="127.0.0.10",list_type="block",target="127.0.0.10",zone="zen.test"} 1`,
		`blprobe_dnsbl_listed{address="127.0.0.20",list_type="block",target="127.0.0.20",zone="zen.test"} 0`,
		`blprobe_dnsbl_zone_healthy{health="healthy",zone="zen.test"} 1`,
		`blprobe_smtp_probe_status{address="127.0.0.1",cited_list="zen.test",class="blocklisted",domain="example.test",mx="mx.example.test",source="127.0.0.10",stage="rcpt",status="rejected",target="127.0.0.10"} 1`,
		`blprobe_smtp_probe_reply_code{address="127.0.0.1",domain="example.test",mx="mx.example.test",source="127.0.0.10",target="127.0.0.10"} 554`,
		`blprobe_target_verdict{kind="smtp",target="127.0.0.10",verdict="rejected"} 1`,
		"process_cpu_seconds_total", "go_goroutines",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	code, body := httpGet(t, base+"/report?target=127.0.0.10&kind=dnsbl")
	var rep report.Report
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || rep.Verdict != report.VerdictListed {
		t.Errorf("/report: %d %.300s", code, body)
	}
	code, body = httpGet(t, base+"/probe?target=127.0.0.11&zones=zen.test")
	if code != 200 || !strings.Contains(body, `blprobe_dnsbl_listed{address="127.0.0.11",list_type="block",target="127.0.0.11",zone="zen.test"} 0`) || !strings.Contains(body, "probe_success 1") {
		t.Errorf("/probe: %d\n%s", code, body)
	}
	if code, body := httpGet(t, base+"/probe?target=192.0.2.1"); code != 403 {
		t.Errorf("/probe outside the allow-list: %d %s", code, body)
	}
	// SIGTERM, as main delivers it: the exporter stops; no "partial report".
	sigs := make(chan os.Signal, 1)
	var sigErr syncBuffer
	sigs <- syscall.SIGTERM
	close(sigs)
	onSignals(sigs, cancel, &sigErr, func(int) {})
	if got := sigErr.String(); got != "blprobe: stopping the exporter (interrupt again to exit at once)\n" {
		t.Errorf("first signal during serve: stderr %q", got)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after cancel; log:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("log:\n%s", stderr.String())
	}
}

func TestServeCheckConfig(t *testing.T) {
	_, path := serveLab(t, "")
	res := runCLI(t, "", "serve", "--check-config", path)
	if res.code != 0 || !strings.Contains(res.stdout, "OK: 2 targets, 3 scheduled checks") || !strings.Contains(res.stdout, "/probe allows targets: 127.0.0.0/28") {
		t.Errorf("check-config: %+v", res)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("targets:\n  - 192.0.2.1\n  - 192.0.2.300\nintervals:\n  dnsbl: 10s\n"), 0o644)
	res = runCLI(t, "", "serve", "--check-config", bad)
	lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	if res.code != 2 || len(lines) != 2 || !strings.HasPrefix(lines[0], "blprobe: "+bad+":3: targets: invalid target") ||
		!strings.HasPrefix(lines[1], "blprobe: "+bad+":5: intervals.dnsbl: 10s is too short") {
		t.Errorf("bad config: %+v", res)
	}
	for _, args := range [][]string{
		{"serve"},
		{"serve", "--config", filepath.Join(t.TempDir(), "missing.yaml")},
		{"serve", "--config", path, "extra"},
		{"serve", "--config", path, "--listen", "256.0.0.1:1"},
		{"serve", "--config", path, "--web.config.file", bad},
	} {
		if res := runCLI(t, "", args...); res.code != 2 || strings.Count(res.stderr, "\n") != 1 {
			t.Errorf("%v: %+v", args, res)
		}
	}
}
