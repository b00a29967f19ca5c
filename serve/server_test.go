package serve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/report"
)

const serverConfig = `
custom_zones: [bl.lab.test, other.lab.test]
zones: [bl.lab.test]
targets:
  - 192.0.2.10
  - target: mail.example.com
    to: [example.com]
probe:
  allow_targets: [192.0.2.0/28, 2001:db8::/64, mail.example.com]
  allow_zones: [bl.lab.test, zen.spamhaus.org]
  max_addresses: 8
`

// countingRunner answers every job with a listed/clean DNSBL report and
// counts the runs; gate, if set, holds runs until it is closed.
type countingRunner struct {
	runs atomic.Int64
	gate chan struct{}
}

func (r *countingRunner) Run(ctx context.Context, j Job) (*report.Report, error) {
	r.runs.Add(1)
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
		}
	}
	rep := &report.Report{Schema: report.SchemaV1, Verdict: report.VerdictListed, ExitCode: 1}
	if j.Kind == KindDNSBL {
		rep.DNSBL = &report.DNSBL{Zones: []dnsbl.ZoneHealth{{Zone: j.Zones[0], Type: dnsbl.TypeBlock, Health: dnsbl.HealthHealthy}}}
		for _, z := range j.Zones {
			rep.DNSBL.Results = append(rep.DNSBL.Results, dnsbl.Result{IP: j.Target, Zone: z, Status: dnsbl.StatusListed, Codes: []string{"127.0.0.2"}})
		}
	}
	return rep, nil
}

func newTestServer(t *testing.T, r Runner, start bool) (*Server, *Scheduler, *httptest.Server) {
	t.Helper()
	cfg, err := ParseConfig("t.yaml", []byte(serverConfig))
	if err != nil {
		t.Fatal(err)
	}
	sched, err := NewScheduler(SchedulerOptions{Runner: r, Jobs: cfg.Jobs(), Intervals: cfg.Intervals, QPS: cfg.QPS, MaxConcurrent: cfg.MaxConcurrent})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if start {
		sched.Start(ctx)
	}
	srv := NewServer(cfg, sched, nil)
	srv.baseCtx = ctx
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); cancel(); sched.Wait() })
	return srv, sched, hs
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestProbeAllowList: /probe runs only what the config allows; everything
// else is refused with 403 (or 400 for malformed requests) and a reason,
// and nothing is run.
func TestProbeAllowList(t *testing.T) {
	runner := &countingRunner{}
	_, _, hs := newTestServer(t, runner, false)
	tests := []struct {
		query string
		code  int
		why   string
	}{
		{"target=203.0.113.5", 403, "target 203.0.113.5 is not within probe.allow_targets"},
		{"target=192.0.2.16", 403, "not within probe.allow_targets"},
		{"target=::ffff:203.0.113.5", 403, "not within probe.allow_targets"},
		{"target=192.0.2.0/24", 403, "more than 8 addresses"},
		{"target=192.0.0.0/8", 403, "more than 8 addresses"},
		{"target=2001:db8::/32", 403, "more than 8 addresses"},
		{"target=192.0.2.8/29&zones=bl.lab.test", 200, ""},
		{"target=192.0.2.0/29&zones=bl.lab.test", 200, ""},
		{"target=other.example.com", 403, "hostname other.example.com is not in probe.allow_targets"},
		{"target=auto", 403, "target auto is not allowed"},
		{"target=192.0.2.5&zones=other.lab.test", 403, "zone other.lab.test is not allowed by probe.allow_zones"},
		{"target=192.0.2.5&zones=bl.lab.test,b.barracudacentral.org", 403, "zone b.barracudacentral.org is not allowed"},
		{"target=192.0.2.5&to=gmail.com", 403, "to domain gmail.com is not allowed by probe.allow_to"},
		{"target=192.0.2.5&to=example.com&zones=bl.lab.test", 400, "not both"},
		{"target=192.0.2.5&module=x", 400, `unknown parameter "module"`},
		{"", 400, "give exactly one target"},
		{"target=192.0.2.5&target=192.0.2.6", 400, "give exactly one target"},
		{"target=bad%20host", 400, "invalid target"},
		{"target=192.0.2.5&zones=" + strings.Repeat("a.b,", 1100), 414, "query longer than"},
		{"target=192.0.2.5&zones=" + strings.Repeat("bl.lab.test,", 70), 400, "at most 64"},
		{"target=192.0.2.5&zones=x%ZZ", 400, "invalid query"},
	}
	for _, tt := range tests {
		code, body := get(t, hs.URL+"/probe?"+tt.query)
		if code != tt.code || !strings.Contains(body, tt.why) {
			t.Errorf("/probe?%.60s: %d %q, want %d %q", tt.query, code, strings.TrimSpace(body), tt.code, tt.why)
		}
	}
	if n := runner.runs.Load(); n != 2 {
		t.Errorf("%d runs, want 2 (the allowed probes only)", n)
	}
}

func TestProbeDisabled(t *testing.T) {
	cfg, err := ParseConfig("t.yaml", []byte("targets: [192.0.2.1]\nprobe:\n  enabled: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: cfg}
	if _, err := s.ProbeJob("target=192.0.2.1"); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("disabled probe: %v", err)
	}
}

func TestProbeAnswersWithThatRunsMetrics(t *testing.T) {
	runner := &countingRunner{}
	_, _, hs := newTestServer(t, runner, false)
	code, body := get(t, hs.URL+"/probe?target=192.0.2.5&zones=bl.lab.test")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	for _, want := range []string{
		`blprobe_dnsbl_listed{address="192.0.2.5",list_type="block",target="192.0.2.5",zone="bl.lab.test"} 1`,
		`blprobe_target_verdict{kind="dnsbl",target="192.0.2.5",verdict="listed"} 1`,
		"probe_success 1",
		"probe_duration_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("probe output lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "go_goroutines") || strings.Contains(body, "192.0.2.10") {
		t.Error("probe output holds more than that run's metrics")
	}
	// The same probe within the interval is answered from that run: a
	// scrape every few seconds never queries the lists more often.
	for i := 0; i < 3; i++ {
		if code, _ := get(t, hs.URL+"/probe?target=192.0.2.5&zones=bl.lab.test"); code != 200 {
			t.Fatal(code)
		}
	}
	// No zones: the config's zones.
	if code, body := get(t, hs.URL+"/probe?target=192.0.2.6"); code != 200 || !strings.Contains(body, `zone="bl.lab.test"`) {
		t.Errorf("default zones: %d %s", code, body)
	}
	if n := runner.runs.Load(); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
}

// TestMetricsNeverWaitForAChecks: /metrics, /healthz and /readyz answer
// while every check hangs.
func TestMetricsNeverWaitForAChecks(t *testing.T) {
	runner := &countingRunner{gate: make(chan struct{})}
	_, sched, hs := newTestServer(t, runner, true)
	deadline := time.Now().Add(5 * time.Second)
	for runner.runs.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	code, body := get(t, hs.URL+"/metrics")
	if code != 200 || !strings.Contains(body, "process_start_time_seconds") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d\n%.300s", code, body)
	}
	if code, _ := get(t, hs.URL+"/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, body := get(t, hs.URL+"/readyz"); code != 503 || !strings.Contains(body, "dnsbl 192.0.2.10") {
		t.Errorf("/readyz before the first runs: %d %s", code, body)
	}
	if code, _ := get(t, hs.URL+"/report?target=192.0.2.10"); code != 404 {
		t.Errorf("/report before the first run: %d", code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("answers took %s while the checks hang", d)
	}
	close(runner.gate)
	for len(sched.Pending()) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if code, _ := get(t, hs.URL+"/readyz"); code != 200 {
		t.Errorf("/readyz after the first runs: %d", code)
	}
	code, body = get(t, hs.URL+"/metrics")
	if code != 200 || !strings.Contains(body, `blprobe_dnsbl_listed{address="192.0.2.10",list_type="block",target="192.0.2.10",zone="bl.lab.test"} 1`) {
		t.Errorf("/metrics after the runs: %d\n%s", code, body)
	}
	code, body = get(t, hs.URL+"/report?target=192.0.2.10")
	var rep map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || rep["schema"] != report.SchemaV1 || rep["verdict"] != "listed" {
		t.Errorf("/report: %d %.200s", code, body)
	}
	if code, _ := get(t, hs.URL+"/report?target=mail.example.com&kind=smtp"); code != 200 {
		t.Errorf("/report kind=smtp: %d", code)
	}
	if code, _ := get(t, hs.URL+"/report"); code != 400 {
		t.Errorf("/report without target: %d", code)
	}
	if code, _ := get(t, hs.URL+"/report?target=192.0.2.10&kind=x"); code != 400 {
		t.Errorf("/report bad kind: %d", code)
	}
}

// TestServeShutdownAndAuth: Serve answers over TLS-less HTTP with basic
// auth from an exporter-toolkit web config and returns when its context
// ends (SIGTERM in the CLI).
func TestServeShutdownAndAuth(t *testing.T) {
	runner := &countingRunner{}
	cfg, _ := ParseConfig("t.yaml", []byte(serverConfig))
	sched, _ := NewScheduler(SchedulerOptions{Runner: runner, Jobs: cfg.Jobs(), Intervals: cfg.Intervals})
	srv := NewServer(cfg, sched, nil)
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	wc := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(wc, []byte("basic_auth_users:\n  prom: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, wc) }()
	url := "http://" + ln.Addr().String() + "/healthz"
	var resp *http.Response
	for i := 0; i < 100; i++ {
		if resp, err = http.Get(url); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth("prom", "secret")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("with credentials: %d, want 200", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

// TestProbeCutShortIsNotReused: a run cut short by the scrape timeout is
// answered (probe_success 0) but not reused for the next scrape.
func TestProbeCutShortIsNotReused(t *testing.T) {
	var runs atomic.Int64
	runner := RunnerFunc(func(ctx context.Context, j Job) (*report.Report, error) {
		n := runs.Add(1)
		rep := &report.Report{Verdict: report.VerdictClean, DNSBL: &report.DNSBL{}}
		if n == 1 {
			rep.Interrupted, rep.Verdict = true, report.VerdictInconclusive
		}
		return rep, nil
	})
	_, _, hs := newTestServer(t, runner, false)
	for i, want := range []string{"probe_success 0", "probe_success 1", "probe_success 1"} {
		code, body := get(t, hs.URL+"/probe?target=192.0.2.5")
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("scrape %d: %d, want %q:\n%s", i, code, want, body)
		}
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("%d runs, want 2 (the cut-short one is not reused; the complete one is)", n)
	}
}

// TestProbeReusesScheduledRun: a /probe of exactly a scheduled check is
// answered from the scheduled run within the interval, not run again.
func TestProbeReusesScheduledRun(t *testing.T) {
	runner := &countingRunner{}
	_, sched, hs := newTestServer(t, runner, true)
	deadline := time.Now().Add(5 * time.Second)
	for len(sched.Pending()) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	before := runner.runs.Load()
	code, body := get(t, hs.URL+"/probe?target=192.0.2.10&zones=bl.lab.test")
	if code != 200 || !strings.Contains(body, `blprobe_dnsbl_listed{address="192.0.2.10",list_type="block",target="192.0.2.10",zone="bl.lab.test"} 1`) {
		t.Errorf("/probe: %d\n%s", code, body)
	}
	// The order of zones does not make another check.
	if k1, k2 := (Job{Kind: KindDNSBL, Target: "x", Zones: []string{"a", "b"}}).Key(), (Job{Kind: KindDNSBL, Target: "X", Zones: []string{"b", "a"}}).Key(); k1 != k2 {
		t.Errorf("keys %q and %q differ", k1, k2)
	}
	if n := runner.runs.Load(); n != before {
		t.Errorf("%d more runs, want the scheduled result reused", n-before)
	}
}

// TestProbeRequestsBounded: /probe requests beyond the bound are refused at
// once with 503, and those within wait for a run slot.
func TestProbeRequestsBounded(t *testing.T) {
	runner := &countingRunner{gate: make(chan struct{})}
	srv, _, hs := newTestServer(t, runner, false)
	srv.probing = make(chan struct{}, 2)
	done := make(chan int, 2)
	for _, tgt := range []string{"192.0.2.1", "192.0.2.2"} {
		go func() {
			resp, err := http.Get(hs.URL + "/probe?target=" + tgt)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runner.runs.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if code, body := get(t, hs.URL+"/probe?target=192.0.2.3"); code != 503 || !strings.Contains(body, "too many /probe requests") {
		t.Errorf("third probe: %d %s", code, body)
	}
	close(runner.gate)
	for i := 0; i < 2; i++ {
		if code := <-done; code != 200 {
			t.Errorf("probe within the bound: %d", code)
		}
	}
}

// TestServeTLS: with tls_server_config in the web config, Serve speaks TLS
// only.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	wc := filepath.Join(dir, "web.yml")
	os.WriteFile(wc, []byte("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"), 0o600)

	cfg, _ := ParseConfig("t.yaml", []byte(serverConfig))
	sched, _ := NewScheduler(SchedulerOptions{Runner: &countingRunner{}, Jobs: cfg.Jobs(), Intervals: cfg.Intervals})
	srv := NewServer(cfg, sched, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, wc) }()
	defer func() { cancel(); <-done }()

	pool := x509.NewCertPool()
	pool.AddCert(must(x509.ParseCertificate(der)))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	var resp *http.Response
	for i := 0; i < 100; i++ {
		if resp, err = client.Get("https://" + ln.Addr().String() + "/healthz"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("https: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if resp, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 with TLS configured")
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// FuzzProbeJob: whatever the query, an accepted /probe job stays within the
// allow-list and the request bounds.
func FuzzProbeJob(f *testing.F) {
	for _, q := range []string{"target=192.0.2.5", "target=192.0.2.8/29&zones=bl.lab.test", "target=mail.example.com&to=example.com",
		"target=2001:db8::1&zone=zen.spamhaus.org", "target=::ffff:192.0.2.1", "target=192.0.2.0/24", "target=%31%39%32.0.2.1&zones=BL.LAB.TEST."} {
		f.Add(q)
	}
	cfg, err := ParseConfig("t.yaml", []byte(serverConfig))
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{cfg: cfg}
	f.Fuzz(func(t *testing.T, q string) {
		j, err := s.ProbeJob(q)
		if err != nil {
			return
		}
		if len(q) > maxQueryBytes || len(j.Zones) > cfg.Probe.MaxZones || len(j.To) > cfg.Probe.MaxTo {
			t.Fatalf("%q: over the bounds: %+v", q, j)
		}
		if err := s.allowTarget(j.Target); err != nil {
			t.Fatalf("%q: target %q accepted but %v", q, j.Target, err)
		}
		for _, z := range j.Zones {
			if !containsStr(cfg.Probe.AllowZones, z) {
				t.Fatalf("%q: zone %q not allowed", q, z)
			}
		}
		for _, d := range j.To {
			if !containsStr(cfg.Probe.AllowTo, d) {
				t.Fatalf("%q: to %q not allowed", q, d)
			}
		}
		if (j.Kind == KindSMTP) != (len(j.To) > 0) || (j.Kind == KindDNSBL) != (len(j.Zones) > 0) {
			t.Fatalf("%q: kind %s with zones %v to %v", q, j.Kind, j.Zones, j.To)
		}
	})
}
