package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/sync/singleflight"

	"github.com/blprobe/blprobe/dnsbl"
	"github.com/blprobe/blprobe/report"
)

// Bounds of an HTTP request.
const (
	maxQueryBytes       = 4096 // URL query of /probe and /report
	maxHeaderBytes      = 16 << 10
	DefaultProbeTimeout = 2 * time.Minute // an on-demand check without a scrape timeout header
	maxProbeCache       = 1024
	maxProbeRequests    = 64 // /probe requests being answered at once; more get 503 at once
	shutdownGrace       = 10 * time.Second
)

// Server is the HTTP side of "blprobe serve".
type Server struct {
	cfg          *Config
	sched        *Scheduler
	log          *slog.Logger
	reg          *prometheus.Registry
	ProbeTimeout time.Duration // cap of one /probe run

	baseCtx context.Context // cancelled at shutdown; /probe runs derive from it
	probing chan struct{}   // one token per /probe request being answered
	sf      singleflight.Group
	cacheMu sync.Mutex
	cache   map[string]*Result // /probe results by job key, reused within the kind's interval
}

// NewServer returns the HTTP server over a scheduler. The registry of
// /metrics holds the results collector, blprobe's build info and the
// process and Go runtime collectors.
func NewServer(cfg *Config, sched *Scheduler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(sched.Results),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		collectors.NewBuildInfoCollector())
	return &Server{cfg: cfg, sched: sched, log: log, reg: reg, ProbeTimeout: DefaultProbeTimeout,
		baseCtx: context.Background(), cache: map[string]*Result{}, probing: make(chan struct{}, maxProbeRequests)}
}

// Registry is the registry /metrics serves.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler serves /metrics, /probe, /report, /healthz, /readyz and a small
// index page.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg, MaxRequestsInFlight: 8}))
	mux.HandleFunc("/probe", s.handleProbe)
	mux.HandleFunc("/report", s.handleReport)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", s.handleReady)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<html><head><title>blprobe</title></head><body><h1>blprobe serve</h1><ul>
<li><a href="/metrics">/metrics</a>: latest results of the scheduled checks</li>
<li>/probe?target=IP&amp;zones=ZONE,…  or  /probe?target=IP&amp;to=DOMAIN: one on-demand check (allow-listed targets only)</li>
<li>/report?target=TARGET[&amp;kind=dnsbl|smtp]: the latest full JSON report</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a></li></ul></body></html>`)
	})
	return mux
}

// Serve serves HTTP on ln (TLS and basic auth as the exporter-toolkit web
// config file says, if webConfig is not empty) until ctx is done, then shuts
// down gracefully: no new requests, in-flight ones get shutdownGrace.
func (s *Server) Serve(ctx context.Context, ln net.Listener, webConfig string) error {
	base, cancel := context.WithCancel(ctx)
	defer cancel()
	s.baseCtx = base
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		wc := webConfig
		systemd := false
		flags := &web.FlagConfig{WebListenAddresses: &[]string{ln.Addr().String()}, WebSystemdSocket: &systemd, WebConfigFile: &wc}
		errc <- web.Serve(ln, srv, flags, s.log)
	}()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	cancel() // ends on-demand runs
	err := srv.Shutdown(sctx)
	serr := <-errc // after Shutdown, Serve returns http.ErrServerClosed
	if err != nil {
		return fmt.Errorf("shutting down the HTTP server: %w", err)
	}
	if serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serving on %s: %w", ln.Addr(), serr)
	}
	return nil
}

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	p := s.sched.Pending()
	if len(p) == 0 {
		fmt.Fprintln(w, "ready")
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, "not ready: %d checks have not completed a first run:\n", len(p))
	for _, j := range p {
		fmt.Fprintf(w, "  %s %s\n", j.Kind, j.Target)
	}
}

func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.RawQuery) > maxQueryBytes {
		http.Error(w, "query too long", http.StatusRequestURITooLong)
		return
	}
	q := r.URL.Query()
	target := q.Get("target")
	kind := Kind(q.Get("kind"))
	if kind != "" && kind != KindDNSBL && kind != KindSMTP {
		http.Error(w, "invalid kind (accepted: dnsbl, smtp)", http.StatusBadRequest)
		return
	}
	if target == "" {
		var names []string
		for _, t := range s.cfg.Targets {
			names = append(names, t.Target)
		}
		http.Error(w, "give target= (configured targets: "+strings.Join(names, ", ")+")", http.StatusBadRequest)
		return
	}
	res, ok := s.sched.Latest(target, kind)
	if !ok {
		http.Error(w, "no result for this target yet (it is not configured, or its first run has not finished)", http.StatusNotFound)
		return
	}
	if res.Report == nil {
		http.Error(w, fmt.Sprintf("the latest %s run of %s failed: %s", res.Job.Kind, res.Job.Target, res.Err), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := report.WriteJSON(w, res.Report); err != nil {
		s.log.Error("writing report", "target", target, "err", err)
	}
}

// probeError is a refused /probe request.
type probeError struct {
	code int
	msg  string
}

func (e *probeError) Error() string { return e.msg }

func forbidden(format string, a ...any) error {
	return &probeError{http.StatusForbidden, fmt.Sprintf(format, a...)}
}

func badRequest(format string, a ...any) error {
	return &probeError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// splitList reads a parameter given repeatedly and/or comma-separated.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}

// ProbeJob turns a /probe query into a job, refusing anything the config's
// probe allow-list does not allow (so the exporter is no open proxy for
// DNSBL lookups or SMTP probes) and anything over the request bounds.
func (s *Server) ProbeJob(rawQuery string) (Job, error) {
	p := s.cfg.Probe
	if p.Disabled {
		return Job{}, forbidden("/probe is disabled in the config (probe.enabled: false)")
	}
	if len(rawQuery) > maxQueryBytes {
		return Job{}, &probeError{http.StatusRequestURITooLong, fmt.Sprintf("query longer than %d bytes", maxQueryBytes)}
	}
	q, err := parseQuery(rawQuery)
	if err != nil {
		return Job{}, badRequest("invalid query: %v", err)
	}
	for k := range q {
		switch k {
		case "target", "zones", "zone", "to":
		default:
			return Job{}, badRequest("unknown parameter %q (accepted: target, zones, to)", k)
		}
	}
	if len(q["target"]) != 1 {
		return Job{}, badRequest("give exactly one target= (an IP, CIDR or hostname the config allows)")
	}
	target := strings.TrimSpace(q["target"][0])
	if err := s.allowTarget(target); err != nil {
		return Job{}, err
	}
	zones := splitList(append(q["zones"], q["zone"]...))
	to := splitList(q["to"])
	if len(zones) > p.MaxZones {
		return Job{}, badRequest("%d zones asked, at most %d", len(zones), p.MaxZones)
	}
	if len(to) > p.MaxTo {
		return Job{}, badRequest("%d to domains asked, at most %d", len(to), p.MaxTo)
	}
	if len(to) > 0 && len(zones) > 0 {
		return Job{}, badRequest("give zones= (a DNSBL check) or to= (an SMTP check), not both")
	}
	if len(to) > 0 {
		var doms []string
		for _, d := range to {
			n := normZone(d)
			if i := strings.LastIndexByte(n, '@'); i >= 0 {
				n = n[i+1:]
			}
			if !ValidDomain(n) {
				return Job{}, badRequest("invalid to domain %q", d)
			}
			if !containsStr(p.AllowTo, n) {
				return Job{}, forbidden("to domain %s is not allowed by probe.allow_to", n)
			}
			if !containsStr(doms, n) {
				doms = append(doms, n)
			}
		}
		return Job{Kind: KindSMTP, Target: target, To: doms}, nil
	}
	if len(zones) == 0 {
		zones = s.cfg.Zones
		if len(zones) == 0 {
			for _, z := range dnsbl.Select(s.cfg.catalog, nil) {
				zones = append(zones, normZone(z.Zone))
			}
		}
	}
	var zs []string
	for _, z := range zones {
		n := normZone(z)
		if !ValidDomain(n) {
			return Job{}, badRequest("invalid zone %q", z)
		}
		if !containsStr(p.AllowZones, n) {
			return Job{}, forbidden("zone %s is not allowed by probe.allow_zones", n)
		}
		if !containsStr(zs, n) {
			zs = append(zs, n)
		}
	}
	return Job{Kind: KindDNSBL, Target: target, Zones: zs}, nil
}

func (s *Server) allowTarget(target string) error {
	p := s.cfg.Probe
	if target == "auto" {
		for _, t := range s.cfg.Targets {
			if t.Target == "auto" {
				return nil
			}
		}
		return forbidden("target auto is not allowed: no configured target is auto")
	}
	t, err := dnsbl.ParseTarget(target)
	if err != nil {
		return badRequest("%v", err)
	}
	switch {
	case t.Addr.IsValid():
		a := t.Addr.Unmap()
		for _, pf := range p.AllowPrefix {
			if pf.Contains(a) {
				return nil
			}
		}
		return forbidden("target %s is not within probe.allow_targets", a)
	case t.Prefix.IsValid():
		pf := t.Prefix
		if bits := pf.Addr().BitLen() - pf.Bits(); bits > 30 || 1<<bits > p.MaxAddresses {
			return forbidden("target %s has more than %d addresses (probe.max_addresses)", pf, p.MaxAddresses)
		}
		for _, a := range p.AllowPrefix {
			if a.Bits() <= pf.Bits() && a.Contains(pf.Addr()) {
				return nil
			}
		}
		return forbidden("target %s is not within probe.allow_targets", pf)
	default:
		if containsStr(p.AllowTargets, t.Host) {
			return nil
		}
		return forbidden("hostname %s is not in probe.allow_targets", t.Host)
	}
}

func (s *Server) handleProbe(w http.ResponseWriter, r *http.Request) {
	select {
	case s.probing <- struct{}{}:
		defer func() { <-s.probing }()
	default:
		http.Error(w, fmt.Sprintf("too many /probe requests at once (at most %d)", cap(s.probing)), http.StatusServiceUnavailable)
		return
	}
	job, err := s.ProbeJob(r.URL.RawQuery)
	if err != nil {
		code := http.StatusBadRequest
		var pe *probeError
		if errors.As(err, &pe) {
			code = pe.code
		}
		http.Error(w, err.Error(), code)
		return
	}
	timeout := s.ProbeTimeout
	if h := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); h != "" {
		if sec, err := strconv.ParseFloat(h, 64); err == nil && sec > 0 {
			// Answer a little before Prometheus gives up on the scrape.
			d := time.Duration(sec*float64(time.Second)) - 500*time.Millisecond
			if d < time.Second {
				d = time.Second
			}
			if d < timeout {
				timeout = d
			}
		}
	}
	res, err := s.probe(r.Context(), job, timeout)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(func() []Result { return []Result{*res} }), probeCollector{*res})
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// probe answers an on-demand job: from the latest complete run of the same
// check (a scheduled one, or an earlier probe) when it started less than its
// kind's interval ago, so that a scrape every few seconds never queries a
// list more often than the config allows; else by one run shared by every
// request that asks for it meanwhile.
func (s *Server) probe(ctx context.Context, job Job, timeout time.Duration) (*Result, error) {
	key := job.Key()
	interval := s.cfg.Intervals[job.Kind]
	now := s.sched.o.Clock.Now()
	fresh := func(r *Result) bool {
		return r != nil && r.Report != nil && !r.Report.Interrupted && now.Sub(r.Started) < interval
	}
	if r, ok := s.sched.LatestOf(job); ok && fresh(&r) {
		return &r, nil
	}
	s.cacheMu.Lock()
	if c := s.cache[key]; fresh(c) {
		s.cacheMu.Unlock()
		return c, nil
	}
	s.cacheMu.Unlock()
	ch := s.sf.DoChan(key, func() (any, error) {
		rctx, cancel := context.WithTimeout(s.baseCtx, timeout)
		defer cancel()
		res, err := s.sched.RunNow(rctx, job)
		if err != nil {
			return nil, err
		}
		if res.Report == nil || res.Report.Interrupted {
			return res, nil // a failed or cut-short run is not reused
		}
		s.cacheMu.Lock()
		defer s.cacheMu.Unlock()
		if len(s.cache) >= maxProbeCache {
			s.evictOldest()
		}
		s.cache[key] = res
		return res, nil
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("probe of %s: %w", job.Target, ctx.Err())
	case r := <-ch:
		if errors.Is(r.Err, errOverlap) {
			// The scheduled run of this very check is going: answer with its
			// previous result rather than run it twice at once.
			if l, ok := s.sched.LatestOf(job); ok {
				return &l, nil
			}
		}
		if r.Err != nil {
			return nil, fmt.Errorf("probe of %s: %w", job.Target, r.Err)
		}
		return r.Val.(*Result), nil
	}
}

func (s *Server) evictOldest() {
	keys := make([]string, 0, len(s.cache))
	for k := range s.cache {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return s.cache[keys[i]].Started.Before(s.cache[keys[j]].Started) })
	for _, k := range keys[:len(keys)/4+1] {
		delete(s.cache, k)
	}
}

// parseQuery is url.ParseQuery with a cap on the number of parameters.
func parseQuery(raw string) (map[string][]string, error) {
	if strings.Count(raw, "&") > 64 {
		return nil, errors.New("too many parameters")
	}
	return url.ParseQuery(raw)
}
